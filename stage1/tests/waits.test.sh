#!/usr/bin/env bash
# Every wait ends inside the binary, and memory stays within its budget,
# whatever the cache sends (issue 14, parts 2 and 5).  Hostile servers made
# with tools/testworld/http-serve and narinfos signed by real Nix:
#   - an error answer whose body never ends;
#   - FileSize deleted from a signed narinfo (it is unsigned) and the NAR
#     followed by endless zstd skippable frames, or endless xz stream
#     padding: both decode to nothing, so NarSize never fires;
#   - a drip of 1 KiB every 1.5 s, which passes the stall check;
#   - a server slower than --deadline, while resolving and while
#     downloading;
# each run must END (the outer `timeout` is only a guard: no timing is
# asserted) with its one exact error line and nothing partial left; and a
# cache of NARs compressed with `xz --lzma2=dict=64MiB` is fetched within
# the decoder memory budget (peak RSS of the static binary under 128 MiB).
# The boot mode's side (fetch-deadline, then the fallback) is in boot.test.sh.
SUITE=waits
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
load_world
GOOD=$TW_DIR/cache-zstd
LARGE_NAR=$(sed -n 's/^URL: //p' "$GOOD/$(hash_part "$LARGE_PATH").narinfo")
LARGE_NAR_SIZE=$(sed -n 's/^NarSize: //p' "$GOOD/$(hash_part "$LARGE_PATH").narinfo")
MID_NARINFO=$(hash_part "$MID_PATH").narinfo
# Only a guard: a run that needs it has not ended by itself.
GUARD_SECONDS=${WAITS_GUARD_SECONDS:-90}
BASE_ARGS="--retries 1"

# ended ROOT ARGS...: one fetch of ROOT_PATH, which must end by itself
# (not by the guard), and fail with exit 1 and one error line.
ended() {
	local root=$1 rc=0; shift
	timeout "$GUARD_SECONDS" "$IP_BIN" fetch --root "$root" --trusted-public-key "$TRUSTED_PUBKEY" --no-sync \
		$BASE_ARGS "$@" "$ROOT_PATH" 2>"$TEST_TMP/stderr" || rc=$?
	sed 's/^/    | /' "$TEST_TMP/stderr" | tail -n 4
	[ "$rc" != 124 ] || { fail_because "still running after the ${GUARD_SECONDS} s guard: it never ends by itself"; return 1; }
	[ "$rc" = 1 ] || { fail_because "exit $rc, want 1: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	[ "$(grep -c '^initrd-provision: fetch: ' "$TEST_TMP/stderr")" = 1 ] || { fail_because "want exactly one error line"; return 1; }
	[ ! -e "$root/nix-path-registration" ] || { fail_because "a registration file after a failure"; return 1; }
}

# against FAULT ABSENT ARGS EXPECTED...: the good cache with one fault; the
# run (with ARGS, word-split) ends by itself with one line holding every
# EXPECTED (@URL@ stands for the server), and ABSENT is not left behind.
against() {
	local fault=$1 absent=$2 args=$3 root s; shift 3
	start_server H "$GOOD" --fault "$fault"
	root=$(make_tmpdir)/root
	# shellcheck disable=SC2086
	ended "$root" --substituter "http://127.0.0.1:$H_PORT" $args || return 1
	for s in "$@"; do stderr_has "${s//@URL@/http://127.0.0.1:$H_PORT}" || return 1; done
	check_clean "$root" "$GOOD" "$absent"
}

# --- an endless error body --------------------------------------------------------
run_case "HTTP 500 with an endless body, NAR: cut at 64 KiB, retried, one line, nothing left" \
	against "/$LARGE_NAR:status=500:endless=zero" "$LARGE_PATH" "" \
	"initrd-provision: fetch: fetching @URL@/$LARGE_NAR for $LARGE_PATH: HTTP 500 (error body cut at 64 KiB) (gave up after 2 attempts)"
run_case "HTTP 503 with an endless body, narinfo: cut at 64 KiB, retried, one line, nothing left" \
	against "/$MID_NARINFO:status=503:endless=zero" "$MID_PATH" "" \
	"initrd-provision: fetch: fetching @URL@/$MID_NARINFO: HTTP 503 (error body cut at 64 KiB) (gave up after retries)"

# --- FileSize deleted, endless data that decodes to nothing ----------------------------
# endless_tail CACHE KIND: the large path's narinfo without FileSize (signed
# again by real Nix), its NAR followed by an endless tail of KIND.
endless_tail() {
	local src=$1 kind=$2 root cache nar most
	cache=$(make_tmpdir)/cache
	cp -a "$src" "$cache"
	# FileSize is not in the signed fingerprint: the real Nix signature stays
	# valid (re-signing would not do: Nix 2.8 writes `FileSize: 0` back).
	"$TOOLS/narinfo-edit" "$cache" "$LARGE_PATH" --delete FileSize >"$TEST_TMP/narinfo" ||
		{ fail_because "narinfo-edit failed"; return 1; }
	! grep -q '^FileSize:' "$TEST_TMP/narinfo" && grep -q '^Sig: testworld-trusted-1:' "$TEST_TMP/narinfo" ||
		{ fail_because "want a signed narinfo without FileSize: $(tr '\n' ' ' <"$TEST_TMP/narinfo")"; return 1; }
	nar=$(sed -n 's/^URL: //p' "$TEST_TMP/narinfo")
	start_server T "$cache" --fault "/$nar:endless=$kind"
	root=$(make_tmpdir)/root
	ended "$root" --substituter "http://127.0.0.1:$T_PORT" || return 1
	most=$((LARGE_NAR_SIZE + LARGE_NAR_SIZE / 64 + 65536))
	stderr_has "initrd-provision: fetch: compressed NAR http://127.0.0.1:$T_PORT/$nar of $LARGE_PATH is too long: more than $most bytes for a NarSize of $LARGE_NAR_SIZE, beyond the worst case of $3 (endless padding or empty frames) (the same on a second download)" ||
		return 1
	check_clean "$root" "$GOOD" "$LARGE_PATH"
}
run_case "FileSize deleted from a signed narinfo, endless zstd skippable frames: bounded by NarSize" \
	endless_tail "$CACHE_ZSTD" zstd-skippable zstd
run_case "FileSize deleted from a signed narinfo, endless xz stream padding: bounded by NarSize" \
	endless_tail "$CACHE_XZ" zero xz

# --- a drip that passes the stall check ----------------------------------------------
run_case "a drip of 1 KiB every 1.5 s: below the rate floor, aborted, retried, one line" \
	against "/$LARGE_NAR:drip=683:burst=1024" "$LARGE_PATH" "--stall-timeout 2" \
	"initrd-provision: fetch: fetching @URL@/$LARGE_NAR for $LARGE_PATH: too slow: less than 4096 bytes/s on average over 2 s (gave up after 2 attempts)"

# --- slower than the deadline ------------------------------------------------------------
# every answer 1 s late: the closure is 5 deep, so resolving alone takes longer
run_case "every answer 1 s late, --deadline 3: ends at the deadline while resolving" \
	against "*:delay=1" "$ROOT_PATH" "--deadline 3" \
	"initrd-provision: fetch: deadline reached: the fetch was not done after 3 s (--deadline); still resolving the closure; the cache is too slow or does not answer"
# above the rate floor, but the 3 MiB NAR would take a minute
run_case "a NAR at 50 kB/s, --deadline 4: ends at the deadline while downloading, nothing partial" \
	against "/$LARGE_NAR:drip=50000" "$LARGE_PATH" "--deadline 4" \
	"initrd-provision: fetch: deadline reached: the fetch was not done after 4 s (--deadline); " \
	" of 14 paths fetched; the cache is too slow or does not answer"

# --- memory whatever the compression ------------------------------------------------------
# Peak RSS of a child, from wait4 (no /usr/bin/time needed).
MAXRSS_PY='import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
sys.stderr.write("peak-rss-kib %d\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))'
big_dictionary() {
	local bin=${IP_STATIC_BIN:-$IP_BUILD/static/initrd-provision} root rss budget=128
	[ -x "$bin" ] || { skip_because "no static binary at $bin (make static): the ASan build's RSS says nothing"; return 0; }
	command -v xz >/dev/null || { skip_because "xz is not installed"; return 0; }
	timeout 600 "$TOOLS/make-bigdict" "$IP_BUILD/testworld-bigdict" "$TW_DIR" >"$TEST_TMP/bigdict.log" 2>&1 ||
		{ fail_because "make-bigdict: $(tail -n 3 "$TEST_TMP/bigdict.log" | tr '\n' ' ')"; return 1; }
	# shellcheck disable=SC1091
	. "$IP_BUILD/testworld-bigdict/bigdict.env"
	start_server B "$BIGDICT_CACHE"
	root=$(make_tmpdir)/root
	# --jobs 2: three decoders, as on a 2-CPU instance, whatever this machine
	# has, and two small-NAR slots of 12 MiB set aside: shares of (128 - 24) / 3
	timeout "$GUARD_SECONDS" /usr/bin/python3 -c "$MAXRSS_PY" "$bin" fetch --root "$root" --no-sync --jobs 2 \
		--substituter "http://127.0.0.1:$B_PORT" --trusted-public-key "$TRUSTED_PUBKEY" "$BIGDICT_ROOT" \
		2>"$TEST_TMP/stderr" || { fail_because "fetch failed: $(tail -n 3 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	rss=$(sed -n 's/^peak-rss-kib //p' "$TEST_TMP/stderr")
	echo "    peak RSS $((rss / 1024)) MiB with NARs needing a 64 MiB xz dictionary (budget $budget MiB)"
	[ -n "$rss" ] && [ "$rss" -lt $((budget * 1024)) ] ||
		{ fail_because "peak RSS ${rss:-?} KiB, not under the $budget MiB budget"; return 1; }
	stderr_has "xz stream needs 65 MiB to decode, more than a decoder's share (34 of 128 MiB): fetching it again, and decoding such NARs one at a time" || return 1
	"$TOOLS/nix-judge" --no-dump --cache "$BIGDICT_CACHE" "$root" >"$TEST_TMP/judge.out" 2>&1 ||
		fail_because "nix-judge: $(head -n 3 "$TEST_TMP/judge.out" | tr '\n' ' ')"
}
run_case "NARs made by xz --lzma2=dict=64MiB: fetched, peak RSS under the 128 MiB budget" big_dictionary
