#!/usr/bin/env bash
# Whole boots that need no `initrd-provision boot`: the built-in system with
# provisioning off (the baseline the provisioning boots are measured
# against), the stage-1 glue's hand-off and fallback (with a stand-in
# /bin/initrd-provision), and a negative control proving that the stage-2
# payload check and the disk judge do fail on a corrupted store.
SUITE=boot-builtin
. "$(dirname "$0")/lib.sh"
qemu_world || exit 0

# Provisioning off: the built-in system boots, its closure verifies.
case_builtin_off() {
	local disk
	disk=$(make_tmpdir)/disk.img
	disk_copy "$QW/disk.img" "$disk"
	boot_qemu builtin-off --disk "$disk" --append "$(kernel_cmdline direct initrd_provision=off)"
	record_time builtin-provisioning-off
	assert_stage2_ok "$BUILTIN_SYSTEM" direct || return 1
	assert_log_contains '^stage1: initrd_provision=off: not provisioning' || return 1
	assert_log_lacks 'initrd-provision: ' || return 1
	disk_judge "$disk" --valid $(cat "$BUILTIN_CLOSURE_FILE")
}

# A stand-in /bin/initrd-provision: checks how stage 1 calls it, then acts
# as MODE says (handoff: writes the hand-off files; fail: exits 2 like a
# binary without the boot command).
fake_provision() { # MODE OUT
	cat >"$2" <<EOF
#!/bin/sh
echo "fake-initrd-provision: called with: \$*"
[ "\$1 \$2 \$3" = "boot --sysroot /sysroot" ] || { echo "fake-initrd-provision: bad arguments"; exit 3; }
[ -f /sysroot/nix-path-registration ] || { echo "fake-initrd-provision: /sysroot not mounted"; exit 3; }
[ -d /run/initrd-provision ] || { echo "fake-initrd-provision: no /run/initrd-provision"; exit 3; }
case "$1" in
handoff)
	echo "$BUILTIN_SYSTEM" >/run/initrd-provision/system
	echo "$BUILTIN_SYSTEM/init" >/run/initrd-provision/init
	echo "fake-initrd-provision: handed over $BUILTIN_SYSTEM/init"
	exit 0 ;;
fail)
	echo "initrd-provision: unknown command 'boot'"
	exit 2 ;;
esac
EOF
	chmod 0755 "$2"
}

# Stage 1 takes the init from /run/initrd-provision/init: init= on the
# command line names a path that does not exist, so only the hand-off can
# make this boot.
case_stage1_handoff() {
	local dir
	dir=$(make_tmpdir)
	disk_copy "$QW/disk.img" "$dir/disk.img"
	fake_provision handoff "$dir/fake"
	initrd_with "$dir/initrd.img" "$QW/initrd-provision.conf" "$dir/fake=/bin/initrd-provision" || return 1
	local bogus=/nix/store/00000000000000000000000000000000-not-there
	boot_qemu stage1-handoff --disk "$dir/disk.img" --initrd "$dir/initrd.img" \
		--append "console=ttyS0,115200n8 panic=-1 init=$bogus/init ipt.marker=handoff"
	record_time stage1-handoff
	# As the module's glue calls it: the run-time config has builtin-system.
	assert_log_contains '^fake-initrd-provision: called with: boot --sysroot /sysroot --config /run/initrd-provision.conf$' || return 1
	assert_log_lacks '^fake-initrd-provision: (bad arguments|/sysroot not mounted|no /run)' || return 1
	assert_log_contains "^stage1: hand-off from initrd-provision: init=$BUILTIN_SYSTEM/init\$" || return 1
	assert_stage2_ok "$BUILTIN_SYSTEM" handoff
}

# `initrd-provision boot` fails (a binary without the boot command:
# "unknown command", exit 2): the glue says so and stage 1 boots init= from
# the command line.
case_stage1_fallback() {
	local dir
	dir=$(make_tmpdir)
	disk_copy "$QW/disk.img" "$dir/disk.img"
	fake_provision fail "$dir/fake"
	initrd_with "$dir/initrd.img" "$QW/initrd-provision.conf" "$dir/fake=/bin/initrd-provision" || return 1
	boot_qemu stage1-fallback --disk "$dir/disk.img" --initrd "$dir/initrd.img"
	record_time stage1-fallback
	assert_log_contains "^initrd-provision: unknown command 'boot'" || return 1
	# The module's glue says so with the contract's banner (stage1-glue.sh).
	assert_log_contains "^initrd-provision: FAILED glue: initrd-provision boot exited with status 2; booting built-in system $BUILTIN_SYSTEM\$" || return 1
	assert_stage2_ok "$BUILTIN_SYSTEM" direct
}

# Negative control: one payload file of the built-in system changed on the
# disk (debugfs, no root).  Stage 2 must say BAD, and real Nix's verify must
# fail on the disk; if either passed, every other verdict would be worthless.
case_corruption_detected() {
	local dir payload
	dir=$(make_tmpdir)
	disk_copy "$QW/disk.img" "$dir/disk.img"
	payload=$(grep -- '-payload-builtin$' "$BUILTIN_CLOSURE_FILE")
	[ -n "$payload" ] || { fail_because "no payload-builtin in the built-in closure"; return 1; }
	printf 'tampered payload\n' >"$dir/evil"
	printf 'cd %s\nrm hello\nwrite %s hello\n' "$payload" "$dir/evil" >"$dir/cmds"
	debugfs -w -f "$dir/cmds" "$dir/disk.img" >"$dir/debugfs.out" 2>&1
	[ "$(disk_cat "$dir/disk.img" "$payload/hello")" = "tampered payload" ] ||
		{ fail_because "could not tamper with $payload/hello: $(tail -n 2 "$dir/debugfs.out")"; return 1; }
	boot_qemu corrupted --disk "$dir/disk.img" --append "$(kernel_cmdline direct initrd_provision=off)"
	record_time corruption-detected
	assert_boot_exited || return 1
	assert_log_contains "^STAGE2 BAD system=$BUILTIN_SYSTEM kernel=direct payload: .*$payload/hello" || return 1
	assert_log_lacks '^STAGE2 OK' || return 1
	if [ "$(id -u)" != 0 ]; then
		skip_because "stage 2 saw the corruption; the disk-judge half needs root"
		return 0
	fi
	if disk_judge "$dir/disk.img" --valid "$payload"; then
		fail_because "disk judge passed a disk whose $payload/hello was tampered with"
		return 1
	fi
	grep -q "$payload" "$JUDGE_OUT" || { fail_because "disk judge failed, but not on $payload: $(tail -n 3 "$JUDGE_OUT")"; return 1; }
	CASE_REASON=""
	return 0
}

run_case builtin-provisioning-off case_builtin_off
run_case stage1-handoff case_stage1_handoff
run_case stage1-fallback-when-boot-fails case_stage1_fallback
run_case corruption-detected case_corruption_detected
