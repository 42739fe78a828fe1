# Stage-2 side of boot.initrd.provision.stage2.bootDefault (bash, inlined by
# nixos-module/default.nix into initrd-provision-boot-default.service; run
# against fake roots by stage1/tests/nixos-module.test.sh).
#
# After a boot the initrd provisioned, makes the booted system the boot
# default the way `switch-to-configuration boot` does after `nix-env --set`
# (nixpkgs nixos/modules/system/activation/switch-to-configuration.nix): the
# initrd already made it the newest generation of the system profile; its
# own switch-to-configuration installs the boot loader entries.  Only when
# nothing moved since: the report's system is the booted one, it is still
# the current system, and the system profile still names it.
#
# IP_ROOT: "" in the unit; a fake root in the tests.

ip_boot_default() {
	local report="$IP_ROOT/run/initrd-provision/report.json" outcome system booted current profile
	outcome=$(jq -r '.outcome // empty' "$report") || return 1
	system=$(jq -r '.system // empty' "$report") || return 1
	case "$outcome" in
	provisioned | unchanged) ;;
	*)
		echo "boot default left alone: the initrd's outcome was '$outcome'"
		return 0
		;;
	esac
	booted=$(readlink -f "$IP_ROOT/run/booted-system") || booted=""
	current=$(readlink -f "$IP_ROOT/run/current-system") || current=""
	profile=$(readlink -f "$IP_ROOT/nix/var/nix/profiles/system") || profile=""
	booted=${booted#"$IP_ROOT"} current=${current#"$IP_ROOT"} profile=${profile#"$IP_ROOT"}
	if [ -z "$system" ] || [ "$system" != "$booted" ] || [ "$current" != "$booted" ] || [ "$profile" != "$booted" ]; then
		echo "boot default left alone: the initrd handed over '$system'; booted '$booted', current '$current', system profile '$profile'"
		return 0
	fi
	echo "making $booted the boot default (switch-to-configuration boot)"
	"$IP_ROOT$booted/bin/switch-to-configuration" boot
}
