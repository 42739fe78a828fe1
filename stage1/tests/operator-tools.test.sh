#!/usr/bin/env bash
# tools/upload-ami and tools/push-system, without AWS:
# - upload-ami --dry-run prints exactly the expected calls for a fixture
#   image-info.json, and every one of them parses with this machine's AWS CLI;
# - upload-ami for real against a stub `aws` that plays EC2: a fresh run, and
#   re-runs that find the AMI, the tagged snapshot, or a running import;
# - push-system copies a closure real Nix built (in a chroot store) into a
#   file:// cache and into s3rver through `aws s3 sync`, signed so that real
#   Nix accepts it back with the public key; the user-data it prints passes
#   `initrd-provision check-user-data`.
SUITE=operator-tools
. "$(dirname "$0")/lib.sh"

DATA=${IP_TEST_DATA:-$REPO_ROOT/stage1/tests/data}/operator-tools
UPLOAD_AMI=$REPO_ROOT/tools/upload-ami
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

# --- upload-ami --------------------------------------------------------------------

case_upload_dry_run() {
	local out=$TEST_TMP/dry.out
	"$UPLOAD_AMI" --dry-run --bucket my-images --prefix amis --region eu-central-1 \
		"$DATA/image-info.json" >"$out" 2>"$TEST_TMP/dry.err" ||
		{ fail_because "exited $?: $(tail -n1 "$TEST_TMP/dry.err")"; return 1; }
	cmp -s "$out" "$DATA/upload-ami.expected" ||
		{ fail_because "calls differ: $(diff "$DATA/upload-ami.expected" "$out" | head -n 4 | tr '\n' ' ')"; return 1; }
	# The folder form (a build result) gives the same calls.
	local dir
	dir=$(make_tmpdir)
	mkdir -p "$dir/nix-support"
	cp "$DATA/image-info.json" "$dir/nix-support/"
	"$UPLOAD_AMI" --dry-run --bucket my-images --prefix /amis/ --region eu-central-1 "$dir" 2>/dev/null |
		cmp -s - "$DATA/upload-ami.expected" || fail_because "a result folder gives other calls"
}

# Every printed call must be one the AWS CLI accepts: run each through the
# CLI's own driver against a closed port on 127.0.0.1 and reject argument
# errors (a connection error means the arguments parsed).
case_upload_cli_syntax() {
	/usr/bin/python3 -c 'import awscli.clidriver' 2>/dev/null ||
		{ skip_because "Debian's awscli is not importable by /usr/bin/python3"; return 0; }
	"$UPLOAD_AMI" --dry-run --bucket my-images --prefix amis --region eu-central-1 \
		"$DATA/image-info.json" >"$TEST_TMP/syntax.lines" 2>/dev/null || { fail_because "dry run failed"; return 1; }
	local port out
	port=$(free_port)
	out=$(timeout 60 /usr/bin/python3 - "$TEST_TMP/syntax.lines" "$port" <<'EOF'
import contextlib, io, shlex, sys
import awscli.clidriver
bad = []
for line in open(sys.argv[1]):
    args = shlex.split(line)
    if args[:1] != ["aws"]:
        bad.append("not an aws call: " + line.strip()); continue
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = awscli.clidriver.create_clidriver().main(
                args[1:] + ["--endpoint-url", "http://127.0.0.1:" + sys.argv[2], "--cli-connect-timeout", "1"])
        except SystemExit as e:
            rc = e.code
    text = err.getvalue()
    if rc == 252 or any(s in text for s in ("Unknown options", "Error parsing parameter",
            "Invalid choice", "usage:", "Parameter validation failed")):
        bad.append("%s %s: %s" % (args[1], args[2], text.strip().splitlines()[-1] if text.strip() else rc))
print("\n".join(bad))
EOF
	) || { fail_because "validator failed: $out"; return 1; }
	[ -z "$out" ] || fail_because "the AWS CLI rejects: $out"
}

case_upload_refuses() {
	local dir rc
	dir=$(make_tmpdir)
	jq '.boot_mode = "legacy-bios"' "$DATA/image-info.json" >"$dir/bios.json"
	jq '.file = "/nix/store/5n6s5m0jpr5zw8b8y9ax5i1x5iq7k1ci-x/nixos.qcow2"' "$DATA/image-info.json" >"$dir/qcow2.json"
	jq '.disks.boot.file = "/nix/store/5n6s5m0jpr5zw8b8y9ax5i1x5iq7k1ci-x/boot.vhd"' "$DATA/image-info.json" >"$dir/zfs.json"
	jq '.system = "riscv64-linux"' "$DATA/image-info.json" >"$dir/riscv.json"
	local c f want
	for c in "bios.json|UEFI images" "qcow2.json|VHD, raw or VMDK" "zfs.json|two-disk" "riscv.json|no AMI architecture"; do
		f=${c%|*}
		want=${c#*|}
		rc=0
		"$UPLOAD_AMI" --dry-run --bucket b --region r "$dir/$f" >"$dir/out" 2>"$dir/err" || rc=$?
		[ "$rc" = 1 ] && grep -q "$want" "$dir/err" && [ ! -s "$dir/out" ] ||
			{ fail_because "$f: exit $rc, $(cat "$dir/err")"; return 1; }
	done
	rc=0
	"$UPLOAD_AMI" --dry-run --region r "$DATA/image-info.json" >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || { fail_because "no --bucket: exit $rc, want 2"; return 1; }
	rc=0
	"$UPLOAD_AMI" --bucket b --region r "$DATA/image-info.json" >/dev/null 2>"$dir/err" || rc=$?
	[ "$rc" = 1 ] && grep -q 'does not exist' "$dir/err" || fail_because "missing image file: exit $rc"
}

# A stub aws playing EC2 and S3 from files in $STUB.
make_aws_stub() { # DIR
	cat >"$1/aws" <<'EOF'
#!/usr/bin/env bash
echo "$*" >>"$STUB/calls"
case "$1 $2" in
"ec2 describe-images") cat "$STUB/ami" 2>/dev/null || echo None ;;
"ec2 describe-snapshots") cat "$STUB/tagged-snapshot" 2>/dev/null || echo None ;;
"ec2 describe-import-snapshot-tasks")
	if [[ "$*" == *--import-task-ids* ]]; then
		n=$(cat "$STUB/polls" 2>/dev/null || echo 0)
		echo $((n + 1)) >"$STUB/polls"
		if [ "$n" = 0 ]; then printf 'active\tNone\tconverting\n'; else printf 'completed\tsnap-0f00\tNone\n'; fi
	else
		cat "$STUB/tasks" 2>/dev/null || true
	fi
	;;
"s3api head-object")
	if [ -f "$STUB/uploaded" ]; then cat "$STUB/uploaded"; else echo "An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 254; fi
	;;
"s3 cp") stat -c %s "${@: -2:1}" >"$STUB/uploaded" ;;
"ec2 import-snapshot") echo import-snap-0a0a ;;
"ec2 register-image") echo ami-0b0b ;;
"ec2 create-tags" | "s3 rm") ;;
*) echo "stub aws: unexpected call: $*" >&2; exit 99 ;;
esac
EOF
	chmod +x "$1/aws"
}

# upload STUBDIR: runs upload-ami for real against the stub; prints the AMI id.
upload() {
	STUB=$1 AWS_CLI=$1/aws UPLOAD_AMI_POLL_SECONDS=0 \
		"$UPLOAD_AMI" --bucket my-images --region eu-central-1 "$1/image/nix-support/image-info.json" 2>"$1/err"
}
calls() { cut -d' ' -f1,2 "$1/calls" | tr '\n' ','; }

case_upload_idempotent() {
	local s got
	s=$(make_tmpdir)
	make_aws_stub "$s"
	mkdir -p "$s/image/nix-support"
	head -c 4096 /dev/zero >"$s/image/disk.vhd"
	jq --arg f "$s/image/disk.vhd" '.file = $f | .disks.root.file = $f' "$DATA/image-info.json" \
		>"$s/image/nix-support/image-info.json"
	local name
	name="initrd-provision-26.05.20260601.0123abc-x86_64-$(sha256sum "$s/image/disk.vhd" | cut -c1-12)"

	# A first run does everything, in order.
	got=$(upload "$s") || { fail_because "fresh run failed: $(tail -n2 "$s/err")"; return 1; }
	[ "$got" = ami-0b0b ] || { fail_because "fresh run printed '$got'"; return 1; }
	[ "$(calls "$s")" = "ec2 describe-images,ec2 describe-snapshots,ec2 describe-import-snapshot-tasks,s3api head-object,s3 cp,ec2 import-snapshot,ec2 describe-import-snapshot-tasks,ec2 describe-import-snapshot-tasks,ec2 create-tags,s3 rm,ec2 register-image,ec2 create-tags," ] ||
		{ fail_because "fresh run calls: $(calls "$s")"; return 1; }
	grep -q -- "--block-device-mappings DeviceName=/dev/xvda,Ebs={SnapshotId=snap-0f00,VolumeType=gp3,DeleteOnTermination=true}" "$s/calls" &&
		grep -q -- "--name $name " "$s/calls" && grep -q -- "--boot-mode uefi" "$s/calls" &&
		grep -q -- "--imds-support v2.0" "$s/calls" && grep -q -- "--ena-support" "$s/calls" ||
		{ fail_because "register-image arguments: $(grep register-image "$s/calls")"; return 1; }

	# The AMI exists: one call, the same id.
	echo ami-0c0c >"$s/ami"
	: >"$s/calls"
	got=$(upload "$s") && [ "$got" = ami-0c0c ] && [ "$(calls "$s")" = "ec2 describe-images," ] ||
		{ fail_because "AMI exists: printed '$got', calls $(calls "$s")"; return 1; }

	# The snapshot exists (an earlier run died before register-image).
	rm "$s/ami"
	echo snap-0d0d >"$s/tagged-snapshot"
	: >"$s/calls"
	got=$(upload "$s") && [ "$got" = ami-0b0b ] &&
		[ "$(calls "$s")" = "ec2 describe-images,ec2 describe-snapshots,ec2 register-image,ec2 create-tags," ] &&
		grep -q 'SnapshotId=snap-0d0d' "$s/calls" ||
		{ fail_because "snapshot exists: '$got', calls $(calls "$s")"; return 1; }

	# An import is still running: no second upload, it is waited for.
	rm "$s/tagged-snapshot" "$s/polls"
	printf 'import-snap-0e0e\tactive\n' >"$s/tasks"
	: >"$s/calls"
	got=$(upload "$s") && [ "$got" = ami-0b0b ] &&
		[ "$(calls "$s")" = "ec2 describe-images,ec2 describe-snapshots,ec2 describe-import-snapshot-tasks,ec2 describe-import-snapshot-tasks,ec2 describe-import-snapshot-tasks,ec2 create-tags,ec2 register-image,ec2 create-tags," ] &&
		grep -q -- '--import-task-ids import-snap-0e0e' "$s/calls" ||
		{ fail_because "import running: '$got', calls $(calls "$s")"; return 1; }
}

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

run_case upload-ami-dry-run case_upload_dry_run
run_case upload-ami-cli-syntax case_upload_cli_syntax
run_case upload-ami-refuses case_upload_refuses
run_case upload-ami-idempotent case_upload_idempotent
run_case push-system-dry-run case_push_dry_run
run_case push-system-file-cache case_push_file_cache
run_case push-system-s3rver case_push_s3rver
run_case push-system-user-data case_push_user_data_check
