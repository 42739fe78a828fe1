#!/usr/bin/env bash
# Crash consistency: `initrd-provision fetch` on a 100-path closure made by
# real Nix is killed with SIGKILL at a random moment (seeded), CRASH_KILLS
# times (default 50); after each kill the state it left is checked (a
# registration file, if any, names only paths that are there), the fetch is
# run again to completion, and the root is judged by real Nix (nix-judge:
# --load-db + --verify --check-contents, no leftovers, nothing registered
# twice, missing or unexpected, canonical metadata, the profile link).
#
# What makes this hold (store/store.h, cache/download.c): a NAR is unpacked
# under nix/store/.ip-tmp-<name>, verified, made durable by one syncfs(2) per
# commit batch (every 200 ms or 256 paths), then renamed to its final name;
# after the last rename nix/store is fsync'd, and only then is
# nix-path-registration written (temporary file, fsync, rename, fsync of the
# root).  A kill leaves whole paths under final names and temporaries that
# the next run removes under its flock.
#
# Binary: the dev build ($IP_BUILD/initrd-provision, -O2) by default: the
# ASan binary is 2-3x slower and the kills are about ordering, not memory
# (CRASH_BIN overrides).  The root lives on a private tmpfs, so syncfs is
# cheap and the disk shared with other jobs does not set the pace; the
# kill/ordering logic is the same.  CRASH_SEED picks the kill moments.
SUITE=crash-consistency
. "$(dirname "$0")/lib.sh"
require_root "real Nix builds the corpus into /nix/store; the root is a private tmpfs"
command -v nix-build >/dev/null || { echo "SKIP: $SUITE: all: nix-build is not installed"; exit 0; }

TOOLS="$REPO_ROOT/tools/testworld"
BIN=${CRASH_BIN:-$IP_BUILD/initrd-provision}
[ -x "$BIN" ] || BIN=$IP_BIN
SEED=${CRASH_SEED:-10}
KILLS=${CRASH_KILLS:-50}
BUDGET=${CRASH_BUDGET_SECONDS:-240}   # the whole kill loop, hard bound

CORPUS="$IP_BUILD/crash-corpus"
if ! timeout 600 "$TOOLS/make-corpus" "$CORPUS" --paths 100 --bytes 40M >"$TEST_TMP/corpus.log" 2>&1; then
	echo "FAIL: $SUITE: corpus: make-corpus failed: $(tail -n 3 "$TEST_TMP/corpus.log" | tr '\n' ' ')"
	exit 1
fi
# shellcheck disable=SC1091
. "$CORPUS/corpus.env"

MNT=$TEST_TMP/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=400m,mode=0755 ip-crash "$MNT"; then
	echo "SKIP: $SUITE: all: cannot mount a tmpfs"
	exit 0
fi
umount_mnt() { umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null; }
at_exit umount_mnt
ROOT=$MNT/root

SERVER_PID=""
stop_server() { [ -z "$SERVER_PID" ] || { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }; }
at_exit stop_server
"$TOOLS/http-serve" "$CACHE_ZSTD" --port-file "$TEST_TMP/port" --log "$TEST_TMP/http.log" \
	2>"$TEST_TMP/http.err" &
SERVER_PID=$!
for _ in $(seq 200); do [ -s "$TEST_TMP/port" ] && break; sleep 0.05; done
[ -s "$TEST_TMP/port" ] || { echo "FAIL: $SUITE: server: http-serve did not start"; exit 1; }
URL=http://127.0.0.1:$(cat "$TEST_TMP/port")
ARGS=(fetch --root "$ROOT" --substituter "$URL" --trusted-public-key "$TRUSTED_PUBKEY" --set-profile "$ROOT_PATH")

now_ms() { date +%s%3N; }

# What the judge said, for a FAIL line: its first findings, or where a
# traceback ended (the exception), which its first lines do not show.
judge_said() {
	if grep -q '^Traceback' "$TEST_TMP/judge.out"; then
		tail -n 3 "$TEST_TMP/judge.out" | tr '\n' ' '
	else
		head -n 4 "$TEST_TMP/judge.out" | tr '\n' ' '
	fi
}

# The state a kill left: the registration file is written last, so if it is
# there it names only paths that are in place; no symlink or profile points
# at a missing closure.
check_killed_state() {
	[ -d "$ROOT" ] || return 0
	local reg=$ROOT/nix-path-registration p
	if [ -f "$reg" ]; then
		for p in $(awk 'BEGIN{s=0} s==0{print; s=1; next} s<4{s++; next} s==4{n=$0+0; s=n>0?5:0; next} s==5{if(--n==0)s=0}' "$reg"); do
			[ -e "$ROOT$p" ] || [ -L "$ROOT$p" ] || { fail_because "after kill $kills: $p registered but absent"; return 1; }
		done
	fi
	local prof=$ROOT/nix/var/nix/profiles/system
	if [ -L "$prof" ] && [ ! -e "$ROOT/nix/var/nix/profiles/$(readlink "$prof")" ]; then
		fail_because "after kill $kills: profile link dangles: $(readlink "$prof")"; return 1
	fi
}

# One complete run on the root as it is, then the verdict.
finish_and_judge() {
	local rc=0
	timeout 120 "$BIN" "${ARGS[@]}" --report "$TEST_TMP/report.json" >"$TEST_TMP/finish.out" 2>&1 || rc=$?
	[ "$rc" = 0 ] || { fail_because "run after kill $kills exited $rc: $(tail -n 2 "$TEST_TMP/finish.out" | tr '\n' ' ')"; return 1; }
	"$TOOLS/nix-judge" --no-dump --cache "$CACHE_ZSTD" --expect-paths "$ALL_PATHS_FILE" "$ROOT" >"$TEST_TMP/judge.out" 2>&1 ||
		{ fail_because "after kill $kills: $(judge_said)"; return 1; }
	local left
	left=$(cd "$ROOT" && find . -maxdepth 1 -name '.*ip-tmp*'; find "$ROOT/nix/var/nix/profiles" -name '.*ip-tmp*' 2>/dev/null)
	[ -z "$left" ] || { fail_because "after kill $kills: temporaries left: $left"; return 1; }
	[ "$(readlink -f "$ROOT/nix/var/nix/profiles/system" | sed "s|^$ROOT||")" = "$ROOT_PATH" ] ||
		{ fail_because "after kill $kills: the profile does not point at $ROOT_PATH"; return 1; }
	local present
	present=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["paths"]["present"])' "$TEST_TMP/report.json")
	PRESENT_SEEN="$PRESENT_SEEN $present"
	grep -q 'incomplete download' "$TEST_TMP/finish.out" && STALE_RUNS=$((STALE_RUNS + 1))
	return 0
}

full_run() {
	rm -rf "$ROOT"
	local t0; t0=$(now_ms)
	"$BIN" "${ARGS[@]}" >"$TEST_TMP/full.out" 2>&1 || { fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/full.out")"; return 1; }
	FULL_MS=$(($(now_ms) - t0))
	"$TOOLS/nix-judge" --cache "$CACHE_ZSTD" --expect-paths "$ALL_PATHS_FILE" "$ROOT" >"$TEST_TMP/judge.out" 2>&1 ||
		{ fail_because "$(judge_said)"; return 1; }
	echo "    full run: $FULL_MS ms ($BIN)"
}
FULL_MS=2000
run_case "a whole run passes nix-judge (calibrates the kill window)" full_run

# The write order, from the system calls of one whole run: every rename of
# a temporary into place comes right after a syncfs (the batch it belongs
# to is durable first); after the last one nix/store is fsync'd; the
# registration temporary is fsync'd and renamed after that, then the root
# is fsync'd; then the ledger (store/ledger.h) the same way, once the
# paths it vouches for are registered; the profile link is switched last.
write_order() {
	command -v strace >/dev/null || { skip_because "strace is not installed (tools/packages/harden.txt)"; return 0; }
	rm -rf "$ROOT"
	strace -f -qq -e trace=syncfs,fsync,fdatasync,rename,renameat,renameat2 -o "$TEST_TMP/trace" \
		"$BIN" "${ARGS[@]}" >"$TEST_TMP/trace.out" 2>&1 ||
		{ fail_because "fetch failed under strace: $(tail -n 3 "$TEST_TMP/trace.out" | tr '\n' ' ')"; return 1; }
	/usr/bin/python3 - "$TEST_TMP/trace" "$PATH_COUNT" <<'PY' || { fail_because "$(cat "$TEST_TMP/order.err")"; return 1; }
import re, sys
events = []
for line in open(sys.argv[1]):
    m = re.match(r'\d+\s+(\w+)\((.*)\)\s+= (-?\d+)', line)
    if not m:
        continue
    call, args, rc = m.groups()
    if rc != "0":
        sys.exit("failed call: " + line.strip())
    if call in ("rename", "renameat", "renameat2"):
        names = re.findall(r'"([^"]*)"', args)
        if names[0].startswith(".ip-tmp-"):
            events.append("store-rename")
        elif names[1] == "nix-path-registration":
            events.append("registration-rename")
        elif names[1] == "system":
            events.append("profile-rename")
        elif names[0] == ".ledger.tmp" and names[1] == "ledger":
            events.append("ledger-rename")
        else:
            events.append("other-rename " + args)
    else:
        events.append(call)
err = open(sys.argv[1].replace("trace", "order.err"), "w")
def bad(msg):
    err.write(msg + " (events: " + " ".join(e.split()[0] for e in events)[:400] + ")")
    sys.exit(1)
n = events.count("store-rename")
if n != int(sys.argv[2]):
    bad("%d store renames, want %s" % (n, sys.argv[2]))
prev = None
for e in events:
    if e == "store-rename" and prev not in ("syncfs", "store-rename"):
        bad("a store rename not preceded by a syncfs")
    prev = e
last = max(i for i, e in enumerate(events) if e == "store-rename")
tail = [e for e in events[last + 1:]]
want = ["fsync", "fsync", "registration-rename", "fsync", "fsync", "ledger-rename", "fsync",
        "profile-rename", "fsync"]
if tail != want:
    bad("after the last store rename: %s, want %s" % (tail, want))
print("    %d paths in %d syncfs batches; then fsync(nix/store), fsync(registration), rename, fsync(root), ledger, profile"
      % (n, events.count("syncfs")))
PY
	"$TOOLS/nix-judge" --no-dump --cache "$CACHE_ZSTD" --expect-paths "$ALL_PATHS_FILE" "$ROOT" >"$TEST_TMP/judge.out" 2>&1 ||
		fail_because "$(judge_said)"
}
run_case "write order: syncfs before every rename into place, registration last (strace)" write_order

# Starts a fetch, kills it after a random delay in [0, 1.1 x a full run].
# Sets KILLED=1 when it was still running (the kill counts).
kill_one() {
	local window=$((FULL_MS * 11 / 10 + 20)) delay pid rc=0
	delay=$(( (RANDOM * 32768 + RANDOM) % window ))
	"$BIN" "${ARGS[@]}" >"$TEST_TMP/killed.out" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null || rc=$?
	if [ "$rc" = 137 ]; then
		KILLED=1; kills=$((kills + 1)); DELAYS="$DELAYS $delay"
	else
		KILLED=0; FINISHED_FIRST=$((FINISHED_FIRST + 1))
		[ "$rc" = 0 ] || { fail_because "a run that was not killed exited $rc: $(tail -n 2 "$TEST_TMP/killed.out")"; return 1; }
	fi
}

kills=0
kill_loop() {
	RANDOM=$SEED
	kills=0 PRESENT_SEEN="" STALE_RUNS=0 FINISHED_FIRST=0 DELAYS="" ITER=0
	local t0
	t0=$(date +%s)
	while [ "$kills" -lt "$KILLS" ]; do
		[ $(($(date +%s) - t0)) -lt "$BUDGET" ] ||
			{ fail_because "over the ${BUDGET}s budget after $kills kills"; return 1; }
		ITER=$((ITER + 1))
		rm -rf "$ROOT"
		kill_one || return 1
		check_killed_state || return 1
		# one time in four, kill the next run too, on the partial state
		if [ "$KILLED" = 1 ] && [ $((RANDOM % 4)) = 0 ] && [ "$kills" -lt "$KILLS" ]; then
			kill_one || return 1
			check_killed_state || return 1
		fi
		finish_and_judge || return 1
	done
	local secs=$(($(date +%s) - t0)) min=9999 max=0 p
	for p in $PRESENT_SEEN; do [ "$p" -lt "$min" ] && min=$p; [ "$p" -gt "$max" ] && max=$p; done
	echo "    $kills kills (seed $SEED) in $ITER rounds, ${secs}s; runs that ended before their kill: $FINISHED_FIRST"
	echo "    paths already in place when the re-run started: min $min, max $max of $PATH_COUNT;" \
		"re-runs that removed an interrupted download: $STALE_RUNS"
	echo "    kill delays (ms):$DELAYS"
}
run_case "SIGKILL ${KILLS} times at random moments (seed $SEED), re-run and judged after each" kill_loop

final_full_judge() {
	# the last root once more with the dump of every path against the narinfos
	"$TOOLS/nix-judge" --cache "$CACHE_ZSTD" --expect-paths "$ALL_PATHS_FILE" "$ROOT" >"$TEST_TMP/judge.out" 2>&1 ||
		{ fail_because "$(judge_said)"; return 1; }
	: >"$TEST_TMP/http.log"
	"$BIN" "${ARGS[@]}" >"$TEST_TMP/again.out" 2>&1 || { fail_because "a run on the complete root failed"; return 1; }
	! grep -q ' /nar/' "$TEST_TMP/http.log" || fail_because "a run on the complete root fetched NARs"
}
run_case "the last root: every path dumped and hashed; a further run fetches nothing" final_full_judge
