#!/usr/bin/env bash
# Issue 7, UEFI: the disk laid out like the AMI's (GPT; ESP with
# systemd-boot and a loader entry; ext4 root labelled nixos), booted by OVMF.
# The built-in boot runs today; the provisioning happy path through UEFI is
# skipped until `initrd-provision boot` lands.
SUITE=uefi
. "$(dirname "$0")/lib.sh"
qemu_world || exit 0
if [ ! -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ ! -f /usr/lib/systemd/boot/efi/systemd-bootx64.efi ]; then
	echo "SKIP: $SUITE: all: needs ovmf and systemd-boot-efi (make deps)"
	exit 0
fi

# Firmware -> systemd-boot -> kernel + initrd from the ESP -> root by label.
case_uefi_builtin() {
	qemu_world_uefi || return 1
	p_new "$QW/disk-uefi.img"
	"$REPO_ROOT/tools/mkdisk" --update-esp "$P_DISK" --cmdline "$(kernel_cmdline uefi initrd_provision=off)" ||
		{ fail_because "tools/mkdisk --update-esp failed"; return 1; }
	boot_qemu uefi-builtin --uefi --disk "$P_DISK"
	record_time uefi-builtin
	assert_stage2_ok "$BUILTIN_SYSTEM" uefi || return 1
	# systemd-boot passes the entry's initrd as initrd=... on the command line.
	assert_log_contains 'Command line: initrd=\\EFI\\nixos\\initrd\.efi console=ttyS0' \
		"the command line systemd-boot builds from loader/entries/nixos.conf" || return 1
	assert_log_contains '^stage1: root LABEL=nixos \(/dev/vda2\) mounted' "the root found by label on partition 2" || return 1
	disk_judge "$P_DISK" --valid $(cat "$BUILTIN_CLOSURE_FILE")
}

# Issue 7's UEFI scenario: user-data names the target, the cache serves it
# (S3 when the stand-in is there), IMDSv2 -> STAGE2 OK for the target.
case_uefi_happy_path() {
	if ! boot_mode_available && [ "${IP_QEMU_FORCE_SCENARIOS:-0}" != 1 ]; then
		skip_because "$BOOT_MISSING_REASON"
		return 0
	fi
	qemu_world_uefi || return 1
	p_new "$QW/disk-uefi.img"
	p_user_data "system = $TARGET_SYSTEM
"
	start_cache_default "$CACHE_DIR" || return 1
	p_imds || return 1
	p_initrd || return 1
	"$REPO_ROOT/tools/mkdisk" --update-esp "$P_DISK" --initrd "$P_DIR/initrd.img" \
		--cmdline "$(kernel_cmdline uefi)" || { fail_because "tools/mkdisk --update-esp failed"; return 1; }
	boot_qemu uefi-happy --uefi --disk "$P_DISK"
	record_time "uefi-happy-path-$CACHE_KIND"
	assert_stage2_ok "$TARGET_SYSTEM" uefi || return 1
	assert_no_failure_banner || return 1
	assert_handoff_to "$TARGET_SYSTEM" || return 1
	assert_nars_served "$TARGET_FETCH_COUNT" || return 1
	assert_report "$REPORT_SYSTEM" "$TARGET_SYSTEM" || return 1
	assert_profile_is "$TARGET_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$TARGET_CLOSURE_FILE")
}

run_case uefi-builtin case_uefi_builtin
run_case uefi-happy-path case_uefi_happy_path
