#!/usr/bin/env bash
# Scripted stage 1 (the test initrd's /init runs the NixOS module's
# stage1-glue.sh, as the module's postMountCommands does) provisioning
# targets of the other two shapes of a real NixOS toplevel (nixpkgs
# top-level.nix; tools/qemu-systems/systems.nix builds them with real Nix):
#   systemd-built   init is a copy of systemd, the activation is
#                   prepare-root: stage 1 must enter through prepare-root,
#                   and the activation marker ("ACTIVATION system=…
#                   entry=…/prepare-root") proves it ran before systemd.
#   nixos-init-built  init is systemd and nothing activates it: refused with
#                   the contract's banner naming nixos-init (by the binary,
#                   before the profile names it; the glue would refuse it
#                   too), and the built-in system boots (on-failure = fallback).
# Before issue 15 the glue handed <system>/init to switch_root: the systemd
# stand-in started with no activation and said "STAGE2 BAD … systemd
# started without activation" in both scenarios.
SUITE=nixos-shapes
. "$(dirname "$0")/lib.sh"

CASES=("systemd-built-through-prepare-root:case_systemd_built" "nixos-init-refused-fallback:case_nixos_init")
scenarios_runnable "${CASES[@]}" || exit 0
qemu_world || exit 0

shape_boot() { # NAME SYSTEM
	p_new
	p_user_data "system = $2
"
	CACHE_KIND=http
	start_cache_http "$CACHE_DIR" || return 1
	p_imds || return 1
	p_initrd || return 1
	p_boot "$1"
	record_time "$1"
}

case_systemd_built() {
	local s=$SYSTEMD_TARGET_SYSTEM
	shape_boot systemd-built "$s" || return 1
	assert_stage2_ok "$s" direct || return 1
	assert_no_failure_banner || return 1
	assert_log_contains "^initrd-provision: handing over to $s \\($s/prepare-root\\)\$" "the glue's hand-over through prepare-root" || return 1
	assert_log_contains "^stage1: hand-off from initrd-provision: init=$s/prepare-root\$" "stage 1 taking prepare-root" || return 1
	assert_log_contains "^ACTIVATION system=$s entry=$s/prepare-root\$" "the activation marker" || return 1
	assert_report "$REPORT_SYSTEM" "$s" || return 1
	assert_profile_is "$s" || return 1
	disk_judge "$P_DISK" --valid $(cat "$SYSTEMD_TARGET_CLOSURE_FILE")
}

case_nixos_init() {
	local s=$NIXOSINIT_TARGET_SYSTEM
	shape_boot nixos-init-refused "$s" || return 1
	assert_stage2_ok "$BUILTIN_SYSTEM" direct || return 1
	# The binary refuses it before the profile names it (hand-off phase);
	# the glue would refuse it too (nixos-module.test.sh).
	assert_log_contains "^initrd-provision: FAILED [a-z-]+: $s starts systemd directly and has no prepare-root \\(built with system\\.nixos-init\\.enable\\?\\)[:;].*; booting built-in system $BUILTIN_SYSTEM\$" \
		"the refusal banner naming nixos-init" || return 1
	assert_profile_is "$BUILTIN_SYSTEM" || return 1
	assert_log_contains "^ACTIVATION system=$BUILTIN_SYSTEM entry=$BUILTIN_SYSTEM/init\$" "the built-in system's activation" || return 1
	assert_log_lacks "^ACTIVATION system=$s" "an activation of the refused system" || return 1
}

for c in "${CASES[@]}"; do run_case "${c%%:*}" "${c#*:}"; done
