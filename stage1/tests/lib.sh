# Shared helpers for integration test scripts (sourced).  Same protocol as the
# C harness: one PASS/FAIL/SKIP line per case.
#   SUITE=name; . "$(dirname "$0")/lib.sh"
#   run_case NAME FUNCTION      # FUNCTION fails by returning non-zero
# Inside a case: fail_because "why" (prints and returns 1), skip_because "why".
set -u
: "${SUITE:=$(basename "$0" .sh)}"
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${IP_BIN:=$REPO_ROOT/build/asan/initrd-provision}"
: "${IP_BUILD:=$REPO_ROOT/build}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Upper bounds on wall time only prove that a run ends: on a busy 2-core CI
# machine a sanitizer build can lose seconds to scheduling, so every such
# bound gets this slack.  Precision is checked where time is injected (the
# DHCP and IMDS unit tests with fake clocks) and by request counts.
: "${IP_TIME_SLACK_MS:=10000}"

CASE_REASON=""
CASE_SKIPPED=0
fail_because() { CASE_REASON="$*"; return 1; }
skip_because() { CASE_REASON="$*"; CASE_SKIPPED=1; return 0; }

run_case() {
	local name=$1; shift
	CASE_REASON=""; CASE_SKIPPED=0
	if "$@"; then
		if [ "$CASE_SKIPPED" = 1 ]; then
			echo "SKIP: $SUITE: $name: $CASE_REASON"
		else
			echo "PASS: $SUITE: $name"
		fi
	else
		echo "FAIL: $SUITE: $name: ${CASE_REASON:-exited non-zero}"
	fi
}

# Skips the whole suite (one SKIP line) when not root.
require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: $SUITE: all: needs root ($1)"
		exit 0
	fi
}

# Every script gets one scratch directory, removed when it exits (set
# IP_KEEP_TMP=1 to keep it for debugging).  make_tmpdir prints a fresh
# directory inside it.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ip-$SUITE.XXXXXX")
_ip_cleanup() {
	local f
	for f in ${_IP_CLEANUPS:-}; do "$f" || true; done
	[ "${IP_KEEP_TMP:-0}" = 1 ] || rm -rf "$TEST_TMP"
}
trap _ip_cleanup EXIT
# Registers a function to run at exit (stop servers, remove namespaces).
at_exit() { _IP_CLEANUPS="$1 ${_IP_CLEANUPS:-}"; }
make_tmpdir() { mktemp -d "$TEST_TMP/d.XXXXXX"; }

# Finds a free TCP port on 127.0.0.1.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
