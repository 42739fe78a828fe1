#!/usr/bin/env bash
# Smoke test of the static initrd binary (make static): it is fully static,
# stripped and under the size target, runs, answers --help and --version,
# rejects an unknown option with exit 2 and one clear line, and the libcurl it
# links has no CA bundle/path of the build machine compiled in.
SUITE=static-smoke
. "$(dirname "$0")/lib.sh"

if [ -n "${IP_STATIC_BIN:-}" ]; then
	BIN=$IP_STATIC_BIN
	if [ ! -x "$BIN" ]; then
		echo "FAIL: $SUITE: all: IP_STATIC_BIN=$BIN is not an executable (make static failed?)"
		exit 1
	fi
else
	BIN=$IP_BUILD/static/initrd-provision
	if [ ! -x "$BIN" ]; then
		echo "SKIP: $SUITE: all: $BIN not built (run 'make static')"
		exit 0
	fi
fi
DEPS_PREFIX=$IP_BUILD/deps/prefix
SIZE_LIMIT=$((3 * 1024 * 1024)) # the issue's target for the stripped binary
VERSION=$(cat "$REPO_ROOT/VERSION")
WORK=$(make_tmpdir)

# Failure reasons stay on the case's one line.
oneline() { tr '\n' ' ' <<<"$1" | cut -c1-200; }

# run ARGS...: runs the binary (bounded), sets $rc, $out and $err.
run() {
	timeout 10 "$BIN" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	out=$(cat "$WORK/out")
	err=$(cat "$WORK/err")
}

case_statically_linked() {
	command -v file >/dev/null || { skip_because "'file' not installed"; return 0; }
	local desc lddout
	desc=$(file -b "$BIN")
	case $desc in
	*"statically linked"*) ;;
	*) fail_because "file says: $desc"; return 1 ;;
	esac
	lddout=$(ldd "$BIN" 2>&1)
	case $lddout in
	*"not a dynamic executable"*) ;;
	*) fail_because "ldd says: $lddout"; return 1 ;;
	esac
}

case_stripped_under_3mib() {
	local desc size
	desc=$(file -b "$BIN")
	case $desc in
	*"not stripped"* | *"with debug_info"*) fail_because "not stripped: $desc"; return 1 ;;
	esac
	size=$(stat -c %s "$BIN")
	echo "static binary size: $size bytes (limit $SIZE_LIMIT)"
	[ "$size" -le "$SIZE_LIMIT" ] || fail_because "stripped size $size bytes exceeds 3 MiB ($SIZE_LIMIT)"
}

case_help() {
	run --help
	[ "$rc" = 0 ] || { fail_because "--help exited $rc: $(oneline "$err")"; return 1; }
	case $out in
	Usage:*) ;;
	*) fail_because "--help does not start with 'Usage:': $(head -n1 <<<"$out")"; return 1 ;;
	esac
	[ -z "$err" ] || fail_because "--help wrote to stderr: $(oneline "$err")"
}

case_version() {
	run --version
	[ "$rc" = 0 ] || { fail_because "--version exited $rc: $(oneline "$err")"; return 1; }
	[ "$out" = "initrd-provision $VERSION" ] ||
		fail_because "--version printed '$(oneline "$out")', want 'initrd-provision $VERSION'"
}

case_unknown_option() {
	run --no-such-option
	[ "$rc" = 2 ] || { fail_because "exit code $rc, want 2"; return 1; }
	[ -z "$out" ] || { fail_because "wrote to stdout: $(oneline "$out")"; return 1; }
	[ "$(wc -l <"$WORK/err")" = 1 ] || { fail_because "stderr is not one line: $(oneline "$err")"; return 1; }
	case $err in
	*"--no-such-option"*) ;;
	*) fail_because "message does not name the option: $(oneline "$err")" ;;
	esac
}

case_runs_in_empty_environment() {
	# No PATH, no locale, nothing: the initrd's stage 1 is about as bare.
	env -i "$BIN" --version >"$WORK/out" 2>"$WORK/err"
	rc=$?
	[ "$rc" = 0 ] && [ "$(cat "$WORK/out")" = "initrd-provision $VERSION" ] ||
		fail_because "env -i run exited $rc: $(oneline "$(cat "$WORK/out" "$WORK/err")")"
}

case_curl_has_no_build_machine_ca() {
	local config=$DEPS_PREFIX/bin/curl-config
	[ -x "$config" ] || { skip_because "$config missing (deps not built here)"; return 0; }
	local ca features
	ca=$("$config" --ca) || { fail_because "curl-config --ca failed"; return 1; }
	[ -z "$ca" ] || { fail_because "libcurl has a compiled-in CA bundle: $ca"; return 1; }
	grep -q -- '--without-ca-path' <("$config" --configure) ||
		{ fail_because "libcurl not configured --without-ca-path"; return 1; }
	features=$("$config" --features)
	grep -qx SSL <<<"$features" || fail_because "libcurl has no SSL: $(oneline "$features")"
}

run_case "statically linked (file, ldd)" case_statically_linked
run_case "stripped and under 3 MiB" case_stripped_under_3mib
run_case "--help exits 0 with Usage" case_help
run_case "--version prints VERSION" case_version
run_case "unknown option: exit 2, one line naming it" case_unknown_option
run_case "runs in an empty environment" case_runs_in_empty_environment
run_case "libcurl has no build-machine CA bundle or path" case_curl_has_no_build_machine_ca
