#!/usr/bin/env bash
# The boot mode on the host, without a VM: a root directory holding the
# built-in system (as the disk would), the mock IMDS and the test cache on
# 127.0.0.1, `initrd-provision boot --no-network --no-power`.  Checks every
# decision of the flow (source, fallback, policies, trust) in seconds; the
# whole boot in QEMU is qemu-tests/provision.test.sh.
SUITE=boot
. "$(dirname "$0")/lib.sh"
require_root "the test systems live in the single-user /nix/store"
for tool in nix-store nix-build /usr/bin/python3; do
	command -v "$tool" >/dev/null || { echo "SKIP: $SUITE: all: $tool not installed (make deps)"; exit 0; }
done

QS="$IP_BUILD/qemu-world/systems"
if ! "$REPO_ROOT/tools/qemu-systems/build" "$QS" >"$TEST_TMP/systems-build.out" 2>&1; then
	echo "FAIL: $SUITE: all: building the test systems failed: $(tail -n 3 "$TEST_TMP/systems-build.out" | tr '\n' ' ')"
	exit 1
fi
. "$QS/systems.env"

# --- servers -----------------------------------------------------------------
start_cache() { # DIR [http-serve fault arguments...]
	CACHE_LOG="$TEST_TMP/cache.log"
	: >"$CACHE_LOG"
	rm -f "$TEST_TMP/cache.port"
	/usr/bin/python3 "$REPO_ROOT/tools/testworld/http-serve" "$1" --port 0 --port-file "$TEST_TMP/cache.port" \
		--log "$CACHE_LOG" "${@:2}" >"$TEST_TMP/cache.err" 2>&1 &
	CACHE_PID=$!
	wait_port_file "$TEST_TMP/cache.port" || return 1
	CACHE_URL="http://127.0.0.1:$(cat "$TEST_TMP/cache.port")"
}
stop_cache() { [ -n "${CACHE_PID:-}" ] && kill "$CACHE_PID" 2>/dev/null; wait "$CACHE_PID" 2>/dev/null; CACHE_PID=""; }

start_imds() { # mock-imds arguments...
	IMDS_LOG="$TEST_TMP/imds.log"
	rm -f "$TEST_TMP/imds.port"
	/usr/bin/python3 "$REPO_ROOT/tools/mock-imds" --port 0 --port-file "$TEST_TMP/imds.port" --log "$IMDS_LOG" "$@" \
		>"$TEST_TMP/imds.err" 2>&1 &
	IMDS_PID=$!
	wait_port_file "$TEST_TMP/imds.port" || return 1
	IMDS_URL="http://127.0.0.1:$(cat "$TEST_TMP/imds.port")"
}
stop_imds() { [ -n "${IMDS_PID:-}" ] && kill "$IMDS_PID" 2>/dev/null; wait "$IMDS_PID" 2>/dev/null; IMDS_PID=""; }
stop_all() { stop_cache; stop_imds; }
at_exit stop_all

wait_port_file() {
	local i
	for i in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done
	fail_because "server did not start ($1)"
}

# --- one boot ------------------------------------------------------------------
# new_root: a root like the disk image: the built-in closure and its registration.
new_root() {
	ROOT=$(make_tmpdir)
	RUN_DIR=$(make_tmpdir)
	mkdir -p "$ROOT/nix/store" "$ROOT/nix/var/nix/profiles"
	# shellcheck disable=SC2046
	cp -a $(cat "$BUILTIN_CLOSURE_FILE") "$ROOT/nix/store/"
	cp "$BUILTIN_REG" "$ROOT/nix-path-registration"
	ln -s "$BUILTIN_SYSTEM" "$ROOT/nix/var/nix/profiles/system-1-link"
	ln -s system-1-link "$ROOT/nix/var/nix/profiles/system"
	CMDLINE_FILE="$RUN_DIR.cmdline"
	echo "console=ttyS0,115200n8 init=/nix/var/nix/profiles/system/init" >"$CMDLINE_FILE"
}

# write_config [key=value...]: the image's configuration, with overrides.
write_config() {
	CONFIG="$RUN_DIR.conf"
	{
		echo "substituters = $CACHE_URL"
		echo "trusted-public-keys = $TRUSTED_PUBKEY"
		echo "imds-endpoint = $IMDS_URL"
		echo "imds-timeout = 5"
		echo "builtin-kernel = $BUILTIN_KERNEL"
		local kv
		for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
	} | awk -F' = ' '{ seen[$1] = $0; order[NR] = $1 } END { for (i = 1; i <= NR; i++) if (!(order[i] in done)) { print seen[order[i]]; done[order[i]] = 1 } }' >"$CONFIG"
}

run_boot() {
	OUT="$RUN_DIR.out"
	BOOT_RC=0
	timeout 120 "$IP_BIN" boot --sysroot "$ROOT" --config "$CONFIG" --cmdline "$CMDLINE_FILE" \
		--run-dir "$RUN_DIR" --no-network --no-power >"$OUT" 2>&1 || BOOT_RC=$?
	[ "$BOOT_RC" = 0 ] || fail_because "boot exited $BOOT_RC: $(tail -n 5 "$OUT")"
}

report() { /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$RUN_DIR/report.json" "$1"; }
expect_out() { grep -qE -- "$1" "$OUT" || fail_because "output lacks /$1/: $(tail -n 8 "$OUT" | tr '\n' '|')"; }
expect_no_out() { ! grep -qE -- "$1" "$OUT" || fail_because "output has /$1/: $(grep -E -- "$1" "$OUT" | head -n 2)"; }
expect_report() { local got; got=$(report "$1") || return 1; [ "$got" = "$2" ] || fail_because "report $1 is '$got', expected '$2'"; }
expect_handoff() {
	[ "$(cat "$RUN_DIR/system" 2>/dev/null)" = "$1" ] || fail_because "run-dir/system is '$(cat "$RUN_DIR/system" 2>/dev/null)', expected $1"
	[ "$(cat "$RUN_DIR/init" 2>/dev/null)" = "$1/init" ] || fail_because "run-dir/init is not $1/init"
}
target_absent() {
	local p
	for p in $(cat "$TARGET_FETCH_FILE"); do
		[ ! -e "$ROOT$p" ] || { fail_because "$p is in the root though nothing may be fetched"; return 1; }
	done
	! ls -A "$ROOT/nix/store" | grep -q '^\.' || fail_because "temporary entries left in the store: $(ls -A "$ROOT/nix/store" | grep '^\.')"
}

# --- cases -----------------------------------------------------------------------
case_happy_path() {
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data "system = $TARGET_SYSTEM" || return 1
	write_config; run_boot || return 1
	expect_out "decision: source: user-data, system $TARGET_SYSTEM" || return 1
	expect_out "closure verified and registered" || return 1
	expect_no_out "FAILED" || return 1
	expect_handoff "$TARGET_SYSTEM" || return 1
	expect_report outcome provisioned && expect_report source user-data && expect_report paths_fetched "$TARGET_FETCH_COUNT" || return 1
	expect_report kernel.status match || return 1
	[ "$(readlink "$ROOT/nix/var/nix/profiles/system")" = system-2-link ] &&
		[ "$(readlink "$ROOT/nix/var/nix/profiles/system-2-link")" = "$TARGET_SYSTEM" ] ||
		{ fail_because "profile not pointed at the target: $(ls -l "$ROOT/nix/var/nix/profiles")"; return 1; }
	cmp -s "$RUN_DIR/report.json" "$ROOT/var/log/initrd-provision/report.json" || { fail_because "no report copy on the root"; return 1; }
	local judge
	judge=$("$REPO_ROOT/tools/testworld/nix-judge" "$ROOT" 2>&1) || { fail_because "nix-judge: $judge"; return 1; }
	# Same root again: nothing to download.
	: >"$CACHE_LOG"; run_boot || return 1
	expect_report paths_fetched 0 || return 1
	! grep -q ' /nar/' "$CACHE_LOG" || fail_because "second boot requested NARs: $(grep ' /nar/' "$CACHE_LOG" | head -n 2)"
}

case_no_user_data() {
	new_root; start_cache "$CACHE_DIR" && start_imds || return 1
	write_config system-tag=; run_boot || return 1
	expect_out "IMDS: no user-data" && expect_out "decision: source: none" || return 1
	expect_no_out "FAILED" && expect_handoff "$BUILTIN_SYSTEM" && expect_report outcome builtin && target_absent
}

case_script_user_data_is_not_ours() {
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data $'#!/bin/sh\necho hello\n' || return 1
	write_config; run_boot || return 1
	expect_out "user-data is not ours" && expect_no_out "FAILED" && expect_handoff "$BUILTIN_SYSTEM" && target_absent
}

case_malformed_user_data_falls_back() {
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data $'system = /nix/store/nope\n' || return 1
	write_config; run_boot || return 1
	expect_out "^initrd-provision: FAILED user-data: user-data: line 1: .*; booting built-in system $BUILTIN_SYSTEM\$" || return 1
	expect_handoff "$BUILTIN_SYSTEM" && expect_report outcome fallback && expect_report failure.phase user-data && target_absent
}

case_tag_names_the_system() {
	new_root; start_cache "$CACHE_DIR" && start_imds --tag "nixos-system=$TARGET_SYSTEM" || return 1
	write_config; run_boot || return 1
	expect_out "decision: source: tag, system $TARGET_SYSTEM" && expect_handoff "$TARGET_SYSTEM" && expect_report source tag
}

case_untrusted_key_falls_back() {
	new_root; start_cache "$CACHE_UNTRUSTED_DIR" && start_imds --user-data "$TARGET_SYSTEM" || return 1
	write_config; run_boot || return 1
	expect_out "^initrd-provision: FAILED fetch: .*$TARGET_SYSTEM.*; booting built-in system $BUILTIN_SYSTEM\$" || return 1
	expect_out "qemu-test-untrusted-1" || return 1
	expect_handoff "$BUILTIN_SYSTEM" && target_absent || return 1
	! grep -q "$TARGET_SYSTEM" "$ROOT/nix-path-registration" || fail_because "the untrusted target was registered"
}

# Security promise: user-data cannot bring its own cache and key unless allowed.
case_user_data_cannot_add_trust() {
	new_root; start_cache "$CACHE_UNTRUSTED_DIR" || return 1
	local rogue=$CACHE_URL
	start_imds --user-data "system = $TARGET_SYSTEM
substituters = $rogue
trusted-public-keys = $UNTRUSTED_PUBKEY" || return 1
	CACHE_URL=http://127.0.0.1:9 # the image's own cache: unreachable, so only the rogue one could work
	write_config dhcp-timeout=5; run_boot || return 1
	expect_out "warning: user-data: " || return 1
	expect_out "^initrd-provision: FAILED fetch: " && expect_handoff "$BUILTIN_SYSTEM" && target_absent || return 1
	# ... and with the image's consent, the same user-data works.
	new_root; write_config allow-user-data-substituters=true allow-user-data-keys=true; run_boot || return 1
	expect_no_out "FAILED" && expect_handoff "$TARGET_SYSTEM"
}

case_halt_policy() {
	new_root; start_imds --user-data "$TARGET_SYSTEM" || return 1
	CACHE_URL=http://127.0.0.1:9
	write_config on-failure=halt; run_boot || return 1
	expect_out "^initrd-provision: FAILED fetch: .*; powering off \(on-failure = halt\)$" || return 1
	expect_out "powering off skipped \(--no-power\)" && expect_report outcome halt || return 1
	[ ! -e "$RUN_DIR/system" ] || fail_because "halt handed off to $(cat "$RUN_DIR/system")"
}

# A cache slower than fetch-deadline (every answer 2 s late): the boot mode
# gives up by itself, names the deadline in its banner and boots the
# built-in system, well before run_boot's outer bound (only a guard).
case_fetch_deadline_falls_back() {
	new_root; start_cache "$CACHE_DIR" --fault '*:delay=2' && start_imds --user-data "$TARGET_SYSTEM" || return 1
	write_config fetch-deadline=3; run_boot || return 1
	expect_out "^initrd-provision: FAILED fetch: deadline reached: the fetch was not done after 3 s \(fetch-deadline\); .*; the cache is too slow or does not answer; booting built-in system $BUILTIN_SYSTEM\$" || return 1
	expect_handoff "$BUILTIN_SYSTEM" && expect_report outcome fallback && expect_report failure.phase fetch && target_absent
}

case_kernel_mismatch_fail_policy() {
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data "$OTHERKERNEL_SYSTEM" || return 1
	write_config kernel-mismatch=fail; run_boot || return 1
	expect_out "KERNEL MISMATCH: $OTHERKERNEL_SYSTEM boots kernel $OTHER_KERNEL" || return 1
	expect_out "^initrd-provision: FAILED kernel: .*; booting built-in system $BUILTIN_SYSTEM\$" || return 1
	expect_handoff "$BUILTIN_SYSTEM" && expect_report kernel.status mismatch
}

case_kernel_mismatch_kexec_without_power() {
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data "$OTHERKERNEL_SYSTEM" || return 1
	write_config; run_boot || return 1
	expect_out "kexec \(not done: --no-power\): $ROOT$OTHER_KERNEL with .* command line: .*init=$OTHERKERNEL_SYSTEM/init console=ttyS0,115200n8" || return 1
	expect_handoff "$OTHERKERNEL_SYSTEM" || return 1
	# --no-power goes on like a kexec whose reboot failed: the report must
	# say how this boot ended, not "kexec" (issue 14)
	expect_out "kexec failed: not rebooting \(--no-power\); booting $OTHERKERNEL_SYSTEM on the running kernel" &&
		expect_report outcome provisioned && expect_report kernel.action "continue (kexec failed)"
}

# The image's own paths in the target's closure: vouched for by the list
# the image builder wrote (builtin-closure, read inside the root), else
# hashed against their signed NarHash (issue 14).
case_builtin_closure_vouches() {
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data "$TARGET_SYSTEM" || return 1
	mkdir -p "$ROOT/nix/var/nix"; cp "$BUILTIN_REG" "$ROOT/nix/var/nix/builtin-closure"
	write_config builtin-closure=/nix/var/nix/builtin-closure; run_boot || return 1
	expect_out "present: [1-9][0-9]* vouched for, 0 hashed\)" && expect_handoff "$TARGET_SYSTEM" || return 1
	local judge
	judge=$("$REPO_ROOT/tools/testworld/nix-judge" "$ROOT" 2>&1) || { fail_because "nix-judge: $judge"; return 1; }
	new_root; write_config; run_boot || return 1
	expect_out "present: 0 vouched for, [1-9][0-9]* hashed\)" && expect_handoff "$TARGET_SYSTEM"
}

case_cmdline_off_and_override() {
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data "$TARGET_SYSTEM" || return 1
	write_config
	echo "init=/nix/var/nix/profiles/system/init initrd_provision=off" >"$CMDLINE_FILE"
	run_boot || return 1
	expect_out "disabled on the kernel command line" || return 1
	[ ! -e "$RUN_DIR/system" ] || { fail_because "initrd_provision=off still handed off"; return 1; }
	echo "init=/nix/var/nix/profiles/system/init initrd_provision.system=$TARGET_SYSTEM" >"$CMDLINE_FILE"
	stop_imds # IMDS must not even be asked
	run_boot || return 1
	expect_out "decision: source: cmdline" && expect_handoff "$TARGET_SYSTEM"
}

case_bad_config_falls_back() {
	new_root; start_imds || return 1
	CACHE_URL=http://127.0.0.1:9
	write_config jobs=many; run_boot || return 1
	expect_out "^initrd-provision: FAILED config: .*line .*jobs: expected a whole number.*; booting built-in system $BUILTIN_SYSTEM\$" || return 1
	expect_handoff "$BUILTIN_SYSTEM" && expect_report outcome fallback
}

# apply = when-changed: the user-data is applied once per instance and
# document; later boots keep what the system profile names (the operator's
# changes survive), a new document or a new instance applies again.
case_apply_when_changed() {
	local record
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data "system = $TARGET_SYSTEM" --instance-id i-0aaaaaaaaaaaaaaa1 || return 1
	# The loader entry of the image's generation, as on a real disk.
	echo "console=ttyS0,115200n8 init=$BUILTIN_SYSTEM/init" >"$CMDLINE_FILE"
	write_config apply=when-changed; run_boot || return 1
	expect_out "apply = when-changed: applying \(not applied on this disk before\)" || return 1
	expect_handoff "$TARGET_SYSTEM" && expect_report outcome provisioned && expect_report apply.decision apply || return 1
	record=$ROOT/var/lib/initrd-provision/applied
	grep -qx "instance-id = i-0aaaaaaaaaaaaaaa1" "$record" && grep -qx "system = $TARGET_SYSTEM" "$record" &&
		grep -qx "document-sha256 = $(printf '%s' "system = $TARGET_SYSTEM" | sha256sum | cut -c1-64)" "$record" ||
		{ fail_because "record: $(cat "$record" 2>&1)"; return 1; }
	# Same instance, same user-data: the profile's system, no request to the cache.
	: >"$CACHE_LOG"; run_boot || return 1
	expect_out "user-data unchanged since it was applied on i-0aaaaaaaaaaaaaaa1 .*; booting the system profile's $TARGET_SYSTEM" || return 1
	expect_handoff "$TARGET_SYSTEM" && expect_report outcome unchanged && expect_report apply.decision unchanged || return 1
	[ ! -s "$CACHE_LOG" ] || { fail_because "an unchanged boot asked the cache: $(head -n 2 "$CACHE_LOG")"; return 1; }
	# The operator switches back by hand (a new generation): that survives.
	ln -s "$BUILTIN_SYSTEM" "$ROOT/nix/var/nix/profiles/system-9-link"
	ln -sfn system-9-link "$ROOT/nix/var/nix/profiles/system"
	run_boot || return 1
	expect_handoff "$BUILTIN_SYSTEM" && expect_report apply.reason "unchanged since applied" || return 1
	# New user-data (same system, another document): applied again.
	stop_imds; start_imds --user-data "# v2
system = $TARGET_SYSTEM" --instance-id i-0aaaaaaaaaaaaaaa1 || return 1
	write_config apply=when-changed; run_boot || return 1
	expect_out "applying \(user-data changed\)" && expect_handoff "$TARGET_SYSTEM" || return 1
	# A new instance launched from a snapshot of this disk: applied again.
	ln -sfn system-9-link "$ROOT/nix/var/nix/profiles/system"
	stop_imds; start_imds --user-data "# v2
system = $TARGET_SYSTEM" --instance-id i-0bbbbbbbbbbbbbbb2 || return 1
	write_config apply=when-changed; run_boot || return 1
	expect_out "applying \(new instance\)" && expect_handoff "$TARGET_SYSTEM" || return 1
	# every-boot (the default) reverts the operator's change.
	ln -sfn system-9-link "$ROOT/nix/var/nix/profiles/system"
	write_config; run_boot || return 1
	expect_handoff "$TARGET_SYSTEM" && expect_report apply.policy every-boot && expect_report apply.reason every-boot
}

# The three shapes of a NixOS toplevel (tools/qemu-systems/systems.nix): a
# systemd-built one (init = systemd, prepare-root) is provisioned; a
# nixos-init-built one (init = systemd, no prepare-root) cannot be activated
# by any stage 1 here and is refused before the profile names it.
case_target_shapes() {
	new_root; start_cache "$CACHE_DIR" && start_imds --user-data "system = $SYSTEMD_TARGET_SYSTEM" || return 1
	write_config; run_boot || return 1
	expect_no_out "FAILED" && expect_handoff "$SYSTEMD_TARGET_SYSTEM" && expect_report outcome provisioned || return 1
	new_root; stop_imds; start_imds --user-data "system = $NIXOSINIT_TARGET_SYSTEM" || return 1
	write_config; run_boot || return 1
	expect_out "^initrd-provision: FAILED hand-off: $NIXOSINIT_TARGET_SYSTEM starts systemd directly and has no prepare-root \(built with system\.nixos-init\.enable\?\): .*; booting built-in system $BUILTIN_SYSTEM\$" || return 1
	expect_handoff "$BUILTIN_SYSTEM" && expect_report outcome fallback || return 1
	[ "$(readlink "$ROOT/nix/var/nix/profiles/system")" = system-1-link ] ||
		fail_because "the profile moved to $(readlink "$ROOT/nix/var/nix/profiles/system") for a refused system"
}

run_case happy-path case_happy_path
stop_all; run_case no-user-data case_no_user_data
stop_all; run_case script-user-data-is-not-ours case_script_user_data_is_not_ours
stop_all; run_case malformed-user-data-falls-back case_malformed_user_data_falls_back
stop_all; run_case tag-names-the-system case_tag_names_the_system
stop_all; run_case untrusted-key-falls-back case_untrusted_key_falls_back
stop_all; run_case user-data-cannot-add-trust case_user_data_cannot_add_trust
stop_all; run_case halt-policy case_halt_policy
stop_all; run_case fetch-deadline-falls-back case_fetch_deadline_falls_back
stop_all; run_case kernel-mismatch-fail-policy case_kernel_mismatch_fail_policy
stop_all; run_case kernel-mismatch-kexec-without-power case_kernel_mismatch_kexec_without_power
stop_all; run_case builtin-closure-vouches case_builtin_closure_vouches
stop_all; run_case cmdline-off-and-override case_cmdline_off_and_override
stop_all; run_case bad-config-falls-back case_bad_config_falls_back
stop_all; run_case apply-when-changed case_apply_when_changed
stop_all; run_case target-shapes case_target_shapes
