#!/usr/bin/env bash
# initrd-provision fetch against bad caches and bad servers.  Each case: the
# exact error (or the successful retry), a bounded duration, and nothing left
# in ROOT/nix/store that is not whole (no temporaries, no partial paths,
# nothing registered that is not there).  Bad caches are copies of the good
# zstd cache that real Nix wrote, edited here and re-signed by real Nix
# (`nix store sign`) where the edit touches what the signature covers.
SUITE=fetch-errors
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
load_world
command -v zstd >/dev/null || { echo "SKIP: $SUITE: all: the zstd tool is not installed"; exit 0; }
GOOD=$TW_DIR/cache-zstd
BAD=$TEST_TMP/caches
mkdir -p "$BAD"
start_server B "$BAD"
NOREF_NAR=$(sed -n 's/^URL: //p' "$GOOD/$(hash_part "$NOREF_PATH").narinfo")
LARGE_NAR=$(sed -n 's/^URL: //p' "$GOOD/$(hash_part "$LARGE_PATH").narinfo")
CORPUS=$REPO_ROOT/stage1/tests/fuzz/corpus/nar

make_bad() { rm -rf "${BAD:?}/$1"; cp -r "$GOOD" "$BAD/$1"; }
narinfo() { echo "$BAD/$1/$(hash_part "$2").narinfo"; }
set_field() { # CACHE PATH KEY VALUE
	sed -i "s|^$3: .*|$3: $4|" "$(narinfo "$1" "$2")"
}
field() { sed -n "s/^$3: //p" "$(narinfo "$1" "$2")"; }
resign() { # CACHE PATH: drop the old signatures, sign with real Nix
	sed -i '/^Sig:/d' "$(narinfo "$1" "$2")"
	"$TOOLS/nix-hermetic" nix store sign --store "file://$BAD/$1" -k "$TRUSTED_SECKEY_FILE" "$2" \
		>/dev/null 2>&1 || { fail_because "nix store sign failed"; return 1; }
}
b32() { nix-hash --type sha256 --to-base32 "$1"; }
# Puts NARFILE in as PATH's NAR (zstd), with a narinfo that matches it.
replace_nar() { # CACHE PATH NARFILE
	local z
	z="nar/replaced-$(hash_part "$2").nar.zst"
	zstd -q -f -o "$BAD/$1/$z" "$3" || return 1
	set_field "$1" "$2" URL "$z"
	set_field "$1" "$2" NarHash "sha256:$(b32 "$(sha256sum <"$3" | cut -c1-64)")"
	set_field "$1" "$2" NarSize "$(stat -c %s "$3")"
	set_field "$1" "$2" FileHash "sha256:$(b32 "$(sha256sum <"$BAD/$1/$z" | cut -c1-64)")"
	set_field "$1" "$2" FileSize "$(stat -c %s "$BAD/$1/$z")"
	resign "$1" "$2"
}

# expect_failure NAME SUBSTRING... : runs fetch on cache NAME (extra args in
# FETCH_ARGS), wants exit 1 within the time limit, every SUBSTRING in the
# error, and a clean root.
expect_failure() {
	local name=$1; shift
	expect_failure_at "$TEST_TMP/root-$name" "$@"
}
expect_failure_at() {
	local root=$1; shift
	local rc t0 t1 s
	t0=$(date +%s)
	fetch "$root" --substituter "${SUB_URL:-http://127.0.0.1:$B_PORT/$name}" ${FETCH_ARGS:+$FETCH_ARGS} "$ROOT_PATH"
	rc=$?
	t1=$(date +%s)
	sed 's/^/    | /' "$TEST_TMP/stderr" # for the log
	[ "$rc" = 1 ] || { fail_because "exit $rc, want 1: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	[ $((t1 - t0)) -le "${MAX_SECONDS:-20}" ] || { fail_because "took $((t1 - t0)) s"; return 1; }
	[ "$(grep -c '^initrd-provision: fetch: ' "$TEST_TMP/stderr")" = 1 ] ||
		{ fail_because "want exactly one error line"; return 1; }
	for s in "$@"; do stderr_has "$s" || return 1; done
	[ ! -e "$root/nix-path-registration" ] || { fail_because "a registration file after a failure"; return 1; }
	check_clean "$root" "$GOOD" ${ABSENT:+"$ABSENT"}
}
# expect_success NAME: fetch works (after retries) and real Nix agrees.
expect_success() {
	local name=$1 root=$TEST_TMP/root-$1 t0 t1
	t0=$(date +%s)
	fetch "$root" --substituter "${SUB_URL:-http://127.0.0.1:$B_PORT/$name}" ${FETCH_ARGS:+$FETCH_ARGS} "$ROOT_PATH" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	t1=$(date +%s)
	[ $((t1 - t0)) -le "${MAX_SECONDS:-20}" ] || { fail_because "took $((t1 - t0)) s"; return 1; }
	judge "$root" "$GOOD"
}

wrong_narhash() {
	make_bad narhash
	local h; h=$(field narhash "$NOREF_PATH" NarHash)
	local c=1 bad
	[ "${h:20:1}" != 1 ] || c=2
	bad=${h:0:20}$c${h:21}
	set_field narhash "$NOREF_PATH" NarHash "$bad"
	resign narhash "$NOREF_PATH" || return 1
	ABSENT=$NOREF_PATH expect_failure narhash "NarHash mismatch for $NOREF_PATH" \
		"expected $bad, got $h" "the same on a second download" || return 1
	[ "$(grep -c "GET /narhash/$NOREF_NAR 200" "$B_LOG")" = 2 ] || fail_because "want the NAR fetched twice"
}
run_case "wrong NarHash (validly signed): fetched twice, both hashes named" wrong_narhash

bad_nar_then_good_cache() {
	# a corrupt NAR in the first cache: fetched again from the second one
	make_bad corrupt
	local nar=$BAD/corrupt/$NOREF_NAR
	chmod u+w "$nar"
	printf 'x' | dd of="$nar" bs=1 seek=20 conv=notrunc 2>/dev/null
	local root=$TEST_TMP/root-corrupt
	fetch "$root" --substituter "http://127.0.0.1:$B_PORT/corrupt" --substituter "http://127.0.0.1:$W2_PORT/cache-zstd" \
		--report "$TEST_TMP/corrupt.json" "$ROOT_PATH" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	stderr_has "corrupt compressed data in NAR http://127.0.0.1:$B_PORT/corrupt/$NOREF_NAR of $NOREF_PATH: zstd: " || return 1
	/usr/bin/python3 - "$TEST_TMP/corrupt.json" <<'PY' || { fail_because "report counts"; return 1; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["requests"]["content_retries"] == 1, r["requests"]
assert r["substituters"][1]["nars"] == 1, r["substituters"]
PY
	judge "$root" "$GOOD"
}
start_server W2 "$TW_DIR"
run_case "corrupt NAR in the first cache: taken from the second" bad_nar_then_good_cache

# FileHash is not signed and proves nothing the signed NarHash does not:
# like real Nix (which copies this cache too), fetch does not check it, and
# the path it writes is whole (real Nix verifies it).
wrong_filehash_is_not_checked() {
	make_bad filehash
	set_field filehash "$NOREF_PATH" FileHash "sha256:1111111111111111111111111111111111111111111111111111"
	expect_success filehash || return 1
	local root=$TEST_TMP/root-nixcopy
	"$TOOLS/nix-hermetic" nix --extra-experimental-features nix-command copy \
		--from "file://$BAD/filehash" --to "local?root=$root" \
		--option trusted-public-keys "$TRUSTED_PUBKEY" "$NOREF_PATH" >/dev/null 2>&1 ||
		{ fail_because "real Nix refused the cache (does it check FileHash now?)"; return 1; }
}
run_case "wrong FileHash: not checked, like Nix" wrong_filehash_is_not_checked

wrong_narsize() {
	make_bad narsize
	local n; n=$(field narsize "$NOREF_PATH" NarSize)
	set_field narsize "$NOREF_PATH" NarSize $((n + 8))
	resign narsize "$NOREF_PATH" || return 1
	ABSENT=$NOREF_PATH expect_failure narsize "NarSize mismatch for $NOREF_PATH" \
		"expected $((n + 8)) bytes, got $n"
}
run_case "wrong NarSize (validly signed)" wrong_narsize

untrusted_key() {
	SUB_URL="http://127.0.0.1:$B_PORT/untrusted" expect_failure untrusted \
		"cannot fetch $ROOT_PATH (the requested path)" "no valid signature by a trusted key"
}
cp -r "$TW_DIR/cache-untrusted" "$BAD/untrusted"
run_case "signed by an untrusted key only" untrusted_key

corrupted_signature() {
	make_bad badsig
	local f; f=$(narinfo badsig "$MID_PATH")
	local sig; sig=$(sed -n 's/^Sig: testworld-trusted-1://p' "$f")
	local c=A flipped
	[ "${sig:10:1}" != A ] || c=B
	flipped=${sig:0:10}$c${sig:11}
	sed -i "s|^Sig: testworld-trusted-1:.*|Sig: testworld-trusted-1:$flipped|" "$f"
	ABSENT=$MID_PATH expect_failure badsig "cannot fetch $MID_PATH (referenced by $ROOT_PATH)" \
		"no valid signature by a trusted key"
}
run_case "corrupted signature" corrupted_signature

missing_reference() {
	make_bad missing
	rm "$(narinfo missing "$MID_PATH")"
	ABSENT=$MID_PATH expect_failure missing \
		"$MID_PATH (referenced by $ROOT_PATH) is not in any substituter"
}
run_case "missing narinfo for a reference: names the path and its referrer" missing_reference

malformed_narinfo() {
	make_bad malformed
	set_field malformed "$MID_PATH" NarSize "many"
	ABSENT=$MID_PATH expect_failure malformed "cannot fetch $MID_PATH" "malformed narinfo" "NarSize"
}
run_case "malformed narinfo" malformed_narinfo

escaping_name() {
	make_bad escape
	replace_nar escape "$NOREF_PATH" "$CORPUS/bad-name-escape.nar" || return 1
	ABSENT=$NOREF_PATH expect_failure escape "bad NAR for $NOREF_PATH" \
		"entry name \"../../etc\" contains '/'" || return 1
	local root=$TEST_TMP/root-escape
	if [ -e "$root/etc" ] || [ -e "$root/nix/etc" ]; then fail_because "something escaped the store"; fi
}
run_case "NAR with a path-escaping name" escaping_name

unsorted_entries() {
	make_bad unsorted
	replace_nar unsorted "$NOREF_PATH" "$CORPUS/bad-unsorted.nar" || return 1
	ABSENT=$NOREF_PATH expect_failure unsorted "bad NAR for $NOREF_PATH" "entry names not sorted"
}
run_case "NAR with unsorted entries" unsorted_entries

unknown_compression() {
	make_bad lzop
	set_field lzop "$NOREF_PATH" Compression lzop
	ABSENT=$NOREF_PATH expect_failure lzop "the NAR of $NOREF_PATH uses compression 'lzop', which is not supported"
}
run_case "unknown compression (lzop)" unknown_compression

truncated_download() {
	make_bad trunc
	start_server T "$BAD" --fault "/trunc/$LARGE_NAR:truncate=100000"
	SUB_URL="http://127.0.0.1:$T_PORT/trunc" FETCH_ARGS="--retries 1" ABSENT=$LARGE_PATH \
		expect_failure trunc "fetching http://127.0.0.1:$T_PORT/trunc/$LARGE_NAR for $LARGE_PATH" \
		"gave up after 2 attempts"
}
run_case "truncated download (every time): gives up, names path and URL" truncated_download

server_500_then_success() {
	make_bad flaky
	start_server F "$BAD" --fault '/flaky/*.narinfo:status=500:times=2' \
		--fault '/flaky/nar/*:status=503:retry-after=1:times=1' --fault '/flaky/nar/*:status=500:times=2'
	SUB_URL="http://127.0.0.1:$F_PORT/flaky" expect_success flaky || return 1
	[ "$(count "$F_LOG" ' 50[03] ')" = 5 ] || fail_because "want 5 error answers in the log"
}
run_case "server 500/503 (Retry-After) then success: retried" server_500_then_success

stall_then_success() {
	make_bad stall
	start_server S "$BAD" --ranges --fault "/stall/$LARGE_NAR:stall=200000:times=1"
	SUB_URL="http://127.0.0.1:$S_PORT/stall" FETCH_ARGS="--stall-timeout 1" MAX_SECONDS=10 \
		expect_success stall || return 1
	[ "$(count "$S_LOG" "GET /stall/$LARGE_NAR")" = 2 ] || fail_because "want the NAR requested twice"
}
run_case "transfer stalls mid-NAR: aborted after --stall-timeout, retried" stall_then_success

stall_forever() {
	make_bad hang
	start_server H "$BAD" --fault '/hang/*.narinfo:hang'
	SUB_URL="http://127.0.0.1:$H_PORT/hang" FETCH_ARGS="--stall-timeout 1 --retries 1" MAX_SECONDS=12 \
		expect_failure hang "stalled" "gave up after retries"
}
run_case "server never answers: bounded, says stalled" stall_forever

reset_then_success() {
	make_bad reset
	start_server R "$BAD" --ranges --fault "/reset/$LARGE_NAR:reset-after=300000:times=1"
	SUB_URL="http://127.0.0.1:$R_PORT/reset" expect_success reset || return 1
	[ "$(count "$R_LOG" "GET /reset/$LARGE_NAR")" = 2 ] || fail_because "want the NAR requested twice"
}
run_case "connection reset mid-NAR: retried" reset_then_success

nothing_listens() {
	local port; port=$(free_port)
	SUB_URL="http://127.0.0.1:$port" FETCH_ARGS="--retries 1 --connect-timeout 2" MAX_SECONDS=10 \
		expect_failure refused "cannot fetch $ROOT_PATH" "nix-cache-info"
}
run_case "nothing listens: clear error, bounded" nothing_listens

disk_full() {
	# a 2 MiB file system for a 4 MiB closure: a clean failure that names the
	# path and says what to do, and no temporary tree left behind
	local mnt=$TEST_TMP/small
	mkdir -p "$mnt"
	mount -t tmpfs -o size=2m tmpfs "$mnt" || { skip_because "cannot mount a tmpfs here"; return 0; }
	SUB_URL="http://127.0.0.1:$W2_PORT/cache-zstd" expect_failure_at "$mnt/root" \
		"No space left on device" "make room on the file system of $mnt/root"
	local rc=$?
	umount "$mnt"
	return $rc
}
run_case "disk full: clean failure, nothing partial left" disk_full
