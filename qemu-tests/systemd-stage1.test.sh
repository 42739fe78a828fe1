#!/usr/bin/env bash
# The NixOS module's systemd-stage-1 path, booted: Debian's systemd as PID 1
# of the initrd (tools/mkinitrd-systemd), the module's initrd-provision.service
# rendered from nixos-module/initrd-unit.nix, next to stand-ins of nixpkgs'
# initrd-find-nixos-closure, initrd-nixos-activation and initrd-switch-root
# units; toplevels shaped like systemd-stage-1 NixOS ones
# (tools/mkinitrd-systemd/systems.nix: init = a copy of their systemd,
# prepare-root = the activation, systemd -> their systemd package).
#
# Scenarios: a target with the initrd's systemd (empty NEW_INIT: PID 1 re-execs
# its compiled-in path), one with another systemd and /etc as an overlay
# (NEW_INIT=<target>/init; initrd-find-etc must pick the target's /etc), a
# failure that falls back to the built-in system (/etc as an overlay: the
# built-in system's), and a target that cannot be
# activated under on-failure = halt (the unit's FailureAction powers off).
SUITE=systemd-stage1
. "$(dirname "$0")/lib.sh"

SCENARIOS=(
	"same-systemd:sd_same_systemd"
	"other-systemd-etc-overlay:sd_other_systemd"
	"cache-unreachable-fallback:sd_fallback"
	"no-prepare-root-halt:sd_halt"
)
skip_all() { for s in "${SCENARIOS[@]}"; do echo "SKIP: $SUITE: ${s%%:*}: $1"; done; exit 0; }
boot_mode_available || skip_all "$BOOT_MISSING_REASON"
[ -x /lib/systemd/systemd ] && [ -x /bin/systemctl ] || skip_all "no systemd on this machine (apt-get install systemd)"
command -v jq >/dev/null || skip_all "jq not installed"
qemu_world || exit 0

MKSD=$REPO_ROOT/tools/mkinitrd-systemd
SDW=$QW/systemd-stage1

# The systemd-stage-1 systems, their cache (signed with the world's trusted
# key) and a disk holding sd-builtin, made once per change of their inputs.
sd_world() {
	local key log=$SDW/build.log t0
	t0=$(date +%s.%N)
	mkdir -p "$SDW"
	exec 7>"$SDW/.lock"
	flock 7
	key=$(_hash_files "$MKSD/systems.nix" "$MKSD"/*.sh.in "$REPO_ROOT/tools/mkdisk" "$QW/systems/.stamp")
	if [ "$(cat "$SDW/key" 2>/dev/null)" != "$key" ] || [ ! -f "$SDW/env" ]; then
		rm -f "$SDW/key" "$SDW/env"
		rm -rf "$SDW/cache" "$SDW/gcroots"
		if ! (
			set -e
			nixtmp=$(mktemp -d)
			trap 'rm -rf "$nixtmp"' EXIT
			mkdir -p "$nixtmp/conf"
			printf 'sandbox = false\nbuild-users-group =\nsubstituters =\nexperimental-features = nix-command\n' >"$nixtmp/conf/nix.conf"
			export NIX_CONF_DIR=$nixtmp/conf NIX_USER_CONF_FILES=$nixtmp/conf/nix.conf
			export XDG_CACHE_HOME=$nixtmp/cache XDG_CONFIG_HOME=$nixtmp/config
			unset NIX_REMOTE NIX_PATH
			attrs=(systemd-a sd-builtin sd-same sd-other sd-noprep)
			mapfile -t paths < <(nix-build "$MKSD/systems.nix" --argstr busyboxPath "$BUSYBOX_PATH" \
				--argstr linuxPath "${BUILTIN_KERNEL%/bzImage}" $(printf -- '-A %s ' "${attrs[@]}") \
				-o "$SDW/gcroots/sd")
			[ "${#paths[@]}" = 5 ]
			nix --extra-experimental-features nix-command copy \
				--to "file://$SDW/cache?compression=zstd&secret-key=$TRUSTED_SECKEY_FILE" \
				"${paths[2]}" "${paths[3]}" "${paths[4]}"
			nix-store -qR "${paths[1]}" | sort >"$SDW/builtin.closure"
			nix-store --dump-db $(cat "$SDW/builtin.closure") >"$SDW/builtin.reg"
			for i in 2 3 4; do
				nix-store -qR "${paths[$i]}" | sort | comm -13 "$SDW/builtin.closure" - >"$SDW/${attrs[$i]}.fetch"
				nix-store -qR "${paths[$i]}" | sort >"$SDW/${attrs[$i]}.closure"
			done
			"$REPO_ROOT/tools/mkdisk" --system "${paths[1]}" --out "$SDW/disk.img"
			# The initrd systemd's compiled-in path inside the root (see
			# tools/mkinitrd-systemd): systemd "A", which sd-builtin carries.
			debugfs -w -R "mkdir /lib" "$SDW/disk.img"
			debugfs -w -R "mkdir /lib/systemd" "$SDW/disk.img"
			debugfs -w -R "symlink /lib/systemd/systemd ${paths[0]}/lib/systemd/systemd" "$SDW/disk.img"
			[ "$(disk_readlink "$SDW/disk.img" /lib/systemd/systemd)" = "${paths[0]}/lib/systemd/systemd" ]
			{
				echo "SD_SYSTEMD_A=${paths[0]}"
				echo "SD_BUILTIN=${paths[1]}"
				echo "SD_SAME=${paths[2]}"
				echo "SD_OTHER=${paths[3]}"
				echo "SD_NOPREP=${paths[4]}"
			} >"$SDW/env"
		) >"$log" 2>&1; then
			flock -u 7
			echo "FAIL: $SUITE: all: building the systemd-stage-1 systems failed: $(tail -n 3 "$log" | tr '\n' ' ')"
			return 1
		fi
		echo "$key" >"$SDW/key"
	fi
	flock -u 7
	# shellcheck disable=SC1091
	. "$SDW/env"
	echo "systemd-stage1 world: ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s ($SDW)"
	# The harness's judges and banners speak of this world's built-in system.
	BUILTIN_SYSTEM=$SD_BUILTIN
	BUILTIN_REG=$SDW/builtin.reg
}
sd_world || exit 0

# sd_initrd [mkinitrd-systemd options]: the scenario's initrd: the world's
# initrd (busybox, modules, the static binary) plus the systemd layer, with
# this scenario's config (no builtin-system: the glue adds it, as the
# module's file has none).
sd_initrd() {
	write_config "$P_DIR/initrd-provision.conf" builtin-system= "substituters=$CACHE_SUBSTITUTER"
	"$MKSD/mkinitrd-systemd" --base "$QW/initrd.img" --out "$P_DIR/initrd.img" \
		--initrd-systemd "$SD_SYSTEMD_A" --config "$P_DIR/initrd-provision.conf" "$@" \
		>"$P_DIR/mkinitrd.log" 2>&1 ||
		{ CASE_REASON="mkinitrd-systemd failed: $(tail -n 2 "$P_DIR/mkinitrd.log" | tr '\n' ' ')"; return 1; }
}

# systemd took the module's unit and drop-in without complaint (no
# "<file>:<line>: Unknown key …") and found no ordering cycle (it would
# drop a job to break it).
assert_sd_units_clean() {
	assert_log_lacks 'initrd-(provision|find-etc)\.service(\.d/[^:]*)?:[0-9]+:' "systemd complaining about the module's unit" || return 1
	assert_log_lacks 'ordering cycle' "an ordering cycle"
}

# Stage 2 ran SYSTEMD (A|B) reached VIA, with SYSTEM activated and ETC's /etc.
assert_sd_stage2() { # SYSTEMD VIA SYSTEM ETC
	assert_boot_exited || return 1
	assert_log_lacks 'STAGE2 BAD' || return 1
	assert_log_lacks '^stage1: EMERGENCY' || return 1
	assert_sd_units_clean || return 1
	assert_log_contains "^STAGE2 OK systemd=$1 via=$(re_quote "$2") system=$(re_quote "$3") etc=$4\$" \
		"STAGE2 OK systemd=$1 via=$2 system=$3 etc=$4"
}
closure_of() { cat "$SDW/$1.closure"; }
# Units log to journal+console: on the console journald prefixes each line
# with "[uptime] unit-script[pid]: ", as on a NixOS console.
JPFX='^(\[ *[0-9.]+\] [^ ]+\[[0-9]+\]: )?'

# sd_boot CASE SYSTEM CACHE [mkinitrd-systemd options]: boots a copy of the
# disk with user-data naming SYSTEM; CACHE: up (the cache served) or down.
sd_boot() {
	local name=$1 system=$2 cache=$3
	shift 3
	p_new "$SDW/disk.img"
	p_user_data "system = $system
"
	if [ "$cache" = up ]; then start_cache_http "$SDW/cache" || return 1; fi
	p_imds || return 1
	sd_initrd "$@" || return 1
	p_boot "$name"
	record_time "$name"
}

# SYSTEM (NAME in systems.nix) was provisioned: no banner, the glue handed
# over, the report and profile name it, real Nix accepts its closure.
assert_sd_provisioned() { # SYSTEM NAME
	assert_log_lacks 'initrd-provision: FAILED' 'a failure banner' || return 1
	assert_log_contains "${JPFX}initrd-provision: handing over to $(re_quote "$1")\$" || return 1
	assert_report "$REPORT_SYSTEM" "$1" || return 1
	assert_profile_is "$1" || return 1
	disk_judge "$P_DISK" --valid $(closure_of "$2")
}

# Empty NEW_INIT: the target has the initrd's systemd, so PID 1 re-execs
# its compiled-in path, which the target's closure provides.
sd_same_systemd() {
	sd_boot same-systemd "$SD_SAME" up || return 1
	assert_sd_stage2 A /lib/systemd/systemd "$SD_SAME" sd-same || return 1
	assert_nars_served "$(wc -l <"$SDW/sd-same.fetch")" || return 1
	assert_sd_provisioned "$SD_SAME" sd-same
}

# Another systemd: NEW_INIT=<target>/init.  And /etc as an overlay:
# initrd-find-etc reads init= from the command line, so without the module's
# drop-in it would pick the built-in system's /etc.
sd_other_systemd() {
	sd_boot other-systemd-etc-overlay "$SD_OTHER" up --etc-overlay || return 1
	assert_sd_stage2 B "$SD_OTHER/init" "$SD_OTHER" sd-other || return 1
	assert_log_contains "${JPFX}find-etc: toplevel $(re_quote "$SD_OTHER")\$" "find-etc naming the provisioned system" || return 1
	assert_sd_provisioned "$SD_OTHER" sd-other
}

# The cache cannot be reached: the banner, and the built-in system boots
# through the normal path (its own activation, empty NEW_INIT).  With /etc
# as an overlay: the unit writes no command line, so find-etc reads the real
# one (the "-" of BindReadOnlyPaths) and mounts the built-in system's /etc.
sd_fallback() {
	sd_boot cache-unreachable-fallback "$SD_SAME" down --etc-overlay || return 1
	assert_sd_stage2 A /lib/systemd/systemd "$SD_BUILTIN" sd-builtin || return 1
	assert_log_contains "${JPFX}$FAILED_BANNER_RE $(re_quote "$SD_BUILTIN")\$" "the failure banner naming $SD_BUILTIN" || return 1
	assert_log_contains "${JPFX}find-etc: toplevel $(re_quote "$SD_BUILTIN")\$" "find-etc naming the built-in system" || return 1
	assert_report outcome fallback || return 1
	disk_judge "$P_DISK" --valid $(cat "$SDW/builtin.closure") --absent $(cat "$SDW/sd-same.fetch")
}

# A target without prepare-root (built with scripted stage 1) is refused by
# the glue; under on-failure = halt the unit fails and its FailureAction
# powers the machine off: stage 2 never starts.  (A nixos-init-built one is
# refused before, by the boot mode, which applies on-failure itself.)
sd_halt() {
	sd_boot no-prepare-root-halt "$SD_NOPREP" up --on-failure halt || return 1
	assert_boot_exited || return 1
	assert_log_contains "${JPFX}initrd-provision: FAILED glue: .*prepare-root.*; booting built-in system $(re_quote "$SD_BUILTIN")\$" \
		"the glue's banner refusing a target without prepare-root" || return 1
	assert_log_contains "${JPFX}initrd-provision: on-failure = halt: powering off" || return 1
	assert_log_lacks '^STAGE2' "a stage 2 (the FailureAction did not power off)" || return 1
	assert_log_lacks '^stage1: EMERGENCY' || return 1
	assert_sd_units_clean
}

# IP_SD_ONLY=REGEX runs only the scenarios whose name matches.
for s in "${SCENARIOS[@]}"; do
	[[ "${s%%:*}" =~ ${IP_SD_ONLY:-.} ]] || continue
	run_case "${s%%:*}" "${s#*:}"
done
