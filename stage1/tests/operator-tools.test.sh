#!/usr/bin/env bash
# tools/push-system, without AWS (tools/upload-ami: upload-ami.test.sh):
# - push-system copies a closure real Nix built (in a chroot store) into a
#   file:// cache and into s3rver through `aws s3 sync`, signed so that real
#   Nix accepts it back with the public key; the user-data it prints passes
#   `initrd-provision check-user-data`.
SUITE=operator-tools
. "$(dirname "$0")/lib.sh"

DATA=${IP_TEST_DATA:-$REPO_ROOT/stage1/tests/data}/operator-tools
PUSH_SYSTEM=$REPO_ROOT/tools/push-system

# Hermetic Nix and AWS CLI: nothing from ~, no metadata service, no real AWS.
export NIX_STATE_DIR=$TEST_TMP/nix-state NIX_CONF_DIR=$TEST_TMP/nix-conf NIX_LOG_DIR=$TEST_TMP/nix-log
export HOME=$TEST_TMP/home XDG_CACHE_HOME=$TEST_TMP/cache NIX_PATH=
mkdir -p "$NIX_STATE_DIR" "$NIX_CONF_DIR" "$HOME"
printf 'build-users-group =\nsubstituters =\n' >"$NIX_CONF_DIR/nix.conf"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
# Debian's CLI (the one on PATH may be a pyenv shim).
AWS_REAL=$(command -v aws || true)
[ ! -x /usr/bin/aws ] || AWS_REAL=/usr/bin/aws

NIXC=(nix --extra-experimental-features nix-command)

# --- push-system ---------------------------------------------------------------------

CLOSURE="" CHROOT=""
# Builds a two-path closure with real Nix into a chroot store (the builder's
# /bin/sh is busybox-static, bind-mounted by the sandbox).
build_closure() {
	[ -n "$CLOSURE" ] && return 0
	command -v nix-build >/dev/null || { CLOSURE=none; CLOSURE_WHY="nix-build not installed"; return 0; }
	[ -x /bin/busybox ] || { CLOSURE=none; CLOSURE_WHY="/bin/busybox (busybox-static) not installed"; return 0; }
	CHROOT=$TEST_TMP/chroot
	cat >"$TEST_TMP/closure.nix" <<'EOF'
let
  dep = derivation { name = "ip-push-dep"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo dependency > $out" ]; };
in
derivation {
  name = "ip-push-system";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "mkdir $out && echo ${dep} > $out/dep && echo '#!/bin/sh' > $out/init" ];
}
EOF
	CLOSURE=$(timeout 120 nix-build --store "local?root=$CHROOT" --option sandbox-paths /bin/sh=/bin/busybox \
		--no-out-link "$TEST_TMP/closure.nix" 2>"$TEST_TMP/build.err") || {
		CLOSURE=none
		CLOSURE_WHY="nix-build in a chroot store failed: $(tail -n1 "$TEST_TMP/build.err")"
	}
	"${NIXC[@]}" key generate-secret --key-name push-test-1 >"$TEST_TMP/secret.key"
	PUBKEY=$("${NIXC[@]}" key convert-secret-to-public <"$TEST_TMP/secret.key")
}

# verify_cache URL: real Nix copies the closure back from URL into a fresh
# chroot store, which it only does when every path carries a good signature.
verify_cache() {
	local into
	into=$(make_tmpdir)
	timeout 60 "${NIXC[@]}" copy --from "$1" --to "local?root=$into" \
		--option trusted-public-keys "$PUBKEY" --option require-sigs true "$CLOSURE" >/dev/null 2>"$into.err" ||
		{ echo "nix copy back: $(grep -m1 error "$into.err")"; return 1; }
	# And without the key it must refuse.
	if timeout 60 "${NIXC[@]}" copy --from "$1" --to "local?root=$into-nokey" \
		--option trusted-public-keys "other-1:rYqs8g7W2FzmO6N07LVwSdpHXDOmP0FfIpzXsT0nDlk=" \
		--option require-sigs true "$CLOSURE" >/dev/null 2>&1; then
		echo "nix accepted the closure without the signing key"
		return 1
	fi
}

case_push_dry_run() {
	build_closure
	local out
	out=$("$PUSH_SYSTEM" --dry-run --cache 's3://nix-cache/fleet?region=eu-central-1' --endpoint http://s3.example.net \
		--key-file "$TEST_TMP/secret.key" --method sync --staging /tmp/stage \
		/nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system-web-26.05 2>&1) || { fail_because "exit $?: $out"; return 1; }
	local want1="nix --extra-experimental-features 'nix-command flakes' copy --to 'file:///tmp/stage?secret-key=$TEST_TMP/secret.key&compression=zstd' /nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system-web-26.05"
	local want2="aws s3 sync --size-only --region eu-central-1 --only-show-errors --endpoint-url http://s3.example.net /tmp/stage s3://nix-cache/fleet"
	grep -qxF -- "$want1" <<<"$out" && grep -qxF -- "$want2" <<<"$out" ||
		{ fail_because "commands: $(grep -E '^(nix|aws|mkdir) ' <<<"$out" | tr '\n' '|')"; return 1; }
	grep -qx 'system = /nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system-web-26.05' <<<"$out" &&
		grep -qF '"UserData": "' <<<"$out" && grep -qF "substituters = [ \"s3://nix-cache/fleet?region=eu-central-1&endpoint=http://s3.example.net\" ];" <<<"$out" ||
		{ fail_because "user-data or snippets missing"; return 1; }
	# The launch template's UserData is the user-data, base64.
	local ud b64
	ud=$("$PUSH_SYSTEM" --dry-run --user-data-only --cache 's3://nix-cache?region=eu-central-1' --key-file "$TEST_TMP/secret.key" \
		/nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system-web-26.05 2>/dev/null | grep -v '^nix \|^aws \|^mkdir ')
	b64=$("$PUSH_SYSTEM" --dry-run --cache 's3://nix-cache?region=eu-central-1' --key-file "$TEST_TMP/secret.key" \
		/nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system-web-26.05 2>/dev/null |
		sed -n 's/^  "UserData": "\(.*\)"$/\1/p')
	[ "$(printf '%s' "$b64" | base64 -d)" = "$ud" ] || { fail_because "UserData is not the user-data"; return 1; }
	# Refusals.
	local rc=0
	"$PUSH_SYSTEM" --cache 's3://b?region=r&secret-key=/k' --key-file "$TEST_TMP/secret.key" /nix/store/x >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || { fail_because "secret-key in --cache: exit $rc"; return 1; }
	rc=0
	"$PUSH_SYSTEM" --cache 's3://b' --key-file "$TEST_TMP/secret.key" --dry-run /etc/passwd >/dev/null 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail_because "not a store path: exit $rc"
}

case_push_file_cache() {
	build_closure
	[ "$CLOSURE" != none ] || { skip_because "$CLOSURE_WHY"; return 0; }
	local cache out
	cache=$(make_tmpdir)/cache
	out=$(timeout 120 "$PUSH_SYSTEM" --cache "file://$cache" --key-file "$TEST_TMP/secret.key" \
		--from "local?root=$CHROOT" --out "$TEST_TMP/push-out" "$CLOSURE" 2>"$TEST_TMP/push.err") ||
		{ fail_because "push-system failed: $(tail -n2 "$TEST_TMP/push.err")"; return 1; }
	[ "$(ls "$cache"/*.narinfo | wc -l)" = 2 ] || { fail_because "cache holds $(ls "$cache" | tr '\n' ' ')"; return 1; }
	grep -q '^Sig: push-test-1:' "$cache/$(basename "$CLOSURE" | cut -c1-32).narinfo" || { fail_because "narinfo not signed"; return 1; }
	local why
	why=$(verify_cache "file://$cache") || { fail_because "$why"; return 1; }
	[ "$(cat "$TEST_TMP/push-out/user-data.txt")" = "# initrd-provision user-data (written by push-system)
system = $CLOSURE" ] || { fail_because "user-data: $(cat "$TEST_TMP/push-out/user-data.txt")"; return 1; }
	jq -e --arg ud "$(base64 -w0 <"$TEST_TMP/push-out/user-data.txt")" '.UserData == $ud and .MetadataOptions.HttpTokens == "required"' \
		"$TEST_TMP/push-out/launch-template-data.json" >/dev/null || fail_because "launch-template-data.json"
}

S3RVER=${IP_S3RVER:-$REPO_ROOT/tools/s3/node_modules/.bin/s3rver}
s3rver_pid=""
stop_s3rver() { [ -z "$s3rver_pid" ] || kill "$s3rver_pid" 2>/dev/null; }
at_exit stop_s3rver

case_push_s3rver() {
	[ -x "$S3RVER" ] || { skip_because "s3rver not installed (tools/s3 of branch aws, then make deps)"; return 0; }
	[ -n "$AWS_REAL" ] || { skip_because "aws (AWS CLI) not installed"; return 0; }
	build_closure
	[ "$CLOSURE" != none ] || { skip_because "$CLOSURE_WHY"; return 0; }
	local port dir
	port=$(free_port)
	dir=$(make_tmpdir)
	"$S3RVER" -d "$dir/s3" -a 127.0.0.1 -p "$port" -s --configure-bucket nixcache >"$dir/s3rver.log" 2>&1 &
	s3rver_pid=$!
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	local endpoint=http://127.0.0.1:$port out
	out=$(AWS_CLI=$AWS_REAL timeout 120 "$PUSH_SYSTEM" --cache 's3://nixcache/fleet?region=us-east-1' --endpoint "$endpoint" \
		--key-file "$TEST_TMP/secret.key" --from "local?root=$CHROOT" --include-key --include-substituter \
		--out "$dir/out" "$CLOSURE" 2>"$dir/push.err") ||
		{ fail_because "push-system failed: $(tail -n3 "$dir/push.err")"; return 1; }
	grep -q 'using --method' "$dir/push.err" || { fail_because "no method chosen: $(cat "$dir/push.err")"; return 1; }
	# Read the cache back through S3 and let real Nix judge it.
	timeout 60 "$AWS_REAL" s3 sync --only-show-errors --endpoint-url "$endpoint" --region us-east-1 \
		s3://nixcache/fleet "$dir/down" 2>"$dir/down.err" || { fail_because "aws s3 sync down: $(cat "$dir/down.err")"; return 1; }
	[ -f "$dir/down/nix-cache-info" ] && [ "$(ls "$dir/down"/*.narinfo | wc -l)" = 2 ] ||
		{ fail_because "bucket holds $(ls "$dir/down" | tr '\n' ' ')"; return 1; }
	local why
	why=$(verify_cache "file://$dir/down") || { fail_because "$why"; return 1; }
	grep -qx "substituters = s3://nixcache/fleet?region=us-east-1&endpoint=$endpoint" "$dir/out/user-data.txt" &&
		grep -qx "trusted-public-keys = $PUBKEY" "$dir/out/user-data.txt" ||
		fail_because "user-data: $(cat "$dir/out/user-data.txt")"
}

# The user-data push-system prints is what the initrd accepts.
case_push_user_data_check() {
	local bin=$IP_BIN out rc=0
	[ -x "$bin" ] || { skip_because "$bin not built (make test-build)"; return 0; }
	local sys=/nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system-web-26.05 ud=$TEST_TMP/ud.txt
	[ -s "$TEST_TMP/secret.key" ] || "${NIXC[@]}" key generate-secret --key-name push-test-1 >"$TEST_TMP/secret.key"
	"$PUSH_SYSTEM" --dry-run --user-data-only --include-key --include-substituter \
		--cache 's3://nix-cache/fleet?region=eu-central-1' --key-file "$TEST_TMP/secret.key" "$sys" 2>/dev/null |
		grep -v '^nix \|^aws \|^mkdir ' >"$ud"
	out=$("$bin" check-user-data --allow-user-data-substituters --allow-user-data-keys "$ud" 2>&1) || rc=$?
	if grep -q "not implemented yet\|unknown command 'check-user-data'" <<<"$out"; then
		skip_because "initrd-provision check-user-data not implemented yet (branch aws)"
		return 0
	fi
	[ "$rc" = 0 ] && grep -q "^would boot $sys from substituters \[s3://nix-cache/fleet?region=eu-central-1\]" <<<"$out" &&
		grep -q "trusting keys \[push-test-1:" <<<"$out" ||
		{ fail_because "check-user-data (exit $rc): $out"; return 1; }
	# The plain form too (the image's caches and keys).
	"$PUSH_SYSTEM" --dry-run --user-data-only --cache 's3://nix-cache?region=eu-central-1' \
		--key-file "$TEST_TMP/secret.key" "$sys" 2>/dev/null | grep -v '^nix \|^aws \|^mkdir ' >"$ud"
	out=$("$bin" check-user-data "$ud" 2>&1) && grep -q "^would boot $sys from the image's substituters" <<<"$out" ||
		fail_because "check-user-data (plain): $out"
}

run_case push-system-dry-run case_push_dry_run
run_case push-system-file-cache case_push_file_cache
run_case push-system-s3rver case_push_s3rver
run_case push-system-user-data case_push_user_data_check
