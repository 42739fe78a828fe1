#!/usr/bin/env bash
# The S3 stand-in (s3rver behind tools/s3/sigv4-proxy) and the project's S3
# pieces (s3_url, credentials, sigv4, s3_error, IMDS role credentials):
# the AWS CLI uploads through the proxy (so the proxy agrees with AWS's own
# signer), then stage1/tests/tools/s3get.c fetches with static and session
# credentials, path-style and virtual-hosted, and meets every refusal.
SUITE=s3-proxy
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/build-tool.sh"
. "$(dirname "$0")/s3-lib.sh"

STATIC_KEY=AKIDSTATICTEST000001 STATIC_SECRET='static/Secret+Key0000000000000000000000'
ROLE_KEY=ASIAROLETEST00000001 ROLE_SECRET='role/Secret+Key00000000000000000000000' ROLE_TOKEN='IQoJb3JpZ2luX2VjEXAMPLE/token+value=='

s3_require_tools
if ! S3GET=$(build_tool s3get 2>"$TEST_TMP/build.log"); then
	echo "FAIL: $SUITE: build: cannot build stage1/tests/tools/s3get.c: $(tail -n 3 "$TEST_TMP/build.log")"
	exit 1
fi

# --- the stand-in and a mock IMDS ------------------------------------------------
CONTROL=$TEST_TMP/proxy-control
: >"$CONTROL"
s3_start --credentials "$STATIC_KEY=$STATIC_SECRET,$ROLE_KEY=$ROLE_SECRET" \
	--token "$ROLE_KEY=$ROLE_TOKEN" --control "$CONTROL"

# s3get ARGS...: sets RC, ERR, OUTF (the body).
s3get() {
	OUTF=$(make_tmpdir)/body
	timeout 30 "$S3GET" --out "$OUTF" "$@" 2>"$TEST_TMP/s3get.err"
	RC=$?
	ERR=$(cat "$TEST_TMP/s3get.err")
}
err_has() { grep -qF -- "$1" <<<"$ERR" || fail_because "s3get stderr lacks '$1': $ERR"; }
expect_rc() { [ "$RC" = "$1" ] || fail_because "s3get exit $RC, want $1: $ERR"; }
nothing_written() { [ ! -s "$OUTF" ] || fail_because "the body file got $(stat -c %s "$OUTF") bytes"; }
PATH_URL="s3://cache?endpoint=$S3_ENDPOINT"

# --- a small cache to serve -------------------------------------------------------
SRC=$(make_tmpdir)
mkdir -p "$SRC/nar"
printf 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n' >"$SRC/nix-cache-info"
printf 'StorePath: /nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello\nURL: nar/0a.nar.zst\n' \
	>"$SRC/0123456789abcdfghijklmnpqrsvwxyz.narinfo"
head -c 300000 /dev/urandom >"$SRC/nar/0a.nar.zst"

cli_upload() {
	aws_cli s3 mb s3://cache >"$TEST_TMP/cli.log" 2>&1 ||
		{ fail_because "aws s3 mb: $(tail -n 2 "$TEST_TMP/cli.log")"; return 1; }
	aws_cli s3 sync "$SRC" s3://cache/ >>"$TEST_TMP/cli.log" 2>&1 ||
		{ fail_because "aws s3 sync: $(tail -n 2 "$TEST_TMP/cli.log")"; return 1; }
	local listing
	listing=$(aws_cli s3 ls --recursive s3://cache/ 2>&1)
	grep -q ' 300000 nar/0a.nar.zst$' <<<"$listing" && grep -q ' nix-cache-info$' <<<"$listing" ||
		{ fail_because "listing: $listing"; return 1; }
	# Every CLI request was verified and relayed, the uploads with signed payload hashes.
	grep -q "PUT /cache/nar/0a.nar.zst 200 relayed $STATIC_KEY payload=[0-9a-f]\{64\}" "$PROXY_LOG" ||
		fail_because "proxy log: $(cat "$PROXY_LOG")"
}

cli_wrong_secret() {
	local out
	out=$(CLI_SECRET=wrong-secret aws_cli s3 ls s3://cache/ 2>&1) &&
		{ fail_because "the CLI listed with a wrong secret: $out"; return 1; }
	grep -q SignatureDoesNotMatch <<<"$out" || fail_because "CLI said: $out"
}

static_path_style() {
	s3get --access-key-id "$STATIC_KEY" --secret "$STATIC_SECRET" "$PATH_URL" nar/0a.nar.zst
	expect_rc 0 && err_has "source=configuration" && err_has "url=$S3_ENDPOINT/cache/nar/0a.nar.zst" &&
		{ cmp -s "$OUTF" "$SRC/nar/0a.nar.zst" || fail_because "content differs"; }
}

static_virtual_hosted() {
	local url="s3://cache?endpoint=http://s3.localhost:$S3_PROXY_PORT&addressing-style=virtual"
	s3get --access-key-id "$STATIC_KEY" --secret "$STATIC_SECRET" \
		--resolve "cache.s3.localhost:$S3_PROXY_PORT:127.0.0.1" "$url" nix-cache-info
	expect_rc 0 && err_has "url=http://cache.s3.localhost:$S3_PROXY_PORT/nix-cache-info" &&
		{ cmp -s "$OUTF" "$SRC/nix-cache-info" || fail_because "content differs"; }
}

session_from_imds() {
	start_mock --role cache-reader --region us-east-1 --access-key-id "$ROLE_KEY" \
		--secret "$ROLE_SECRET" --token "$ROLE_TOKEN" || return 1
	s3get --imds "$IMDS_URL" "$PATH_URL" 0123456789abcdfghijklmnpqrsvwxyz.narinfo
	expect_rc 0 && err_has "source=instance role (IMDS) key=$ROLE_KEY region=us-east-1 with-session-token" &&
		{ cmp -s "$OUTF" "$SRC/0123456789abcdfghijklmnpqrsvwxyz.narinfo" || fail_because "content differs"; } &&
		{ ! grep -qF "$ROLE_SECRET" <<<"$ERR" || fail_because "the secret was printed"; }
}

session_token_missing() {
	s3get --access-key-id "$ROLE_KEY" --secret "$ROLE_SECRET" "$PATH_URL" nix-cache-info
	expect_rc 1 && err_has "class=credentials" && err_has "InvalidToken" && nothing_written
}

wrong_secret() {
	s3get --access-key-id "$STATIC_KEY" --secret "not-the-secret" "$PATH_URL" nix-cache-info
	expect_rc 1 && err_has "class=credentials" &&
		err_has "access denied: S3 rejected the credentials (HTTP 403 SignatureDoesNotMatch" &&
		err_has "the secret access key does not match the access key id" && nothing_written
}

unknown_key_id() {
	s3get --access-key-id AKIDNOBODYKNOWS00000 --secret x "$PATH_URL" nix-cache-info
	expect_rc 1 && err_has "class=credentials" && err_has "InvalidAccessKeyId" &&
		err_has "the access key id is not known to S3" && nothing_written
}

clock_skew() {
	# The proxy's clock 30 minutes ahead: this machine is 30 minutes behind.
	echo "clock-offset = 1800" >"$CONTROL"
	s3get --access-key-id "$STATIC_KEY" --secret "$STATIC_SECRET" "$PATH_URL" nix-cache-info
	: >"$CONTROL"
	expect_rc 1 && err_has "class=clock" && err_has "the clock is wrong" &&
		err_has "RequestTimeTooSkewed" && err_has "clock is 1800 s, about 30 min behind" && nothing_written
}

small_skew_is_fine() {
	echo "clock-offset = -600" >"$CONTROL"
	s3get --access-key-id "$STATIC_KEY" --secret "$STATIC_SECRET" "$PATH_URL" nix-cache-info
	: >"$CONTROL"
	expect_rc 0
}

expired_token_refreshed_once() {
	start_mock --role cache-reader --region us-east-1 --access-key-id "$ROLE_KEY" \
		--secret "$ROLE_SECRET" --token "$ROLE_TOKEN" || return 1
	echo "expired-token = $ROLE_TOKEN" >"$CONTROL"
	s3get --imds "$IMDS_URL" "$PATH_URL" nix-cache-info
	: >"$CONTROL"
	local fetches; fetches=$(grep -c "GET /latest/meta-data/iam/security-credentials/cache-reader 200" "$MOCK_LOG")
	# The mock hands out the same (still "expired") token: refresh once, then give up.
	expect_rc 1 && err_has "refreshed credentials once" && err_has "class=expired token" &&
		err_has "the session token has expired" && nothing_written &&
		{ [ "$fetches" = 2 ] || fail_because "$fetches role fetches, want 2"; }
}

region_from_imds() {
	# No region in the URL: IMDS's region signs the request; the stand-in is
	# us-east-1, so S3 says the region is wrong, naming both.
	start_mock --role cache-reader --region eu-central-1 --access-key-id "$ROLE_KEY" \
		--secret "$ROLE_SECRET" --token "$ROLE_TOKEN" || return 1
	s3get --imds "$IMDS_URL" "$PATH_URL" nix-cache-info
	expect_rc 1 && err_has "region=eu-central-1" && err_has "class=wrong region" &&
		err_has "the region 'eu-central-1' is wrong; expecting 'us-east-1'" || return 1
	# A region in the URL wins over IMDS's.
	s3get --imds "$IMDS_URL" "$PATH_URL&region=us-east-1" nix-cache-info
	expect_rc 0 && err_has "region=us-east-1"
}

not_in_cache() {
	s3get --access-key-id "$STATIC_KEY" --secret "$STATIC_SECRET" "$PATH_URL" ffffffffffffffffffffffffffffffff.narinfo
	expect_rc 4 && err_has "class=not in cache" && err_has "not in this cache (HTTP 404 NoSuchKey)"
}

anonymous() {
	s3get "$PATH_URL" nix-cache-info
	expect_rc 4 && err_has "source=none (unsigned requests)" && err_has "HTTP 403 AccessDenied" || return 1
	echo "allow-anonymous = 1" >"$CONTROL"
	s3get "$PATH_URL" nix-cache-info
	: >"$CONTROL"
	expect_rc 0 && { cmp -s "$OUTF" "$SRC/nix-cache-info" || fail_because "content differs"; }
}

body_hash_mismatch() {
	# A signed PUT whose body does not hash to its x-amz-content-sha256: refused
	# and not stored.
	local code
	code=$(curl -s -o "$TEST_TMP/put.xml" -w '%{http_code}' --max-time 20 -X PUT --data-binary 'evil' \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$STATIC_KEY:$STATIC_SECRET" \
		-H "x-amz-content-sha256: $(printf good | sha256sum | cut -d' ' -f1)" "$S3_ENDPOINT/cache/planted")
	[ "$code" = 400 ] && grep -q XAmzContentSHA256Mismatch "$TEST_TMP/put.xml" ||
		{ fail_because "PUT answered $code: $(cat "$TEST_TMP/put.xml")"; return 1; }
	s3get --access-key-id "$STATIC_KEY" --secret "$STATIC_SECRET" "$PATH_URL" planted
	expect_rc 4
}

aws_chunked_upload() {
	# A signed aws-chunked upload (how SDKs stream): every chunk signature is
	# checked and s3rver gets the decoded body.
	local put="$REPO_ROOT/stage1/tests/tools/aws-chunked-put.py" out
	out=$(/usr/bin/python3 "$put" "$S3_ENDPOINT" cache chunked.nar "$SRC/nar/0a.nar.zst" \
		"$STATIC_KEY" "$STATIC_SECRET" 2>&1) || { fail_because "chunked PUT: $out"; return 1; }
	s3get --access-key-id "$STATIC_KEY" --secret "$STATIC_SECRET" "$PATH_URL" chunked.nar
	expect_rc 0 && { cmp -s "$OUTF" "$SRC/nar/0a.nar.zst" || fail_because "content differs"; } || return 1
	# One flipped byte in the second chunk: refused, and nothing stored.
	out=$(/usr/bin/python3 "$put" "$S3_ENDPOINT" cache tampered.nar "$SRC/nar/0a.nar.zst" \
		"$STATIC_KEY" "$STATIC_SECRET" --tamper 2>&1) && { fail_because "tampered PUT accepted"; return 1; }
	{ grep -q "^403 " <<<"$out" && grep -q "The chunk signature does not match" <<<"$out"; } || { fail_because "tampered PUT: $out"; return 1; }
	s3get --access-key-id "$STATIC_KEY" --secret "$STATIC_SECRET" "$PATH_URL" tampered.nar
	expect_rc 4
}

run_case cli_upload cli_upload
run_case cli_wrong_secret cli_wrong_secret
run_case static_path_style static_path_style
run_case static_virtual_hosted static_virtual_hosted
run_case session_from_imds session_from_imds
run_case session_token_missing session_token_missing
run_case wrong_secret wrong_secret
run_case unknown_key_id unknown_key_id
run_case clock_skew clock_skew
run_case small_skew_is_fine small_skew_is_fine
run_case expired_token_refreshed_once expired_token_refreshed_once
run_case region_from_imds region_from_imds
run_case not_in_cache not_in_cache
run_case anonymous anonymous
run_case body_hash_mismatch body_hash_mismatch
run_case aws_chunked_upload aws_chunked_upload
