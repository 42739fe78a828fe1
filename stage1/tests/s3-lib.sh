# Shared by the S3 suites (sourced after lib.sh): the S3 stand-in (s3rver
# behind tools/s3/sigv4-proxy), the mock IMDS and a hermetic AWS CLI.
S3DIR="$REPO_ROOT/tools/s3"
AWS=/usr/bin/aws

# Prints one SKIP line for the suite and exits when a piece is missing.
s3_require_tools() {
	if [ ! -f "$S3DIR/node_modules/s3rver/bin/s3rver.js" ]; then
		echo "SKIP: $SUITE: all: s3rver is not installed in tools/s3/node_modules (run tools/deps.sh)"
		exit 0
	fi
	if [ ! -x "$AWS" ]; then
		echo "SKIP: $SUITE: all: the AWS CLI ($AWS, Debian package awscli) is not installed"
		exit 0
	fi
	if ! /usr/bin/python3 -c 'import botocore' 2>/dev/null; then
		echo "SKIP: $SUITE: all: /usr/bin/python3 cannot import botocore (Debian package python3-botocore)"
		exit 0
	fi
}

# s3_load_world: the test world real Nix builds (tools/testworld/make-closures,
# cached in $IP_BUILD/testworld/world), sourced (ROOT_PATH, CACHE_ZSTD, ...).
# Prints a FAIL line for the suite and exits when it cannot be made.
s3_load_world() {
	WORLD="$IP_BUILD/testworld/world"
	if ! "$REPO_ROOT/tools/testworld/make-closures" "$WORLD" >"$TEST_TMP/world.log" 2>&1; then
		echo "FAIL: $SUITE: world: $(tail -n 3 "$TEST_TMP/world.log")"
		exit 1
	fi
	# shellcheck disable=SC1091
	. "$WORLD/world.env"
}

# s3_start PROXY-OPTIONS...: starts the stand-in in $TEST_TMP/s3 (stopped at
# exit) and sources its env (S3_ENDPOINT, S3_LOG_DIR, ...); PROXY_LOG is the
# proxy's log.  Prints a FAIL line for the suite and exits when it cannot start.
S3_STAND=$TEST_TMP/s3
stop_s3() { "$S3DIR/start-s3" stop "$S3_STAND" >/dev/null 2>&1; }
s3_start() {
	at_exit stop_s3
	if ! "$S3DIR/start-s3" start "$S3_STAND" "$@" >"$TEST_TMP/start.log" 2>&1; then
		echo "FAIL: $SUITE: start: $(tail -n 3 "$TEST_TMP/start.log")"
		exit 1
	fi
	# shellcheck disable=SC1091
	. "$S3_STAND/env"
	PROXY_LOG=$S3_LOG_DIR/proxy.log
}

# start_mock ARGS...: tools/mock-imds on a free port (IMDS_URL, MOCK_LOG).
MOCK_PID=""
stop_mock() { [ -z "$MOCK_PID" ] || { kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=""; }; }
at_exit stop_mock
start_mock() {
	stop_mock
	local d; d=$(make_tmpdir)
	"$REPO_ROOT/tools/mock-imds" --port 0 --port-file "$d/port" --log "$d/log" "$@" 2>"$d/err" &
	MOCK_PID=$!
	for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	[ -s "$d/port" ] || { fail_because "mock-imds did not start: $(cat "$d/err")"; return 1; }
	IMDS_URL=http://127.0.0.1:$(cat "$d/port")
	MOCK_LOG=$d/log
}

# The AWS CLI, hermetic: no ~/.aws, no IMDS, our endpoint; credentials
# CLI_KEY/CLI_SECRET (default STATIC_KEY/STATIC_SECRET).
aws_cli() {
	env -u AWS_PROFILE HOME="$TEST_TMP" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1 AWS_PAGER= \
		AWS_ACCESS_KEY_ID="${CLI_KEY:-$STATIC_KEY}" AWS_SECRET_ACCESS_KEY="${CLI_SECRET:-$STATIC_SECRET}" \
		timeout 120 "$AWS" --endpoint-url "$S3_ENDPOINT" "$@"
}
