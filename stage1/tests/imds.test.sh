#!/usr/bin/env bash
# The IMDSv2 client (imds/) against tools/mock-imds in every misbehaving
# mode: each case checks the outcome AND that it took a bounded time.
SUITE=imds
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/build-tool.sh"

MOCK="$REPO_ROOT/tools/mock-imds"
if [ ! -x /usr/bin/python3 ]; then
	echo "SKIP: $SUITE: all: /usr/bin/python3 missing (runs tools/mock-imds)"
	exit 0
fi
if ! IMDS_GET=$(build_tool imds-get 2>"$TEST_TMP/build.log"); then
	echo "FAIL: $SUITE: build: cannot build stage1/tests/tools/imds-get.c: $(tail -n 3 "$TEST_TMP/build.log")"
	exit 1
fi

MOCK_PID=""
stop_mock() {
	if [ -n "$MOCK_PID" ]; then
		kill "$MOCK_PID" 2>/dev/null
		wait "$MOCK_PID" 2>/dev/null
		MOCK_PID=""
	fi
}
at_exit stop_mock

# start_mock ARGS...: a fresh mock on a free port (MOCK_PORT, MOCK_LOG).
start_mock() {
	stop_mock
	local dir; dir=$(make_tmpdir)
	MOCK_LOG=$dir/log
	"$MOCK" --port 0 --port-file "$dir/port" --log "$MOCK_LOG" "$@" 2>"$dir/stderr" &
	MOCK_PID=$!
	local i
	for i in $(seq 100); do
		[ -s "$dir/port" ] && break
		sleep 0.05
	done
	[ -s "$dir/port" ] || { fail_because "mock-imds did not start: $(cat "$dir/stderr")"; return 1; }
	MOCK_PORT=$(cat "$dir/port")
}

# run_get ARGS...: runs imds-get against the mock; sets OUT, ERR, RC, MS.
run_get() {
	local t0 t1
	t0=$(now_ms)
	OUT=$(timeout 20 "$IMDS_GET" --endpoint "http://127.0.0.1:$MOCK_PORT" "$@" 2>"$TEST_TMP/err")
	RC=$?
	t1=$(now_ms)
	MS=$((t1 - t0))
	ERR=$(cat "$TEST_TMP/err")
}

# expect_rc N, within_ms MAX, at_least_ms MIN, err_has TEXT, out_is TEXT
expect_rc() { [ "$RC" = "$1" ] || fail_because "exit $RC, want $1 (stdout: $OUT; stderr: $ERR)"; }
within_ms() { [ "$MS" -le $(($1 + IP_TIME_SLACK_MS)) ] || fail_because "took $MS ms, bound $1 ms + $IP_TIME_SLACK_MS ms slack ($ERR)"; }
at_least_ms() { [ "$MS" -ge "$1" ] || fail_because "took only $MS ms, want >= $1 ms ($ERR)"; }
err_has() { grep -qF -- "$1" <<<"$ERR" || fail_because "stderr lacks '$1': $ERR"; }
out_is() { [ "$OUT" = "$1" ] || fail_because "stdout '$OUT', want '$1'"; }
requests_are() { err_has "requests=$1"; }
log_has() { grep -qF -- "$1" "$MOCK_LOG" || fail_because "mock log lacks '$1': $(cat "$MOCK_LOG")"; }
report() { echo "  $SUITE: $1: $MS ms, exit $RC, $(grep -o 'requests=[0-9]*' <<<"$ERR") $(grep -v requests= <<<"$ERR" | head -n 1)"; }

UD=$(make_tmpdir)/user-data
printf 'system = /nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system\n' >"$UD"

normal_user_data() {
	start_mock --user-data-file "$UD" || return 1
	run_get user-data
	report normal_user_data
	expect_rc 0 && out_is "$(cat "$UD")" && within_ms 2000 && requests_are 2 &&
		log_has "PUT /latest/api/token 200 ttl=21600" && log_has "GET /latest/user-data 200"
}

no_user_data() {
	start_mock || return 1
	run_get user-data
	report no_user_data
	expect_rc 3 && err_has "not found: IMDS: /latest/user-data: not found" && within_ms 2000 &&
		requests_are 2
}

fresh_token_rejected_once() {
	start_mock --user-data-file "$UD" --reject-fresh-token-once || return 1
	run_get user-data
	report fresh_token_rejected_once
	# PUT, GET 401, PUT again at once, GET 200.
	expect_rc 0 && out_is "$(cat "$UD")" && within_ms 2000 && requests_are 4 &&
		log_has "fresh token rejected once"
}

imds_disabled() {
	start_mock --user-data-file "$UD" --disable || return 1
	run_get --budget-ms 10000 user-data
	report imds_disabled
	expect_rc 1 && err_has "IMDS is disabled for this instance (HTTP 403 to the token request)" &&
		within_ms 2000 && requests_are 1
}

slow_answers() {
	# Every answer 3 s late; 500 ms per request and a 2 s budget.
	start_mock --user-data-file "$UD" --delay 3 || return 1
	run_get --timeout-ms 500 --budget-ms 2000 user-data
	report slow_answers
	expect_rc 1 && err_has "gave up after" && err_has "Operation timed out" &&
		at_least_ms 1900 && within_ms 3000
}

dropped_connections() {
	start_mock --user-data-file "$UD" --drop || return 1
	run_get --budget-ms 3000 user-data
	report dropped_connections
	# Backoff 100, 200, 400, 800, 1600 ms: about six attempts in 3 s.
	expect_rc 1 && err_has "gave up after" && err_has "token request:" &&
		at_least_ms 2900 && within_ms 4000 && [ "$(grep -c dropped "$MOCK_LOG")" -ge 4 ] ||
		fail_because "${CASE_REASON:-too few attempts: $(grep -c dropped "$MOCK_LOG")}"
}

server_errors_then_ok() {
	start_mock --user-data-file "$UD" --fail-first 3 || return 1
	run_get --budget-ms 5000 user-data
	report server_errors_then_ok
	# 500 to PUT, PUT, PUT (backoff 100+200+400 ms), then PUT 200 and GET 200.
	expect_rc 0 && out_is "$(cat "$UD")" && at_least_ms 600 && within_ms 2500 && requests_are 5
}

connection_refused() {
	stop_mock
	MOCK_PORT=$(free_port)
	run_get --budget-ms 2000 user-data
	report connection_refused
	expect_rc 1 && err_has "gave up after" && err_has "onnect" && at_least_ms 1900 &&
		within_ms 3000
}

region_and_tag() {
	start_mock --region eu-central-1 --tag nixos-system=/nix/store/abc --tag "Name=web server" || return 1
	run_get region
	expect_rc 0 && out_is eu-central-1 && within_ms 2000 || return 1
	run_get tag nixos-system
	expect_rc 0 && out_is /nix/store/abc || return 1
	run_get tag "Name=web server"
	expect_rc 3 || return 1 # no such key: "Name=web server" is escaped, not split
	run_get tag "Name"
	expect_rc 0 && out_is "web server" || return 1
	run_get tag missing
	report region_and_tag
	expect_rc 3 && err_has "not found"
}

role_credentials() {
	start_mock --role web-fleet --access-key-id ASIATESTROLE0000001 --secret s3cr3t/k3y \
		--token tok-123 || return 1
	run_get role-creds
	report role_credentials
	expect_rc 0 && grep -qx "role=web-fleet" <<<"$OUT" &&
		grep -q "creds AccessKeyId=ASIATESTROLE0000001 secret-len=10 token-len=7 expires-in=3[0-9][0-9][0-9]" <<<"$OUT" ||
		fail_because "${CASE_REASON:-unexpected output: $OUT}"
	[ -z "$CASE_REASON" ] || return 1
	grep -q "s3cr3t\|tok-123" <<<"$OUT$ERR" && fail_because "a secret was printed"
	start_mock || return 1
	run_get role-creds
	expect_rc 3 && err_has "not found"
}

provider_caches() {
	start_mock --role web-fleet || return 1
	run_get provider
	report provider_caches
	# Three gets, one fetch: PUT, list, role document.
	expect_rc 0 && requests_are 3 && grep -q "get 1: source=instance role (IMDS) announce=1" <<<"$OUT" &&
		grep -q "get 3: source=instance role (IMDS) announce=0" <<<"$OUT" ||
		fail_because "${CASE_REASON:-unexpected output: $OUT}"
}

provider_without_role() {
	start_mock || return 1
	run_get provider
	report provider_without_role
	expect_rc 0 && grep -q "get 1: source=none (unsigned requests) announce=1" <<<"$OUT" &&
		grep -q "get 3: source=none (unsigned requests) announce=0" <<<"$OUT" && requests_are 2 ||
		fail_because "${CASE_REASON:-unexpected output: $OUT}"
}

no_v1_fallback() {
	start_mock --user-data-file "$UD" --token-status 404 --allow-v1 || return 1
	run_get user-data
	expect_rc 1 && err_has "no IMDSv2 token service (HTTP 404" && err_has "IMDSv1 is not allowed" &&
		within_ms 2000 || return 1
	run_get --allow-v1 user-data
	report no_v1_fallback
	expect_rc 0 && out_is "$(cat "$UD")"
}

v1_rejected_by_mock() {
	# The mock enforces v2: a GET without a token is 401.
	start_mock --user-data-file "$UD" || return 1
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$MOCK_PORT/latest/user-data")
	[ "$code" = 401 ] || fail_because "tokenless GET answered $code"
}

control_file() {
	local ctl; ctl=$(make_tmpdir)/control
	echo "disable = 1" >"$ctl"
	start_mock --user-data-file "$UD" --control "$ctl" || return 1
	run_get user-data
	expect_rc 1 && err_has "IMDS is disabled" || return 1
	echo "fail-first = 1" >"$ctl"
	run_get user-data
	report control_file
	expect_rc 0 && out_is "$(cat "$UD")" && requests_are 3
}

ipv6_endpoint() {
	if ! /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
		skip_because "no IPv6 loopback here"
		return 0
	fi
	start_mock --bind ::1 --user-data-file "$UD" || return 1
	local t0; t0=$(now_ms)
	OUT=$(timeout 20 "$IMDS_GET" --endpoint "http://[::1]:$MOCK_PORT" user-data 2>"$TEST_TMP/err"); RC=$?
	MS=$(( $(now_ms) - t0 )); ERR=$(cat "$TEST_TMP/err")
	report ipv6_endpoint
	expect_rc 0 && out_is "$(cat "$UD")"
}

run_case normal_user_data normal_user_data
run_case no_user_data no_user_data
run_case fresh_token_rejected_once fresh_token_rejected_once
run_case imds_disabled imds_disabled
run_case slow_answers slow_answers
run_case dropped_connections dropped_connections
run_case server_errors_then_ok server_errors_then_ok
run_case connection_refused connection_refused
run_case region_and_tag region_and_tag
run_case role_credentials role_credentials
run_case provider_caches provider_caches
run_case provider_without_role provider_without_role
run_case no_v1_fallback no_v1_fallback
run_case v1_rejected_by_mock v1_rejected_by_mock
run_case control_file control_file
run_case ipv6_endpoint ipv6_endpoint
