#!/usr/bin/env bash
# IMDS endpoint `auto` against tools/mock-imds listening on the real IMDS
# addresses: a network namespace made here has 169.254.169.254 and
# fd00:ec2::254 on its loopback, and the mocks bind port 80 there (the port
# is the namespace's own).  IPv4 first, IPv6 when IPv4 is refused or
# unreachable, the 403 rule unchanged.
SUITE=imds-auto
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/build-tool.sh"
require_root "creates a network namespace"
MOCK="$REPO_ROOT/tools/mock-imds"
for tool in ip timeout /usr/bin/python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $SUITE: all: $tool is not installed"
		exit 0
	fi
done
if ! IMDS_GET=$(build_tool imds-get 2>"$TEST_TMP/build.log"); then
	echo "FAIL: $SUITE: build: cannot build stage1/tests/tools/imds-get.c: $(tail -n 3 "$TEST_TMP/build.log")"
	exit 1
fi

NS=ipv6-imds-$$
DIR=$(make_tmpdir)
PIDS=""
stop_mocks() {
	local pid
	for pid in $PIDS; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	PIDS=""
}
remove_namespace() {
	stop_mocks
	ip netns del "$NS" 2>/dev/null || true
}
at_exit remove_namespace

if ! { ip netns add "$NS" && ip -n "$NS" link set lo up &&
	ip -n "$NS" addr add 169.254.169.254/32 dev lo &&
	ip -n "$NS" addr add fd00:ec2::254/128 dev lo nodad; } 2>"$DIR/netns.err"; then
	echo "SKIP: $SUITE: all: cannot create a network namespace here: $(head -n1 "$DIR/netns.err")"
	exit 0
fi

# start_mock ADDR NAME ARGS...: a mock on ADDR:80; its log is $DIR/NAME.log.
start_mock() {
	local addr=$1 name=$2; shift 2
	rm -f "$DIR/$name.log" "$DIR/$name.port"
	ip netns exec "$NS" "$MOCK" --bind "$addr" --port 80 --port-file "$DIR/$name.port" \
		--log "$DIR/$name.log" --region eu-north-1 "$@" 2>"$DIR/$name.stderr" &
	PIDS="$PIDS $!"
	local i
	for i in $(seq 100); do
		[ -s "$DIR/$name.port" ] && return 0
		sleep 0.05
	done
	fail_because "mock on $addr did not start: $(cat "$DIR/$name.stderr")"
	return 1
}

run_get() {
	local t0 t1
	t0=$(now_ms)
	OUT=$(timeout 30 ip netns exec "$NS" "$IMDS_GET" "$@" 2>"$DIR/err")
	RC=$?
	t1=$(now_ms)
	MS=$((t1 - t0))
	ERR=$(cat "$DIR/err")
}

ipv6_when_ipv4_refused() {
	stop_mocks
	start_mock fd00:ec2::254 v6 || return 1
	# Today's default (IPv4 only) cannot reach it ...
	run_get --budget-ms 1500 region
	[ "$RC" = 1 ] && grep -q 'gave up after' <<<"$ERR" ||
		{ fail_because "IPv4-only endpoint: exit $RC: $OUT $ERR"; return 1; }
	# ... auto does, at once.
	run_get --endpoint auto --budget-ms 10000 region
	echo "info: auto, IPv4 refused: $MS ms, $ERR"
	[ "$RC" = 0 ] && [ "$OUT" = eu-north-1 ] || { fail_because "exit $RC: $OUT $ERR"; return 1; }
	grep -q 'requests=3' <<<"$ERR" || { fail_because "want 3 requests (refused PUT, PUT, GET): $ERR"; return 1; }
	grep -q 'PUT /latest/api/token 200' "$DIR/v6.log" && grep -q 'GET /latest/meta-data/placement/region 200' "$DIR/v6.log" ||
		{ fail_because "IPv6 mock saw: $(cat "$DIR/v6.log")"; return 1; }
	[ "$MS" -lt $((1000 + IP_TIME_SLACK_MS)) ] || { fail_because "took $MS ms"; return 1; }
}

ipv4_first() {
	stop_mocks
	start_mock 169.254.169.254 v4 || return 1
	start_mock fd00:ec2::254 v6 || return 1
	run_get --endpoint auto region
	[ "$RC" = 0 ] && [ "$OUT" = eu-north-1 ] || { fail_because "exit $RC: $OUT $ERR"; return 1; }
	grep -q 'requests=2' <<<"$ERR" || { fail_because "want 2 requests: $ERR"; return 1; }
	grep -q 'GET /latest/meta-data/placement/region 200' "$DIR/v4.log" ||
		{ fail_because "IPv4 mock saw: $(cat "$DIR/v4.log")"; return 1; }
	[ ! -s "$DIR/v6.log" ] || { fail_because "IPv6 mock was asked: $(cat "$DIR/v6.log")"; return 1; }
}

# The first endpoint that answers is kept: its 403 is final, as with one
# endpoint.
disabled_on_ipv6_is_final() {
	stop_mocks
	start_mock fd00:ec2::254 v6 --disable || return 1
	run_get --endpoint auto --budget-ms 10000 region
	[ "$RC" = 1 ] && grep -q 'IMDS is disabled for this instance (HTTP 403 to the token request)' <<<"$ERR" ||
		{ fail_because "exit $RC: $ERR"; return 1; }
	grep -q 'requests=2' <<<"$ERR" || { fail_because "want 2 requests: $ERR"; return 1; }
}

neither_answers() {
	stop_mocks
	run_get --endpoint auto --budget-ms 1500 region
	[ "$RC" = 1 ] && grep -q 'gave up after' <<<"$ERR" ||
		{ fail_because "exit $RC: $ERR"; return 1; }
	grep -Eq 'last: token request: http://(169\.254\.169\.254|\[fd00:ec2::254\]): ' <<<"$ERR" ||
		{ fail_because "the message does not name the endpoint: $ERR"; return 1; }
}

run_case ipv6_when_ipv4_refused ipv6_when_ipv4_refused
run_case ipv4_first ipv4_first
run_case disabled_on_ipv6_is_final disabled_on_ipv6_is_final
run_case neither_answers neither_answers
