#!/usr/bin/env bash
# The security promises, each a test:
#   - TLS verification is on by default: a cache whose certificate comes from
#     a private CA fails with a clear certificate error, works once that CA is
#     passed with --ca-bundle, and a certificate for another name is refused;
#     for the dev/ASan binary (libcurl + OpenSSL) and the static one (mbedTLS).
#   - A signature failure is never downgraded: a path signed only by an
#     untrusted key fails with every flag that is not --no-check-sigs, and
#     nothing is registered; no trusted key at all is an error.
#   - User-data cannot add trusted keys or substituters unless the image
#     allows each (boot.test.sh has both refused together; here one allowed
#     and the other not, both ways).
#   - No secret (AWS secret key, session token, IMDS token) appears on the
#     console, in the log or in the reports: the boot mode with IMDS role
#     credentials and AWS_* in the environment, and fetch with AWS_* (over
#     s3:// once fetch takes it: until then those cases SKIP with the reason).
SUITE=security
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
load_world
command -v openssl >/dev/null || { echo "SKIP: $SUITE: all: openssl is not installed"; exit 0; }
GOOD=$TW_DIR/cache-zstd

# --- TLS ---------------------------------------------------------------------------------
PKI=$TEST_TMP/pki
mkdir -p "$PKI"
make_pki() {
	(cd "$PKI" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
			-days 2 -subj "/CN=initrd-provision test CA" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
			-subj "/CN=localhost" &&
		printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
			-extfile ext.cnf) >"$TEST_TMP/pki.log" 2>&1
}
if ! make_pki; then
	echo "FAIL: $SUITE: pki: openssl could not make the test CA: $(tail -n 2 "$TEST_TMP/pki.log" | tr '\n' ' ')"
	exit 1
fi
start_server TLS "$GOOD" --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key"

# tls_fetch BIN URL ARGS...: like fetch (fetch-lib.sh) with another binary
tls_fetch() {
	local bin=$1 url=$2 root; shift 2
	root=$(make_tmpdir)/root
	TLS_ROOT=$root
	local t0; t0=$(date +%s)
	timeout 60 "$bin" fetch --root "$root" --substituter "$url" --trusted-public-key "$TRUSTED_PUBKEY" \
		--no-sync --retries 1 "$@" "$ROOT_PATH" 2>"$TEST_TMP/stderr"
	local rc=$?
	TLS_SECONDS=$(($(date +%s) - t0))
	return $rc
}
tls_refused() { # BIN URL PATTERN ARGS...
	local bin=$1 url=$2 pattern=$3 rc=0; shift 3
	tls_fetch "$bin" "$url" "$@" || rc=$?
	sed 's/^/    | /' "$TEST_TMP/stderr"
	[ "$rc" = 1 ] || { fail_because "exit $rc, want 1"; return 1; }
	[ "$TLS_SECONDS" -le 10 ] || { fail_because "took $TLS_SECONDS s: a certificate error is not worth retrying"; return 1; }
	grep -q "^initrd-provision: fetch: .*$url: fetching nix-cache-info: " "$TEST_TMP/stderr" ||
		{ fail_because "the error does not name the cache"; return 1; }
	grep -qiE -- "$pattern" "$TEST_TMP/stderr" || { fail_because "no certificate error matching /$pattern/"; return 1; }
	[ ! -e "$TLS_ROOT/nix-path-registration" ] || { fail_because "something was registered"; return 1; }
	[ -z "$(ls -A "$TLS_ROOT/nix/store" 2>/dev/null)" ] || fail_because "something was written to the store"
}
tls_works() { # BIN
	tls_fetch "$1" "https://localhost:$TLS_PORT" --ca-bundle "$PKI/ca.pem" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	judge "$TLS_ROOT" "$GOOD"
}

tls_cases() { # LABEL BIN
	local label=$1 bin=$2
	# OpenSSL: "SSL certificate problem: unable to get local issuer
	# certificate"; mbedTLS: "Cert verify failed: BADCERT_NOT_TRUSTED"
	run_case "TLS ($label): a private CA is refused by default" \
		tls_refused "$bin" "https://localhost:$TLS_PORT" 'certificate problem|cert verify failed'
	run_case "TLS ($label): --ca-bundle with that CA: fetched and judged" tls_works "$bin"
	run_case "TLS ($label): a certificate for another name is refused (https://127.0.0.1)" \
		tls_refused "$bin" "https://127.0.0.1:$TLS_PORT" 'subject name|CN_MISMATCH' --ca-bundle "$PKI/ca.pem"
}
tls_cases "libcurl+OpenSSL, $(basename "$(dirname "$IP_BIN")") binary" "$IP_BIN"
STATIC_BIN=${IP_STATIC_BIN:-$IP_BUILD/static/initrd-provision}
if [ -x "$STATIC_BIN" ]; then
	tls_cases "static binary, mbedTLS" "$STATIC_BIN"
else
	echo "SKIP: $SUITE: TLS (static binary, mbedTLS): $STATIC_BIN is not built (make static)"
fi

# --- signatures ----------------------------------------------------------------------------
start_server U "$TW_DIR"
EMPTY=$TEST_TMP/empty-cache
mkdir -p "$EMPTY"
printf 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n' >"$EMPTY/nix-cache-info"
start_server E "$EMPTY"
OTHER_KEY="other-cache-1:$(head -c 32 /dev/urandom | base64)"

untrusted_with_every_flag() {
	local mode rc root
	for mode in --quiet --verbose; do
		root=$(make_tmpdir)/root
		rc=0
		fetch "$root" --substituter "http://127.0.0.1:$U_PORT/cache-untrusted" \
			--substituter "http://127.0.0.1:$E_PORT" --trusted-public-key "$OTHER_KEY" \
			--set-profile --report "$root.json" --retries 3 --connections 4 --jobs 2 \
			--stall-timeout 5 --connect-timeout 5 --ca-bundle /etc/ssl/certs/ca-certificates.crt \
			"$mode" "$ROOT_PATH" || rc=$?
		[ "$rc" = 1 ] || { fail_because "$mode: exit $rc, want 1"; return 1; }
		stderr_has "cannot fetch $ROOT_PATH (the requested path)" || return 1
		stderr_has "no valid signature by a trusted key" || return 1
		! grep -qE "^initrd-provision: [0-9]+ paths \(" "$TEST_TMP/stderr" ||
			{ fail_because "$mode: a success summary after a signature failure"; return 1; }
		[ ! -e "$root/nix-path-registration" ] || { fail_because "$mode: something was registered"; return 1; }
		[ ! -e "$root/nix/var/nix/profiles/system" ] || { fail_because "$mode: the profile was set"; return 1; }
		[ -z "$(ls -A "$root/nix/store" 2>/dev/null)" ] || { fail_because "$mode: the store is not empty: $(ls -A "$root/nix/store")"; return 1; }
		/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["ok"] is False and r["paths"]["fetched"] == 0 else 1)' \
			"$root.json" || { fail_because "$mode: the report does not say the run failed"; return 1; }
	done
}
run_case "untrusted signature with every flag but --no-check-sigs: failure, nothing registered" untrusted_with_every_flag

no_key_is_an_error() {
	local rc=0 root; root=$(make_tmpdir)/root
	timeout 30 "$IP_BIN" fetch --root "$root" --substituter "http://127.0.0.1:$U_PORT/cache-untrusted" \
		"$ROOT_PATH" 2>"$TEST_TMP/stderr" || rc=$?
	[ "$rc" = 2 ] || { fail_because "exit $rc, want 2 (usage)"; return 1; }
	stderr_has "no trusted public key given" || return 1
	[ ! -e "$root/nix" ] || fail_because "the root was touched"
}
run_case "no trusted key at all: a usage error, not 'accept everything'" no_key_is_an_error

# --- the boot mode: user-data trust and secrets ----------------------------------------------
QS="$IP_BUILD/qemu-world/systems"
BOOT_OK=1
if ! timeout 900 "$REPO_ROOT/tools/qemu-systems/build" "$QS" >"$TEST_TMP/systems-build.out" 2>&1; then
	echo "FAIL: $SUITE: boot: building the test systems failed: $(tail -n 3 "$TEST_TMP/systems-build.out" | tr '\n' ' ')"
	BOOT_OK=0
fi
if [ "$BOOT_OK" = 1 ]; then
	# the QEMU systems have their own keys: keep the testworld's apart
	QS_ENV=$(set -a; . "$QS/systems.env"; env | grep -E '^(BUILTIN_|TARGET_|CACHE_DIR|CACHE_UNTRUSTED_DIR|TRUSTED_PUBKEY|UNTRUSTED_PUBKEY)' | sed 's/^/QS_/')
	while read -r line; do printf -v "${line%%=*}" '%s' "${line#*=}"; done <<<"$QS_ENV"
fi

ROLE=initrd-provision-test-role
ROLE_KEY=ASIAROLESECRETTEST01
ROLE_SECRET='roleSecret/Key+0000000000000000000000000'
ROLE_TOKEN='IQoJroleSESSIONtoken/forTheTest+Only=='
ENV_KEY=AKIAENVSECRETTEST001
ENV_SECRET='envSecret/Key+00000000000000000000000000'
ENV_TOKEN='FwoGenvSESSIONtoken/forTheTest+Only=='

# One boot (helpers like boot.test.sh's, kept small).
new_root() {
	ROOT=$(make_tmpdir)
	RUN_DIR=$(make_tmpdir)
	mkdir -p "$ROOT/nix/store" "$ROOT/nix/var/nix/profiles"
	# shellcheck disable=SC2046
	cp -a $(cat "$QS_BUILTIN_CLOSURE_FILE") "$ROOT/nix/store/"
	cp "$QS_BUILTIN_REG" "$ROOT/nix-path-registration"
	ln -s "$QS_BUILTIN_SYSTEM" "$ROOT/nix/var/nix/profiles/system-1-link"
	ln -s system-1-link "$ROOT/nix/var/nix/profiles/system"
	echo "console=ttyS0,115200n8 init=/nix/var/nix/profiles/system/init" >"$RUN_DIR.cmdline"
}
write_config() { # substituter-url [key = value lines...]
	local sub=$1; shift
	{
		echo "substituters = $sub"
		echo "trusted-public-keys = $QS_TRUSTED_PUBKEY"
		echo "imds-endpoint = $IMDS_URL"
		echo "imds-timeout = 5"
		echo "builtin-kernel = $QS_BUILTIN_KERNEL"
		printf '%s\n' "$@"
	} >"$RUN_DIR.conf"
}
run_boot() {
	OUT=$RUN_DIR.out
	timeout 120 env "${BOOT_ENV[@]}" "$IP_BIN" boot --sysroot "$ROOT" --config "$RUN_DIR.conf" \
		--cmdline "$RUN_DIR.cmdline" --run-dir "$RUN_DIR" --no-network --no-power --verbose >"$OUT" 2>&1 ||
		{ fail_because "boot exited $?: $(tail -n 3 "$OUT" | tr '\n' ' ')"; return 1; }
}
BOOT_ENV=(IP_NOTHING=1)
IMDS_PID=""
stop_imds() { [ -z "$IMDS_PID" ] || { kill "$IMDS_PID" 2>/dev/null; wait "$IMDS_PID" 2>/dev/null; IMDS_PID=""; }; }
at_exit stop_imds
start_imds() { # mock-imds arguments...
	stop_imds
	IMDS_LOG=$TEST_TMP/imds.log TOKENS=$TEST_TMP/imds.tokens
	rm -f "$TEST_TMP/imds.port" "$TOKENS"
	: >"$IMDS_LOG"
	/usr/bin/python3 "$REPO_ROOT/tools/mock-imds" --port 0 --port-file "$TEST_TMP/imds.port" --log "$IMDS_LOG" \
		--tokens-file "$TOKENS" "$@" >"$TEST_TMP/imds.err" 2>&1 &
	IMDS_PID=$!
	local i
	for i in $(seq 100); do [ -s "$TEST_TMP/imds.port" ] && break; sleep 0.05; done
	[ -s "$TEST_TMP/imds.port" ] || { fail_because "mock-imds did not start"; return 1; }
	IMDS_URL=http://127.0.0.1:$(cat "$TEST_TMP/imds.port")
}
expect_fallback() {
	grep -q "^initrd-provision: FAILED fetch: .*; booting built-in system $QS_BUILTIN_SYSTEM\$" "$OUT" ||
		{ fail_because "no fetch failure banner: $(tail -n 3 "$OUT" | tr '\n' '|')"; return 1; }
	[ "$(cat "$RUN_DIR/system" 2>/dev/null)" = "$QS_BUILTIN_SYSTEM" ] || { fail_because "did not hand off the built-in system"; return 1; }
	local p
	for p in $(cat "$QS_TARGET_FETCH_FILE"); do
		[ ! -e "$ROOT$p" ] || { fail_because "$p was fetched"; return 1; }
	done
	! grep -q "$QS_TARGET_SYSTEM" "$ROOT/nix-path-registration" || fail_because "the target was registered"
}

boot_case() { # NAME FUNCTION
	if [ "$BOOT_OK" = 1 ]; then run_case "$1" "$2"; else echo "SKIP: $SUITE: $1: the test systems could not be built"; fi
}

if [ "$BOOT_OK" = 1 ]; then
	start_server QC "$QS_CACHE_DIR"
	start_server QU "$QS_CACHE_UNTRUSTED_DIR"
fi
ROGUE_USER_DATA() {
	printf 'system = %s\nsubstituters = http://127.0.0.1:%s\ntrusted-public-keys = %s\n' \
		"$QS_TARGET_SYSTEM" "$QU_PORT" "$QS_UNTRUSTED_PUBKEY"
}

substituters_allowed_keys_not() {
	new_root
	start_imds --user-data "$(ROGUE_USER_DATA)" || return 1
	: >"$QU_LOG"
	write_config "http://127.0.0.1:$QC_PORT" "allow-user-data-substituters = true"
	run_boot || return 1
	# the rogue cache is used (allowed) but its key is not: the signature fails
	grep -q " 200 " "$QU_LOG" || { fail_because "the allowed user-data substituter was not used"; return 1; }
	grep -q "qemu-test-untrusted-1" "$OUT" || { fail_because "the failure does not name the untrusted key"; return 1; }
	expect_fallback
}
boot_case "user-data: substituters allowed, keys not: its own key is not trusted" substituters_allowed_keys_not

keys_allowed_substituters_not() {
	new_root
	start_imds --user-data "$(ROGUE_USER_DATA)" || return 1
	: >"$QU_LOG"
	# the image's cache is unreachable: only the user-data's could work
	write_config "http://127.0.0.1:9" "allow-user-data-keys = true"
	run_boot || return 1
	[ ! -s "$QU_LOG" ] || { fail_because "the user-data substituter was contacted: $(head -n 2 "$QU_LOG")"; return 1; }
	grep -q "warning: user-data: " "$OUT" || { fail_because "no warning that user-data's substituters are ignored"; return 1; }
	expect_fallback
}
boot_case "user-data: keys allowed, substituters not: its cache is never contacted" keys_allowed_substituters_not

# secrets_absent FILE...: none of the secrets in any FILE (or the console).
secrets_absent() {
	local s f
	local secrets=("$ROLE_SECRET" "$ROLE_TOKEN" "$ENV_SECRET" "$ENV_TOKEN")
	if [ -s "${TOKENS:-/nonexistent}" ]; then
		while read -r s; do secrets+=("$s"); done <"$TOKENS"
	fi
	for f in "$@"; do
		[ -f "$f" ] || continue
		for s in "${secrets[@]}"; do
			if grep -qF -- "$s" "$f"; then
				fail_because "a secret (${s:0:6}...) is in $f: $(grep -F -- "$s" "$f" | head -n 1 | cut -c1-160)"
				return 1
			fi
		done
	done
}
boot_files() { # everything the boot wrote that a person or a log collector may read
	echo "$OUT"
	find "$RUN_DIR" -type f
	find "$ROOT/var/log" -type f 2>/dev/null
	echo "$ROOT/nix-path-registration"
}

boot_secrets_http() {
	new_root
	start_imds --user-data "system = $QS_TARGET_SYSTEM" --role "$ROLE" --access-key-id "$ROLE_KEY" \
		--secret "$ROLE_SECRET" --token "$ROLE_TOKEN" || return 1
	write_config "http://127.0.0.1:$QC_PORT"
	BOOT_ENV=(AWS_ACCESS_KEY_ID="$ENV_KEY" AWS_SECRET_ACCESS_KEY="$ENV_SECRET" AWS_SESSION_TOKEN="$ENV_TOKEN")
	run_boot || return 1
	BOOT_ENV=(IP_NOTHING=1)
	# the check means something only if a token was issued and used
	[ -s "$TOKENS" ] || { fail_because "the mock IMDS issued no token"; return 1; }
	grep -q "GET /latest/user-data 200" "$IMDS_LOG" || { fail_because "user-data was not read with the token"; return 1; }
	mapfile -t files < <(boot_files)
	secrets_absent "${files[@]}" || return 1
	echo "    checked ${#files[@]} files for $(wc -l <"$TOKENS") IMDS token(s), the role's and the environment's keys"
}
boot_case "secrets: boot --verbose with IMDS role credentials and AWS_* set: no token or key in output or reports" boot_secrets_http

# An s3:// substituter served by http-serve (path style, which ignores the
# signature): TW_DIR is the "endpoint", cache-zstd the bucket.
s3_refused_yet() { grep -q "s3:// caches are not supported yet" "$1"; }

boot_secrets_s3() {
	new_root
	start_imds --user-data "system = $QS_TARGET_SYSTEM" --role "$ROLE" --access-key-id "$ROLE_KEY" \
		--secret "$ROLE_SECRET" --token "$ROLE_TOKEN" || return 1
	local parent; parent=$(dirname "$QS_CACHE_DIR")
	start_server S3 "$parent"
	write_config "s3://$(basename "$QS_CACHE_DIR")?region=us-east-1&endpoint=http://127.0.0.1:$S3_PORT"
	run_boot || return 1
	mapfile -t files < <(boot_files)
	secrets_absent "${files[@]}" || return 1
	if s3_refused_yet "$OUT"; then
		skip_because "s3:// not supported by fetch yet (checked: the refusal leaks no secret)"
		return 0
	fi
	grep -q "security-credentials/$ROLE 200" "$IMDS_LOG" || { fail_because "the role credentials were not fetched"; return 1; }
	grep -q "closure verified and registered" "$OUT" || { fail_because "the boot did not provision: $(tail -n 3 "$OUT" | tr '\n' '|')"; return 1; }
}
boot_case "secrets: boot with an s3:// substituter and IMDS role credentials" boot_secrets_s3

fetch_secrets() { # SUBSTITUTER [extra args]
	local sub=$1 root rc=0; shift
	root=$(make_tmpdir)/root
	TOKENS=""
	timeout 60 env AWS_ACCESS_KEY_ID="$ENV_KEY" AWS_SECRET_ACCESS_KEY="$ENV_SECRET" AWS_SESSION_TOKEN="$ENV_TOKEN" \
		"$IP_BIN" fetch --root "$root" --substituter "$sub" --trusted-public-key "$TRUSTED_PUBKEY" --no-sync \
		--verbose --report "$root.json" "$@" "$ROOT_PATH" >"$TEST_TMP/fetch.out" 2>&1 || rc=$?
	secrets_absent "$TEST_TMP/fetch.out" "$root.json" || return 1
	if s3_refused_yet "$TEST_TMP/fetch.out"; then
		skip_because "s3:// not supported by fetch yet (checked: the refusal leaks no secret)"
		return 0
	fi
	[ "$rc" = 0 ] || { fail_because "fetch exited $rc: $(tail -n 2 "$TEST_TMP/fetch.out" | tr '\n' ' ')"; return 1; }
	judge "$root" "$GOOD"
}
run_case "secrets: fetch --verbose --report with AWS_* set, http:// cache" \
	fetch_secrets "http://127.0.0.1:$U_PORT/cache-zstd" --curl-verbose
run_case "secrets: fetch --verbose --report with AWS_* set, s3:// cache" \
	fetch_secrets "s3://cache-zstd?region=us-east-1&endpoint=http://127.0.0.1:$U_PORT"
run_case "secrets: fetch --curl-verbose with AWS_* set, s3:// cache: no session token in curl's trace" \
	fetch_secrets "s3://cache-zstd?region=us-east-1&endpoint=http://127.0.0.1:$U_PORT" --curl-verbose

# --- a password in a substituter URL (issue 14, part 4) ------------------------------------
# Such a URL is refused wherever it is configured, with the password cut
# from the message: it was echoed in errors, --verbose logs, the fetch
# report and the boot report (0644 on the target's disk).
USERINFO_PW='pw-Userinfo+Secret0042'
# password_absent FILE...: the password in none of them (nor the user name's
# pair), and each FILE that exists was looked at.
password_absent() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		if grep -qF -- "$USERINFO_PW" "$f"; then
			fail_because "the password is in $f: $(grep -F -- "$USERINFO_PW" "$f" | head -n 1 | cut -c1-160)"
			return 1
		fi
	done
}

fetch_userinfo() { # SUBSTITUTER
	local root rc=0
	root=$(make_tmpdir)/root
	timeout 60 "$IP_BIN" fetch --root "$root" --substituter "$1" --trusted-public-key "$TRUSTED_PUBKEY" --no-sync \
		--verbose --report "$root.json" "$ROOT_PATH" >"$TEST_TMP/fetch.out" 2>&1 || rc=$?
	sed 's/^/    | /' "$TEST_TMP/fetch.out" | tail -n 2
	password_absent "$TEST_TMP/fetch.out" "$root.json" "$root/nix-path-registration" || return 1
	[ "$rc" = 2 ] || { fail_because "fetch exited $rc, want 2 (the URL is refused)"; return 1; }
	grep -q "carries a user name or password" "$TEST_TMP/fetch.out" ||
		{ fail_because "the refusal does not say why"; return 1; }
	[ ! -e "$root/nix" ] || fail_because "the root was touched"
}
run_case "password in the URL: fetch --verbose --report, http:// cache: refused, the password nowhere" \
	fetch_userinfo "http://cacheuser:$USERINFO_PW@127.0.0.1:$U_PORT/cache-zstd"
run_case "password in the URL: fetch, a cache that has nothing: refused, the password nowhere" \
	fetch_userinfo "http://cacheuser:$USERINFO_PW@127.0.0.1:$E_PORT"
run_case "password in the URL: fetch, s3://KEY:SECRET@bucket: refused, the password nowhere" \
	fetch_userinfo "s3://AKIDUSERINFO:$USERINFO_PW@cache-zstd?region=us-east-1&endpoint=http://127.0.0.1:$U_PORT"

check_commands_userinfo() {
	local d rc; d=$(make_tmpdir)
	printf 'substituters = http://cacheuser:%s@127.0.0.1:%s\ntrusted-public-keys = %s\n' \
		"$USERINFO_PW" "$U_PORT" "$TRUSTED_PUBKEY" >"$d/conf"
	printf 'system = %s\nsubstituters = https://cacheuser:%s@cache.example\n' "$ROOT_PATH" "$USERINFO_PW" >"$d/ud"
	rc=0; "$IP_BIN" check-config "$d/conf" >"$d/conf.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || { fail_because "check-config exited $rc, want 2"; return 1; }
	rc=0; "$IP_BIN" check-user-data --allow-user-data-substituters "$d/ud" >"$d/ud.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { fail_because "check-user-data exited $rc, want 1 (malformed)"; return 1; }
	grep -q "carries a user name or password" "$d/conf.out" && grep -q "carries a user name or password" "$d/ud.out" ||
		{ fail_because "a refusal does not say why: $(cat "$d/conf.out" "$d/ud.out" | tr '\n' '|')"; return 1; }
	password_absent "$d/conf.out" "$d/ud.out"
}
run_case "password in the URL: check-config and check-user-data refuse it without repeating it" \
	check_commands_userinfo

boot_userinfo_config() {
	new_root
	start_imds --user-data "system = $QS_TARGET_SYSTEM" || return 1
	write_config "http://cacheuser:$USERINFO_PW@127.0.0.1:$QC_PORT"
	run_boot || return 1
	mapfile -t files < <(boot_files)
	password_absent "${files[@]}" || return 1
	grep -q "^initrd-provision: FAILED config: .*carries a user name or password.*; booting built-in system $QS_BUILTIN_SYSTEM\$" "$OUT" ||
		{ fail_because "no config failure banner: $(grep FAILED "$OUT" | head -n 1)"; return 1; }
	[ "$(cat "$RUN_DIR/system" 2>/dev/null)" = "$QS_BUILTIN_SYSTEM" ] || fail_because "did not hand off the built-in system"
}
boot_case "password in the URL: boot, image configuration: refused, built-in boots, the password in no output or report" \
	boot_userinfo_config

boot_userinfo_user_data() {
	new_root
	start_imds --user-data "$(printf 'system = %s\nsubstituters = http://cacheuser:%s@127.0.0.1:%s\n' \
		"$QS_TARGET_SYSTEM" "$USERINFO_PW" "$QC_PORT")" || return 1
	write_config "http://127.0.0.1:9" "allow-user-data-substituters = true"
	run_boot || return 1
	mapfile -t files < <(boot_files)
	password_absent "${files[@]}" || return 1
	grep -q "carries a user name or password" "$OUT" || { fail_because "no message saying why the user-data is refused"; return 1; }
	[ "$(cat "$RUN_DIR/system" 2>/dev/null)" = "$QS_BUILTIN_SYSTEM" ] || fail_because "did not hand off the built-in system"
}
boot_case "password in the URL: boot, user-data's substituters: refused, built-in boots, the password in no output or report" \
	boot_userinfo_user_data
