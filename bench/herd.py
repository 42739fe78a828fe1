#!/usr/bin/python3
"""bench/herd.py — the herd row of `make bench` (issue 19): N concurrent
`initrd-provision fetch` processes (default 20, as an autoscaling group
scaling out) fetch the test world's closure (tools/testworld/make-closures,
14 paths) from the S3 stand-in (s3rver behind tools/s3/sigv4-proxy) while the
proxy's token bucket allows RATE requests a second (burst BURST) and answers
503 SlowDown beyond that.  Goal: the herd finishes within 1.5x of the time
the bucket needs to serve the requests it served ((served - burst) / rate).

Run alone (`bench/herd.py`, as root, after `make static`) it prints its
Markdown; `make bench` (BENCH_EXTRA containing "herd") appends the same to
bench/results.md.  Environment: BENCH_BIN (default
build/static/initrd-provision), BENCH_HERD_N (20), BENCH_HERD_RATE (60),
BENCH_HERD_BURST (20), BENCH_HERD_RUNS (3), BENCH_DIR (build/bench).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY_SECRET = "bench/Herd+Secret0000000000000000000000"
UP_KEY, UP_SECRET = "AKIDBENCHHERDUPLOAD1", "bench/Herd+Upload0000000000000000000000"


def say(msg):
    print("herd: " + msg, file=sys.stderr, flush=True)


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v.strip("'\"")
    return env


def key_of(i):
    return "AKIDBENCHHERD%07d" % i


def run(bin_path, bdir, n=None, rate=None, burst=None, runs=None):
    """Returns (Markdown lines, list of run dicts)."""
    n = n or int(os.environ.get("BENCH_HERD_N", "20"))
    rate = rate or float(os.environ.get("BENCH_HERD_RATE", "60"))
    burst = burst or float(os.environ.get("BENCH_HERD_BURST", "20"))
    runs = runs or int(os.environ.get("BENCH_HERD_RUNS", "3"))
    world = os.path.join(bdir, "herd-world")
    say("world: tools/testworld/make-closures %s" % world)
    subprocess.run([os.path.join(TOP, "tools/testworld/make-closures"), world], check=True,
                   stdout=sys.stderr)
    w = read_env(os.path.join(world, "world.env"))
    tmp = tempfile.mkdtemp(prefix="herd.", dir=bdir)
    s3 = os.path.join(tmp, "s3")
    control = os.path.join(tmp, "control")
    open(control, "w").close()
    creds = ",".join(["%s=%s" % (UP_KEY, UP_SECRET)] +
                     ["%s=%s" % (key_of(i), KEY_SECRET) for i in range(1, n + 1)])
    subprocess.run([os.path.join(TOP, "tools/s3/start-s3"), "start", s3, "--credentials", creds,
                    "--control", control], check=True, stdout=sys.stderr)
    results = []
    try:
        s3env = read_env(os.path.join(s3, "env"))
        endpoint = s3env["S3_ENDPOINT"]
        log = os.path.join(s3env["S3_LOG_DIR"], "proxy.log")
        cli_env = dict(os.environ, HOME=tmp, AWS_CONFIG_FILE="/dev/null",
                       AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true",
                       AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID=UP_KEY,
                       AWS_SECRET_ACCESS_KEY=UP_SECRET, AWS_PAGER="")
        for args in (["s3", "mb", "s3://herd"], ["s3", "sync", "--only-show-errors", w["CACHE_ZSTD"], "s3://herd/"]):
            subprocess.run(["/usr/bin/aws", "--endpoint-url", endpoint] + args, check=True, env=cli_env,
                           stdout=sys.stderr)
        url = "s3://herd?endpoint=%s&region=us-east-1" % endpoint
        for k in range(runs):
            with open(control, "w") as f:
                f.write("rate = %s\nburst = %s\n" % (rate, burst))
            open(log, "w").close()
            rdir = tempfile.mkdtemp(prefix="run.", dir=tmp)
            procs = []
            t0 = time.monotonic()
            for i in range(1, n + 1):
                env = dict(os.environ, AWS_ACCESS_KEY_ID=key_of(i), AWS_SECRET_ACCESS_KEY=KEY_SECRET)
                env.pop("AWS_SESSION_TOKEN", None)
                procs.append(subprocess.Popen(
                    [bin_path, "fetch", "--root", os.path.join(rdir, "root%d" % i), "--no-sync",
                     "--trusted-public-key", w["TRUSTED_PUBKEY"], "--substituter", url,
                     "--report", os.path.join(rdir, "report%d.json" % i), w["ROOT_PATH"]],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            rcs = [p.wait() for p in procs]
            wall = time.monotonic() - t0
            with open(control, "w") as f:
                f.write("")
            served = slowdowns = 0
            with open(log) as f:
                for line in f:
                    if " AKIDBENCHHERD" not in line:
                        continue
                    if " 503 SlowDown " in line:
                        slowdowns += 1
                    elif " relayed " in line:
                        served += 1
            reports = []
            for i in range(1, n + 1):
                try:
                    with open(os.path.join(rdir, "report%d.json" % i)) as f:
                        reports.append(json.load(f))
                except (OSError, ValueError):
                    pass
            floor = max(0.0, (served - burst) / rate)
            r = {"wall": wall, "floor": floor, "ratio": wall / floor if floor else 0.0,
                 "served": served, "slowdowns": slowdowns, "failed": sum(1 for c in rcs if c != 0),
                 "most_attempts": max((x["requests"].get("most_attempts", 0) for x in reports), default=0),
                 "connections_low": min((x.get("connections_low", 0) for x in reports), default=0),
                 "gap_high": max((x.get("start_gap_ms_high", 0) for x in reports), default=0),
                 "per_fetch": served / n}
            results.append(r)
            say("run %d: %.2f s, the bucket allows %.2f s (%.2fx), %d served, %d SlowDown, %d failed, "
                "most attempts %d, connections down to %d, gap up to %d ms"
                % (k + 1, wall, floor, r["ratio"], served, slowdowns, r["failed"], r["most_attempts"],
                   r["connections_low"], r["gap_high"]))
            subprocess.run(["rm", "-rf", rdir])
    finally:
        subprocess.run([os.path.join(TOP, "tools/s3/start-s3"), "stop", s3])
        subprocess.run(["rm", "-rf", tmp])
    return markdown(results, n, rate, burst, w), results


def markdown(results, n, rate, burst, w):
    L = ["## A herd: %d fetches at once against a throttling S3 (issue 19)" % n, ""]
    L.append("%d `initrd-provision fetch` processes start together and fetch the test world "
             "(tools/testworld/make-closures: %s paths) from the S3 stand-in, whose token bucket "
             "allows %g requests/s (burst %g) and answers 503 SlowDown beyond; each process has its "
             "own key.  *Bucket* is the time the bucket needs for the requests it served, "
             "(served − burst) ÷ rate; the goal is a herd within 1.5× of it."
             % (n, w.get("PATH_COUNT", "14"), rate, burst))
    L.append("")
    L.append("| run | wall s | bucket s | wall ÷ bucket | served | SlowDown | failed | most attempts "
             "| lowest connections | widest gap ms |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, r in enumerate(results):
        L.append("| %d | %.2f | %.2f | %.2f× | %d | %d | %d | %d | %d | %d |"
                 % (i + 1, r["wall"], r["floor"], r["ratio"], r["served"], r["slowdowns"], r["failed"],
                    r["most_attempts"], r["connections_low"], r["gap_high"]))
    if results:
        med = statistics.median(r["ratio"] for r in results)
        ok = med <= 1.5 and all(r["failed"] == 0 for r in results)
        L.append("")
        L.append("- %s herd within %.2f× of the bucket's time (median of %d runs; goal ≤ 1.5×, "
                 "every fetch finished: %s)" % ("**met**:" if ok else "**not met**:", med, len(results),
                                                "yes" if all(r["failed"] == 0 for r in results) else "no"))
    L.append("")
    return L


def main():
    if os.geteuid() != 0:
        raise SystemExit("herd: needs root (the test world is built by real Nix in /nix/store)")
    bin_path = os.path.abspath(os.environ.get("BENCH_BIN", os.path.join(TOP, "build/static/initrd-provision")))
    if not os.access(bin_path, os.X_OK):
        raise SystemExit("herd: %s missing; run make static" % bin_path)
    bdir = os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(TOP, "build/bench")))
    os.makedirs(bdir, exist_ok=True)
    lines, _ = run(bin_path, bdir)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
