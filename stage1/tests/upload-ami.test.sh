#!/usr/bin/env bash
# tools/upload-ami, without AWS:
# - --dry-run prints exactly the expected calls for a fixture image-info.json,
#   and every one of them is valid for botocore's own API models;
# - refusals: legacy BIOS (and arm64 with it), a VHD (by its footer), qcow2,
#   two-disk images, an unknown system, a missing file;
# - the EBS direct path for real against tools/ec2/ec2-standin (SigV4 checked
#   with botocore; block size, per-block checksums, ChangedBlocksCount, the
#   linear checksum and ClientToken enforced): a sparse 2 GiB image read back
#   from the stand-in and compared with the image byte for byte; an upload
#   killed midway and run again (the same snapshot, finished); a block
#   refused once (retried); an arm64 image; a re-run finding the AMI;
# - the import-snapshot fallback against the stand-in and s3rver.
SUITE=upload-ami
. "$(dirname "$0")/lib.sh"

DATA=${IP_TEST_DATA:-$REPO_ROOT/stage1/tests/data}/operator-tools
UPLOAD_AMI=$REPO_ROOT/tools/upload-ami
STANDIN=$REPO_ROOT/tools/ec2/ec2-standin
PY=/usr/bin/python3
KEY=AKIDUPLOADAMI0000001 SECRET='upload/Ami+Secret000000000000000000000'

if ! $PY -c 'import botocore' 2>/dev/null; then
	echo "SKIP: $SUITE: all: $PY cannot import botocore (Debian package python3-botocore)"
	exit 0
fi
# Hermetic: nothing from ~, no metadata service, no real AWS.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET HOME=$TEST_TMP
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION

upload_ami() { timeout 300 $PY "$UPLOAD_AMI" "$@"; }

# --- dry run ---------------------------------------------------------------------------

case_dry_run() {
	local out=$TEST_TMP/dry.out
	upload_ami --dry-run --region eu-central-1 "$DATA/image-info.json" >"$out" 2>"$TEST_TMP/dry.err" ||
		{ fail_because "exited $?: $(tail -n1 "$TEST_TMP/dry.err")"; return 1; }
	cmp -s "$out" "$DATA/upload-ami.expected" ||
		{ fail_because "calls differ: $(diff "$DATA/upload-ami.expected" "$out" | head -n 4 | tr '\n' ' ')"; return 1; }
	# The folder form (a build result) gives the same calls.
	local dir
	dir=$(make_tmpdir)
	mkdir -p "$dir/nix-support"
	cp "$DATA/image-info.json" "$dir/nix-support/"
	upload_ami --dry-run --region eu-central-1 "$dir" 2>/dev/null |
		cmp -s - "$DATA/upload-ami.expected" || fail_because "a result folder gives other calls"
}

# Every printed call must be one botocore would send: each line's parameters
# validated against the service's model (placeholders stand for ids and
# counts only a real run knows).
validate_calls() { # FILE
	$PY - "$1" <<'EOF'
import json, sys
import botocore.session, botocore.validate
session = botocore.session.get_session()
bad = []
for line in open(sys.argv[1]):
    service, op, params = line.split(" ", 2)
    model = session.get_service_model(service).operation_model(op)
    params = json.loads(params)
    for name, shape in model.input_shape.members.items():
        value = params.get(name)
        if isinstance(value, str) and value.startswith("<") and shape.type_name in ("integer", "long"):
            params[name] = 1  # "<blocks written>" and the like
        elif shape.type_name == "blob" and value is not None:
            params[name] = b""
    report = botocore.validate.ParamValidator().validate(params, model.input_shape)
    if report.has_errors():
        bad.append(f"{op}: {report.generate_report()}")
print("\n".join(bad))
EOF
}

case_api_syntax() {
	local lines=$TEST_TMP/syntax.lines out
	upload_ami --dry-run --region eu-central-1 "$DATA/image-info.json" >"$lines" 2>/dev/null ||
		{ fail_because "dry run failed"; return 1; }
	jq '.file = "/nix/store/5n6s5m0jpr5zw8b8y9ax5i1x5iq7k1ci-x/nixos.vhd"' "$DATA/image-info.json" >"$TEST_TMP/vhd.json"
	upload_ami --dry-run --method import-snapshot --bucket b --region eu-central-1 "$TEST_TMP/vhd.json" \
		>>"$lines" 2>/dev/null || { fail_because "import-snapshot dry run failed"; return 1; }
	grep -q '^ec2 ImportSnapshot .*"Format": "VHD"' "$lines" || { fail_because "no VHD import in the dry run"; return 1; }
	out=$(validate_calls "$lines") || { fail_because "validator failed: $out"; return 1; }
	[ -z "$out" ] || fail_because "botocore rejects: $out"
}

case_refuses() {
	local dir rc
	dir=$(make_tmpdir)
	jq '.boot_mode = "legacy-bios"' "$DATA/image-info.json" >"$dir/bios.json"
	jq '.boot_mode = "legacy-bios" | .system = "aarch64-linux"' "$DATA/image-info.json" >"$dir/armbios.json"
	jq '.file = "/nix/store/5n6s5m0jpr5zw8b8y9ax5i1x5iq7k1ci-x/nixos.vhd"' "$DATA/image-info.json" >"$dir/vhdname.json"
	jq '.file = "/nix/store/5n6s5m0jpr5zw8b8y9ax5i1x5iq7k1ci-x/nixos.qcow2"' "$DATA/image-info.json" >"$dir/qcow2.json"
	jq '.disks.boot.file = "/nix/store/5n6s5m0jpr5zw8b8y9ax5i1x5iq7k1ci-x/boot.img"' "$DATA/image-info.json" >"$dir/zfs.json"
	jq '.system = "riscv64-linux"' "$DATA/image-info.json" >"$dir/riscv.json"
	# A VHD named .img: found by its footer (a VHD upload made AMIs that do
	# not boot: NixOS/amis#123).
	head -c 1048576 /dev/urandom >"$dir/disk.img"
	printf 'conectix' | dd of="$dir/disk.img" bs=1 seek=$((1048576 - 512)) conv=notrunc status=none
	jq --arg f "$dir/disk.img" '.file = $f | .disks.root.file = $f' "$DATA/image-info.json" >"$dir/vhd.json"
	local c f want
	for c in "bios.json|UEFI images" "armbios.json|Graviton instances boot UEFI only" \
		"vhdname.json|needs a raw image" "qcow2.json|needs a raw image" "zfs.json|two-disk" \
		"riscv.json|no AMI architecture" "vhd.json|this is a VHD image, not a raw one"; do
		f=${c%|*}
		want=${c#*|}
		rc=0
		upload_ami --dry-run --region r "$dir/$f" >"$dir/out" 2>"$dir/err" || rc=$?
		[ "$rc" = 1 ] && grep -q "$want" "$dir/err" && [ ! -s "$dir/out" ] ||
			{ fail_because "$f: exit $rc, $(cat "$dir/err")"; return 1; }
	done
	rc=0
	upload_ami --dry-run --method import-snapshot --region r "$DATA/image-info.json" >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || { fail_because "import-snapshot without --bucket: exit $rc, want 2"; return 1; }
	rc=0
	upload_ami --region r "$DATA/image-info.json" >/dev/null 2>"$dir/err" || rc=$?
	[ "$rc" = 1 ] && grep -q 'does not exist' "$dir/err" || fail_because "missing image file: exit $rc"
}

# --- against the stand-in ---------------------------------------------------------------

STANDIN_PID=""
stop_standin() { [ -z "$STANDIN_PID" ] || { kill "$STANDIN_PID" 2>/dev/null; wait "$STANDIN_PID" 2>/dev/null; STANDIN_PID=""; }; }
at_exit stop_standin
# start_standin ARGS...: a fresh stand-in (SD: its data, SLOG: its log, EP: its URL).
start_standin() {
	stop_standin
	SD=$(make_tmpdir)
	SLOG=$SD/log
	$PY "$STANDIN" --data "$SD/data" --credentials "$KEY=$SECRET" --port-file "$SD/port" --log "$SLOG" \
		--complete-delay 0.3 "$@" 2>"$SD/err" &
	STANDIN_PID=$!
	for _ in $(seq 100); do [ -s "$SD/port" ] && break; sleep 0.05; done
	[ -s "$SD/port" ] || { fail_because "ec2-standin did not start: $(cat "$SD/err")"; return 1; }
	EP=http://127.0.0.1:$(cat "$SD/port")
}

# A sparse 2 GiB raw image, 4 KiB short of 2 GiB so that its last block is
# padded: data in block 0 (partial), 3 MB across blocks 2048-2054 at an odd
# offset, a block written with zeros (must not be sent), the last bytes.
IMG=""
make_image() {
	[ -n "$IMG" ] && return 0
	IMG=$TEST_TMP/image
	mkdir -p "$IMG/nix-support"
	$PY - "$IMG/disk.img" <<'EOF'
import os, random, sys
size = 2 * 1024**3 - 4096
rnd = random.Random(19)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.ftruncate(fd, size)
os.pwrite(fd, rnd.randbytes(100000), 0)
os.pwrite(fd, rnd.randbytes(3000000), 1024**3 + 12345)
os.pwrite(fd, bytes(524288), 524288 * 100)
os.pwrite(fd, rnd.randbytes(1000), size - 1000)
os.close(fd)
EOF
	jq -n --arg f "$IMG/disk.img" '{label: "26.05.test", boot_mode: "uefi", system: "x86_64-linux", file: $f}' \
		>"$IMG/nix-support/image-info.json"
}

run_upload() { # ARGS...: a real run against the stand-in; AMI, RC, $TEST_TMP/up.err
	RC=0
	AMI=$(upload_ami --region us-east-1 --endpoint-url "$EP" --poll 0.1 "$@" 2>"$TEST_TMP/up.err") || RC=$?
}

# readback SNAPSHOT IMAGE: the snapshot as the stand-in keeps it equals the
# image zero-padded to the volume size, byte for byte (every block it holds
# matches; every block it lacks is zero in the image).
readback() {
	$PY - "$SD/data" "$1" "$2" <<'EOF'
import json, os, sys
data, snap, image = sys.argv[1:]
B = 524288
state = json.load(open(os.path.join(data, "state.json")))["snapshots"][snap]
if state["status"] not in ("completed", "completing"):
    sys.exit(f"snapshot is {state['status']}")
stored = {int(n) for n in os.listdir(os.path.join(data, snap)) if n.isdigit()}
size = os.path.getsize(image)
if state["volume_size"] * 1024**3 < size:
    sys.exit("volume smaller than the image")
fd = os.open(image, os.O_RDONLY)
def image_block(i):
    b = os.pread(fd, B, i * B)
    return b + bytes(B - len(b))
for i in sorted(stored):
    with open(os.path.join(data, snap, str(i)), "rb") as f:
        if f.read() != image_block(i):
            sys.exit(f"block {i} differs from the image")
# blocks not stored: zero in the image (holes are; data extents are read)
pos = 0
while pos < size:
    try:
        start = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fd, start, os.SEEK_HOLE)
    for i in range(start // B, (end + B - 1) // B):
        if i not in stored and image_block(i).strip(b"\0"):
            sys.exit(f"block {i} has data but the snapshot lacks it")
    pos = end
print(len(stored))
EOF
}

snapshot_of() { jq -r --arg a "$1" '.images[$a]["BlockDeviceMapping.1.Ebs.SnapshotId"]' "$SD/data/state.json"; }

case_ebs_sparse_2g() {
	make_image
	start_standin || return 1
	local t0=$SECONDS
	run_upload --name sparse-test "$IMG"
	[ "$RC" = 0 ] || { fail_because "exit $RC: $(tail -n 2 "$TEST_TMP/up.err")"; return 1; }
	[[ "$AMI" == ami-* ]] || { fail_because "printed '$AMI'"; return 1; }
	local snap n
	snap=$(snapshot_of "$AMI")
	n=$(readback "$snap" "$IMG/disk.img") || { fail_because "read back: $n"; return 1; }
	# blocks 0, 2048-2053 (3 MB from 1 GiB + 12345), 4095; not block 100 (zeros)
	[ "$n" = 8 ] || { fail_because "$n blocks written, want 8"; return 1; }
	grep -q "PutSnapshotBlock $snap 100 " "$SLOG" && { fail_because "an all-zero block was sent"; return 1; }
	grep -q "CompleteSnapshot $snap blocks=8 checksum=yes -> 202" "$SLOG" ||
		{ fail_because "no accepted CompleteSnapshot with the checksum: $(grep Complete "$SLOG")"; return 1; }
	jq -e --arg a "$AMI" '.images[$a] | .Architecture == "x86_64" and .BootMode == "uefi" and
		.EnaSupport == "true" and .ImdsSupport == "v2.0" and .VirtualizationType == "hvm" and
		.["BlockDeviceMapping.1.Ebs.VolumeType"] == "gp3" and .RootDeviceName == "/dev/xvda"' \
		"$SD/data/state.json" >/dev/null || { fail_because "RegisterImage parameters: $(jq -c ".images" "$SD/data/state.json")"; return 1; }
	echo "upload of a sparse 2 GiB image: $((SECONDS - t0)) s" >&2
	# Run again: the AMI is found, nothing else is done.
	: >"$SLOG"
	local first=$AMI
	run_upload --name sparse-test "$IMG"
	[ "$RC" = 0 ] && [ "$AMI" = "$first" ] && [ "$(cut -d' ' -f2 "$SLOG" | tr '\n' ,)" = "DescribeImages," ] ||
		fail_because "re-run: exit $RC, '$AMI', calls $(cut -d' ' -f2 "$SLOG" | tr '\n' ,)"
}

# --dry-run with the image there prints every call: one PutSnapshotBlock per
# non-zero block, the real count and linear checksum, and sends nothing.
case_dry_run_prints_every_block() {
	make_image
	start_standin || return 1
	local out=$TEST_TMP/dry-real.out idx
	upload_ami --dry-run --region us-east-1 --endpoint-url "$EP" --name dry-test "$IMG" >"$out" 2>/dev/null ||
		{ fail_because "dry run failed"; return 1; }
	idx=$(sed -n 's/^ebs PutSnapshotBlock .*"BlockIndex": \([0-9]*\).*/\1/p' "$out" | sort -n | tr '\n' ' ')
	[ "$idx" = "0 2048 2049 2050 2051 2052 2053 4095 " ] || { fail_because "blocks printed: $idx"; return 1; }
	grep -q '^ebs CompleteSnapshot .*"ChangedBlocksCount": 8, "Checksum": "[A-Za-z0-9+/]\{43\}=",' "$out" ||
		{ fail_because "CompleteSnapshot line: $(grep CompleteSnapshot "$out")"; return 1; }
	[ ! -s "$SLOG" ] || { fail_because "the dry run sent requests: $(head -n 2 "$SLOG")"; return 1; }
	local bad
	bad=$(validate_calls "$out") && [ -z "$bad" ] || fail_because "botocore rejects: $bad"
}

case_interrupted_upload_resumes() {
	make_image
	start_standin --block-delay 0.4 || return 1
	$PY "$UPLOAD_AMI" --region us-east-1 --endpoint-url "$EP" --poll 0.1 --jobs 2 --name resume-test "$IMG" \
		>/dev/null 2>"$TEST_TMP/first.err" &
	local pid=$! i
	for i in $(seq 200); do
		[ "$(grep -c 'PutSnapshotBlock .* -> 201' "$SLOG")" -ge 2 ] && break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	local written
	written=$(grep -c 'PutSnapshotBlock .* -> 201' "$SLOG")
	[ "$written" -ge 2 ] && [ "$written" -lt 8 ] && ! grep -q CompleteSnapshot "$SLOG" ||
		{ fail_because "the first run was not cut midway ($written blocks written)"; return 1; }
	run_upload --name resume-test "$IMG"
	[ "$RC" = 0 ] || { fail_because "second run: exit $RC: $(tail -n 2 "$TEST_TMP/up.err")"; return 1; }
	local snap n
	snap=$(snapshot_of "$AMI")
	[ "$(jq '.snapshots | length' "$SD/data/state.json")" = 1 ] ||
		{ fail_because "a second snapshot was started"; return 1; }
	grep -q "StartSnapshot .* -> $snap (idempotent)" "$SLOG" ||
		{ fail_because "the second StartSnapshot did not get the first snapshot back"; return 1; }
	n=$(readback "$snap" "$IMG/disk.img") || { fail_because "read back: $n"; return 1; }
	[ "$n" = 8 ] || fail_because "$n blocks in the snapshot, want 8"
}

case_block_refused_once_is_retried() {
	make_image
	start_standin --fail-block 2050 || return 1
	run_upload --name retry-test "$IMG"
	[ "$RC" = 0 ] || { fail_because "exit $RC: $(tail -n 2 "$TEST_TMP/up.err")"; return 1; }
	grep -q "PutSnapshotBlock snap-[0-9a-f]* 2050 -> 500" "$SLOG" &&
		grep -q "PutSnapshotBlock snap-[0-9a-f]* 2050 -> 201" "$SLOG" ||
		{ fail_because "block 2050 was not refused and then written: $(grep ' 2050 ' "$SLOG")"; return 1; }
	grep -q "block 2050: InternalServerException" "$TEST_TMP/up.err" ||
		{ fail_because "the retry was not said"; return 1; }
	local n
	n=$(readback "$(snapshot_of "$AMI")" "$IMG/disk.img") || fail_because "read back: $n"
}

case_arm64_image() {
	start_standin || return 1
	local dir
	dir=$(make_tmpdir)
	head -c 700000 /dev/urandom >"$dir/disk.img"
	jq -n --arg f "$dir/disk.img" '{label: "arm", boot_mode: "uefi", system: "aarch64-linux", file: $f}' >"$dir/info.json"
	run_upload "$dir/info.json"
	[ "$RC" = 0 ] || { fail_because "exit $RC: $(tail -n 2 "$TEST_TMP/up.err")"; return 1; }
	jq -e --arg a "$AMI" '.images[$a] | .Architecture == "arm64" and .BootMode == "uefi" and (.Name | test("-arm64-"))' \
		"$SD/data/state.json" >/dev/null || { fail_because "registered $(jq -c ".images" "$SD/data/state.json")"; return 1; }
	local n
	n=$(readback "$(snapshot_of "$AMI")" "$dir/disk.img") && [ "$n" = 2 ] || fail_because "read back: $n"
}

case_wrong_secret_is_refused() {
	make_image
	start_standin || return 1
	RC=0
	AWS_SECRET_ACCESS_KEY=wrong upload_ami --region us-east-1 --endpoint-url "$EP" --name wrong-key "$IMG" \
		>/dev/null 2>"$TEST_TMP/up.err" || RC=$?
	[ "$RC" = 1 ] && grep -q "InvalidSignatureException" "$TEST_TMP/up.err" ||
		fail_because "exit $RC: $(tail -n 1 "$TEST_TMP/up.err")"
}

case_import_snapshot_fallback() {
	. "$(dirname "$0")/s3-lib.sh"
	if [ ! -f "$S3DIR/node_modules/s3rver/bin/s3rver.js" ]; then
		skip_because "s3rver is not installed in tools/s3/node_modules (run tools/deps.sh)"; return 0
	fi
	s3_start --credentials "$KEY=$SECRET" --bucket images
	start_standin || return 1
	local dir
	dir=$(make_tmpdir)
	head -c 200000 /dev/urandom >"$dir/disk.vhd"
	jq -n --arg f "$dir/disk.vhd" '{label: "imp", boot_mode: "uefi", system: "x86_64-linux", file: $f}' >"$dir/info.json"
	run_upload --method import-snapshot --bucket images --prefix amis --keep-upload \
		--s3-endpoint-url "$S3_ENDPOINT" --name import-test "$dir/info.json"
	[ "$RC" = 0 ] || { fail_because "exit $RC: $(tail -n 2 "$TEST_TMP/up.err")"; return 1; }
	grep -q "ImportSnapshot VHD s3://images/amis/import-test.vhd" "$SLOG" ||
		{ fail_because "no import of the upload: $(grep Import "$SLOG")"; return 1; }
	cmp -s "$dir/disk.vhd" "$S3_DATA_DIR/images/amis/import-test.vhd/object" ||
		cmp -s "$dir/disk.vhd" "$(find "$S3_DATA_DIR" -path '*import-test.vhd*' -type f -name '*object*' | head -n1)" ||
		{ fail_because "the object in s3rver differs from the image: $(find "$S3_DATA_DIR" -type f | head -n 3)"; return 1; }
	jq -e --arg a "$AMI" '.images[$a].Architecture == "x86_64"' "$SD/data/state.json" >/dev/null ||
		fail_because "no AMI registered"
}

run_case dry-run case_dry_run
run_case api-syntax case_api_syntax
run_case refuses case_refuses
run_case ebs-sparse-2g case_ebs_sparse_2g
run_case dry-run-prints-every-block case_dry_run_prints_every_block
run_case interrupted-upload-resumes case_interrupted_upload_resumes
run_case block-refused-once-is-retried case_block_refused_once_is_retried
run_case arm64-image case_arm64_image
run_case wrong-secret-is-refused case_wrong_secret_is_refused
run_case import-snapshot-fallback case_import_snapshot_fallback
