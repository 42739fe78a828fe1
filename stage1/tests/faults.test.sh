#!/usr/bin/env bash
# Faults: every fault of tools/testworld/http-serve on a narinfo request and
# on a NAR request, once (the engine retries and succeeds; real Nix judges
# the root) and every time (the run fails within a bound, with the expected
# one-line message, and leaves nothing partial); then the file-system faults
# (inodes exhausted, read-only root) and symlinks planted in the root that
# must never be followed.
#
# http-serve is the project's one fault-injecting HTTP server: it serves the
# cache directory itself (the same directory nginx serves in the bench), so
# no separate proxy exists.  fetch-errors.test.sh has the engine's own
# bad-input cases (hashes, signatures, NARs, 500 then success, one stall,
# one reset, a server that never answers, a full disk); this suite is the
# systematic matrix and the file-system side.
SUITE=faults
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
load_world
GOOD=$TW_DIR/cache-zstd
LARGE_NAR=$(sed -n 's/^URL: //p' "$GOOD/$(hash_part "$LARGE_PATH").narinfo")
MID_NARINFO=$(hash_part "$MID_PATH").narinfo
start_server S "$GOOD" --faults-file "$TEST_TMP/faults"
URL=http://127.0.0.1:$S_PORT
# small windows so that stalls cost a second, not thirty
BASE_ARGS="--stall-timeout 1 --retries 1"

# set_fault RULE: the server's only rule from now on (a new faults file; the
# rule's times= count starts again because its text is new to the server).
FAULT_SERIAL=0
set_fault() {
	FAULT_SERIAL=$((FAULT_SERIAL + 1))
	printf '# %d\n%s\n' "$FAULT_SERIAL" "$1" >"$TEST_TMP/faults.new"
	mv "$TEST_TMP/faults.new" "$TEST_TMP/faults"
	: >"$S_LOG"
}

# requests for PATH in the server log (stall/hang are logged when they start,
# the others when they end: wait a little for a slow server thread)
requests_for() {
	local n i
	for i in $(seq 30); do
		n=$(grep -c -- " $1 " "$S_LOG" || true)
		[ "$n" -ge "${2:-0}" ] && break
		sleep 0.1
	done
	echo "$n"
}

SECONDS_TAKEN=0
run_fetch() { # ROOT ARGS...
	local root=$1 t0 rc=0; shift
	t0=$(date +%s%N)
	fetch "$root" --substituter "$URL" $BASE_ARGS "$@" "$ROOT_PATH" || rc=$?
	SECONDS_TAKEN=$(( ($(date +%s%N) - t0) / 1000000 ))
	return $rc
}
ms() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }

# once TARGET RULE MAX_MS [MIN_MS]: one faulty answer, then a good one: the
# run succeeds within MAX_MS (and not before MIN_MS: a Retry-After is
# honoured), the faulty URL was asked again, real Nix accepts the root.
once() {
	local target=$1 rule=$2 max=$3 min=${4:-0} root
	root=$(make_tmpdir)/root
	set_fault "$target:$rule:times=1"
	run_fetch "$root" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	[ "$SECONDS_TAKEN" -le "$max" ] || { fail_because "took $(ms "$SECONDS_TAKEN") (bound $(ms "$max"))"; return 1; }
	[ "$SECONDS_TAKEN" -ge "$min" ] || { fail_because "took $(ms "$SECONDS_TAKEN"): the Retry-After of $(ms "$min") was not honoured"; return 1; }
	local n; n=$(requests_for "$target" 2)
	[ "$n" -ge 2 ] || { fail_because "$target requested $n time(s): the fault did not bite"; return 1; }
	"$TOOLS/nix-judge" --no-dump --cache "$GOOD" --expect-paths "$TW_DIR/all-paths" "$root" >"$TEST_TMP/judge.out" 2>&1 ||
		{ fail_because "nix-judge: $(head -n 3 "$TEST_TMP/judge.out" | tr '\n' ' ')"; return 1; }
	echo "    $target $rule once: ok after a retry, $(ms "$SECONDS_TAKEN")"
}

# always TARGET RULE MAX_MS ABSENT_PATH SUBSTRING...: the fault every time:
# exit 1 within MAX_MS, one error line holding every SUBSTRING, no
# registration, nothing partial, ABSENT_PATH not in the store.
always() {
	local target=$1 rule=$2 max=$3 absent=$4 root s; shift 4
	root=$(make_tmpdir)/root
	set_fault "$target:$rule"
	local rc=0
	run_fetch "$root" || rc=$?
	sed 's/^/    | /' "$TEST_TMP/stderr"
	[ "$rc" = 1 ] || { fail_because "exit $rc, want 1: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	[ "$SECONDS_TAKEN" -le "$max" ] || { fail_because "took $(ms "$SECONDS_TAKEN") (bound $(ms "$max"))"; return 1; }
	[ "$(grep -c '^initrd-provision: fetch: ' "$TEST_TMP/stderr")" = 1 ] || { fail_because "want exactly one error line"; return 1; }
	for s in "$@"; do stderr_has "$s" || return 1; done
	[ ! -e "$root/nix-path-registration" ] || { fail_because "a registration file after a failure"; return 1; }
	check_clean "$root" "$GOOD" "$absent" || return 1
	echo "    $target $rule always: failed as expected in $(ms "$SECONDS_TAKEN")"
}

NI=/$MID_NARINFO       # a reference's narinfo, asked for next to its siblings
NAR=/$LARGE_NAR        # the 3 MiB NAR
NI_URL=$URL$NI
NAR_URL="$URL$NAR for $LARGE_PATH"

# --- the matrix: kind x {narinfo, NAR} x {once, always} --------------------------
# bounds: ms; the stall window is 1 s and --retries 1 means 2 attempts
run_case "reset after N bytes, narinfo, once" once "$NI" reset-after=100 3000
run_case "reset after N bytes, narinfo, always" always "$NI" reset-after=100 4000 "$MID_PATH" \
	"fetching $NI_URL: " "Connection reset by peer (gave up after retries)"
run_case "reset after N bytes, NAR, once" once "$NAR" reset-after=300000 3000
run_case "reset after N bytes, NAR, always" always "$NAR" reset-after=300000 4000 "$LARGE_PATH" \
	"fetching $NAR_URL: " "Connection reset by peer (gave up after 2 attempts)"

run_case "stall forever after the headers, narinfo, once" once "$NI" stall 4000
run_case "stall forever after the headers, narinfo, always" always "$NI" stall 8000 "$MID_PATH" \
	"fetching $NI_URL: stalled: less than 1024 bytes received in 1 s (gave up after retries)"
run_case "stall forever mid-body, NAR, once" once "$NAR" stall=200000 4000
run_case "stall forever mid-body, NAR, always" always "$NAR" stall=200000 8000 "$LARGE_PATH" \
	"fetching $NAR_URL: stalled: less than 1024 bytes received in 1 s (gave up after 2 attempts)"
run_case "no answer at all (hang), narinfo, always" always "$NI" hang 8000 "$MID_PATH" \
	"fetching $NI_URL: stalled: "
run_case "no answer at all (hang), NAR, once" once "$NAR" hang 4000

run_case "slow drip 1 byte/s, narinfo, once" once "$NI" drip=1 4000
run_case "slow drip 1 byte/s, narinfo, always" always "$NI" drip=1 8000 "$MID_PATH" \
	"fetching $NI_URL: stalled: less than 1024 bytes received in 1 s (gave up after retries)"
run_case "slow drip 1 byte/s, NAR, once" once "$NAR" drip=1 4000
run_case "slow drip 1 byte/s, NAR, always" always "$NAR" drip=1 8000 "$LARGE_PATH" \
	"fetching $NAR_URL: stalled: less than 1024 bytes received in 1 s (gave up after 2 attempts)"

run_case "Content-Length too large, narinfo, once" once "$NI" wrong-length=100 3000
run_case "Content-Length too large, narinfo, always" always "$NI" wrong-length=100 4000 "$MID_PATH" \
	"fetching $NI_URL: transfer closed with 100 bytes remaining to read (gave up after retries)"
run_case "Content-Length too large, NAR, once" once "$NAR" wrong-length=1000 3000
run_case "Content-Length too large, NAR, always" always "$NAR" wrong-length=1000 4000 "$LARGE_PATH" \
	"fetching $NAR_URL: transfer closed with 1000 bytes remaining to read (gave up after 2 attempts)"
# A short Content-Length cuts the narinfo's last line, its Sig: a trust
# failure, final (not retried, never downgraded), naming the narinfo.
run_case "Content-Length too small, narinfo, once: the cut signature is refused" always "$NI:times=1" \
	wrong-length=-30 3000 "$MID_PATH" "cannot fetch $MID_PATH (referenced by $ROOT_PATH): no valid signature by a trusted key" \
	"(narinfo $NI_URL)"
# Regression (ff771f5): the excess bytes on the kept-alive connection made
# the retry read "HTTP/0.9" and fail the run.
run_case "Content-Length too small, NAR, once (regression: HTTP/0.9 on the reused connection)" once "$NAR" \
	wrong-length=-1000 3000
run_case "Content-Length too small, NAR, always" always "$NAR" wrong-length=-1000 4000 "$LARGE_PATH" \
	"corrupt compressed data in NAR $URL$NAR of $LARGE_PATH: zstd: compressed data is truncated" \
	"the same on a second download"

run_case "truncated body, clean close, narinfo, once" once "$NI" truncate=100 3000
run_case "truncated body, clean close, narinfo, always" always "$NI" truncate=100 4000 "$MID_PATH" \
	"fetching $NI_URL: transfer closed with " "bytes remaining to read (gave up after retries)"
run_case "truncated body, clean close, NAR, once" once "$NAR" truncate=100000 3000
run_case "truncated body, clean close, NAR, always" always "$NAR" truncate=100000 4000 "$LARGE_PATH" \
	"fetching $NAR_URL: transfer closed with " "(gave up after 2 attempts)"

run_case "empty reply (close), narinfo, once" once "$NI" close 3000
run_case "empty reply (close), NAR, always" always "$NAR" close 4000 "$LARGE_PATH" \
	"fetching $NAR_URL: " "(gave up after 2 attempts)" # curl says "Empty reply from server" or "Connection died"
run_case "reset before any answer, narinfo, always" always "$NI" reset 4000 "$MID_PATH" \
	"fetching $NI_URL: " "(gave up after retries)"
run_case "reset before any answer, NAR, once" once "$NAR" reset 3000

for code in 500 503 429; do
	run_case "HTTP $code without Retry-After, narinfo, once (backoff < 0.1 s, < 1 s for 503/429)" once "$NI" "status=$code" 2000
	run_case "HTTP $code without Retry-After, NAR, once" once "$NAR" "status=$code" 2000
	run_case "HTTP $code with Retry-After: 1, narinfo, once (honoured)" once "$NI" "status=$code:retry-after=1" 3000 1000
	run_case "HTTP $code with Retry-After: 1, NAR, once (honoured)" once "$NAR" "status=$code:retry-after=1" 3000 1000
done
run_case "HTTP 500 always, narinfo" always "$NI" status=500 3000 "$MID_PATH" \
	"fetching $NI_URL: HTTP 500 (gave up after retries)"
# A throttling answer (503, 429) gets twice the attempts (4 with --retries 1),
# waits of at most 1, 2 and 4 s on top of any Retry-After.
run_case "HTTP 503 with Retry-After: 1 always, NAR (3 waits of 1 s and more)" always "$NAR" \
	status=503:retry-after=1 12000 "$LARGE_PATH" "fetching $NAR_URL: HTTP 503 (gave up after 4 attempts)"
run_case "HTTP 429 always, narinfo" always "$NI" status=429 9000 "$MID_PATH" \
	"fetching $NI_URL: HTTP 429 (gave up after retries)"
run_case "HTTP 429 always, NAR" always "$NAR" status=429 9000 "$LARGE_PATH" \
	"fetching $NAR_URL: HTTP 429 (gave up after 4 attempts)"
set_fault "# none"

# --- the file system ----------------------------------------------------------------
# with_fs OPTIONS FUNCTION: FUNCTION with a private tmpfs mounted at $FS
with_fs() {
	local opts=$1; shift
	FS=$(make_tmpdir)
	mount -t tmpfs -o "$opts" ip-faults "$FS" || { skip_because "cannot mount a tmpfs here"; return 0; }
	local r=0
	"$@" || r=$?
	umount "$FS" 2>/dev/null || umount -l "$FS"
	return $r
}
one_error_line() {
	[ "$(grep -c '^initrd-provision: fetch: ' "$TEST_TMP/stderr")" = 1 ] || fail_because "want exactly one error line"
}

inodes_exhausted() {
	# fetch-errors' disk_full fills the blocks; here the inodes run out, so
	# mkdir/open fail rather than write
	local rc=0
	fetch "$FS/root" --substituter "$URL" "$ROOT_PATH" || rc=$?
	sed 's/^/    | /' "$TEST_TMP/stderr"
	[ "$rc" = 1 ] || { fail_because "exit $rc, want 1"; return 1; }
	one_error_line || return 1
	grep -q "^initrd-provision: fetch: writing /nix/store/[a-z0-9]\{32\}-" "$TEST_TMP/stderr" ||
		{ fail_because "the error does not name the store path"; return 1; }
	stderr_has "No space left on device; make room on the file system of $FS/root" || return 1
	[ ! -e "$FS/root/nix-path-registration" ] || { fail_because "a registration file after a failure"; return 1; }
	check_clean "$FS/root" "$GOOD"
}
run_case "inodes exhausted (tmpfs nr_inodes=60): names the path, nothing partial" \
	with_fs size=64m,nr_inodes=60 inodes_exhausted

read_only_root() {
	mkdir -p "$FS/root/nix/store"
	mount -o remount,ro "$FS" || { skip_because "cannot remount read-only"; return 0; }
	local rc=0
	fetch "$FS/root" --substituter "$URL" "$ROOT_PATH" || rc=$?
	sed 's/^/    | /' "$TEST_TMP/stderr"
	[ "$rc" = 1 ] || { fail_because "exit $rc, want 1"; return 1; }
	one_error_line || return 1
	stderr_has "Read-only file system" || return 1
	[ -z "$(ls -A "$FS/root/nix/store")" ] || fail_because "something was created in the store"
}
run_case "read-only root, empty store: one clean error line" with_fs size=64m read_only_root

read_only_complete_root() {
	# a complete, registered root on a read-only file system: nothing to
	# write, so the run succeeds and asks for no NAR
	fetch "$FS/root" --substituter "$URL" "$ROOT_PATH" || { fail_because "first fetch failed"; return 1; }
	mount -o remount,ro "$FS" || { skip_because "cannot remount read-only"; return 0; }
	: >"$S_LOG"
	fetch "$FS/root" --substituter "$URL" "$ROOT_PATH" ||
		{ fail_because "exit $?: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	! grep -q " /nar/" "$S_LOG" || fail_because "NARs were requested for a complete root"
}
run_case "read-only root, closure complete: succeeds without a NAR request" with_fs size=64m read_only_complete_root

# --- symlinks planted in the root: never followed -------------------------------------
# OUTSIDE holds a canary; after each run it must be exactly as before.
OUTSIDE=$(make_tmpdir)
echo canary >"$OUTSIDE/canary"
snapshot() { (cd "$OUTSIDE" && find . -printf '%p %y %m %s %l\n' | sort && cat canary); }
BEFORE=$(snapshot)
outside_untouched() {
	[ "$(snapshot)" = "$BEFORE" ] || { fail_because "outside the root changed: $(snapshot | diff <(echo "$BEFORE") - | tail -n 3 | tr '\n' ' ')"; return 1; }
}

symlink_at_store_path() {
	local root; root=$(make_tmpdir)/root
	mkdir -p "$root/nix/store"
	ln -s "$OUTSIDE" "$root$MID_PATH"
	fetch "$root" --substituter "$URL" "$ROOT_PATH"
	local rc=$?
	outside_untouched || return 1
	# Nothing vouches for an entry planted under a final name (issue 14):
	# it is hashed as what it is, a symlink (never followed), found wrong,
	# moved aside (the link goes, its target stays) and the path fetched.
	[ "$rc" = 0 ] || { fail_because "exit $rc: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	[ -d "$root$MID_PATH" ] && [ ! -L "$root$MID_PATH" ] ||
		{ fail_because "the planted symlink is still in place"; return 1; }
	stderr_has "$MID_PATH is present but not what its signed NarHash says" || return 1
	stderr_has "14 fetched, 0 already present" && judge "$root" "$GOOD"
}
run_case "symlink at nix/store/<path> to a directory outside: not followed, outside unchanged, replaced" symlink_at_store_path

dangling_symlink_at_store_path() {
	local root; root=$(make_tmpdir)/root
	mkdir -p "$root/nix/store"
	ln -s "$OUTSIDE/not-there" "$root$MID_PATH"
	fetch "$root" --substituter "$URL" "$ROOT_PATH"
	[ ! -e "$OUTSIDE/not-there" ] || { fail_because "the symlink's target was created outside the root"; return 1; }
	outside_untouched
}
run_case "dangling symlink at nix/store/<path>: its target is never created" dangling_symlink_at_store_path

symlink_at_temp_name() {
	local root; root=$(make_tmpdir)/root
	mkdir -p "$root/nix/store"
	ln -s "$OUTSIDE" "$root/nix/store/.ip-tmp-$(basename "$MID_PATH")"
	fetch "$root" --substituter "$URL" "$ROOT_PATH" || { fail_because "exit $?: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	outside_untouched || return 1
	judge "$root" "$GOOD"
}
run_case "symlink at a temporary name to outside: removed as a stale temporary, not followed" symlink_at_temp_name

symlinked_dir_refused() { # RELPATH EXTRA_ARGS...: ROOT/RELPATH -> OUTSIDE must make the run fail
	local rel=$1 root; shift
	root=$(make_tmpdir)/root
	mkdir -p "$(dirname "$root/$rel")"
	ln -s "$OUTSIDE" "$root/$rel"
	local rc=0
	fetch "$root" --substituter "$URL" "$@" "$ROOT_PATH" || rc=$?
	sed 's/^/    | /' "$TEST_TMP/stderr"
	outside_untouched || return 1
	[ "$rc" = 1 ] || { fail_because "exit $rc, want 1"; return 1; }
	one_error_line
}
run_case "ROOT/nix is a symlink to outside: refused" symlinked_dir_refused nix
run_case "ROOT/nix/store is a symlink to outside: refused" symlinked_dir_refused nix/store
# Regression (b96b199): the profile links were created through ROOT/nix/var.
profile_through_symlink() {
	symlinked_dir_refused nix/var --set-profile || return 1
	stderr_has 'creating nix/var/nix/profiles: opening "var": is a symlink (not followed)'
}
run_case "ROOT/nix/var is a symlink to outside, --set-profile: refused (regression)" profile_through_symlink

registration_symlink() {
	local root; root=$(make_tmpdir)/root
	mkdir -p "$root"
	ln -s "$OUTSIDE/canary" "$root/nix-path-registration"
	fetch "$root" --substituter "$URL" "$ROOT_PATH" || { fail_because "exit $?: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	outside_untouched || return 1
	[ -f "$root/nix-path-registration" ] && [ ! -L "$root/nix-path-registration" ] ||
		{ fail_because "the registration is not a plain file in the root"; return 1; }
	judge "$root" "$GOOD"
}
run_case "nix-path-registration is a symlink to a file outside: replaced, never written through" registration_symlink
