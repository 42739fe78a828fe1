#!/usr/bin/env bash
# The aarch64 (Graviton) static binary on this x86_64 machine, under
# qemu-aarch64-static (issue 17): what `file` says of it and its size, the
# unit tests cross-built for aarch64 (make static-unit-build ARCH=aarch64),
# SHA-256 on both CPU models and with the software switch, and a fetch
# against the real-Nix test world judged by real Nix.
#   IP_AARCH64_DIR  the build (default $IP_BUILD/static-aarch64); when set,
#                   a missing binary is a failure, otherwise a skip.
SUITE=aarch64
. "$(dirname "$0")/lib.sh"

DIR=${IP_AARCH64_DIR:-$IP_BUILD/static-aarch64}
BIN=$DIR/initrd-provision
if [ ! -x "$BIN" ]; then
	if [ -n "${IP_AARCH64_DIR:-}" ]; then
		echo "FAIL: $SUITE: all: $BIN is missing (make static ARCH=aarch64 failed?)"
		exit 1
	fi
	echo "SKIP: $SUITE: all: $BIN not built (run 'make static static-unit-build ARCH=aarch64')"
	exit 0
fi
QEMU=$(command -v qemu-aarch64-static) ||
	{ echo "SKIP: $SUITE: all: qemu-aarch64-static not installed (qemu-user-static)"; exit 0; }
# max with the implementation-defined pointer authentication (the
# architected one is slow under TCG); cortex-a53 is the oldest core with SHA2.
CPU_MAX=max,pauth-impdef=on
CPU_A53=cortex-a53
SIZE_LIMIT=$((3 * 1024 * 1024))
VERSION=$(cat "$REPO_ROOT/VERSION")

on_arm() { # CPU PROGRAM ARGS...
	local cpu=$1; shift
	timeout 300 "$QEMU" -cpu "$cpu" "$@"
}

case_file_and_size() {
	local desc size
	desc=$(file -b "$BIN")
	case $desc in
	*"ARM aarch64"*"statically linked"*) ;;
	*) fail_because "file says: $desc"; return 1 ;;
	esac
	case $desc in
	*"not stripped"* | *"with debug_info"*) fail_because "not stripped: $desc"; return 1 ;;
	esac
	size=$(stat -c %s "$BIN")
	echo "aarch64 static binary: $size bytes (limit $SIZE_LIMIT): $desc"
	[ "$size" -le "$SIZE_LIMIT" ] || fail_because "stripped size $size bytes exceeds 3 MiB"
}
run_case "file: ARM aarch64, statically linked, stripped, under 3 MiB" case_file_and_size

case_version() {
	local out
	out=$(on_arm "$CPU_MAX" "$BIN" --version 2>&1) || { fail_because "--version failed: $out"; return 1; }
	[ "$out" = "initrd-provision $VERSION" ] || fail_because "--version printed '$out'"
}
run_case "--version under qemu-aarch64" case_version

# unit TEST [ENV...] CPU: runs one cross-built unit test and relays its
# lines as this suite's ("PASS: aarch64: <cpu>: <suite>: <case>").
unit() {
	local prog=$1 cpu=$2 label=$3 log rc
	shift 3
	log=$TEST_TMP/$(basename "$prog").$label.log
	env IP_TEST_DATA="$REPO_ROOT/stage1/tests/data" "$@" \
		timeout 600 "$QEMU" -cpu "$cpu" "$prog" >"$log" 2>&1
	rc=$?
	sed -n -E "s/^(PASS|FAIL|SKIP): /\\1: $SUITE: $label: /p" "$log"
	grep '^# ' "$log"
	if [ "$rc" != 0 ] && ! grep -q '^FAIL: ' "$log"; then
		echo "FAIL: $SUITE: $label: $(basename "$prog"): exited $rc without a FAIL line: $(tail -n 2 "$log" | tr '\n' ' ')"
	fi
	if ! grep -qE '^(PASS|FAIL|SKIP): ' "$log"; then
		echo "FAIL: $SUITE: $label: $(basename "$prog"): ran no test case"
	fi
}

tests=("$DIR"/tests/test-*)
[ -x "${tests[0]}" ] ||
	echo "FAIL: $SUITE: unit tests: none in $DIR/tests (make static-unit-build ARCH=aarch64)"
for prog in "${tests[@]}"; do
	case $prog in *.d) continue ;; esac
	[ -x "$prog" ] || continue
	unit "$prog" "$CPU_MAX" max
done
# The SHA-256 paths: the SHA2 instructions on the oldest core that has them,
# and the software path forced on both (QEMU has no switch to hide SHA2).
if [ -x "$DIR/tests/test-sha256" ]; then
	unit "$DIR/tests/test-sha256" "$CPU_A53" cortex-a53
	unit "$DIR/tests/test-sha256" "$CPU_MAX" max-software INITRD_PROVISION_SHA256=software
	unit "$DIR/tests/test-sha256" "$CPU_A53" cortex-a53-software INITRD_PROVISION_SHA256=software
fi

# A fetch of the real-Nix world by the aarch64 binary, judged by real Nix.
. "$(dirname "$0")/fetch-lib.sh"
load_world
start_server W "$TW_DIR"
IP_BIN=$TEST_TMP/initrd-provision-aarch64
printf '#!/bin/sh\nexec %q -cpu %q %q "$@"\n' "$QEMU" "$CPU_MAX" "$BIN" >"$IP_BIN"
chmod +x "$IP_BIN"

case_fetch() {
	local root=$TEST_TMP/root before nars
	before=$(wc -l <"$W_LOG")
	fetch "$root" --substituter "http://127.0.0.1:$W_PORT/cache-zstd" "$ROOT_PATH" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	judge "$root" "$TW_DIR/cache-zstd" || return 1
	nars=$(tail -n +$((before + 1)) "$W_LOG" | grep -c '^GET /cache-zstd/nar/.* 200 ')
	[ "$nars" = "$PATH_COUNT" ] || { fail_because "$nars NAR requests, want $PATH_COUNT"; return 1; }
	cmp -s <(sort "$root/nix-path-registration") <(sort "$EXPECTED_REG") ||
		fail_because 'registration differs from nix-store --dump-db'
}
run_case "fetch under qemu-aarch64: zstd cache, judged by real Nix" case_fetch

case_fetch_bad_signature() {
	# The trusted key is another one: nothing may be registered.
	local root=$TEST_TMP/root-badkey
	timeout 120 "$IP_BIN" fetch --root "$root" --no-sync \
		--trusted-public-key "other:$(head -c 32 /dev/urandom | base64)" \
		--substituter "http://127.0.0.1:$W_PORT/cache-zstd" "$ROOT_PATH" 2>"$TEST_TMP/stderr" &&
		{ fail_because "fetch succeeded with an untrusted key"; return 1; }
	[ ! -e "$root/nix-path-registration" ] || { fail_because "a registration was written"; return 1; }
	check_clean "$root" "$TW_DIR/cache-zstd" "$ROOT_PATH"
}
run_case "fetch under qemu-aarch64: untrusted key refused, nothing left" case_fetch_bad_signature
