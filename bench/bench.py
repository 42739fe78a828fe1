#!/usr/bin/python3
"""bench/bench.py — `make bench`: initrd-provision fetch side by side with
`nix copy`, and both against the floor (issue 9).  Run it through `make bench`
(which installs the packages and builds build/initrd-provision first).

Environment (all optional):
  BENCH_PROFILES  network profiles, default "loopback region far"
                  loopback: nginx directly; region: +2 ms per request;
                  far: +30 ms per request and a 1 Gbit/s cap
                  (tools/bench/latency-proxy in front of nginx)
  BENCH_CACHES    default "zstd xz" (xz: the corpus's xz cache, built once,
                  ~10 minutes, then cached)
  BENCH_RUNS      runs per contender and cell, default 5 (at least 5 for
                  numbers worth quoting; fewer are allowed for trials)
  BENCH_FLOOR_RUNS  runs of each floor measurement, default 3
  BENCH_META_RUNS   runs of `nix path-info -r` under far, default 0 (~20 s
                  each: Nix 2.8 fetches the narinfos one after the other, as
                  the 5 far runs of `nix copy` show already; off so that
                  make bench stays under half an hour)
  BENCH_MEM_RUNS    runs of each contender on the 1 GiB path, default 3
                  (its peak RSS varies by under 1% from run to run)
  BENCH_CONTENDERS  what is timed, default "ours ours-sync nix"
                  ours: initrd-provision fetch --no-sync; ours-sync: the
                  same without --no-sync (its default: durable, syncs as it
                  goes; needs the sync extra too); nix: nix copy.  Leaving
                  out nix makes a quick before/after comparison of two
                  binaries (its ratios then show as "–"); the page says
                  what was skipped.
  BENCH_EXTRA     extra rows, default "sync memory metadata herd"
                  sync: the ours-sync contender, in every cache and profile
                  (its far ÷ loopback ratio is issue 16's goal as much as
                  the --no-sync one);
                  memory: the one-1-GiB-file path;
                  metadata: closure resolution under far;
                  herd: 20 fetches at once against an S3 stand-in that
                  throttles (bench/herd.py, which documents its variables
                  and also runs alone)
  BENCH_DIR       work and corpus directory, default build/bench
  BENCH_BIN       default build/static/initrd-provision (what the initrd
                  runs: `make static`, musl, statically linked; `make bench`
                  builds it)
  BENCH_OUT       the Markdown table, default bench/results.md
  BENCH_FETCH_ARGS  extra options for every `initrd-provision fetch` run
                  (e.g. "--jobs 4 --connections 32" while tuning; shown in
                  the results)

Every run gets a fresh ext4 file system (an image on a loop device under
BENCH_DIR/work, made before and removed after the run, outside the timing) so
no run pays for the deletions of the one before, and a fresh Nix
XDG_CACHE_HOME (tools/testworld/nix-hermetic), so Nix's narinfo cache is cold.
Contenders alternate (ours first on even runs, Nix first on odd ones).  Wall
time is measured here (monotonic clock), CPU (user+sys) and peak RSS by
/usr/bin/time -f.  No run ends with a sync: `sync -f` of the file system is
timed separately after the first cache's loopback runs (the "+sync" column);
the durable contender's wall already includes its syncs, so it has none.
Durable runs always get their image on the host's disk: fsync into a tmpfs
would cost nothing and hide what durability costs.
"""

import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TW = os.path.join(TOP, "tools/testworld")
HERMETIC = os.path.join(TW, "nix-hermetic")
PROXY = os.path.join(TOP, "tools/bench/latency-proxy")
NIX = ["nix", "--extra-experimental-features", "nix-command"]
PROFILES = {
    "loopback": None,
    "region": ["--delay-ms", "2"],
    "far": ["--delay-ms", "30", "--rate", "1Gbit"],
}
FAR_DELAY = 0.030
IMAGE_SIZE = "6G"
OURS, OURS_SYNC, NIXC = "ours", "ours-sync", "nix"
CONTENDERS = (OURS, OURS_SYNC, NIXC)
LABEL = {
    OURS: "initrd-provision fetch --no-sync",
    OURS_SYNC: "initrd-provision fetch (syncs, its default)",
    NIXC: "nix copy",
}


def env_list(name, default):
    return os.environ.get(name, default).split()


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def out(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def read_env(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    return env


def cpu_jiffies():
    """(busy, total) CPU time of the whole machine from /proc/stat, seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / hz, sum(v[:8]) / hz


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- servers -----------------------------------------------------------------

class Servers:
    """nginx per cache directory, latency proxies per (cache, profile)."""

    def __init__(self, work):
        self.work = work
        self.nginx = {}   # cache dir -> (state, port)
        self.proxies = {}  # (cache dir, profile) -> (proc, port, log)

    def url(self, cache, profile):
        if cache not in self.nginx:
            state = os.path.join(self.work, "nginx-%d" % len(self.nginx))
            port = out([os.path.join(TW, "serve-nginx"), cache, "--state", state])
            self.nginx[cache] = (state, int(port))
        port = self.nginx[cache][1]
        if PROFILES[profile] is None:
            return "http://127.0.0.1:%d" % port, None
        key = (cache, profile)
        if key not in self.proxies:
            n = len(self.proxies)
            pf = os.path.join(self.work, "proxy-%d.port" % n)
            log = os.path.join(self.work, "proxy-%d.log" % n)
            for p in (pf, log):
                if os.path.exists(p):
                    os.remove(p)
            proc = subprocess.Popen([PROXY, "--upstream", "127.0.0.1:%d" % port,
                                     "--port-file", pf, "--log", log] + PROFILES[profile],
                                    stdout=subprocess.DEVNULL)
            for _ in range(500):
                if os.path.exists(pf):
                    break
                if proc.poll() is not None:
                    raise SystemExit("bench: latency-proxy failed to start")
                time.sleep(0.01)
            self.proxies[key] = (proc, int(open(pf).read()), log)
        proc, pport, log = self.proxies[key]
        return "http://127.0.0.1:%d" % pport, log

    def stop(self):
        for proc, _, _ in self.proxies.values():
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.proxies = {}
        for state, _ in self.nginx.values():
            subprocess.run([os.path.join(TW, "serve-nginx"), "--stop", state])
        self.nginx = {}


def proxy_requests(log, t0, t1):
    """Requests logged by a proxy whose head arrived in [t0, t1]."""
    reqs = []
    if not log or not os.path.exists(log):
        return reqs
    with open(log) as f:
        for line in f:
            p = line.split()
            if len(p) == 6 and t0 <= float(p[0]) <= t1:
                reqs.append((float(p[0]), float(p[1]), p[3], int(p[4])))
    return reqs


def max_in_flight(reqs):
    """The most requests open at one moment."""
    ev = sorted([(q[0], 1) for q in reqs] + [(q[1], -1) for q in reqs])
    n = best = 0
    for _, d in ev:
        n += d
        best = max(best, n)
    return best


def sequential_round_trips(reqs):
    """The longest chain of requests each sent after the previous one was
    answered: the round trips the client paid one after the other."""
    reqs = sorted(reqs)
    best = []
    for i, (s, _, _, _) in enumerate(reqs):
        best.append(1 + max([best[j] for j in range(i) if reqs[j][1] <= s] or [0]))
    return max(best or [0])


# --- fresh file systems --------------------------------------------------------

class FreshFS:
    """A new ext4 on a loop device for each run; removed afterwards.  Its
    image lies on the host's disk when the run's sync is timed (what a sync
    costs on a disk), in a private tmpfs otherwise: unmounting then writes
    the 1.4 GB back into memory, not to the disk, which saves ~2 s a run.
    Nothing is written back during a run either way (it stays far below the
    kernel's dirty thresholds); only fsync (Nix's SQLite) reaches the disk."""

    def __init__(self, work):
        self.work = work
        self.mnt = os.path.join(work, "mnt")
        self.tmpfs = os.path.join(work, "tmpfs")
        self.img = None
        os.makedirs(self.mnt, exist_ok=True)
        os.makedirs(self.tmpfs, exist_ok=True)
        self.umount()
        if subprocess.run(["mountpoint", "-q", self.tmpfs]).returncode != 0:
            sh(["mount", "-t", "tmpfs", "-o", "size=" + IMAGE_SIZE, "bench-tmpfs", self.tmpfs])

    def make(self, on_disk):
        self.umount()
        self.img = os.path.join(self.work if on_disk else self.tmpfs, "fs.img")
        sh(["truncate", "-s", IMAGE_SIZE, self.img])
        sh(["mkfs.ext4", "-q", "-F", self.img])
        # noinit_itable: no background inode-table zeroing during the run.
        sh(["mount", "-o", "loop,noinit_itable", self.img, self.mnt])
        return self.mnt

    def umount(self):
        if subprocess.run(["mountpoint", "-q", self.mnt]).returncode == 0:
            sh(["umount", self.mnt])
        for d in (self.work, self.tmpfs):
            if os.path.exists(os.path.join(d, "fs.img")):
                os.remove(os.path.join(d, "fs.img"))

    def close(self):
        self.umount()
        if subprocess.run(["mountpoint", "-q", self.tmpfs]).returncode == 0:
            sh(["umount", self.tmpfs])


# --- one measured run --------------------------------------------------------------

def timed(cmd, work):
    """Runs cmd under /usr/bin/time; returns dict wall, cpu, rss_mib, others."""
    tf = os.path.join(work, "time.out")
    errf = os.path.join(work, "run.stderr")
    b0, _ = cpu_jiffies()
    t0 = time.monotonic()
    with open(errf, "w") as err:
        r = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf] + cmd,
                           stdout=subprocess.DEVNULL, stderr=err)
    t1 = time.monotonic()
    b1, _ = cpu_jiffies()
    if r.returncode != 0:
        with open(errf) as f:
            tail = f.read()[-2000:]
        raise SystemExit("bench: failed (status %d): %s\n%s" % (r.returncode, " ".join(cmd), tail))
    with open(tf) as f:
        u, s, m = f.read().split()[-3:]
    cpu = float(u) + float(s)
    wall = t1 - t0
    return {"wall": wall, "cpu": cpu, "rss": int(m) / 1024.0, "t0": t0, "t1": t1,
            "others": max(0.0, (b1 - b0) - cpu) / wall if wall > 0 else 0.0}


def run_contender(who, url, corpus, fs, work, measure_sync):
    """measure_sync: time a `sync -f` after the run (never for OURS_SYNC,
    whose wall includes its syncs)."""
    durable = who == OURS_SYNC
    measure_sync = measure_sync and not durable
    root = os.path.join(fs.make(measure_sync or durable), "root")
    key = corpus["TRUSTED_PUBKEY"]
    report = os.path.join(work, "report.json")
    if os.path.exists(report):
        os.remove(report)
    if who in (OURS, OURS_SYNC):
        cmd = [BIN, "fetch", "--quiet", "--root", root, "--substituter", url,
               "--trusted-public-key", key, "--report", report, corpus["ROOT_PATH"]]
        if who == OURS:
            cmd.insert(2, "--no-sync")
        cmd[2:2] = FETCH_ARGS
    else:
        cmd = [HERMETIC] + NIX + ["copy", "--from", url, "--to", "local?root=" + root,
                                  "--option", "trusted-public-keys", key, corpus["ROOT_PATH"]]
    r = timed(cmd, work)
    if measure_sync:
        t = time.monotonic()
        sh(["sync", "-f", fs.mnt])
        r["sync"] = time.monotonic() - t
    n = len([x for x in os.listdir(os.path.join(root, "nix/store")) if not x.startswith(".")])
    if n != int(corpus["PATH_COUNT"]):
        raise SystemExit("bench: %s left %d paths in the store, not %s" % (who, n, corpus["PATH_COUNT"]))
    if who != NIXC:
        with open(report) as f:
            rep = json.load(f)
        r["resolve"] = rep["seconds"]["resolve"]
    fs.umount()
    return r


# --- statistics and formatting ------------------------------------------------

def med(runs, k):
    return statistics.median(r[k] for r in runs)


def fmt_wall(runs):
    w = [r["wall"] for r in runs]
    return "%.2f (%.2f–%.2f)" % (statistics.median(w), min(w), max(w))


def ratio(a, b):
    return "%.2f×" % (a / b) if b else "–"


def med_or_none(runs, k):
    """The median, or None when the contender was not run (a ratio to it is "–")."""
    return med(runs, k) if runs else None


def machine():
    info = {}
    with open("/proc/cpuinfo") as f:
        cpu = f.read()
    m = re.search(r"^model name\s*:\s*(.*)$", cpu, re.M)
    info["cpu"] = m.group(1).strip() if m else platform.processor()
    flags = re.search(r"^flags\s*:\s*(.*)$", cpu, re.M)
    info["sha_ni"] = "yes" if flags and "sha_ni" in flags.group(1).split() else "no"
    info["nproc"] = os.cpu_count()
    with open("/proc/meminfo") as f:
        kb = int(re.search(r"MemTotal:\s*(\d+)", f.read()).group(1))
    info["mem"] = "%.1f GiB" % (kb / 1048576)
    info["kernel"] = platform.release()
    try:
        info["virt"] = subprocess.run(["systemd-detect-virt"], capture_output=True,
                                      text=True).stdout.strip() or "none"
    except OSError:
        info["virt"] = "unknown"
    info["nix"] = out(["nix", "--version"])
    info["nginx"] = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True,
                                   text=True).stderr.strip().replace("nginx version: ", "")
    info["openssl"] = out(["openssl", "version"])
    rev = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    info["rev"] = rev or "unknown"
    # A BENCH_BIN from elsewhere (a before/after comparison) is not this
    # tree's revision: name it by its path instead.
    if os.path.commonpath([BIN, TOP]) != TOP:
        info["rev"] = "`%s` (this tree, with the bench scripts, is at %s)" % (BIN, info["rev"])
    kind = subprocess.run(["file", "-b", BIN], capture_output=True, text=True).stdout
    info["build"] = ("the static initrd binary: `make static`, musl, -O2" if "statically linked" in kind
                     else "`make all`: glibc, shared libraries, -O2")
    return info


# --- the floor -------------------------------------------------------------------

def floor_decode_hash(cache, comp, work, runs):
    """nproc pipelines `DECOMPRESSOR -dc FILES... | openssl dgst -sha256`, the
    NARs dealt largest first to the least loaded pipeline."""
    narsdir = os.path.join(cache, "nar")
    files = sorted((os.path.getsize(os.path.join(narsdir, n)), os.path.join(narsdir, n))
                   for n in os.listdir(narsdir))
    files.reverse()
    n = os.cpu_count()
    bins = [[0, []] for _ in range(n)]
    for size, p in files:
        b = min(bins, key=lambda x: x[0])
        b[0] += size
        b[1].append(p)
    lists = []
    for i, (_, ps) in enumerate(bins):
        lf = os.path.join(work, "floor-%s-%d.list" % (comp, i))
        with open(lf, "w") as f:
            f.write("\n".join(ps) + "\n")
        lists.append(lf)
    dec = {"zstd": "zstd", "xz": "xz"}[comp]
    script = ("printf '%%s\\n' %s | xargs -P %d -n 1 sh -c "
              "'xargs -d \"\\n\" -a \"$1\" %s -dcq -- | openssl dgst -sha256 >/dev/null' sh"
              % (" ".join(shlex.quote(x) for x in lists), n, dec))
    return [timed(["sh", "-c", script], work) for _ in range(runs)]


def floor_write(corpus, fs, work, runs, bdir):
    """tar -xf of the closure (an uncompressed tar made once) into a fresh fs."""
    tarf = os.path.join(bdir, "closure.tar")
    stamp = tarf + ".root"
    if not os.path.exists(tarf) or not os.path.exists(stamp) or open(stamp).read() != corpus["ROOT_PATH"]:
        say("writing %s (once)" % tarf)
        paths = [p.strip().lstrip("/") for p in open(corpus["ALL_PATHS_FILE"]) if p.strip()]
        with open(tarf + ".list", "w") as f:
            f.write("\n".join(paths) + "\n")
        sh(["tar", "-cf", tarf + ".tmp", "-C", "/", "-T", tarf + ".list"])
        os.rename(tarf + ".tmp", tarf)
        with open(stamp, "w") as f:
            f.write(corpus["ROOT_PATH"])
    warm(tarf)
    res = []
    for _ in range(runs):
        d = os.path.join(fs.make(True), "root")
        os.makedirs(d)
        r = timed(["tar", "-xf", tarf, "-C", d], work)
        t = time.monotonic()
        sh(["sync", "-f", fs.mnt])
        r["sync"] = time.monotonic() - t
        fs.umount()
        res.append(r)
    return res


def warm(path):
    """Reads files once so every contender finds them in the page cache."""
    if os.path.isdir(path):
        for d, _, files in os.walk(path):
            for n in files:
                warm(os.path.join(d, n))
        return
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


# --- main ----------------------------------------------------------------------------

def main():
    global BIN, FETCH_ARGS
    t_start = time.monotonic()
    profiles = env_list("BENCH_PROFILES", "loopback region far")
    caches = env_list("BENCH_CACHES", "zstd xz")
    extra = env_list("BENCH_EXTRA", "sync memory metadata herd")
    asked = env_list("BENCH_CONTENDERS", " ".join(CONTENDERS))
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    floor_runs = int(os.environ.get("BENCH_FLOOR_RUNS", "3"))
    meta_runs = int(os.environ.get("BENCH_META_RUNS", "0"))
    mem_runs = int(os.environ.get("BENCH_MEM_RUNS", "3"))
    bdir = os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(TOP, "build/bench")))
    BIN = os.path.abspath(os.environ.get("BENCH_BIN",
                                         os.path.join(TOP, "build/static/initrd-provision")))
    FETCH_ARGS = shlex.split(os.environ.get("BENCH_FETCH_ARGS", ""))
    outf = os.environ.get("BENCH_OUT", os.path.join(TOP, "bench/results.md"))
    for p in profiles:
        if p not in PROFILES:
            raise SystemExit("bench: unknown profile %r (loopback, region, far)" % p)
    for c in caches:
        if c not in ("zstd", "xz"):
            raise SystemExit("bench: unknown cache %r (zstd, xz)" % c)
    for w in asked:
        if w not in CONTENDERS:
            raise SystemExit("bench: unknown contender %r in BENCH_CONTENDERS (%s)"
                             % (w, ", ".join(CONTENDERS)))
    # who -> why it was not run; the page names each one.
    skipped = {w: "not in BENCH_CONTENDERS" for w in CONTENDERS if w not in asked}
    if OURS_SYNC in asked and "sync" not in extra:
        skipped[OURS_SYNC] = "BENCH_EXTRA has no sync"
    contenders = [w for w in CONTENDERS if w not in skipped]
    if not contenders:
        raise SystemExit("bench: nothing to run: BENCH_CONTENDERS=%r" % " ".join(asked))
    for w in skipped:
        say("skipping %s (%s)" % (LABEL[w], skipped[w]))
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root (real Nix builds the corpus; loop mounts)")
    if not os.access(BIN, os.X_OK):
        raise SystemExit("bench: %s missing; run make static" % BIN)
    if runs < 5:
        say("warning: BENCH_RUNS=%d is below the 5 runs per cell the results need" % runs)
    load_start = loadavg()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    # The corpus and the big path (cached after the first time).
    cdir = os.path.join(bdir, "corpus")
    say("corpus: tools/testworld/make-corpus %s%s" % (cdir, " --xz" if "xz" in caches else ""))
    sh([os.path.join(TW, "make-corpus"), cdir] + (["--xz"] if "xz" in caches else []),
       stdout=sys.stderr)
    corpus = read_env(os.path.join(cdir, "corpus.env"))
    big = None
    if "memory" in extra:
        sh([os.path.join(TOP, "tools/bench/make-bigpath"), os.path.join(bdir, "big"),
            "--secret-key", corpus["TRUSTED_SECKEY_FILE"]], stdout=sys.stderr)
        big = read_env(os.path.join(bdir, "big/big.env"))
        big["TRUSTED_PUBKEY"] = corpus["TRUSTED_PUBKEY"]
        big["PATH_COUNT"] = "1"
    cache_dir = {c: corpus["CACHE_" + c.upper()] for c in caches}

    work = os.path.join(bdir, "work")
    os.makedirs(work, exist_ok=True)
    fs = FreshFS(work)
    servers = Servers(work)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results = {}   # (cache, profile, who) -> [runs]
    floor = {}
    try:
        for c in caches:
            warm(cache_dir[c])
        # The floor first: the machine is the same for everyone after it.
        for c in caches:
            say("floor: decompress + SHA-256, %s (%d runs)" % (c, floor_runs))
            floor[c] = floor_decode_hash(cache_dir[c], c, work, floor_runs)
        say("floor: tar -xf of the closure (%d runs)" % floor_runs)
        floor["write"] = floor_write(corpus, fs, work, floor_runs, bdir)

        for c in caches:
            for p in profiles:
                url, _ = servers.url(cache_dir[c], p)
                whos = contenders
                for i in range(runs):
                    order = whos if i % 2 == 0 else list(reversed(whos))
                    for who in order:
                        # What a sync adds depends neither on the network nor
                        # on the compression: timed on the first cache's
                        # loopback runs only (it costs seconds a run).
                        # run_contender never times it after a durable run.
                        r = run_contender(who, url, corpus, fs, work,
                                          p == "loopback" and c == caches[0])
                        results.setdefault((c, p, who), []).append(r)
                        say("%s %s run %d %-9s wall %6.2f s  cpu %6.2f s  rss %5.1f MiB  "
                            "sync %s  others %.2f cores"
                            % (c, p, i + 1, who, r["wall"], r["cpu"], r["rss"],
                               "%.2f s" % r["sync"] if "sync" in r else "-", r["others"]))

        mem = {}
        mem_whos = [w for w in (OURS, NIXC) if w in contenders]
        if big and mem_whos:
            warm(big["CACHE_ZSTD"])
            url, _ = servers.url(big["CACHE_ZSTD"], "loopback")
            for i in range(mem_runs):
                for who in (mem_whos if i % 2 == 0 else list(reversed(mem_whos))):
                    r = run_contender(who, url, big, fs, work, False)
                    mem.setdefault(who, []).append(r)
                    say("1 GiB path run %d %-4s wall %6.2f s  cpu %6.2f s  rss %5.1f MiB"
                        % (i + 1, who, r["wall"], r["cpu"], r["rss"]))

        meta = {}
        if "metadata" in extra:
            meta["far"] = True  # the rows come from the far runs even without path-info
            c0 = caches[0]
            url, log = servers.url(cache_dir[c0], "far")
            for i in range(meta_runs):
                r = timed([HERMETIC] + NIX + ["path-info", "--store", url, "-r",
                                              corpus["ROOT_PATH"]], work)
                reqs = proxy_requests(log, r["t0"], r["t1"])
                r["trips"] = sequential_round_trips(reqs)
                r["in_flight"] = max_in_flight(reqs)
                r["requests"] = len(reqs)
                meta.setdefault("nix path-info", []).append(r)
                say("metadata run %d: nix path-info -r %.2f s, %d requests, %d sequential"
                    % (i + 1, r["wall"], r["requests"], r["trips"]))
            # Both copies under far: their narinfo phase, from the proxy log.
            for who in (OURS, NIXC):
                for r in results.get((c0, "far", who), []):
                    reqs = [q for q in proxy_requests(log, r["t0"], r["t1"])
                            if q[2].endswith(".narinfo") or q[2] == "/nix-cache-info"]
                    if reqs:
                        r["trips"] = sequential_round_trips(reqs)
                        r["in_flight"] = max_in_flight(reqs)
                        r["narinfo_wall"] = max(q[1] for q in reqs) - r["t0"]
                        r["requests"] = len(reqs)
    finally:
        servers.stop()
        fs.close()

    herd_lines = []
    if "herd" in extra:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import herd
        herd_lines, _ = herd.run(BIN, bdir)

    load_end = loadavg()
    total = time.monotonic() - t_start
    text = report(date, machine(), corpus, big, caches, profiles, runs, floor_runs,
                  floor, results, mem, meta, load_start, load_end, total, skipped)
    if herd_lines:
        text += "\n" + "\n".join(herd_lines) + "\n"
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(outf)), exist_ok=True)
    with open(outf + ".tmp", "w") as f:
        f.write(text)
    os.rename(outf + ".tmp", outf)
    say("wrote %s (%.1f minutes in all)" % (outf, total / 60))
    return 0


def report(date, m, corpus, big, caches, profiles, runs, floor_runs, floor, results, mem,
           meta, load_start, load_end, total, skipped):
    L = []
    ncpu = m["nproc"]
    mib = 1 << 20

    def du(d):
        return sum(os.path.getsize(os.path.join(d, "nar", n)) for n in os.listdir(os.path.join(d, "nar")))

    L.append("# Benchmarks: `initrd-provision fetch` vs `nix copy`, and the floor")
    L.append("")
    L.append("Written by `make bench` on %s (the whole run took %.1f minutes)." % (date, total / 60))
    L.append("")
    L.append("**Machine**: %d cores (`nproc`), %s, SHA-NI: %s, %s RAM, Linux %s, "
             "virtualisation: %s.  Shared with other jobs: load average %s at the start, "
             "%s at the end (the *others* column is the CPU that other processes, "
             "nginx and the proxy included, used during each run, in cores)."
             % (ncpu, m["cpu"], m["sha_ni"], m["mem"], m["kernel"], m["virt"], load_start, load_end))
    L.append("")
    L.append("**Software**: initrd-provision %s (%s%s), %s, nginx %s (1 worker), %s."
             % (m["rev"], m["build"], "; fetch options: `%s`" % " ".join(FETCH_ARGS) if FETCH_ARGS else "",
                m["nix"], m["nginx"], m["openssl"]))
    L.append("")
    sizes = ", ".join("%s cache %.0f MB" % (c, du(corpus["CACHE_" + c.upper()]) / 1e6) for c in caches)
    L.append("**Corpus** (tools/testworld/make-corpus, real Nix): %s paths, %.2f GiB of NAR "
             "(median %.0f KiB, largest %.0f MiB), %s files, %s symlinks, graph depth %s; %s."
             % (corpus["PATH_COUNT"], int(corpus["NAR_BYTES"]) / (1 << 30),
                int(corpus["MEDIAN_NAR_BYTES"]) / 1024, int(corpus["LARGEST_NAR_BYTES"]) / mib,
                corpus["FILE_COUNT"], corpus["SYMLINK_COUNT"], corpus["DEPTH"], sizes))
    L.append("")
    L.append("**Method**: nginx on 127.0.0.1 serves the caches; `region` adds 2 ms to every "
             "request, `far` 30 ms and a 1 Gbit/s cap (tools/bench/latency-proxy). "
             "Contenders alternate, %d runs each per cell; each run gets a fresh ext4 "
             "(loop device; image on the host's disk for the runs whose sync is timed, in a "
             "tmpfs for the others) and a cold Nix narinfo cache; both "
             "check signatures.  Wall: median (min–max), seconds, no final sync; `+sync`: "
             "median time of a `sync -f` of the file system after the run; CPU: user+sys "
             "seconds (\"cores used\" = CPU ÷ wall); RSS: peak resident MiB (/usr/bin/time).  "
             "The sync is timed on the %s loopback runs only (it depends neither on the network "
             "nor on the compression).  The durable contender (fetch without `--no-sync`) "
             "always writes to an image on the host's disk; its wall includes its syncs, "
             "so it has no `+sync`." % (runs, caches[0]))
    L.append("")
    if skipped:
        L.append("**Not run**: %s.  Their rows, and every ratio to them, are missing or "
                 "\"–\"." % "; ".join("%s (%s)" % (LABEL[w], why) for w, why in skipped.items()))
        L.append("")

    # Floor
    fl = {}
    L.append("## Floor")
    L.append("")
    L.append("Decompress + SHA-256 of every NAR on all %d cores (%d pipelines "
             "`zstd|xz -dc NARs… | openssl dgst -sha256`, NARs dealt largest first), and "
             "writing the unpacked closure (`tar -xf` of an uncompressed tar of it into a "
             "fresh ext4).  floor = (CPU of both) ÷ cores: that work spread perfectly over "
             "all cores.  Medians of %d runs." % (ncpu, ncpu, floor_runs))
    L.append("")
    L.append("| cache | decompress+hash wall | its CPU | tar -xf wall | its CPU | +sync | floor |")
    L.append("|---|---|---|---|---|---|---|")
    w = floor["write"]
    for c in caches:
        d = floor[c]
        fl[c] = (med(d, "cpu") + med(w, "cpu")) / ncpu
        L.append("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** |"
                 % (c, med(d, "wall"), med(d, "cpu"), med(w, "wall"), med(w, "cpu"),
                    med(w, "sync"), fl[c]))
    L.append("")

    # Main table
    L.append("## %s paths, %.2f GiB" % (corpus["PATH_COUNT"], int(corpus["NAR_BYTES"]) / (1 << 30)))
    L.append("")
    L.append("| cache | profile | contender | wall | +sync | CPU | cores used | peak RSS | "
             "wall ÷ Nix | wall ÷ floor | CPU ÷ Nix | RSS ÷ Nix | others |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in caches:
        for p in profiles:
            nix = results.get((c, p, NIXC))
            for who in CONTENDERS:
                rs = results.get((c, p, who))
                if not rs:
                    continue
                syncs = [r["sync"] for r in rs if "sync" in r]
                L.append("| %s | %s | %s | %s | %s | %.2f | %.2f | %.1f | %s | %s | %s | %s | %.2f |"
                         % (c, p, LABEL[who], fmt_wall(rs),
                            "%.2f" % statistics.median(syncs) if syncs
                            else "in wall" if who == OURS_SYNC else "–", med(rs, "cpu"),
                            med(rs, "cpu") / med(rs, "wall"), med(rs, "rss"),
                            ratio(med(rs, "wall"), med_or_none(nix, "wall")),
                            ratio(med(rs, "wall"), fl[c]),
                            ratio(med(rs, "cpu"), med_or_none(nix, "cpu")),
                            ratio(med(rs, "rss"), med_or_none(nix, "rss")), med(rs, "others")))
    L.append("")

    if mem:
        L.append("## Memory: one %.0f MiB file (one path, zstd, loopback)" % (int(big["NAR_BYTES"]) / mib))
        L.append("")
        L.append("| contender | wall | CPU | peak RSS (min–max) | RSS ÷ Nix |")
        L.append("|---|---|---|---|---|")
        for who in (OURS, NIXC):
            rs = mem.get(who)
            if not rs:
                continue
            rss = [r["rss"] for r in rs]
            L.append("| %s | %s | %.2f | %.1f (%.1f–%.1f) | %s |"
                     % (LABEL[who], fmt_wall(rs), med(rs, "cpu"), statistics.median(rss),
                        min(rss), max(rss), ratio(med(rs, "rss"), med_or_none(mem.get(NIXC), "rss"))))
        L.append("")

    depth = int(corpus["DEPTH"])
    if meta:
        c0 = caches[0]
        L.append("## Metadata: closure resolution under `far` (%s narinfos, graph depth %d, "
                 "depth × 30 ms = %.0f ms)" % (corpus["PATH_COUNT"], depth, depth * FAR_DELAY * 1000))
        L.append("")
        L.append("Sequential round trips: the longest chain of requests each sent after the "
                 "previous one was answered (from the proxy's log).  `fetch` has no option "
                 "to stop after resolving, so its time is the `resolve` phase of its "
                 "`--report`; since issue 16 it downloads while it resolves and its NAR "
                 "requests go ahead of the narinfos on the shared connections, so this is "
                 "the resolution's time beside the download, not a phase the download waits "
                 "for (what the latency costs the whole fetch is in *Latency hiding*); for "
                 "`nix copy`, the time from its start to the last narinfo answer.")
        L.append("")
        L.append("| contender | what was measured | narinfo requests | most in flight | "
                 "sequential round trips | wall (min–max) |")
        L.append("|---|---|---|---|---|---|")
        rows = []
        ours = [r for r in results.get((c0, "far", OURS), []) if "trips" in r]
        if ours:
            rows.append((LABEL[OURS], "`--report` seconds.resolve, %s far runs" % c0, ours, "resolve"))
        nixr = [r for r in results.get((c0, "far", NIXC), []) if "trips" in r]
        if nixr:
            rows.append(("nix copy", "start → last narinfo answer, %s far runs" % c0, nixr, "narinfo_wall"))
        if meta.get("nix path-info"):
            rows.append(("nix path-info -r --store http://…", "whole command (%s cache)" % c0,
                         meta["nix path-info"], "wall"))
        for name, what, rs, k in rows:
            v = [r[k] for r in rs]
            L.append("| %s | %s | %d | %d | %d | %.0f ms (%.0f–%.0f) |"
                     % (name, what, statistics.median(r["requests"] for r in rs),
                        statistics.median(r["in_flight"] for r in rs),
                        statistics.median(r["trips"] for r in rs),
                        statistics.median(v) * 1000, min(v) * 1000, max(v) * 1000))
        L.append("")

    # Issue 16: a far cache should cost little more than a local one once
    # NAR transfers overlap the narinfo round trips.
    hiding = []   # (cache, who, loopback median, far median)
    for c in caches:
        for who in (OURS, OURS_SYNC):
            lo, far = results.get((c, "loopback", who)), results.get((c, "far", who))
            if lo and far:
                hiding.append((c, who, med(lo, "wall"), med(far, "wall")))
    if hiding:
        L.append("## Latency hiding: far ÷ loopback")
        L.append("")
        L.append("The same fetch from the same cache with 30 ms added to every request "
                 "and a 1 Gbit/s cap (`far`) and without (`loopback`): the ratio is what the "
                 "latency still costs (issue 16's goal: ≤ 1.3×).  Median walls, seconds, "
                 "from the table above.")
        L.append("")
        L.append("| cache | contender | loopback wall | far wall | far ÷ loopback |")
        L.append("|---|---|---|---|---|")
        for c, who, lo, far in hiding:
            L.append("| %s | %s | %.2f | %.2f | **%s** |" % (c, LABEL[who], lo, far, ratio(far, lo)))
        L.append("")

    # Goals
    L.append("## Goals (issues 9 and 16)")
    L.append("")

    def goal(ok, text):
        L.append("- %s %s" % ("**met**:" if ok else "**not met**:", text))

    for c in caches:
        rs = results.get((c, "loopback", OURS))
        if rs:
            x = med(rs, "wall") / fl[c]
            goal(x <= 1.2, "loopback %s: wall %.2f s = %.2f× the floor (goal ≤ 1.2×), %.2f cores used"
                 % (c, med(rs, "wall"), x, med(rs, "cpu") / med(rs, "wall")))
    for c in caches:
        for p in ("region", "far"):
            rs, nix = results.get((c, p, OURS)), results.get((c, p, NIXC))
            if rs and nix:
                x = med(nix, "wall") / med(rs, "wall")
                goal(x >= 3, "%s %s: %.2f× faster than Nix (goal ≥ 3×)" % (p, c, x))
    worst = None
    for (c, p, who), rs in results.items():
        if who == OURS and (c, p, NIXC) in results:
            x = med(rs, "cpu") / med(results[(c, p, NIXC)], "cpu")
            if worst is None or x > worst[0]:
                worst = (x, c, p)
    if worst:
        goal(worst[0] <= 1.1, "CPU at most %.2f× Nix's (worst cell: %s %s; goal ≤ 1.1×)"
             % worst)
    for c in caches:
        lim = 0.5 if c == "zstd" else 1.0
        xs = [med(results[(c, p, OURS)], "rss") / med(results[(c, p, NIXC)], "rss")
              for p in profiles if (c, p, OURS) in results and (c, p, NIXC) in results]
        if xs:
            goal(max(xs) <= lim, "peak RSS on %s at most %.2f× Nix's (goal ≤ %s)"
                 % (c, max(xs), "half" if c == "zstd" else "1×"))
    if mem.get(OURS) and ("zstd", "loopback", OURS) in results:
        a = med(results[("zstd", "loopback", OURS)], "rss")
        b = med(mem[OURS], "rss")
        goal(b <= a * 1.1, "flat in NAR size: %.1f MiB with one %.0f MiB NAR vs %.1f MiB for the "
             "corpus (largest NAR %.0f MiB) (goal: within 10%%)"
             % (b, int(big["NAR_BYTES"]) / mib, a, int(corpus["LARGEST_NAR_BYTES"]) / mib))
    if meta:
        ours = [r for r in results.get((caches[0], "far", OURS), []) if "resolve" in r]
        if ours:
            x = statistics.median(r["resolve"] for r in ours)
            goal(x <= 2 * depth * FAR_DELAY,
                 "far resolution %.0f ms = %.2f× depth × 30 ms (goal ≤ 2×; measured beside "
                 "the download since issue 16)"
                 % (x * 1000, x / (depth * FAR_DELAY)))
    for c, who, lo, far in hiding:
        goal(far <= 1.3 * lo, "far within 1.3× loopback (issue 16), %s, %s: %.2f s ÷ %.2f s = %.2f×"
             % (c, "`--no-sync`" if who == OURS else "durable", far, lo, far / lo))
    L.append("")
    return "\n".join(L) + "\n"


BIN = None
FETCH_ARGS = []

if __name__ == "__main__":
    sys.exit(main())
