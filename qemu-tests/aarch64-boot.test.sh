#!/usr/bin/env bash
# Graviton (issue 17): whole boots of the aarch64 build in
# qemu-system-aarch64 -machine virt -cpu max,pauth-impdef=on, UEFI (AAVMF ->
# systemd-bootaa64 -> Debian's arm64 kernel -> the test initrd with the
# aarch64 static binary), console ttyAMA0 (QEMU virt's PL011; EC2's arm64
# console is ttyS0: the lines go to whatever console= names).  The same
# world as the x86_64 suites (tools/qemu-systems, built by x86_64 Nix: the
# derivations only copy files), in $IP_BUILD/qemu-world-aarch64.
#
# TCG on 2 shared cores makes each boot cost tens of seconds: four boots,
# each timed in $IP_BUILD/test-logs/qemu-times.tsv.
SUITE=aarch64-boot
IP_QEMU_ARCH=aarch64
: "${IP_QEMU_TIMEOUT:=300}"
. "$(dirname "$0")/lib.sh"
CASES=("uefi-happy-path:case_happy" "same-disk-again:case_again" "untrusted-key-falls-back:case_untrusted"
	"kexec-without-kexec-file-continues:case_kexec_refused")
skip_all() { for c in "${CASES[@]}"; do echo "SKIP: $SUITE: ${c%%:*}: $1"; done; exit 0; }
if [ ! -f "$IP_STATIC_BIN" ]; then
	if [ -n "${IP_AARCH64_DIR:-}" ]; then
		echo "FAIL: $SUITE: all: $IP_STATIC_BIN is missing (make static ARCH=aarch64 failed?)"
		exit 1
	fi
	skip_all "no aarch64 static binary at $IP_STATIC_BIN (make static ARCH=aarch64)"
fi
[ -f "$FW_CODE" ] || skip_all "$FW_CODE missing (qemu-efi-aarch64; make deps)"
boot_mode_available || skip_all "$BOOT_MISSING_REASON"
qemu_world || exit 0
qemu_world_uefi || { echo "FAIL: $SUITE: all: $CASE_REASON"; exit 1; }

# One UEFI boot: a copy of DISK, user-data naming SYSTEM, the cache serving
# CACHE (S3 when the stand-in is there), the initrd with this config.
uefi_scenario() { # NAME DISK SYSTEM CACHE [KEY=VALUE...]
	local name=$1 disk=$2 system=$3 cache=$4
	shift 4
	p_new "$disk"
	p_user_data "system = $system
"
	start_cache_default "$cache" || return 1
	p_imds || return 1
	p_initrd "$@" || return 1
	"$REPO_ROOT/tools/mkdisk" --update-esp "$P_DISK" --initrd "$P_DIR/initrd.img" \
		--cmdline "$(kernel_cmdline uefi)" || { fail_because "tools/mkdisk --update-esp failed"; return 1; }
	boot_qemu "$name" --uefi --disk "$P_DISK"
	record_time "$name-$CACHE_KIND"
}

HAPPY_DISK=""
case_happy() {
	s3_cache_available || { skip_because "$S3_MISSING_REASON"; return 0; }
	uefi_scenario aarch64-uefi-happy "$QW/disk-uefi.img" "$TARGET_SYSTEM" "$CACHE_DIR" || return 1
	assert_stage2_ok "$TARGET_SYSTEM" uefi || return 1
	# The kernel was started by systemd-boot with the console named on the
	# loader entry, and the provisioning lines reached that console.
	assert_log_contains 'Kernel command line: initrd=\\EFI\\nixos\\initrd\.efi console=ttyAMA0' \
		"systemd-boot's command line with console=ttyAMA0" || return 1
	assert_log_contains '^initrd-provision: S3 region from IMDS' "the S3 cache's region line" || return 1
	assert_log_contains '^initrd-provision: closure verified and registered' "the summary line on ttyAMA0" || return 1
	assert_no_failure_banner || return 1
	assert_handoff_to "$TARGET_SYSTEM" || return 1
	assert_nars_served "$TARGET_FETCH_COUNT" || return 1
	assert_report "$REPORT_SYSTEM" "$TARGET_SYSTEM" || return 1
	assert_profile_is "$TARGET_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$TARGET_CLOSURE_FILE") || return 1
	HAPPY_DISK=$(make_tmpdir)/disk.img
	disk_copy "$P_DISK" "$HAPPY_DISK"
}

case_again() {
	[ -n "$HAPPY_DISK" ] || { fail_because "needs the uefi-happy-path disk"; return 1; }
	uefi_scenario aarch64-uefi-again "$HAPPY_DISK" "$TARGET_SYSTEM" "$CACHE_DIR" || return 1
	assert_stage2_ok "$TARGET_SYSTEM" uefi || return 1
	assert_nars_served 0 || return 1
	assert_report_num "$REPORT_NARS_FETCHED" -eq 0 || return 1
	disk_judge "$P_DISK" --valid $(cat "$TARGET_CLOSURE_FILE")
}

case_untrusted() {
	uefi_scenario aarch64-uefi-untrusted "$QW/disk-uefi.img" "$TARGET_SYSTEM" "$CACHE_UNTRUSTED_DIR" || return 1
	assert_stage2_ok "$BUILTIN_SYSTEM" uefi || return 1
	assert_failure_banner || return 1
	assert_handoff_to "$BUILTIN_SYSTEM" || return 1
	assert_report "$REPORT_SYSTEM" "$BUILTIN_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$BUILTIN_CLOSURE_FILE") --absent $(cat "$TARGET_FETCH_FILE")
}

# The system's kernel differs: kexec_file_load is refused by Debian's arm64
# kernel (CONFIG_KEXEC_FILE is not set), so the boot goes on with the
# running kernel and says why.  (nixpkgs' aarch64 kernels have KEXEC_FILE;
# the kexec itself is covered on x86_64 by kexec.test.sh.)
case_kexec_refused() {
	grep -q '^# CONFIG_KEXEC_FILE is not set' "$ARM64_ROOT/boot/config-$KERNEL_VERSION" ||
		{ skip_because "this arm64 kernel has KEXEC_FILE: the refusal cannot be shown with it"; return 0; }
	uefi_scenario aarch64-kexec-refused "$QW/disk-uefi.img" "$OTHERKERNEL_SYSTEM" "$CACHE_DIR" \
		kernel-mismatch=kexec || return 1
	[ "$(grep -ac 'Linux version ' "$BOOT_LOG")" = 1 ] || { fail_because "expected 1 kernel boot"; return 1; }
	assert_log_contains '^initrd-provision: .*kexec failed: kexec: loading .* \(kernel built without kexec_file_load\)' \
		"the reason kexec was not done" || return 1
	assert_stage2_ok "$OTHERKERNEL_SYSTEM" uefi || return 1
	assert_handoff_to "$OTHERKERNEL_SYSTEM" || return 1
	assert_report "$REPORT_SYSTEM" "$OTHERKERNEL_SYSTEM" || return 1
	assert_report kernel.action "continue (kexec failed)" || return 1
	disk_judge "$P_DISK" --valid $(cat "$OTHERKERNEL_CLOSURE_FILE")
}

for c in "${CASES[@]}"; do run_case "${c%%:*}" "${c#*:}"; done
