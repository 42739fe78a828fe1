# Whole-boot test harness (sourced by qemu-tests/*.test.sh).  Builds the test
# world once, starts the servers the guest talks to, boots QEMU with a hard
# time limit and judges the serial log and the disk.  Same PASS/FAIL/SKIP
# protocol as stage1/tests/lib.sh (sourced below: run_case, fail_because,
# skip_because, make_tmpdir, at_exit, free_port).
#
#   SUITE=name; . "$(dirname "$0")/lib.sh"
#   qemu_world || exit 0          # build/load the world (prints a SKIP/FAIL line when it cannot)
#   run_case NAME FUNCTION
#
# The world ($IP_BUILD/qemu-world, cached by content):
#   systems/      tools/qemu-systems/build: BUILTIN_SYSTEM, TARGET_SYSTEM,
#                 OTHERKERNEL_SYSTEM, caches, keys (see its systems.env)
#   initrd.img    tools/mkinitrd: modules, busybox, initrd-provision
#                 ($IP_STATIC_BIN, when built) and initrd-provision.conf
#   disk.img      tools/mkdisk: ext4 root (label nixos) with the built-in system
#   disk-uefi.img tools/mkdisk --uefi (made on first use: qemu_world_uefi)
#
# Guest network (QEMU user mode, restrict=on, nothing else reachable):
#   169.254.169.254:80 -> mock IMDS on 127.0.0.1:$IMDS_PORT   (start_imds)
#   169.254.169.250:80 -> cache on 127.0.0.1:$CACHE_PORT      (start_cache_http / start_cache_s3)
# Each forward is `guestfwd=...-cmd:busybox nc 127.0.0.1 PORT`, one process
# per guest connection.  (A `tcp:` chardev forward carries only the first
# connection, and two chardev forwards to the same guest port collide in
# QEMU 7.2: "duplicate yank instance".)
#
# Booting: boot_qemu NAME [options]  -> BOOT_LOG BOOT_STATUS BOOT_SECONDS BOOT_STAGE2_UPTIME
# Judging: assert_log_contains / assert_log_lacks / assert_boot_exited /
#          assert_stage2_ok / disk_judge / disk_cat / report_field
# Timings: record_time CASE  (appends to $IP_BUILD/test-logs/qemu-times.tsv)
# Knobs:   IP_QEMU_TIMEOUT (s, default 120), IP_QEMU_ACCEL (default tcg),
#          IP_QEMU_WORLD (default $IP_BUILD/qemu-world), IP_KEEP_TMP=1,
#          IP_MOCK_IMDS (default tools/mock-imds).
#          IP_QEMU_ARCH=aarch64 (Graviton, issue 17; set before sourcing): the
#          same world and scenarios on qemu-system-aarch64 -machine virt with
#          AAVMF, Debian's arm64 kernel and busybox (tools/arm64-root), the
#          aarch64 static binary (in ${IP_AARCH64_DIR:-$IP_BUILD/static-aarch64});
#          world in $IP_BUILD/qemu-world-aarch64.
set -u
QEMU_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$QEMU_TESTS_DIR/../stage1/tests/lib.sh"
QEMU_ARCH=${IP_QEMU_ARCH:-x86_64}
# Per architecture: QEMU, machine, the console stage 1 and the banner go to
# (console= names it; EC2 Graviton's is ttyS0, QEMU virt's a PL011 ttyAMA0),
# UEFI firmware (pflash CODE + a per-run VARS copy), how to run the static
# binary here, and the world's extra tool arguments (set by qemu_world).
INITRD_ARGS=() MKDISK_ARGS=() RUN_STATIC=()
if [ "$QEMU_ARCH" = aarch64 ]; then
	# Not IP_STATIC_BIN: make check sets that to the x86_64 binary for everyone.
	IP_STATIC_BIN=${IP_AARCH64_DIR:-$IP_BUILD/static-aarch64}/initrd-provision
	QW=${IP_QEMU_WORLD:-$IP_BUILD/qemu-world-aarch64}
	QEMU_SYSTEM=qemu-system-aarch64
	# pauth-impdef: the architected pointer authentication is ~3x slower
	# under TCG (QEMU docs/system/arm/cpu-features.rst).
	QEMU_MACHINE=(-machine virt -cpu max,pauth-impdef=on)
	GUEST_CONSOLE=ttyAMA0
	FW_CODE=/usr/share/AAVMF/AAVMF_CODE.fd FW_VARS=/usr/share/AAVMF/AAVMF_VARS.fd
	RUN_STATIC=(qemu-aarch64-static)
	ARM64_ROOT_DIR=$IP_BUILD/arm64-root
else
	: "${IP_STATIC_BIN:=$IP_BUILD/static/initrd-provision}"
	QW=${IP_QEMU_WORLD:-$IP_BUILD/qemu-world}
	QEMU_SYSTEM=qemu-system-x86_64
	QEMU_MACHINE=(-machine q35)
	GUEST_CONSOLE=ttyS0,115200n8
	FW_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd FW_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
fi
export IP_STATIC_BIN # tools/qemu-systems/build bakes it into the kexec initrd
QEMU_TIMEOUT=${IP_QEMU_TIMEOUT:-120}
QEMU_ACCEL=${IP_QEMU_ACCEL:-tcg}
QEMU_MEM=512
IMDS_ADDR=169.254.169.254
CACHE_ADDR=169.254.169.250
GUEST_HTTP_CACHE=http://$CACHE_ADDR
QEMU_LOG_DIR=$IP_BUILD/test-logs/qemu
TIMES_FILE=$IP_BUILD/test-logs/qemu-times.tsv
mkdir -p "$QEMU_LOG_DIR"
MOCK_IMDS=${IP_MOCK_IMDS:-$REPO_ROOT/tools/mock-imds}
HOST_BUSYBOX=/bin/busybox
[ -x "$HOST_BUSYBOX" ] || HOST_BUSYBOX=/usr/bin/busybox

# The serial-console and report vocabulary the scenarios assert on, in one
# place.  Console lines are fixed by the boot contract; report field names
# are this harness's reading of issue 6 ("outcome, the source of the
# decision, per-phase timings, bytes and paths fetched, retries") and must
# match what `initrd-provision boot` writes (adjust here, not in the tests).
FAILED_BANNER_RE='initrd-provision: FAILED [^:]+: .*; booting built-in system'
REPORT_FILE_ON_DISK=/var/log/initrd-provision/report.json
REPORT_OUTCOME=outcome          # "provisioned" | "builtin" | "failed"
REPORT_SOURCE=source            # "user-data" | "tag" | "cmdline" | "none"
REPORT_SYSTEM=system            # the store path handed over
REPORT_NARS_FETCHED=paths_fetched
REPORT_BYTES_FETCHED=bytes_fetched
REPORT_TIMINGS=timings          # object: link lease imds resolve download unpack register fetch total (seconds)
REPORT_RETRIES=retries
# Console phase lines (contract: "link up, lease, IMDS, user-data (source:
# ...), closure resolved (N paths, X MiB), progress, verified, hand-off"),
# matched case-insensitively on lines from initrd-provision.
PHASE_RE_LINK='^initrd-provision: .*link.*up'
PHASE_RE_LEASE='^initrd-provision: .*lease'
PHASE_RE_IMDS='^initrd-provision: .*imds'
PHASE_RE_SOURCE='^initrd-provision: .*source:? *' # + user-data | tag | cmdline | none
PHASE_RE_RESOLVED='^initrd-provision: .*resolved' # + N paths
PHASE_RE_VERIFIED='^initrd-provision: .*verified'
PHASE_RE_HANDOFF='^initrd-provision: .*hand-?off'
# A progress line while NARs are on the wire (scenario 8 can also cut the
# power on the cache log instead).
PHASE_RE_PROGRESS='^initrd-provision: .*progress'
# The mock IMDS's command line (tools/mock-imds, issue 4): the harness passes
# --port 0 --port-file F, then --user-data-file F and --role R, and these
# misbehaviour flags for scenario 6 (401 on the first use of a fresh token,
# then 500 for the first requests):
IMDS_FLAKY_ARGS=(--reject-fresh-token-once --fail-first 3)
# Extra mock-IMDS arguments the S3 cache needs (role credentials the S3
# stand-in accepts); set by start_cache_s3.
IMDS_ROLE_ARGS=(--role qemu-test-role)

# --- processes ---------------------------------------------------------------
_QEMU_PIDS=""
_SERVER_PIDS=""
_qemu_lib_cleanup() {
	local p
	for p in $_QEMU_PIDS $_SERVER_PIDS; do
		kill -9 "$p" 2>/dev/null || true
		# Reaping it here keeps bash from printing "Killed" for the job.
		wait "$p" 2>/dev/null || true
	done
}
at_exit _qemu_lib_cleanup

# Waits (bounded) for a file to appear; prints its first line.
_wait_file() { # FILE SECONDS PID
	local i=0 max=$(($2 * 20))
	while [ ! -s "$1" ]; do
		kill -0 "$3" 2>/dev/null || return 1
		i=$((i + 1)); [ "$i" -le "$max" ] || return 1
		sleep 0.05
	done
	head -n 1 "$1"
}

# --- the world ---------------------------------------------------------------
_hash_files() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# Builds (or reuses) the world and sources its variables.  Prints one
# SKIP/FAIL line for the whole suite and returns 1 when it cannot.
qemu_world() {
	local missing="" t0 t1 tool
	for tool in "$QEMU_SYSTEM" mkfs.ext4 cpio nix-build nix-store debugfs ${RUN_STATIC[@]+"${RUN_STATIC[@]}"}; do
		command -v "$tool" >/dev/null || missing="$missing $tool"
	done
	[ -x "$HOST_BUSYBOX" ] || missing="$missing busybox(-static)"
	ls /boot/vmlinuz-* >/dev/null 2>&1 || missing="$missing /boot/vmlinuz-*"
	if [ -n "$missing" ]; then
		echo "SKIP: $SUITE: all: missing$missing (make deps)"
		return 1
	fi
	t0=$(date +%s.%N)
	mkdir -p "$QW"
	exec 8>"$QW/.lock"
	flock 8
	local build_args=()
	if [ "$QEMU_ARCH" = aarch64 ]; then
		if ! "$REPO_ROOT/tools/arm64-root" "$ARM64_ROOT_DIR" >"$QW/arm64-root.out" 2>&1; then
			echo "FAIL: $SUITE: all: tools/arm64-root failed: $(tail -n 3 "$QW/arm64-root.out" | tr '\n' ' ')"
			flock -u 8
			return 1
		fi
		# shellcheck disable=SC1091
		. "$ARM64_ROOT_DIR/env"
		build_args=(--arm64-root "$ARM64_ROOT_DIR")
		INITRD_ARGS=(--root "$ARM64_ROOT" --busybox "$ARM64_BUSYBOX")
		MKDISK_ARGS=(--systemd-boot "$ARM64_SDBOOT")
	fi
	if [ "$(id -u)" = 0 ]; then
		if ! "$REPO_ROOT/tools/qemu-systems/build" ${build_args[@]+"${build_args[@]}"} "$QW/systems" \
			>"$QW/systems-build.out" 2>&1; then
			echo "FAIL: $SUITE: all: building the test systems failed: $(tail -n 3 "$QW/systems-build.out" | tr '\n' ' ')"
			flock -u 8
			return 1
		fi
	elif [ ! -f "$QW/systems/systems.env" ]; then
		echo "SKIP: $SUITE: all: building the test world needs root (single-user Nix store); run as root once"
		flock -u 8
		return 1
	fi
	# shellcheck disable=SC1091
	. "$QW/systems/systems.env"

	STATIC_BIN_PRESENT=0
	[ -f "$IP_STATIC_BIN" ] && STATIC_BIN_PRESENT=1
	write_config "$QW/initrd-provision.conf"
	local key
	key=$(_hash_files "$REPO_ROOT/tools/mkinitrd" "$REPO_ROOT"/tools/initrd/* "$REPO_ROOT/nixos-module/stage1-glue.sh" "$QW/initrd-provision.conf" \
		"$IP_STATIC_BIN" "$HOST_BUSYBOX" "$QW/systems/.stamp")
	if [ "$(cat "$QW/initrd.key" 2>/dev/null)" != "$key" ] || [ ! -f "$QW/initrd.img" ]; then
		rm -f "$QW/initrd.key"
		if ! "$REPO_ROOT/tools/mkinitrd" --out "$QW/initrd.img" --kernel-version "$KERNEL_VERSION" \
			${INITRD_ARGS[@]+"${INITRD_ARGS[@]}"} \
			--binary "$([ "$STATIC_BIN_PRESENT" = 1 ] && echo "$IP_STATIC_BIN" || echo none)" \
			--config "$QW/initrd-provision.conf" >"$QW/initrd-build.out" 2>&1; then
			echo "FAIL: $SUITE: all: tools/mkinitrd failed: $(tail -n 3 "$QW/initrd-build.out" | tr '\n' ' ')"
			flock -u 8
			return 1
		fi
		echo "$key" >"$QW/initrd.key"
	fi
	key=$(_hash_files "$REPO_ROOT/tools/mkdisk" "$QW/systems/.stamp")
	if [ "$(cat "$QW/disk.key" 2>/dev/null)" != "$key" ] || [ ! -f "$QW/disk.img" ]; then
		rm -f "$QW/disk.key"
		if ! "$REPO_ROOT/tools/mkdisk" --system "$BUILTIN_SYSTEM" --out "$QW/disk.img" >"$QW/disk-build.out" 2>&1; then
			echo "FAIL: $SUITE: all: tools/mkdisk failed: $(tail -n 3 "$QW/disk-build.out" | tr '\n' ' ')"
			flock -u 8
			return 1
		fi
		echo "$key" >"$QW/disk.key"
	fi
	flock -u 8
	t1=$(date +%s.%N)
	WORLD_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	echo "world: ready in $WORLD_SECONDS s ($QW; initrd-provision in initrd: $([ "$STATIC_BIN_PRESENT" = 1 ] && echo yes || echo no))"
	return 0
}

# The UEFI disk template (GPT, ESP with systemd-boot, root labelled nixos).
qemu_world_uefi() {
	local key
	exec 8>"$QW/.lock"
	flock 8
	key=$(_hash_files "$REPO_ROOT/tools/mkdisk" "$QW/systems/.stamp" "$QW/initrd.key")
	if [ "$(cat "$QW/disk-uefi.key" 2>/dev/null)" != "$key" ] || [ ! -f "$QW/disk-uefi.img" ]; then
		rm -f "$QW/disk-uefi.key"
		if ! "$REPO_ROOT/tools/mkdisk" --uefi --system "$BUILTIN_SYSTEM" --out "$QW/disk-uefi.img" \
			${MKDISK_ARGS[@]+"${MKDISK_ARGS[@]}"} \
			--kernel "$HOST_KERNEL" --initrd "$QW/initrd.img" \
			--cmdline "$(kernel_cmdline uefi)" >"$QW/disk-uefi-build.out" 2>&1; then
			CASE_REASON="tools/mkdisk --uefi failed: $(tail -n 3 "$QW/disk-uefi-build.out" | tr '\n' ' ')"
			flock -u 8
			return 1
		fi
		echo "$key" >"$QW/disk-uefi.key"
	fi
	flock -u 8
}

# The kernel command line a boot gets (the built-in system's init=, like a
# NixOS loader entry).  Extra words after MARKER are appended.
kernel_cmdline() { # MARKER [WORD...]
	local marker=$1; shift
	echo "console=$GUEST_CONSOLE panic=-1 init=$BUILTIN_SYSTEM/init ipt.marker=$marker${*:+ $*}"
}

# Writes an initrd-provision.conf: the world's defaults, then KEY=VALUE
# overrides (a later key replaces an earlier one; an empty VALUE removes it).
write_config() { # FILE [KEY=VALUE...]
	local file=$1; shift
	local -A val=()
	# No builtin-system or builtin-kernel, as the NixOS module renders it:
	# the glue (tools/initrd/init runs nixos-module/stage1-glue.sh) adds
	# builtin-system from init=, and the kernel is <builtin-system>/kernel.
	local -a order=(substituters trusted-public-keys)
	val[substituters]=$GUEST_HTTP_CACHE
	val[trusted-public-keys]=$TRUSTED_PUBKEY
	local kv k
	for kv in "$@"; do
		k=${kv%%=*}
		[ -n "${val[$k]+x}" ] || order+=("$k")
		val[$k]=${kv#*=}
	done
	{
		echo "# initrd-provision.conf written by qemu-tests/lib.sh"
		for k in "${order[@]}"; do
			[ -z "${val[$k]}" ] || echo "$k = ${val[$k]}"
		done
	} >"$file"
}

# An initrd that is the world's initrd with another config (and optionally
# other files: SRC=DEST) appended as an overlay archive.
initrd_with() { # OUT CONFIG [SRC=DEST...]
	local out=$1 conf=$2; shift 2
	local args=(--base "$QW/initrd.img" --out "$out" --config "$conf") a
	for a in "$@"; do args+=(--add "$a"); done
	"$REPO_ROOT/tools/mkinitrd" "${args[@]}"
}

# A fresh copy of a disk template (sparse; reflinked where the fs can).
disk_copy() { # TEMPLATE OUT
	cp --reflink=auto --sparse=always "$1" "$2"
}

# --- what the guest talks to -----------------------------------------------------
# `initrd-provision boot` exists in the static binary (it is what the
# provisioning scenarios need): `boot --help` does not answer "unknown
# command".  Sets BOOT_MISSING_REASON when not.
boot_mode_available() {
	BOOT_MISSING_REASON=""
	if [ ! -f "$IP_STATIC_BIN" ]; then
		BOOT_MISSING_REASON="initrd-provision boot not implemented yet (no static binary at $IP_STATIC_BIN)"
		return 1
	fi
	local out rc=0
	out=$(timeout 10 ${RUN_STATIC[@]+"${RUN_STATIC[@]}"} "$IP_STATIC_BIN" boot --help 2>&1) || rc=$?
	case "$out" in
	*"unknown command"*)
		BOOT_MISSING_REASON="initrd-provision boot not implemented yet"
		return 1 ;;
	esac
	if [ "$rc" -ge 124 ]; then
		BOOT_MISSING_REASON="$IP_STATIC_BIN cannot run here (status $rc)"
		return 1
	fi
	return 0
}

# The provisioning suites' gate: returns 0 when the static binary has the
# boot mode (or IP_QEMU_FORCE_SCENARIOS=1 runs the scenarios anyway, to see
# them fail for the right reasons); otherwise prints one SKIP line per
# "NAME:FUNCTION" case and returns 1.
scenarios_runnable() { # "NAME:FUNCTION"...
	if boot_mode_available || [ "${IP_QEMU_FORCE_SCENARIOS:-0}" = 1 ]; then
		return 0
	fi
	local c
	for c in "$@"; do echo "SKIP: $SUITE: ${c%%:*}: $BOOT_MISSING_REASON"; done
	return 1
}

# Starts the mock IMDS (tools/mock-imds, issue 4) on a free port.  ARGS are
# passed on (e.g. --user-data-file F --role R, misbehaviour flags).  Sets
# IMDS_PORT and IMDS_LOG.  Fails (CASE_REASON set) when it is not there.
start_imds() {
	local dir pid
	if [ ! -x "$MOCK_IMDS" ]; then
		CASE_REASON="$MOCK_IMDS not there (tools/mock-imds: issue 4, not merged yet)"
		return 1
	fi
	dir=$(make_tmpdir)
	IMDS_LOG=$dir/imds.log
	"$MOCK_IMDS" --port 0 --port-file "$dir/port" "$@" >"$IMDS_LOG" 2>&1 &
	pid=$!
	_SERVER_PIDS="$_SERVER_PIDS $pid"
	if ! IMDS_PORT=$(_wait_file "$dir/port" 5 "$pid"); then
		CASE_REASON="mock IMDS did not start: $(tail -n 3 "$IMDS_LOG" | tr '\n' ' ')"
		return 1
	fi
}

# Serves a cache directory over HTTP (qemu-tests/cache-serve.py).  Sets
# CACHE_PORT, CACHE_LOG, CACHE_PID.  --rate BYTES throttles each response.
start_cache_http() { # DIR [--rate N]
	local dir pid src=$1; shift
	dir=$(make_tmpdir)
	CACHE_LOG=$dir/cache.log
	: >"$CACHE_LOG"
	/usr/bin/python3 "$QEMU_TESTS_DIR/cache-serve.py" --dir "$src" --port 0 \
		--port-file "$dir/port" --log "$CACHE_LOG" "$@" >"$dir/stderr" 2>&1 &
	pid=$!
	_SERVER_PIDS="$_SERVER_PIDS $pid"
	CACHE_PID=$pid
	if ! CACHE_PORT=$(_wait_file "$dir/port" 5 "$pid"); then
		CASE_REASON="cache server did not start: $(tail -n 3 "$dir/stderr" | tr '\n' ' ')"
		return 1
	fi
	CACHE_SUBSTITUTER=$GUEST_HTTP_CACHE
}

stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }
# Stops every server started so far (between scenarios).
stop_servers() {
	local p
	for p in $_SERVER_PIDS; do stop_pid "$p"; done
	_SERVER_PIDS=""
}

# The S3 cache: s3rver behind tools/s3/sigv4-proxy (every signature checked
# with botocore).  Uploads DIR with the AWS CLI through the proxy, sets
# CACHE_PORT, CACHE_LOG (the proxy's log), CACHE_SUBSTITUTER (an s3:// URL
# with endpoint http://169.254.169.250 and no region: the guest asks IMDS)
# and IMDS_ROLE_ARGS (the session credentials the mock IMDS hands out: the
# only ones the guest has).
QEMU_S3_UPLOAD_KEY=AKIDQEMUUPLOAD000001 QEMU_S3_UPLOAD_SECRET='qemu/Upload+Secret000000000000000000000'
QEMU_S3_ROLE_KEY=ASIAQEMUROLE00000001 QEMU_S3_ROLE_SECRET='qemu/Role+Secret00000000000000000000000'
QEMU_S3_ROLE_TOKEN='IQoJb3JpZ2luQEMUEXAMPLE/session+token=='
QEMU_S3_BUCKET=qemu-cache
start_cache_s3() { # DIR
	local src=$1 dir
	dir=$(make_tmpdir)
	if ! "$REPO_ROOT/tools/s3/start-s3" start "$dir" \
		--credentials "$QEMU_S3_UPLOAD_KEY=$QEMU_S3_UPLOAD_SECRET,$QEMU_S3_ROLE_KEY=$QEMU_S3_ROLE_SECRET" \
		--token "$QEMU_S3_ROLE_KEY=$QEMU_S3_ROLE_TOKEN" >"$dir/start.log" 2>&1; then
		CASE_REASON="S3 stand-in did not start: $(tail -n 2 "$dir/start.log" | tr '\n' ' ')"
		return 1
	fi
	# shellcheck disable=SC1091
	. "$dir/env"
	_SERVER_PIDS="$_SERVER_PIDS $S3_PROXY_PID $S3RVER_PID"
	local cli=(env -u AWS_PROFILE HOME="$dir" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
		AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
		AWS_ACCESS_KEY_ID="$QEMU_S3_UPLOAD_KEY" AWS_SECRET_ACCESS_KEY="$QEMU_S3_UPLOAD_SECRET"
		timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT")
	if ! "${cli[@]}" s3 mb "s3://$QEMU_S3_BUCKET" >"$dir/cli.log" 2>&1 ||
		! "${cli[@]}" s3 sync "$src" "s3://$QEMU_S3_BUCKET/" >>"$dir/cli.log" 2>&1; then
		CASE_REASON="uploading the cache with the AWS CLI failed: $(tail -n 2 "$dir/cli.log" | tr '\n' ' ')"
		return 1
	fi
	CACHE_PORT=${S3_ENDPOINT##*:}
	CACHE_LOG=$S3_LOG_DIR/proxy.log
	CACHE_SUBSTITUTER="s3://$QEMU_S3_BUCKET?endpoint=http://169.254.169.250"
	IMDS_ROLE_ARGS=(--role qemu-test-role --access-key-id "$QEMU_S3_ROLE_KEY" --secret "$QEMU_S3_ROLE_SECRET"
		--token "$QEMU_S3_ROLE_TOKEN" --region us-east-1)
}
# Whether start_cache_s3 can work here (sets S3_MISSING_REASON when not).
s3_cache_available() {
	S3_MISSING_REASON=""
	if [ ! -f "$REPO_ROOT/tools/s3/node_modules/s3rver/bin/s3rver.js" ]; then
		S3_MISSING_REASON="s3rver is not installed in tools/s3/node_modules (run tools/deps.sh)"
	elif [ ! -x /usr/bin/aws ]; then
		S3_MISSING_REASON="the AWS CLI (Debian awscli) is not installed"
	elif ! /usr/bin/python3 -c 'import botocore' 2>/dev/null; then
		S3_MISSING_REASON="/usr/bin/python3 cannot import botocore (python3-botocore)"
	fi
	[ -z "$S3_MISSING_REASON" ]
}

# Starts the cache the provisioning scenarios use by default: S3 when the
# stand-in is there, else HTTP.  Sets CACHE_KIND (s3|http).
start_cache_default() { # DIR
	if s3_cache_available; then
		CACHE_KIND=s3
		start_cache_s3 "$1"
	else
		CACHE_KIND=http
		start_cache_http "$1"
	fi
}

# NARs the guest fetched according to the HTTP cache log (complete bodies).
cache_nars_fetched() { grep -c '^done [0-9.]* GET /nar/[^ ]* 200 ' "$CACHE_LOG" 2>/dev/null || true; }
cache_nar_bytes_sent() {
	awk '$1 == "sent" && $3 ~ /^\/nar\// { b[$3] = $4 } $1 == "done" && $4 ~ /^\/nar\// { b[$4] = $6 }
		END { n = 0; for (k in b) n += b[k]; print n }' "$CACHE_LOG"
}

# --- booting ---------------------------------------------------------------------
# Boots QEMU and waits until it exits or the time limit is up.
#   --disk FILE        (required) raw root disk, booted read-write
#   --uefi             boot the disk through OVMF (+ systemd-boot on its ESP);
#                      otherwise -kernel/-initrd/-append
#   --initrd FILE      (default: the world's initrd)   --kernel FILE (default: host kernel)
#   --append "..."     (default: kernel_cmdline direct)
#   --timeout S        (default $QEMU_TIMEOUT)
#   --kill-when FILE REGEX   kill -9 QEMU as soon as FILE has a line matching
#                      REGEX (power cut); BOOT_STATUS=killed
#   --live             also show the serial console on stdout as it happens
#   --netdev "ARGS"    the guest's -netdev instead of the user-mode one
#                      (e.g. a tap in a namespace: qemu-tests/ipv6.test.sh)
#   --netns NS         run QEMU inside network namespace NS
# Sets BOOT_LOG (CRs stripped), BOOT_STATUS (exited|timeout|killed|failed),
# BOOT_SECONDS (wall), BOOT_STAGE2_UPTIME (guest uptime at stage 2 start, or "").
boot_qemu() {
	local name=$1; shift
	local disk="" uefi=0 initrd="$QW/initrd.img" kernel="$HOST_KERNEL" append="" timeout=$QEMU_TIMEOUT
	local kill_file="" kill_re="" live=0 netdev="" netns=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--disk) disk=$2; shift 2 ;;
		--uefi) uefi=1; shift ;;
		--initrd) initrd=$2; shift 2 ;;
		--kernel) kernel=$2; shift 2 ;;
		--append) append=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--kill-when) kill_file=$2; kill_re=$3; shift 3 ;;
		--live) live=1; shift ;;
		--netdev) netdev=$2; shift 2 ;;
		--netns) netns=(ip netns exec "$2"); shift 2 ;;
		*) echo "boot_qemu: unknown option $1" >&2; return 2 ;;
		esac
	done
	[ -n "$append" ] || append=$(kernel_cmdline direct)
	local dir raw args pid start now status=exited tailpid=""
	dir=$(make_tmpdir)
	raw=$dir/serial.raw
	: >"$raw"
	local imds_port=${IMDS_PORT:-9} cache_port=${CACHE_PORT:-9}
	[ -n "$netdev" ] || netdev="user,id=n0,restrict=on,net=169.254.0.0/16,dhcpstart=169.254.10.15,guestfwd=tcp:$IMDS_ADDR:80-cmd:$HOST_BUSYBOX nc 127.0.0.1 $imds_port,guestfwd=tcp:$CACHE_ADDR:80-cmd:$HOST_BUSYBOX nc 127.0.0.1 $cache_port"
	args=("${QEMU_MACHINE[@]}" -accel "$QEMU_ACCEL" -m "$QEMU_MEM" -smp 1 -display none -no-reboot
		-monitor none -serial "file:$raw"
		-drive "file=$disk,if=virtio,format=raw"
		-netdev "$netdev"
		-device virtio-net-pci,netdev=n0
		-device virtio-rng-pci)
	if [ "$uefi" = 1 ]; then
		cp "$FW_VARS" "$dir/vars.fd"
		args+=(-drive "if=pflash,format=raw,readonly=on,file=$FW_CODE"
			-drive "if=pflash,format=raw,file=$dir/vars.fd")
	else
		args+=(-kernel "$kernel" -initrd "$initrd" -append "$append")
	fi
	start=$(date +%s.%N)
	${netns[@]+"${netns[@]}"} "$QEMU_SYSTEM" "${args[@]}" </dev/null >"$dir/qemu.out" 2>&1 &
	pid=$!
	_QEMU_PIDS="$_QEMU_PIDS $pid"
	if [ "$live" = 1 ]; then
		tail -n +1 -s 0.2 -f --pid="$pid" "$raw" | sed -u 's/\r$//' &
		tailpid=$!
	fi
	local deadline
	deadline=$(awk -v s="$start" -v t="$timeout" 'BEGIN { printf "%.3f", s + t }')
	while kill -0 "$pid" 2>/dev/null; do
		now=$(date +%s.%N)
		if awk -v n="$now" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
			kill -9 "$pid" 2>/dev/null
			status=timeout
			break
		fi
		if [ -n "$kill_re" ] && grep -aEq "$kill_re" "$kill_file" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null
			status=killed
			break
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	local rc=$?
	if [ "$status" = exited ] && [ "$rc" != 0 ]; then status=failed; fi
	# tail exits on its own once QEMU is gone (--pid); sed then drains.
	[ -z "$tailpid" ] || wait "$tailpid" 2>/dev/null
	BOOT_SECONDS=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	BOOT_STATUS=$status
	BOOT_LOG=$dir/serial.log
	tr -d '\r' <"$raw" >"$BOOT_LOG"
	cat "$dir/qemu.out" >>"$BOOT_LOG"
	cp "$BOOT_LOG" "$QEMU_LOG_DIR/$SUITE.$name.log"
	BOOT_STAGE2_UPTIME=$(sed -n 's/.*stage2: started at uptime \([0-9.]*\) s.*/\1/p' "$BOOT_LOG" | tail -n 1)
	echo "  boot $name: $BOOT_STATUS after $BOOT_SECONDS s wall${BOOT_STAGE2_UPTIME:+, stage 2 at guest uptime $BOOT_STAGE2_UPTIME s} (log $QEMU_LOG_DIR/$SUITE.$name.log)"
	[ "$status" != failed ] || echo "  qemu: $(tail -n 2 "$dir/qemu.out" | tr '\n' ' ')"
}

# --- judging the serial log ---------------------------------------------------
_log_tail() { tail -n "${1:-15}" "$BOOT_LOG" | sed 's/^/    | /'; }

# Case-insensitive variant (for the phase lines).
assert_log_contains_i() { # REGEX [WHAT]
	grep -aEiq -- "$1" "$BOOT_LOG" && return 0
	fail_because "serial log lacks ${2:-/$1/i} (status $BOOT_STATUS); last lines:
$(_log_tail)"
}

# Passes when a line of the boot log matches the extended regex.
assert_log_contains() { # REGEX [WHAT]
	grep -aEq -- "$1" "$BOOT_LOG" && return 0
	fail_because "serial log lacks ${2:-/$1/} (status $BOOT_STATUS); last lines:
$(_log_tail)"
}
assert_log_lacks() { # REGEX [WHAT]
	local hit
	hit=$(grep -aE -m 1 -- "$1" "$BOOT_LOG") || return 0
	fail_because "serial log has ${2:-/$1/}: $hit"
}
# QEMU ended by itself (the guest powered off) within the time limit.
assert_boot_exited() {
	[ "$BOOT_STATUS" = exited ] && return 0
	fail_because "QEMU did not power off by itself: $BOOT_STATUS after $BOOT_SECONDS s; last lines:
$(_log_tail)"
}
# Stage 2 of SYSTEM ran, found its payload intact and saw MARKER on the command line.
assert_stage2_ok() { # SYSTEM [MARKER]
	assert_boot_exited || return 1
	assert_log_lacks 'STAGE2 BAD' || return 1
	assert_log_contains "STAGE2 OK system=$1 kernel=${2:-direct}\$" "STAGE2 OK system=$1 kernel=${2:-direct}"
}
# Regex-quotes a literal string (store paths contain only safe characters,
# but a key name or a path might carry '.' or '+').
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# --- judging the disk -------------------------------------------------------------
# Byte offset of the root file system in a disk image (0 for a plain ext4
# image, partition 2 for a UEFI one).
_root_offset() { # DISK
	if sfdisk -J "$1" >/dev/null 2>&1; then
		sfdisk -J "$1" | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
print(t["partitions"][1]["start"] * t.get("sectorsize", 512))'
	else
		echo 0
	fi
}

# Prints a file of the disk's root file system (debugfs; no root needed).
disk_cat() { # DISK PATH
	local off
	off=$(_root_offset "$1")
	debugfs -R "cat $2" "$1?offset=$off" 2>/dev/null
}

# Prints where a symlink on the disk's root file system points.
disk_readlink() { # DISK PATH
	local off
	off=$(_root_offset "$1")
	local fast
	fast=$(debugfs -R "stat $2" "$1?offset=$off" 2>/dev/null | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')
	if [ -n "$fast" ]; then
		echo "$fast"
	else
		# Targets of 60 bytes and more live in a data block, which `cat` dumps.
		debugfs -R "cat $2" "$1?offset=$off" 2>/dev/null
	fi
}

# Reads FIELD (a dotted path, e.g. timings.total) of the report on the disk.
report_field() { # DISK FIELD
	disk_cat "$1" "$REPORT_FILE_ON_DISK" | /usr/bin/python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$2"
}

# Real Nix over the disk's store, after power-off, on a copy of DISK: loads
# the built-in system's registration and the disk's /nix-path-registration
# (nix-store --load-db), then `nix-store --verify --check-contents`, then:
#   --valid PATH...    each PATH is registered valid
#   --absent PATH...   each PATH is neither registered nor present in nix/store
#   --no-strays        every entry of nix/store is a valid path (no temporary
#                      trees or half-written paths left behind)
# Needs root (loop mount); skips (CASE_SKIPPED=1, returns 0) when not root.
disk_judge() { # DISK [--valid PATHS...] [--absent PATHS...]
	local disk=$1; shift
	local -a valid=() absent=()
	local mode="" strays=1
	while [ $# -gt 0 ]; do
		case "$1" in
		--valid) mode=valid ;;
		--absent) mode=absent ;;
		--no-strays) strays=0 ;;
		*) if [ "$mode" = valid ]; then valid+=("$1"); else absent+=("$1"); fi ;;
		esac
		shift
	done
	if [ "$(id -u)" != 0 ]; then
		skip_because "disk judge needs root (loop mount for real Nix's --verify)"
		return 0
	fi
	local dir img mnt off out rc=0 p
	dir=$(make_tmpdir)
	img=$dir/judge.img
	mnt=$dir/mnt
	mkdir -p "$mnt" "$dir/nixconf"
	printf 'build-users-group =\nsubstituters =\n' >"$dir/nixconf/nix.conf"
	cp --sparse=always "$disk" "$img"
	off=$(_root_offset "$img")
	if ! mount -o "loop,offset=$off" "$img" "$mnt" 2>"$dir/mount.err"; then
		fail_because "disk judge: cannot loop-mount $disk: $(cat "$dir/mount.err")"
		return 1
	fi
	local store="local?root=$mnt"
	(
		export NIX_CONF_DIR=$dir/nixconf NIX_USER_CONF_FILES=$dir/nixconf/nix.conf
		export XDG_CACHE_HOME=$dir/cache XDG_CONFIG_HOME=$dir/config
		unset NIX_REMOTE
		set -e
		nix-store --store "$store" --load-db <"$BUILTIN_REG"
		if [ -f "$mnt/nix-path-registration" ]; then
			nix-store --store "$store" --load-db <"$mnt/nix-path-registration"
		fi
		nix-store --store "$store" --verify --check-contents
		for p in ${valid[@]+"${valid[@]}"}; do
			nix-store --store "$store" --check-validity "$p" || { echo "not valid: $p"; exit 1; }
		done
		for p in ${absent[@]+"${absent[@]}"}; do
			if nix-store --store "$store" --check-validity "$p" 2>/dev/null; then
				echo "registered but must not be: $p"; exit 1
			fi
			if [ -e "$mnt$p" ] || [ -L "$mnt$p" ]; then echo "present on disk but must not be: $p"; exit 1; fi
		done
		if [ "$strays" = 0 ]; then
			for p in "$mnt"/nix/store/* "$mnt"/nix/store/.[!.]*; do
				[ -e "$p" ] || [ -L "$p" ] || continue
				case "${p##*/}" in .links) continue ;; esac
				nix-store --store "$store" --check-validity "/nix/store/${p##*/}" 2>/dev/null ||
					{ echo "stray (not a valid path) in nix/store: ${p##*/}"; exit 1; }
			done
		fi
	) >"$dir/judge.out" 2>&1 || rc=$?
	# --verify reports problems on stderr and may still exit 0 on Nix 2.8.
	if [ "$rc" = 0 ] && grep -Eq "(hash mismatch|was modified|is corrupt|error:|not valid|must not be|stray)" "$dir/judge.out"; then
		rc=1
	fi
	umount "$mnt" 2>/dev/null || umount -l "$mnt"
	JUDGE_OUT=$dir/judge.out
	if [ "$rc" != 0 ]; then
		fail_because "disk judge (real Nix --load-db + --verify --check-contents) failed:
$(tail -n 8 "$dir/judge.out" | sed 's/^/    | /')"
		return 1
	fi
	return 0
}

# --- provisioning scenarios (provision, uefi, kexec suites) ---------------------
# p_new [DISK] -> P_DIR, P_DISK (a copy); p_user_data TEXT; p_imds [ARGS];
# p_initrd [KEY=VALUE...] (config + initrd overlay); p_boot NAME [boot_qemu opts]
# A fresh scenario directory with a copy of the world's disk (or of DISK).
p_new() { # [DISK]
	stop_servers
	P_DIR=$(make_tmpdir)
	P_DISK=$P_DIR/disk.img
	disk_copy "${1:-$QW/disk.img}" "$P_DISK"
	unset IMDS_PORT CACHE_PORT CACHE_LOG
	CACHE_SUBSTITUTER=$GUEST_HTTP_CACHE
	IMDS_ROLE_ARGS=(--role qemu-test-role)
}
p_user_data() { printf '%s' "$1" >"$P_DIR/user-data"; }
# The mock IMDS with this scenario's user-data (none: 404) and role.
p_imds() { # [EXTRA ARGS...]
	local ud=()
	[ -f "$P_DIR/user-data" ] && ud=(--user-data-file "$P_DIR/user-data")
	start_imds ${ud[@]+"${ud[@]}"} "${IMDS_ROLE_ARGS[@]}" "$@"
}
# The test initrd with this scenario's config (world defaults + overrides).
p_initrd() { # [KEY=VALUE...]
	write_config "$P_DIR/initrd-provision.conf" "substituters=$CACHE_SUBSTITUTER" "$@"
	initrd_with "$P_DIR/initrd.img" "$P_DIR/initrd-provision.conf" ||
		{ CASE_REASON="tools/mkinitrd --base failed"; return 1; }
}
p_boot() { # NAME [boot_qemu options]
	local name=$1; shift
	boot_qemu "$name" --disk "$P_DISK" --initrd "$P_DIR/initrd.img" "$@"
}

# Report on the disk (written by boot to /var/log/initrd-provision/report.json).
assert_report() { # FIELD EXPECTED
	local got
	got=$(report_field "$P_DISK" "$1" 2>&1) ||
		{ fail_because "report $REPORT_FILE_ON_DISK on the disk: cannot read field $1: $(echo "$got" | tail -n 1)"; return 1; }
	[ "$got" = "$2" ] || fail_because "report field $1 is '$got', expected '$2'"
}
assert_report_num() { # FIELD OP NUMBER   (OP: -eq -gt -ge ...)
	local got
	got=$(report_field "$P_DISK" "$1" 2>&1) ||
		{ fail_because "report $REPORT_FILE_ON_DISK on the disk: cannot read field $1: $(echo "$got" | tail -n 1)"; return 1; }
	got=${got%%.*}
	[ "$got" "$2" "$3" ] 2>/dev/null || fail_because "report field $1 is '$got', expected $2 $3"
}
# /nix/var/nix/profiles/system -> system-N-link -> SYSTEM on the disk.
assert_profile_is() { # SYSTEM
	local l1 l2
	l1=$(disk_readlink "$P_DISK" /nix/var/nix/profiles/system)
	case "$l1" in
	system-[0-9]*-link) ;;
	*) fail_because "/nix/var/nix/profiles/system points to '$l1', not system-N-link"; return 1 ;;
	esac
	l2=$(disk_readlink "$P_DISK" "/nix/var/nix/profiles/$l1")
	[ "$l2" = "$1" ] || fail_because "/nix/var/nix/profiles/$l1 points to '$l2', expected $1"
}
# Stage 1 took the init that boot handed over.
assert_handoff_to() { # SYSTEM
	assert_log_contains "^stage1: hand-off from initrd-provision: init=$1/init\$" "stage 1's hand-off line for $1"
}
assert_no_failure_banner() { assert_log_lacks '^initrd-provision: FAILED' "a failure banner"; }
# The failure banner, naming the built-in system it falls back to.
assert_failure_banner() {
	assert_log_contains "^$FAILED_BANNER_RE $(re_quote "$BUILTIN_SYSTEM")\$" \
		"the failure banner 'initrd-provision: FAILED <phase>: <reason>; booting built-in system $BUILTIN_SYSTEM'"
}
# The cache served exactly N complete NARs (for S3: signed GETs in the
# proxy's log).
assert_nars_served() { # N
	local n
	if [ "${CACHE_KIND:-http}" = s3 ]; then
		# NAR GETs the proxy verified as signed with the role's session credentials.
		n=$(grep -c " GET /$QEMU_S3_BUCKET/nar/[^ ]* 200 relayed $QEMU_S3_ROLE_KEY" "$CACHE_LOG" || true)
		[ "$n" = "$1" ] || fail_because "the S3 proxy relayed $n signed NAR GETs, expected $1"
		return
	fi
	n=$(cache_nars_fetched)
	[ "$n" = "$1" ] || fail_because "the cache served $n NARs, expected $1"
}
# Every NAR was requested at most once (no download repeated).
assert_no_nar_twice() {
	local dup
	dup=$(awk '$1 == "done" && $4 ~ /^\/nar\// { print $4 }' "$CACHE_LOG" | sort | uniq -d | head -n 1)
	[ -z "$dup" ] || fail_because "NAR $dup was downloaded twice"
}
# Phase lines on the console (case-insensitive; see lib.sh).
assert_phases() { # SOURCE
	assert_log_contains_i "$PHASE_RE_LINK" "a 'link up' line" || return 1
	assert_log_contains_i "$PHASE_RE_LEASE" "a 'lease' line" || return 1
	assert_log_contains_i "$PHASE_RE_IMDS" "an 'IMDS' line" || return 1
	assert_log_contains_i "$PHASE_RE_SOURCE$1" "a 'source: $1' line"
}

# --- timings ----------------------------------------------------------------------
# Appends "suite case wall-seconds stage2-guest-uptime date" to the times file.
record_time() { # CASE [WALL_SECONDS]
	printf '%s\t%s\t%s\t%s\t%s\n' "$SUITE" "$1" "${2:-$BOOT_SECONDS}" "${BOOT_STAGE2_UPTIME:--}" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$TIMES_FILE"
}
