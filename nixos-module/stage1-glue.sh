# Stage-1 glue of boot.initrd.provision: runs `initrd-provision boot` and
# hands its choice to NixOS stage 1.  Shared by the systemd unit (bash) and
# the scripted postMountCommands (busybox ash), so: POSIX sh plus `local`,
# every name prefixed ip_, never `exit` (the scripted stage 1 inlines this).
#
# The caller sets, before calling ip_systemd_main or ip_scripted_main:
#   IP_BIN           the initrd-provision binary
#   IP_CONF          the generated config (/etc/initrd-provision.conf)
#   IP_RUN_CONF      where the run-time config goes (/run/initrd-provision.conf)
#   IP_HANDOFF       the hand-off directory (/run/initrd-provision)
#   IP_TIMEOUT       seconds before the step is abandoned (0: no bound)
#   IP_ON_FAILURE    fallback | halt | reboot (what to do when the binary
#                    itself fails: crash, timeout, bad config)
# systemd stage 1 also:
#   IP_CLOSURE_LINK  /nixos-closure (made by initrd-find-nixos-closure.service)
#   IP_SWITCH_ROOT_CONF  /etc/switch-root.conf (NEW_INIT=)
#   IP_INITRD_SYSTEMD    store path of the initrd's systemd package
#
# The built-in system (the contract's builtin-system key) cannot be written
# into the initrd at build time: the system's toplevel contains the initrd.
# The rule used instead: the built-in system is the directory of the `init=`
# path on the kernel command line, resolved inside the mounted root (every
# component, following symlinks the way chroot-realpath does).  systemd stage 1
# already did exactly that for /nixos-closure; scripted stage 1 resolves
# $stage2Init here.  The glue writes IP_CONF plus `builtin-system = <that>`
# to IP_RUN_CONF and runs `boot --config IP_RUN_CONF`.

# Messages go to stderr: stdout carries only results (ip_scripted_main).
ip_say() {
	echo "initrd-provision: $*" >&2
}

# The contract's failure banner, for failures of the step itself.
ip_banner() {
	echo "initrd-provision: FAILED glue: $1; booting built-in system ${2:-(unknown)}" >&2
}

# ip_resolve_in_root ROOT PATH: prints PATH with every symlink resolved as
# if ROOT were /.  Fails after 40 symlinks (ELOOP), like the kernel.
ip_resolve_in_root() {
	local root="$1" rest="$2" out="" comp target hops=0
	case "$rest" in
	/*) ;;
	*) return 1 ;;
	esac
	while [ -n "$rest" ]; do
		while :; do
			case "$rest" in
			/*) rest="${rest#/}" ;;
			*) break ;;
			esac
		done
		[ -n "$rest" ] || break
		comp="${rest%%/*}"
		case "$rest" in
		*/*) rest="${rest#*/}" ;;
		*) rest="" ;;
		esac
		case "$comp" in
		.) continue ;;
		..)
			out="${out%/*}"
			continue
			;;
		esac
		if [ -L "$root$out/$comp" ]; then
			hops=$((hops + 1))
			[ "$hops" -le 40 ] || return 1
			target=$(readlink "$root$out/$comp") || return 1
			case "$target" in
			/*) out="" ;;
			esac
			rest="$target${rest:+/$rest}"
		else
			out="$out/$comp"
		fi
	done
	echo "${out:-/}"
}

# ip_builtin_from_init ROOT INIT: the built-in system named by init=.
ip_builtin_from_init() {
	local init
	init=$(ip_resolve_in_root "$1" "$2") || return 1
	[ "$init" != / ] || return 1
	echo "${init%/*}"
}

# ip_run_boot SYSROOT BUILTIN: writes the run-time config and runs the boot
# mode.  Returns the binary's exit status (124/143 on timeout).
ip_run_boot() {
	local sysroot="$1" builtin="$2" rc=0
	if ! { cat "$IP_CONF" && echo "builtin-system = $builtin"; } >"$IP_RUN_CONF"; then
		return 1
	fi
	if [ "${IP_TIMEOUT:-0}" -gt 0 ] 2>/dev/null; then
		timeout "$IP_TIMEOUT" "$IP_BIN" boot --sysroot "$sysroot" --config "$IP_RUN_CONF" || rc=$?
	else
		"$IP_BIN" boot --sysroot "$sysroot" --config "$IP_RUN_CONF" || rc=$?
	fi
	return "$rc"
}

# ip_chosen SYSROOT BUILTIN: prints the system the boot mode chose when it is
# not the built-in one and has an init; prints nothing for the built-in one.
# Fails (after the banner) when the hand-off names something unusable.
ip_chosen() {
	local sysroot="$1" builtin="$2" system=""
	[ -r "$IP_HANDOFF/system" ] || return 0
	read -r system <"$IP_HANDOFF/system" || [ -n "$system" ] || return 0
	case "$system" in
	"$builtin" | "") return 0 ;;
	/nix/store/?*) ;;
	*)
		ip_banner "the hand-off names '$system', not a store path" "$builtin"
		return 1
		;;
	esac
	case "$system" in
	*/../* | */.. | */./* | */.)
		ip_banner "the hand-off names '$system', not a plain store path" "$builtin"
		return 1
		;;
	esac
	if [ ! -f "$sysroot$system/init" ]; then
		ip_banner "$system has no init in $sysroot" "$builtin"
		return 1
	fi
	echo "$system"
}

# ip_stage2_entry SYSROOT SYSTEM: prints what scripted stage 1 must hand to
# switch_root for SYSTEM, or fails (printing the reason) when it has no way
# in.  The three shapes of a toplevel (nixpkgs
# nixos/modules/system/activation/top-level.nix):
#   scripted stage 1 built:  init = the stage-2 script (activates, then
#                            execs systemd); no prepare-root
#   systemd stage 1 built:   init = a copy of $systemd/lib/systemd/systemd,
#                            prepare-root = the same stage-2 script, which
#                            run as PID 1 (IN_NIXOS_SYSTEMD_STAGE1 unset)
#                            activates and then execs systemd
#                            (nixos/modules/system/boot/stage-2-init.sh)
#   system.nixos-init.enable: init = systemd, no prepare-root: activation
#                            is nixos-init's, run from the systemd initrd
# Handing the systemd copy to switch_root would start systemd with no
# activation (no /run/current-system, the old /etc): refused.  (cmp is one
# of the busybox applets stage-1.nix copies into extraUtils.)
ip_stage2_entry() {
	local sysroot="$1" system="$2" init systemd
	if [ -e "$sysroot$system/prepare-root" ] || [ -L "$sysroot$system/prepare-root" ]; then
		echo "$system/prepare-root"
		return 0
	fi
	init=$(ip_resolve_in_root "$sysroot" "$system/init") || init=""
	systemd=$(ip_resolve_in_root "$sysroot" "$system/systemd/lib/systemd/systemd") || systemd=""
	if [ -z "$init" ] || [ ! -e "$sysroot$init" ]; then
		echo "$system has no init"
		return 1
	fi
	if [ -n "$systemd" ] && [ -f "$sysroot$systemd" ] && cmp -s "$sysroot$init" "$sysroot$systemd"; then
		echo "$system starts systemd directly and has no prepare-root (built with system.nixos-init.enable?); scripted stage 1 cannot activate it: build it with boot.initrd.systemd.enable and without nixos-init, or boot an image with systemd stage 1"
		return 1
	fi
	echo "$system/init"
}

# What to do when the step failed outright (the binary handles its own
# failures per on-failure; this covers crashes, timeouts and config errors).
# Returns 0 when stage 1 should go on with the built-in system.
ip_policy() {
	case "${IP_ON_FAILURE:-fallback}" in
	halt)
		ip_say "on-failure = halt: powering off"
		sync
		return 1
		;;
	reboot)
		ip_say "on-failure = reboot: rebooting"
		sync
		return 1
		;;
	esac
	return 0
}

# systemd stage 1.  Runs after initrd-find-nixos-closure.service, before
# initrd.target; initrd-nixos-activation.service (after
# initrd-switch-root.target) then activates whatever /nixos-closure names.
# Returns 0 to let the boot go on; non-zero only under halt/reboot, for the
# unit's FailureAction.
ip_systemd_main() {
	local sysroot="${1:-/sysroot}" builtin system rc=0 prep new_systemd
	builtin=$(readlink "$IP_CLOSURE_LINK") || builtin=""
	if [ -z "$builtin" ]; then
		ip_banner "$IP_CLOSURE_LINK is missing (initrd-find-nixos-closure.service failed?)"
		ip_policy
		return
	fi
	ip_run_boot "$sysroot" "$builtin" || rc=$?
	if [ "$rc" != 0 ]; then
		ip_banner "initrd-provision boot exited with status $rc" "$builtin"
		ip_policy
		return
	fi
	system=$(ip_chosen "$sysroot" "$builtin") || {
		ip_policy
		return
	}
	[ -n "$system" ] || return 0
	# initrd-nixos-activation runs <closure>/prepare-root; a system built
	# without systemd stage 1 has none and could not be activated.
	prep=$(readlink "$sysroot$system/prepare-root") || prep="$system/prepare-root"
	if [ ! -x "$sysroot$prep" ]; then
		ip_banner "$system has no prepare-root (build it with boot.initrd.systemd.enable and without system.nixos-init.enable)" "$builtin"
		ip_policy
		return
	fi
	ln -sfn "$system" "$IP_CLOSURE_LINK" || {
		ip_banner "cannot re-point $IP_CLOSURE_LINK" "$builtin"
		ip_policy
		return
	}
	# Empty NEW_INIT makes PID 1 exec the initrd's own systemd inside the
	# root: right only when the new system has the same systemd.
	new_systemd=$(readlink "$sysroot$system/systemd") || new_systemd=""
	if [ -n "$new_systemd" ] && [ "$new_systemd" = "$IP_INITRD_SYSTEMD" ]; then
		echo "NEW_INIT=" >"$IP_SWITCH_ROOT_CONF"
	else
		echo "NEW_INIT=$system/init" >"$IP_SWITCH_ROOT_CONF"
	fi
	ip_say "handing over to $system"
}

# Scripted stage 1 (postMountCommands, before the network flush).  Prints
# the new stage 2 entry (ip_stage2_entry) on stdout when the boot mode chose
# another system; the caller assigns it to stage2Init.  Returns non-zero only under
# halt/reboot.
ip_scripted_main() {
	local sysroot="$1" init="$2" builtin system entry rc=0
	builtin=$(ip_builtin_from_init "$sysroot" "$init") || builtin=""
	if [ -z "$builtin" ]; then
		ip_banner "cannot resolve init=$init inside $sysroot"
		ip_policy
		return
	fi
	ip_run_boot "$sysroot" "$builtin" >&2 || rc=$?
	if [ "$rc" != 0 ]; then
		ip_banner "initrd-provision boot exited with status $rc" "$builtin"
		ip_policy
		return
	fi
	system=$(ip_chosen "$sysroot" "$builtin") || {
		ip_policy
		return
	}
	[ -n "$system" ] || return 0
	if ! entry=$(ip_stage2_entry "$sysroot" "$system"); then
		ip_banner "$entry" "$builtin"
		ip_policy
		return
	fi
	ip_say "handing over to $system ($entry)"
	echo "$entry"
}

# ip_write_cmdline CMDLINE OUT: after ip_systemd_main handed over to another
# system, writes CMDLINE with init= naming that system to OUT, for units
# that read init= from /proc/cmdline themselves (initrd-find-etc.service
# gets OUT bound over /proc/cmdline; see initrd-unit.nix).  Writes nothing
# otherwise: they then read the real command line.
ip_write_cmdline() {
	local src="$1" out="$2" closure system="" word line=""
	closure=$(readlink "$IP_CLOSURE_LINK") || return 0
	[ -r "$IP_HANDOFF/system" ] && read -r system <"$IP_HANDOFF/system"
	[ -n "$system" ] && [ "$system" = "$closure" ] || return 0
	# Words split, never globbed (a '*' in a parameter stays as it is).
	line=$(
		set -f
		for word in $(cat "$src"); do
			case "$word" in
			init=*) ;;
			*) printf '%s ' "$word" ;;
			esac
		done
	) || return 0
	echo "${line}init=$closure/init" >"$out.tmp" && mv -f "$out.tmp" "$out"
}
