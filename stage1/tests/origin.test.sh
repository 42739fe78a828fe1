#!/usr/bin/env bash
# Credentials go only to the cache's own origin (issue 14, part 1).
#
# An s3:// cache (the S3 stand-in: s3rver behind tools/s3/sigv4-proxy,
# which checks every signature), session credentials from the mock IMDS's
# instance role, virtual-hosted like AWS: base http://origin-cache.s3.test
# with no port, as https://BUCKET.s3.REGION.amazonaws.com has none, so that
# the string-prefix tricks of the old check can be played on loopback.  The
# narinfo's URL (unsigned) is edited to point at an attacker, or the cache
# answers a redirect to one.  The attacker (tools/testworld/attacker-serve)
# records every request head; it must see no key id, no token, no
# Authorization and no x-amz-* header, ever.
#
# The suite runs in private network and mount namespaces (root only): there
# the stand-in can take port 80, the attacker 127.0.0.2:80, 127.0.0.1:8080
# and 127.0.0.1:443, and a private /etc/hosts maps the names below.
SUITE=origin
if [ "${IP_ORIGIN_NS:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	unshare --net --mount true 2>/dev/null; then
	exec unshare --net --mount env IP_ORIGIN_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3-lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
require_root "network and mount namespaces, and the test world in /nix/store"
if [ "${IP_ORIGIN_NS:-}" != 1 ]; then
	echo "SKIP: $SUITE: all: cannot create network and mount namespaces (unshare --net --mount)"
	exit 0
fi
s3_require_tools
load_world

ip link set lo up
# Names the base, the suffix host and the attacker (this namespace only).
cat /etc/hosts >"$TEST_TMP/hosts"
cat >>"$TEST_TMP/hosts" <<'HOSTS'
127.0.0.1 s3.test origin-cache.s3.test
127.0.0.2 origin-cache.s3.test.evil.example evil.example
HOSTS
mount --bind "$TEST_TMP/hosts" /etc/hosts ||
	{ echo "FAIL: $SUITE: setup: cannot bind-mount a private /etc/hosts"; exit 1; }

ROLE_KEY=ASIAORIGINROLEKEY001 ROLE_SECRET='origin/Role+Secret00000000000000000000' ROLE_TOKEN='IQoJb3JpZ2luORIGINsession/token+value=='
BUCKET=origin-cache
BASE=http://$BUCKET.s3.test

CONTROL=$TEST_TMP/proxy-control
: >"$CONTROL"
# the AWS CLI uploads with a key of its own; fetch gets the role's from IMDS
STATIC_KEY=AKIDORIGINUPLOAD0001 STATIC_SECRET='origin/Upload+Secret000000000000000000'
s3_start --port 80 --host-suffix s3.test --credentials "$ROLE_KEY=$ROLE_SECRET,$STATIC_KEY=$STATIC_SECRET" \
	--token "$ROLE_KEY=$ROLE_TOKEN" --control "$CONTROL"

ATTACK_LOG=$TEST_TMP/attacker.log
: >"$ATTACK_LOG"
"$TOOLS/attacker-serve" --listen 127.0.0.2:80 --listen 127.0.0.1:8080 --listen 127.0.0.1:443 \
	--log "$ATTACK_LOG" --port-file "$TEST_TMP/attacker.ports" 2>"$TEST_TMP/attacker.err" &
ATTACKER_PID=$!
stop_attacker() { kill "$ATTACKER_PID" 2>/dev/null; wait "$ATTACKER_PID" 2>/dev/null; }
at_exit stop_attacker
for _ in $(seq 100); do [ -s "$TEST_TMP/attacker.ports" ] && break; sleep 0.05; done
[ -s "$TEST_TMP/attacker.ports" ] || { echo "FAIL: $SUITE: setup: attacker-serve did not start: $(cat "$TEST_TMP/attacker.err")"; exit 1; }

start_mock --role origin-role --access-key-id "$ROLE_KEY" --secret "$ROLE_SECRET" --token "$ROLE_TOKEN" \
	--region us-east-1 || { echo "FAIL: $SUITE: setup: $CASE_REASON"; exit 1; }

# put_object FILE KEY: a signed PUT with curl (the AWS CLI takes seconds to
# start); KEY "" creates the bucket.
put_object() {
	local sha; sha=$(sha256sum <"$1" | cut -d' ' -f1)
	curl -sSf -X PUT --aws-sigv4 aws:amz:us-east-1:s3 -u "$STATIC_KEY:$STATIC_SECRET" \
		-H "x-amz-content-sha256: $sha" --data-binary "@$1" "$S3_ENDPOINT/$BUCKET${2:+/$2}" >>"$TEST_TMP/cli.log" 2>&1
}

# The cache: real Nix's zstd cache, uploaded as it is, and again under
# moved/ (the target of redirects inside the cache).
CACHE=$TEST_TMP/cache
cp -a "$CACHE_ZSTD" "$CACHE"
upload_cache() {
	: >"$TEST_TMP/empty"
	put_object "$TEST_TMP/empty" "" || return 1 # creates the bucket
	local f
	for f in $(cd "$CACHE" && find . -type f | sed 's|^\./||'); do
		put_object "$CACHE/$f" "$f" && put_object "$CACHE/$f" "moved/$f" || return 1
	done
}
if ! upload_cache; then
	echo "FAIL: $SUITE: setup: uploading the cache: $(tail -n 2 "$TEST_TMP/cli.log" | tr '\n' ' ')"
	exit 1
fi
VICTIM=$ROOT_PATH
VICTIM_NARINFO=$(basename "$VICTIM" | cut -c1-32).narinfo
VICTIM_NAR=$(sed -n 's/^URL: //p' "$CACHE/$VICTIM_NARINFO")

# set_nar_url URL: the victim's narinfo in the bucket names its NAR at URL
# (URL: is not signed; the signature stays valid).
set_nar_url() {
	cp "$CACHE_ZSTD/$VICTIM_NARINFO" "$CACHE/$VICTIM_NARINFO"
	"$TOOLS/narinfo-edit" "$CACHE" "$VICTIM" --set "URL=$1" >/dev/null &&
		put_object "$CACHE/$VICTIM_NARINFO" "$VICTIM_NARINFO" ||
		fail_because "could not put the edited narinfo into the bucket"
}

# fetch_role: role credentials from the mock IMDS, no
# AWS_* in the environment, virtual-hosted (STYLE=path: path style); sets
# RC, OUT, ROOT.
fetch_role() {
	ROOT=$(make_tmpdir)
	OUT=$ROOT.out
	RC=0
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
		timeout 120 "${BIN:-$IP_BIN}" fetch --root "$ROOT" --trusted-public-key "$TRUSTED_PUBKEY" --no-sync \
		--retries 1 --imds-endpoint "$IMDS_URL" \
		--substituter "s3://$BUCKET?endpoint=http://s3.test&addressing-style=${STYLE:-virtual}&region=us-east-1" \
		--report "$ROOT.json" "$ROOT_PATH" >"$OUT" 2>&1 || RC=$?
}

# attacker_saw_nothing: no credential material in anything the attacker got.
attacker_saw_nothing() {
	local what
	for what in "$ROLE_KEY" "$ROLE_TOKEN" "$ROLE_SECRET" authorization x-amz- AWS4-HMAC; do
		if grep -qiF -- "$what" "$ATTACK_LOG"; then
			fail_because "the attacker received '${what:0:12}': $(grep -iF -- "$what" "$ATTACK_LOG" | head -n 2 | cut -c1-160 | tr '\n' '|')"
			return 1
		fi
	done
}

# refused MESSAGE-PART: the run failed naming the refusal, the victim is
# neither in the store nor registered, no secret in the output or report.
refused() {
	[ "$RC" = 1 ] || { fail_because "fetch exited $RC, want 1: $(tail -n 2 "$OUT" | tr '\n' ' ')"; return 1; }
	grep -qF -- "$1" "$OUT" || { fail_because "output lacks '$1': $(tail -n 2 "$OUT" | tr '\n' ' ')"; return 1; }
	grep -F -- "$1" "$OUT" | head -n 1 | cut -c1-400 | sed 's/^/    | /'
	[ ! -e "$ROOT$VICTIM" ] || { fail_because "$VICTIM is in the store"; return 1; }
	[ ! -e "$ROOT/nix-path-registration" ] || { fail_because "a registration was written"; return 1; }
	! grep -qF -e "$ROLE_SECRET" -e "$ROLE_TOKEN" "$OUT" "$ROOT.json" 2>/dev/null ||
		fail_because "a secret is in the output or the report"
}

# attack NAR-URL MESSAGE-PART: one NAR URL trick.
attack() {
	local url=$1 msg=$2
	: >"$ATTACK_LOG"
	set_nar_url "$url" || return 1
	fetch_role
	attacker_saw_nothing && refused "$msg"
}

case_signed_fetch_works() {
	: >"$ATTACK_LOG"
	set_nar_url "$VICTIM_NAR" || return 1
	fetch_role
	[ "$RC" = 0 ] || { fail_because "fetch exited $RC: $(tail -n 3 "$OUT" | tr '\n' ' ')"; return 1; }
	judge "$ROOT" "$CACHE_ZSTD" || return 1
	grep -q " GET /$VICTIM_NAR 200 relayed $ROLE_KEY" "$PROXY_LOG" ||
		{ fail_because "no NAR GET signed with the role's key in the proxy log"; return 1; }
	[ ! -s "$ATTACK_LOG" ] || fail_because "the attacker was contacted"
}

run_case "baseline: virtual-hosted s3:// with role credentials, every request signed, judged by Nix" \
	case_signed_fetch_works
run_case "userinfo trick: $BASE@127.0.0.2/... (the base as user name): refused, nothing sent" \
	attack "$BASE@127.0.0.2/$VICTIM_NAR" "outside the cache (a user name or password in the URL: http://127.0.0.2:80)"
run_case "userinfo trick with a port: $BASE:80@127.0.0.2/...: refused, nothing sent" \
	attack "$BASE:80@127.0.0.2/$VICTIM_NAR" "outside the cache (a user name or password in the URL: http://127.0.0.2:80)"
run_case "suffix host: $BASE.evil.example/...: refused, nothing sent" \
	attack "$BASE.evil.example/$VICTIM_NAR" "outside the cache (another host: http://origin-cache.s3.test.evil.example:80)"
run_case "other port: $BASE:8080/...: refused, nothing sent" \
	attack "$BASE:8080/$VICTIM_NAR" "outside the cache (another port: http://origin-cache.s3.test:8080)"
run_case "other scheme: https://$BUCKET.s3.test/...: refused, nothing sent" \
	attack "https://$BUCKET.s3.test/$VICTIM_NAR" "outside the cache (another scheme: https://origin-cache.s3.test:443)"
run_case "other host: http://evil.example/...: refused (a signed cache is read only inside its origin)" \
	attack "http://evil.example/$VICTIM_NAR" "outside the cache (another host: http://evil.example:80), and a signed cache is read only inside its own origin"

# path style: the base has a path, http://s3.test/origin-cache; a sibling
# bucket on the same endpoint is outside it (no attacker: the proxy's log
# shows whether a request for it was signed).
case_path_style_sibling_bucket() {
	set_nar_url "http://s3.test/${BUCKET}x/$VICTIM_NAR" || return 1
	: >"$PROXY_LOG"
	STYLE=path fetch_role
	! grep -q "/${BUCKET}x/" "$PROXY_LOG" ||
		{ fail_because "a request went to the sibling bucket: $(grep "/${BUCKET}x/" "$PROXY_LOG" | head -n 1)"; return 1; }
	refused "outside the cache (a path outside the cache: http://s3.test:80)"
}
run_case "path style: a sibling bucket on the same endpoint (/${BUCKET}x/...): refused, not requested" \
	case_path_style_sibling_bucket

# Redirects answered by the cache itself (signature verified first).
redirect_case() { # REGEX STATUS LOCATION MESSAGE-PART
	: >"$ATTACK_LOG"
	set_nar_url "$VICTIM_NAR" || return 1
	echo "redirect = $1 $2 $3" >"$CONTROL"
	fetch_role
	: >"$CONTROL"
	grep -q " $2 redirect $ROLE_KEY" "$PROXY_LOG" || { fail_because "the cache never redirected"; return 1; }
	attacker_saw_nothing && refused "$4"
}
run_case "redirect of a NAR (302) to another origin: not followed, nothing sent" \
	redirect_case "^/nar/" 302 "http://127.0.0.2/stolen/nar" "HTTP 302 redirect to http://127.0.0.2:80 (another host): not followed"
run_case "redirect of a NAR (307) to another port: not followed, nothing sent" \
	redirect_case "^/nar/" 307 "$BASE:8080/nar/x" "HTTP 307 redirect to http://origin-cache.s3.test:8080 (another port)"
run_case "redirect of a narinfo (301) to another origin: not followed, nothing sent" \
	redirect_case "\\.narinfo\$" 301 "http://evil.example/x.narinfo" "HTTP 301 redirect to http://evil.example:80 (another host): not followed"
run_case "redirect of a narinfo (308) with userinfo: not followed, nothing sent" \
	redirect_case "\\.narinfo\$" 308 "$BASE@127.0.0.2/x.narinfo" "(a user name or password in the URL): not followed"

run_case "redirect loop inside the cache: ends after 10 hops, nothing sent elsewhere" \
	redirect_case "^/nar/" 302 "$BASE/nar/again" "more than 10 redirects"

case_redirect_inside_the_cache() {
	: >"$ATTACK_LOG"
	: >"$PROXY_LOG"
	set_nar_url "$VICTIM_NAR" || return 1
	printf '%s\n' "redirect = ^/(nar/.*|[a-z0-9]{32}\.narinfo)\$ 302 $BASE/moved/\1" >"$CONTROL"
	fetch_role
	: >"$CONTROL"
	[ "$RC" = 0 ] || { fail_because "fetch exited $RC: $(tail -n 3 "$OUT" | tr '\n' ' ')"; return 1; }
	judge "$ROOT" "$CACHE_ZSTD" || return 1
	grep -q " GET /$VICTIM_NAR 302 redirect $ROLE_KEY" "$PROXY_LOG" ||
		{ fail_because "the cache did not redirect the NAR"; return 1; }
	grep -q " GET /moved/$VICTIM_NAR 200 relayed $ROLE_KEY" "$PROXY_LOG" ||
		{ fail_because "the NAR's hop inside the cache was not signed anew: $(grep moved "$PROXY_LOG" | head -n 1)"; return 1; }
	grep -q " GET /$VICTIM_NARINFO 302 redirect $ROLE_KEY" "$PROXY_LOG" &&
		grep -q " GET /moved/$VICTIM_NARINFO 200 relayed $ROLE_KEY" "$PROXY_LOG" ||
		{ fail_because "the narinfo was not redirected and fetched signed from moved/"; return 1; }
	attacker_saw_nothing
}
run_case "redirects inside the cache (302 of narinfos and NARs to moved/): followed, signed anew, judged by Nix" \
	case_redirect_inside_the_cache

# The initrd's binary: its own libcurl 7.88.1 (mbedTLS) behaves like
# Debian's on redirects (it sent the token along too); both refusals again.
STATIC_BIN=${IP_STATIC_BIN:-$IP_BUILD/static/initrd-provision}
if [ -x "$STATIC_BIN" ]; then
	BIN=$STATIC_BIN
	run_case "static binary: redirect of a NAR (302) to another origin: not followed, nothing sent" \
		redirect_case "^/nar/" 302 "http://127.0.0.2/stolen/nar" "HTTP 302 redirect to http://127.0.0.2:80 (another host): not followed"
	run_case "static binary: redirect of a narinfo (307) to another origin: not followed, nothing sent" \
		redirect_case "\\.narinfo\$" 307 "http://evil.example/x.narinfo" "HTTP 307 redirect to http://evil.example:80 (another host): not followed"
	run_case "static binary: suffix host: refused, nothing sent" \
		attack "$BASE.evil.example/$VICTIM_NAR" "outside the cache (another host: http://origin-cache.s3.test.evil.example:80)"
	BIN=""
else
	echo "SKIP: $SUITE: static binary: $STATIC_BIN is not built (make static)"
fi
