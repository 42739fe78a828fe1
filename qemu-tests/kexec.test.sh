#!/usr/bin/env bash
# Issue 7, kernel mismatch: user-data names target-otherkernel, whose
# `kernel` is another store path than the kernel the initrd belongs to
# (builtin-kernel in the config; the bytes are the same so it boots: see
# tools/qemu-systems/systems.nix).
#   kexec (default policy): the guest fetches the closure, kexecs into
#     <system>/kernel + <system>/initrd with <system>/kernel-params
#     ("ipt.marker=otherkernel-params") + init=<system>/init + the console,
#     the second boot fetches nothing and hands off: STAGE2 OK shows the
#     kexec'd command line's marker.
#   fail + on-failure=fallback: the built-in system boots, with the banner.
# Skipped until `initrd-provision boot` lands.
SUITE=kexec
. "$(dirname "$0")/lib.sh"
CASES=("kexec-into-system-kernel:case_kexec" "mismatch-fail-falls-back:case_mismatch_fail")
scenarios_runnable "${CASES[@]}" || exit 0
qemu_world || exit 0

linux_boots() { grep -ac 'Linux version ' "$BOOT_LOG"; }

case_kexec() {
	if [ "$KEXEC_INITRD_HAS_BINARY" != 1 ]; then
		fail_because "target-otherkernel's initrd was built without initrd-provision (world built before the static binary?)"
		return 1
	fi
	p_new
	p_user_data "system = $OTHERKERNEL_SYSTEM
"
	start_cache_default "$CACHE_DIR" || return 1
	p_imds || return 1
	p_initrd kernel-mismatch=kexec || return 1
	p_boot kexec --timeout 180
	record_time "kexec-$CACHE_KIND"
	[ "$(linux_boots)" = 2 ] || { fail_because "expected 2 kernel boots (kexec), saw $(linux_boots)"; return 1; }
	assert_log_contains_i '^initrd-provision: .*kernel' "a loud line about the kernel mismatch" || return 1
	# The second kernel's command line: kernel-params + init= + the console.
	local cl
	cl=$(grep -a 'Command line: ' "$BOOT_LOG" | tail -n 1)
	case "$cl" in
	*"ipt.marker=otherkernel-params"*) ;;
	*) fail_because "the kexec'd command line lacks the system's kernel-params: $cl"; return 1 ;;
	esac
	case "$cl" in
	*"init=$OTHERKERNEL_SYSTEM/init"*) ;;
	*) fail_because "the kexec'd command line lacks init=$OTHERKERNEL_SYSTEM/init: $cl"; return 1 ;;
	esac
	case "$cl" in
	*"console=ttyS0,115200n8"*) ;;
	*) fail_because "the kexec'd command line lacks the console: $cl"; return 1 ;;
	esac
	assert_stage2_ok "$OTHERKERNEL_SYSTEM" otherkernel-params || return 1
	assert_no_failure_banner || return 1
	assert_handoff_to "$OTHERKERNEL_SYSTEM" || return 1
	assert_no_nar_twice || return 1
	assert_nars_served "$OTHERKERNEL_FETCH_COUNT" || return 1
	# The report is the second boot's: nothing fetched.
	assert_report "$REPORT_SYSTEM" "$OTHERKERNEL_SYSTEM" || return 1
	assert_report_num "$REPORT_NARS_FETCHED" -eq 0 || return 1
	disk_judge "$P_DISK" --valid $(cat "$OTHERKERNEL_CLOSURE_FILE")
}

case_mismatch_fail() {
	p_new
	p_user_data "system = $OTHERKERNEL_SYSTEM
"
	start_cache_default "$CACHE_DIR" || return 1
	p_imds || return 1
	p_initrd kernel-mismatch=fail on-failure=fallback || return 1
	p_boot mismatch-fail
	record_time mismatch-fail
	[ "$(linux_boots)" = 1 ] || { fail_because "expected 1 kernel boot (no kexec), saw $(linux_boots)"; return 1; }
	assert_stage2_ok "$BUILTIN_SYSTEM" direct || return 1
	assert_failure_banner || return 1
	assert_handoff_to "$BUILTIN_SYSTEM" || return 1
	assert_report "$REPORT_SYSTEM" "$BUILTIN_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$BUILTIN_CLOSURE_FILE")
}

for c in "${CASES[@]}"; do run_case "${c%%:*}" "${c#*:}"; done
