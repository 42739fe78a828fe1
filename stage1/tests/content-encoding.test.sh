#!/usr/bin/env bash
# Narinfos and nix-cache-info sent with a Content-Encoding, as niks3 and
# Nix's own S3 store (narinfo-compression) store them and harmonia serves
# them: over HTTP (tools/testworld/http-serve encoding every answer with the
# real CLI) and over S3 (the S3 stand-in, objects uploaded with `aws s3 cp
# --content-encoding`).  Real Nix judges every fetch.  The size cap holds
# for what an answer decodes to, not for what arrived.
SUITE=content-encoding
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
load_world
URL_OF() { echo "http://127.0.0.1:$1/cache-zstd"; }

# encoded_fetch CODING: the zstd cache with every narinfo and the
# nix-cache-info encoded with CODING.
encoded_fetch() {
	local coding=$1 name=E_$1 root=$TEST_TMP/root-$1 port log
	start_server "$name" "$TW_DIR" --fault "*.narinfo:encode=$coding" --fault "*/nix-cache-info:encode=$coding"
	port=${name}_PORT log=${name}_LOG
	fetch "$root" --substituter "$(URL_OF "${!port}")" "$ROOT_PATH" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr")"; return 1; }
	judge "$root" "$TW_DIR/cache-zstd" || return 1
	[ "$(count "${!log}" "\.narinfo 200 [0-9]+ encode=$coding\$")" -ge "$PATH_COUNT" ] ||
		{ fail_because "the narinfos were not sent encoded: $(head -n 3 "${!log}")"; return 1; }
	grep -qE "nix-cache-info 200 [0-9]+ encode=$coding\$" "${!log}" ||
		fail_because "nix-cache-info was not sent encoded"
}
for coding in gzip xz zstd bzip2 br; do
	eval "case_http_$coding() { encoded_fetch $coding; }"
	run_case "HTTP: narinfos and nix-cache-info with Content-Encoding $coding" "case_http_$coding"
done

# A narinfo padded past the 1 MiB cap with lines Nix ignores (unknown keys,
# outside the signature): 14 KB once gzipped, refused for what it decodes to.
BIG=$TEST_TMP/big
mkdir -p "$BIG"
cp -r "$TW_DIR/cache-zstd" "$BIG/"
BIG_NARINFO=$BIG/cache-zstd/$(hash_part "$ROOT_PATH").narinfo
awk 'BEGIN { for (i = 0; i < 40000; i++) print "X-Padding: ignored by Nix, outside the signature" }' \
	>>"$BIG_NARINFO"
start_server BIG "$BIG" --fault "*.narinfo:encode=gzip"

cap_applies_after_decoding() {
	local root; root=$(make_tmpdir)/root
	[ "$(stat -c %s "$BIG_NARINFO")" -gt 1048576 ] || { fail_because "the padded narinfo is too small"; return 1; }
	if fetch "$root" --substituter "http://127.0.0.1:$BIG_PORT/cache-zstd" "$ROOT_PATH"; then
		fail_because "a narinfo over 1 MiB once decoded was accepted"
		return 1
	fi
	stderr_has "Content-Encoding gzip: larger than 1048576 bytes once decoded" || return 1
	local sent; sent=$(grep -E "$(hash_part "$ROOT_PATH")\.narinfo 200" "$BIG_LOG" | head -n 1 | awk '{print $4}')
	[ -n "$sent" ] && [ "$sent" -lt 65536 ] || { fail_because "the encoded answer was $sent bytes, want < 64 KiB"; return 1; }
	check_clean "$root" "$TW_DIR/cache-zstd"
}
run_case "HTTP: a small gzip answer decoding past the 1 MiB narinfo cap is refused" cap_applies_after_decoding

# --- S3: objects stored with a Content-Encoding ---------------------------------
. "$(dirname "$0")/s3-lib.sh"
STATIC_KEY=AKIDSTATICENCODING01 STATIC_SECRET='encoding/Static+Secret000000000000000000'

s3_missing() {
	[ -f "$S3DIR/node_modules/s3rver/bin/s3rver.js" ] || { echo "s3rver is not installed in tools/s3/node_modules (run tools/deps.sh)"; return; }
	[ -x "$AWS" ] || { echo "the AWS CLI ($AWS, Debian package awscli) is not installed"; return; }
	/usr/bin/python3 -c 'import botocore' 2>/dev/null || echo "/usr/bin/python3 cannot import botocore (python3-botocore)"
}
S3_MISSING=$(s3_missing)
if [ -z "$S3_MISSING" ]; then
	s3_start --credentials "$STATIC_KEY=$STATIC_SECRET"
fi

# One bucket, one prefix per coding: the zstd cache whose narinfos and
# nix-cache-info were compressed by the real CLI and uploaded with
# --content-encoding CODING (what niks3 and Nix's narinfo-compression do),
# its NARs as they are.  Uploaded once, before the cases.
BUCKET=encoded-cache
S3_UP=""
if [ -z "$S3_MISSING" ]; then
	S3_UP=$TEST_TMP/up
	for coding in gzip xz zstd bzip2 br; do
		mkdir -p "$S3_UP/plain/$coding" "$S3_UP/encoded/$coding"
		cp -r "$TW_DIR/cache-zstd/nar" "$S3_UP/plain/$coding/"
		case $coding in gzip) cmd="gzip -c" ;; xz) cmd="xz -c" ;; zstd) cmd="zstd -q -c" ;; bzip2) cmd="bzip2 -c" ;; br) cmd="brotli -c" ;; esac
		for f in "$TW_DIR"/cache-zstd/*.narinfo "$TW_DIR/cache-zstd/nix-cache-info"; do
			$cmd <"$f" >"$S3_UP/encoded/$coding/$(basename "$f")"
		done
	done
	aws_cli s3 mb "s3://$BUCKET" >"$TEST_TMP/cli.log" 2>&1 &&
		aws_cli s3 sync "$S3_UP/plain" "s3://$BUCKET/" >>"$TEST_TMP/cli.log" 2>&1 || S3_UP=""
	for coding in gzip xz zstd bzip2 br; do
		[ -n "$S3_UP" ] || break
		aws_cli s3 sync "$S3_UP/encoded/$coding" "s3://$BUCKET/$coding/" --content-encoding "$coding" \
			--content-type text/x-nix-narinfo >>"$TEST_TMP/cli.log" 2>&1 || S3_UP=""
	done
fi

s3_encoded() {
	local coding=$1 root
	[ -z "$S3_MISSING" ] || { skip_because "$S3_MISSING"; return 0; }
	[ -n "$S3_UP" ] || { fail_because "aws s3: $(tail -n 2 "$TEST_TMP/cli.log")"; return 1; }
	root=$(make_tmpdir)/root
	AWS_ACCESS_KEY_ID=$STATIC_KEY AWS_SECRET_ACCESS_KEY=$STATIC_SECRET \
		fetch "$root" --substituter "s3://$BUCKET/$coding?endpoint=$S3_ENDPOINT&region=us-east-1" "$ROOT_PATH" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr")"; return 1; }
	judge "$root" "$TW_DIR/cache-zstd" || return 1
	grep -q "GET /$BUCKET/$coding/$(hash_part "$ROOT_PATH").narinfo 200 relayed $STATIC_KEY" "$PROXY_LOG" ||
		fail_because "no signed narinfo GET in the proxy log"
}
for coding in gzip xz zstd bzip2 br; do
	eval "case_s3_$coding() { s3_encoded $coding; }"
	run_case "S3: objects uploaded with --content-encoding $coding" "case_s3_$coding"
done
