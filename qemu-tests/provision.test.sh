#!/usr/bin/env bash
# The eight whole-boot scenarios of issue 6: a guest with 512 MiB boots the
# world's disk, `initrd-provision boot` runs in the test initrd against the
# mock IMDS and a binary cache reached through QEMU's user network, and the
# scenario judges the serial log, the report left on the disk, the cache's
# request log and, as root, the disk with real Nix.
#
# Until the static binary has the boot command, each scenario prints one
# SKIP line saying so (they are written against boot-contract.md and run as
# soon as it lands).  IP_QEMU_FORCE_SCENARIOS=1 runs them anyway (to see
# them fail for the right reasons).
SUITE=provision
. "$(dirname "$0")/lib.sh"

HAPPY_KIND=http
s3_cache_available && HAPPY_KIND=s3
SCENARIOS=(
	"1-happy-path-$HAPPY_KIND:s1_happy_path"
	"2-same-disk-again:s2_same_disk_again"
	"3-no-user-data:s3_no_user_data"
	"4-user-data-script:s4_user_data_script"
	"5-untrusted-key:s5_untrusted_key"
	"6-flaky-imds:s6_flaky_imds"
	"7-cache-unreachable-fallback:s7_unreachable_fallback"
	"7-cache-unreachable-halt:s7_unreachable_halt"
	"8-power-cut-mid-download:s8_power_cut"
)
scenarios_runnable "${SCENARIOS[@]}" || exit 0
qemu_world || exit 0

target_fetch_paths() { cat "$TARGET_FETCH_FILE"; }

# --- 1. Happy path: S3 cache (zstd), IMDSv2, role credentials -> target boots -----
S1_DISK=""
s1_happy_path() {
	p_new
	p_user_data "system = $TARGET_SYSTEM
"
	start_cache_default "$CACHE_DIR" || return 1
	p_imds || return 1
	p_initrd || return 1
	echo "  cache: $CACHE_KIND${S3_MISSING_REASON:+ ($S3_MISSING_REASON)}"
	p_boot s1-happy
	record_time "1-happy-path-$CACHE_KIND"
	assert_stage2_ok "$TARGET_SYSTEM" direct || return 1
	assert_no_failure_banner || return 1
	assert_handoff_to "$TARGET_SYSTEM" || return 1
	assert_phases user-data || return 1
	assert_log_contains_i "$PHASE_RE_RESOLVED.* $TARGET_FETCH_COUNT paths" \
		"a 'closure resolved ($TARGET_FETCH_COUNT paths, ...)' line" || return 1
	assert_log_contains_i "$PHASE_RE_VERIFIED" "a 'verified' line" || return 1
	assert_log_contains_i "$PHASE_RE_HANDOFF" "a 'hand-off' line" || return 1
	assert_nars_served "$TARGET_FETCH_COUNT" || return 1
	assert_report "$REPORT_SYSTEM" "$TARGET_SYSTEM" || return 1
	assert_report "$REPORT_SOURCE" user-data || return 1
	assert_report_num "$REPORT_NARS_FETCHED" -eq "$TARGET_FETCH_COUNT" || return 1
	assert_report_num "$REPORT_BYTES_FETCHED" -gt 0 || return 1
	assert_profile_is "$TARGET_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$TARGET_CLOSURE_FILE") || return 1
	S1_DISK=$P_DISK
	local base
	base=$(awk -F'\t' '$1 == "boot-builtin" && $2 == "builtin-provisioning-off" { u = $4 } END { print u }' "$TIMES_FILE" 2>/dev/null)
	echo "  kernel start -> stage 2: ${BOOT_STAGE2_UPTIME:-?} s guest time (built-in, provisioning off: ${base:-not measured} s)"
}

# --- 2. Same disk booted again: target boots, 0 NARs fetched ------------------------
s2_same_disk_again() {
	if [ -z "$S1_DISK" ]; then
		# Scenario 1 did not leave a provisioned disk: make one here.
		s1_happy_path || { CASE_REASON="first boot (as scenario 1): $CASE_REASON"; return 1; }
	fi
	p_new "$S1_DISK"
	p_user_data "system = $TARGET_SYSTEM
"
	start_cache_default "$CACHE_DIR" || return 1
	p_imds || return 1
	p_initrd || return 1
	p_boot s2-again
	record_time 2-same-disk-again
	assert_stage2_ok "$TARGET_SYSTEM" direct || return 1
	assert_no_failure_banner || return 1
	assert_handoff_to "$TARGET_SYSTEM" || return 1
	assert_nars_served 0 || return 1
	assert_report "$REPORT_SYSTEM" "$TARGET_SYSTEM" || return 1
	assert_report_num "$REPORT_NARS_FETCHED" -eq 0 || return 1
	assert_profile_is "$TARGET_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$TARGET_CLOSURE_FILE")
}

# --- 3. No user-data (404) -> built-in boots, the console says why --------------------
s3_no_user_data() {
	p_new
	start_cache_default "$CACHE_DIR" || return 1
	p_imds || return 1
	p_initrd || return 1
	p_boot s3-no-user-data
	record_time 3-no-user-data
	assert_stage2_ok "$BUILTIN_SYSTEM" direct || return 1
	assert_log_contains_i '^initrd-provision: .*(no user-data|user-data.*(404|none|not found|absent))' \
		"a line saying there is no user-data" || return 1
	assert_log_contains_i "$PHASE_RE_SOURCE"none "a 'source: none' line" || return 1
	assert_nars_served 0 || return 1
	assert_report "$REPORT_SYSTEM" "$BUILTIN_SYSTEM" || return 1
	assert_report "$REPORT_SOURCE" none || return 1
	disk_judge "$P_DISK" --valid $(cat "$BUILTIN_CLOSURE_FILE") --absent $(target_fetch_paths)
}

# --- 4. User-data is a #! script -> built-in boots, no error banner --------------------
s4_user_data_script() {
	p_new
	p_user_data '#!/bin/sh
echo "user-data script for amazon-init, not for initrd-provision"
'
	start_cache_default "$CACHE_DIR" || return 1
	p_imds || return 1
	p_initrd || return 1
	p_boot s4-script
	record_time 4-user-data-script
	assert_stage2_ok "$BUILTIN_SYSTEM" direct || return 1
	assert_no_failure_banner || return 1
	assert_log_lacks '^initrd-provision: .*(error|ERROR|Error)' "an error line" || return 1
	local n
	n=$(grep -aEic '^initrd-provision: .*user-data' "$BOOT_LOG")
	[ "$n" -ge 1 ] || { fail_because "no console line says the user-data is not ours"; return 1; }
	assert_nars_served 0 || return 1
	assert_report "$REPORT_SYSTEM" "$BUILTIN_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$BUILTIN_CLOSURE_FILE") --absent $(target_fetch_paths)
}

# --- 5. Target signed by an untrusted key -> built-in boots, banner names path and key -
s5_untrusted_key() {
	p_new
	p_user_data "$TARGET_SYSTEM
"
	CACHE_KIND=http
	start_cache_http "$CACHE_UNTRUSTED_DIR" || return 1
	p_imds || return 1
	p_initrd || return 1
	p_boot s5-untrusted
	record_time 5-untrusted-key
	assert_stage2_ok "$BUILTIN_SYSTEM" direct || return 1
	assert_failure_banner || return 1
	local banner key_name
	banner=$(grep -aE -m 1 '^initrd-provision: FAILED' "$BOOT_LOG")
	key_name=${UNTRUSTED_PUBKEY%%:*}
	case "$banner" in
	*"$key_name"*) ;;
	*) fail_because "the banner does not name the key $key_name: $banner"; return 1 ;;
	esac
	local p named=""
	for p in $(cat "$TARGET_CLOSURE_FILE"); do
		case "$banner" in *"$p"*) named=$p ;; esac
	done
	[ -n "$named" ] || { fail_because "the banner names no path of the target closure: $banner"; return 1; }
	assert_report "$REPORT_SYSTEM" "$BUILTIN_SYSTEM" || return 1
	local reg
	reg=$(disk_cat "$P_DISK" /nix-path-registration)
	for p in $(target_fetch_paths); do
		case "$reg" in *"$p"*) fail_because "unverified $p is in /nix-path-registration"; return 1 ;; esac
	done
	disk_judge "$P_DISK" --valid $(cat "$BUILTIN_CLOSURE_FILE") --absent $(target_fetch_paths)
}

# --- 6. Flaky IMDS (401 on the first token use, 500s for a while) -> target boots ------
s6_flaky_imds() {
	p_new
	p_user_data "$TARGET_SYSTEM"
	start_cache_default "$CACHE_DIR" || return 1
	p_imds "${IMDS_FLAKY_ARGS[@]}" || return 1
	p_initrd || return 1
	p_boot s6-flaky-imds
	record_time 6-flaky-imds
	assert_stage2_ok "$TARGET_SYSTEM" direct || return 1
	assert_no_failure_banner || return 1
	assert_handoff_to "$TARGET_SYSTEM" || return 1
	assert_report "$REPORT_SYSTEM" "$TARGET_SYSTEM" || return 1
	assert_report_num "$REPORT_RETRIES" -gt 0 || return 1
	disk_judge "$P_DISK" --valid $(cat "$TARGET_CLOSURE_FILE")
}

# --- 7. Cache unreachable for longer than the budget --------------------------------
# The cache forward goes to a port nothing listens on, for the whole boot.
s7_common() { # POLICY
	p_new
	p_user_data "system = $TARGET_SYSTEM
"
	CACHE_PORT=$(free_port)
	p_imds || return 1
	p_initrd "on-failure=$1" || return 1
}
s7_unreachable_fallback() {
	s7_common fallback || return 1
	p_boot s7-fallback
	record_time 7-cache-unreachable-fallback
	assert_stage2_ok "$BUILTIN_SYSTEM" direct || return 1
	assert_failure_banner || return 1
	assert_handoff_to "$BUILTIN_SYSTEM" || return 1
	assert_report "$REPORT_SYSTEM" "$BUILTIN_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$BUILTIN_CLOSURE_FILE") --absent $(target_fetch_paths)
}
s7_unreachable_halt() {
	s7_common halt || return 1
	p_boot s7-halt
	record_time 7-cache-unreachable-halt
	assert_boot_exited || return 1
	assert_log_contains '^initrd-provision: FAILED [^:]+: ' "the failure banner" || return 1
	assert_log_lacks 'STAGE2 ' "a stage 2 (the policy is halt)" || return 1
	assert_log_lacks '^stage1: switching root' "a switch_root (the policy is halt)" || return 1
	assert_log_lacks 'Kernel panic' || return 1
	assert_log_contains 'reboot: Power down' "the kernel's power-down line" || return 1
}

# --- 8. Power cut mid-download, then boot again -------------------------------------
# The cache is throttled so the NARs take seconds; QEMU is killed (-9) as
# soon as the cache has sent 1 MB of some NAR.  The second boot, unthrottled,
# must finish the job; the disk must verify and hold no half-written paths.
s8_power_cut() {
	p_new
	p_user_data "system = $TARGET_SYSTEM
"
	CACHE_KIND=http
	start_cache_http "$CACHE_DIR" --rate 524288 || return 1
	local cut_log=$CACHE_LOG cut_pid=$CACHE_PID
	p_imds || return 1
	p_initrd || return 1
	p_boot s8-cut --kill-when "$cut_log" '^sent [0-9.]+ /nar/[^ ]+ [1-9][0-9]{6,}$'
	local cut_seconds=$BOOT_SECONDS
	[ "$BOOT_STATUS" = killed ] ||
		{ fail_because "the power cut did not happen (boot $BOOT_STATUS after $BOOT_SECONDS s); last lines:
$(_log_tail)"; return 1; }
	stop_pid "$cut_pid"
	local unfinished
	unfinished=$(awk '$1 == "start" && $4 ~ /^\/nar\// { s[$4] = 1 } $1 == "done" && $4 ~ /^\/nar\// { delete s[$4] }
		END { for (k in s) print k }' "$cut_log" | head -n 1)
	[ -n "$unfinished" ] || { fail_because "no NAR was in flight when the power was cut"; return 1; }
	echo "  power cut after $cut_seconds s with $unfinished in flight"
	start_cache_http "$CACHE_DIR" || return 1
	p_boot s8-after-cut
	record_time 8-power-cut-mid-download "$(awk -v a="$cut_seconds" -v b="$BOOT_SECONDS" 'BEGIN { print a + b }')"
	assert_stage2_ok "$TARGET_SYSTEM" direct || return 1
	assert_no_failure_banner || return 1
	assert_handoff_to "$TARGET_SYSTEM" || return 1
	assert_no_nar_twice || return 1
	assert_profile_is "$TARGET_SYSTEM" || return 1
	disk_judge "$P_DISK" --valid $(cat "$TARGET_CLOSURE_FILE") --no-strays
}

for s in "${SCENARIOS[@]}"; do
	run_case "${s%%:*}" "${s#*:}"
done
