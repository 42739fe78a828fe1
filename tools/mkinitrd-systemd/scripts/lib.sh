# Shared by the stand-in scripts.
# in_sysroot PATH: PATH with its symlinks resolved as if /sysroot were /
# (what nixpkgs' chroot-realpath and nixos-init's resolve_in_prefix do).
in_sysroot() {
	local todo="${1#/}" done="" part link n=0
	while [ -n "$todo" ]; do
		part=${todo%%/*}
		[ "$part" = "$todo" ] && todo="" || todo=${todo#*/}
		case "$part" in
		"" | .) continue ;;
		..) done=${done%/*}; continue ;;
		esac
		if link=$(readlink "/sysroot$done/$part"); then
			n=$((n + 1))
			[ "$n" -le 40 ] || return 1
			case "$link" in /*) done="" ;; esac
			todo="${link#/}${todo:+/$todo}"
		else
			done="$done/$part"
		fi
	done
	echo "${done:-/}"
}
# init_param: the value of init= on /proc/cmdline (the last one).
init_param() {
	local w v=""
	for w in $(cat /proc/cmdline); do
		case "$w" in init=*) v=${w#init=} ;; esac
	done
	echo "$v"
}
