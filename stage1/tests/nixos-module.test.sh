#!/usr/bin/env bash
# The NixOS side, as far as it can be checked without nixpkgs: every .nix file
# parses; the config file generator (nixos-module/render-config.nix, the one
# the module uses) renders fixtures exactly and refuses what nix.conf syntax
# cannot carry; the binary's --check-config accepts what it renders; and the
# stage-1 glue (nixos-module/stage1-glue.sh, inlined by the module into the
# systemd unit and the scripted postMountCommands) hands over correctly,
# run under bash and busybox ash against fake roots and a stub binary.
SUITE=nixos-module
. "$(dirname "$0")/lib.sh"

DATA=${IP_TEST_DATA:-$REPO_ROOT/stage1/tests/data}/nixos-module
GLUE=$REPO_ROOT/nixos-module/stage1-glue.sh
RENDER=$REPO_ROOT/nixos-module/render-config.nix

# Real Nix, hermetic: its own state and configuration, no daemon, no store writes.
export NIX_STATE_DIR=$TEST_TMP/nix-state NIX_CONF_DIR=$TEST_TMP/nix-conf NIX_LOG_DIR=$TEST_TMP/nix-log
export HOME=$TEST_TMP/home XDG_CACHE_HOME=$TEST_TMP/cache NIX_PATH=
mkdir -p "$NIX_STATE_DIR" "$NIX_CONF_DIR" "$HOME"
printf 'build-users-group =\nsubstituters =\n' >"$NIX_CONF_DIR/nix.conf"

have_nix() { command -v nix-instantiate >/dev/null; }

# render EXPR-OF-OPTION-VALUES: prints the rendered file exactly.
render() {
	local json
	json=$(timeout 30 nix-instantiate --eval --strict --json \
		-E "(import $RENDER).renderOptions ($1)") || return 1
	jq -j . <<<"$json"
}

case_parse() {
	have_nix || { skip_because "nix-instantiate not installed"; return 0; }
	local files=() f bad=""
	while IFS= read -r -d '' f; do files+=("$f"); done < <(
		cd "$REPO_ROOT" && find . \( -path ./build -o -path ./.git -o -name node_modules \) -prune \
			-o -name '*.nix' -print0
	)
	[ ${#files[@]} -ge 8 ] || { fail_because "found only ${#files[@]} .nix files"; return 1; }
	for f in "${files[@]}"; do
		timeout 30 nix-instantiate --parse "$REPO_ROOT/$f" >/dev/null 2>"$TEST_TMP/parse.err" ||
			bad="$bad $f: $(head -n1 "$TEST_TMP/parse.err")"
	done
	[ -z "$bad" ] || fail_because "parse errors:$bad"
}

case_render_fixture() { # NAME
	have_nix || { skip_because "nix-instantiate not installed"; return 0; }
	local out=$TEST_TMP/$1.conf
	render "import $DATA/$1.nix" >"$out" 2>"$TEST_TMP/$1.err" ||
		{ fail_because "render failed: $(tail -n1 "$TEST_TMP/$1.err")"; return 1; }
	cmp -s "$out" "$DATA/$1.conf" ||
		fail_because "differs from $1.conf: $(diff "$DATA/$1.conf" "$out" | head -n4 | tr '\n' ' ')"
}
case_render_defaults() { case_render_fixture defaults; }
case_render_full() { case_render_fixture full; }

# Values nix.conf syntax cannot carry, and keys the module owns, must fail
# evaluation with a message that names the key.
case_render_rejects() {
	have_nix || { skip_because "nix-instantiate not installed"; return 0; }
	local cases=(
		'substituters = [ "https://a.example#frag" ];|substituters'
		'substituters = [ "https://a.example https://b.example" ];|substituters'
		'substituters = [ "" ];|substituters'
		'imds.endpoint = "http://169.254.169.254\nx = y";|imds-endpoint'
		'tagName = "a#b";|system-tag'
		'extraSettings.substituters = [ "https://a.example" ];|substituters'
		'extraSettings.builtin-system = "/nix/store/x";|builtin-system'
		'extraSettings."Bad_Key" = "x";|Bad_Key'
		'extraSettings.jobs = -1;|jobs'
		'extraSettings.interfaces = [ 1 ];|interfaces'
	)
	local c expr key err
	for c in "${cases[@]}"; do
		expr=${c%|*}
		key=${c##*|}
		if err=$(render "{ $expr }" 2>&1 >/dev/null); then
			fail_because "accepted: { $expr }"
			return 1
		fi
		case "$err" in
		*"initrd-provision config: "*"$key"*) ;;
		*) fail_because "{ $expr }: error does not name $key: $(echo "$err" | grep -m1 error)"; return 1 ;;
		esac
	done
}

# --- the systemd-stage-1 unit (nixos-module/initrd-unit.nix) --------------------
UNIT=$REPO_ROOT/nixos-module/initrd-unit.nix
# unit_eval ONFAILURE ATTR: ATTR of the unit rendered with fixed store paths
# (unit, script, dropin, links), printed exactly.
unit_eval() {
	local json
	json=$(timeout 30 nix-instantiate --eval --strict --json -E "
		let u = import $UNIT;
		  s = u.provisionService {
		    binary = \"/nix/store/00000000000000000000000000000000-initrd-provision/bin/initrd-provision\";
		    initrdSystemd = \"/nix/store/11111111111111111111111111111111-systemd-257\";
		    onFailure = \"$1\"; glue = \"# glue\n\"; };
		in {
		  unit = u.renderService { name = \"initrd-provision\"; service = s;
		    execStart = \"/nix/store/22222222222222222222222222222222-unit-script-initrd-provision-start/bin/initrd-provision-start\"; };
		  script = u.renderScript { service = s; };
		  dropin = u.renderDropIn u.findEtcOverride;
		  links = builtins.concatStringsSep \" \" (u.installLinks s);
		}") || return 1
	jq -j ".$2" <<<"$json"
}

# section FILE NAME: the lines of [NAME] in a unit file.
section() { awk -v s="[$2]" '/^\[/ { on = ($0 == s); next } on && NF' "$1"; }

case_unit_render() {
	have_nix || { skip_because "nix-instantiate not installed"; return 0; }
	local out=$TEST_TMP/unit.service
	unit_eval halt unit >"$out" 2>"$TEST_TMP/unit.err" ||
		{ fail_because "rendering initrd-unit.nix failed: $(grep -m1 error "$TEST_TMP/unit.err")"; return 1; }
	cmp -s "$out" "$DATA/initrd-provision-halt.service" ||
		{ fail_because "differs from initrd-provision-halt.service: $(diff "$DATA/initrd-provision-halt.service" "$out" | head -n4 | tr '\n' ' ')"; return 1; }
	# systemd.unit(5): FailureAction= is a [Unit] setting ([Service] is a
	# legacy alias only).
	section "$out" Unit | grep -qx 'FailureAction=poweroff-force' ||
		{ fail_because "no FailureAction=poweroff-force in [Unit]"; return 1; }
	! section "$out" Service | grep -q '^FailureAction=' ||
		{ fail_because "FailureAction in [Service]"; return 1; }
	unit_eval reboot unit | section /dev/stdin Unit | grep -qx 'FailureAction=reboot-force' ||
		{ fail_because "reboot: no FailureAction=reboot-force in [Unit]"; return 1; }
	! unit_eval fallback unit | grep -q FailureAction ||
		{ fail_because "fallback: a FailureAction is set"; return 1; }
	[ "$(unit_eval halt links)" = initrd.target.wants ] ||
		{ fail_because "install links: $(unit_eval halt links)"; return 1; }
	# The script: writeShellScriptBin's shape, set -e undone, the glue, the
	# hand-off, then the command line for find-etc, and the glue's status.
	unit_eval halt script >"$TEST_TMP/script"
	[ "$(head -n2 "$TEST_TMP/script" | tr '\n' ' ')" = "#!/bin/bash set -e " ] &&
		grep -qx 'set +e' "$TEST_TMP/script" && grep -qx '# glue' "$TEST_TMP/script" &&
		grep -qx 'IP_ON_FAILURE=halt' "$TEST_TMP/script" &&
		[ "$(grep -A3 -x 'ip_systemd_main /sysroot' "$TEST_TMP/script" | tr '\n' ' ')" = \
			"ip_systemd_main /sysroot ip_rc=\$? ip_write_cmdline /proc/cmdline /run/initrd-provision/cmdline exit \$ip_rc " ] ||
		{ fail_because "script: $(tr '\n' ' ' <"$TEST_TMP/script")"; return 1; }
	unit_eval halt dropin >"$TEST_TMP/dropin.conf"
	cmp -s "$TEST_TMP/dropin.conf" "$DATA/initrd-find-etc-dropin.conf" ||
		fail_because "find-etc drop-in differs: $(tr '\n' ' ' <"$TEST_TMP/dropin.conf")"
}

# The boot mode's own parser must take what the generator writes, with and
# without the builtin-system line the glue appends at boot.
case_check_config() {
	local bin=$IP_BIN f out rc
	[ -x "$bin" ] || { skip_because "$bin not built (make test-build)"; return 0; }
	for f in defaults full; do
		cp "$DATA/$f.conf" "$TEST_TMP/check-$f.conf"
		{ cat "$DATA/$f.conf"; echo "builtin-system = /nix/store/1wk0f9akd6d835aksfk9m4gvmbklq9vk-nixos-system-builtin"; } \
			>"$TEST_TMP/check-$f-runtime.conf"
		for conf in "$TEST_TMP/check-$f.conf" "$TEST_TMP/check-$f-runtime.conf"; do
			rc=0
			out=$("$bin" --check-config "$conf" 2>&1) || rc=$?
			if [ "$rc" != 0 ] && grep -q "unknown option '--check-config'" <<<"$out"; then
				skip_because "initrd-provision --check-config not implemented yet"
				return 0
			fi
			[ "$rc" = 0 ] || { fail_because "--check-config $(basename "$conf") exited $rc: $out"; return 1; }
		done
	done
}

# builtin-closure (issue 14): set through extraSettings, written in the
# contract's order, and taken by the boot mode's parser.
case_render_builtin_closure() {
	have_nix || { skip_because "nix-instantiate not installed"; return 0; }
	local out=$TEST_TMP/builtin-closure.conf
	render '{ extraSettings.builtin-closure = "/nix/var/nix/builtin-closure"; }' >"$out" 2>"$TEST_TMP/bc.err" ||
		{ fail_because "render failed: $(tail -n1 "$TEST_TMP/bc.err")"; return 1; }
	[ "$(grep -v '^#' "$out" | head -n 1)" = "builtin-closure = /nix/var/nix/builtin-closure" ] ||
		{ fail_because "rendered: $(grep -v '^#' "$out" | head -n 2 | tr '\n' '|')"; return 1; }
	[ -x "$IP_BIN" ] || return 0
	"$IP_BIN" --check-config "$out" 2>&1 | grep -q '^builtin-closure = /nix/var/nix/builtin-closure$' ||
		fail_because "--check-config does not show it: $("$IP_BIN" --check-config "$out" 2>&1 | head -n 3 | tr '\n' '|')"
}

# --- the stage-1 glue ------------------------------------------------------------
SHELLS=(bash)
if [ -x /bin/busybox ] && /bin/busybox ash -c 'f() { local x=1; }; f' 2>/dev/null; then
	SHELLS+=("/bin/busybox ash")
fi

# glue SHELL SCRIPT: runs SCRIPT after sourcing the glue under SHELL.
glue() {
	local sh=$1
	shift
	$sh -c ". '$GLUE'; $1"
}

case_glue_resolve() {
	local root sh got
	root=$(make_tmpdir)
	mkdir -p "$root/nix/store/aaaa-sys" "$root/nix/var/nix/profiles" "$root/nix/store/bbbb-init-script" "$root/d/e"
	echo '#!/bin/sh' >"$root/nix/store/aaaa-sys/init"
	ln -s /nix/store/aaaa-sys "$root/nix/var/nix/profiles/system-7-link"
	ln -s system-7-link "$root/nix/var/nix/profiles/system"
	ln -s ../../store/aaaa-sys "$root/nix/var/nix/rel"
	ln -s /nix/store/bbbb-init-script/init "$root/nix/store/aaaa-sys/init2"
	ln -s loop2 "$root/loop1"
	ln -s loop1 "$root/loop2"
	ln -s / "$root/d/e/up"
	local cases=(
		"/nix/store/aaaa-sys/init|/nix/store/aaaa-sys/init"
		"/nix/var/nix/profiles/system/init|/nix/store/aaaa-sys/init"
		"//nix/./var/nix/profiles/../profiles/system/init|/nix/store/aaaa-sys/init"
		"/nix/var/nix/rel/init|/nix/store/aaaa-sys/init"
		"/nix/store/aaaa-sys/init2|/nix/store/bbbb-init-script/init"
		"/d/e/up/nix/store/aaaa-sys/init|/nix/store/aaaa-sys/init"
		"/../../nix/store/aaaa-sys|/nix/store/aaaa-sys"
		"/loop1/init|FAIL"
		"relative/init|FAIL"
	)
	local c in want
	for sh in "${SHELLS[@]}"; do
		for c in "${cases[@]}"; do
			in=${c%|*}
			want=${c#*|}
			if got=$(glue "$sh" "ip_resolve_in_root '$root' '$in'" 2>&1); then :; else got=FAIL; fi
			[ "$got" = "$want" ] || { fail_because "$sh: resolve $in: got '$got', want '$want'"; return 1; }
		done
		got=$(glue "$sh" "ip_builtin_from_init '$root' /nix/var/nix/profiles/system/init")
		[ "$got" = /nix/store/aaaa-sys ] || { fail_because "$sh: builtin from init: '$got'"; return 1; }
	done
}

# A fake root with a built-in system and a target, and a stub binary.
# STUB_MODE: handoff (write STUB_SYSTEM), none (write nothing), fail (exit 3),
# sleep (outlive IP_TIMEOUT).
make_world() { # DIR
	local w=$1
	mkdir -p "$w/root/nix/store" "$w/run" "$w/etc"
	local s
	for s in builtin target notarget; do
		mkdir -p "$w/root/nix/store/$s-sys"
	done
	for s in builtin target; do
		echo '#!/bin/sh' >"$w/root/nix/store/$s-sys/init"
		mkdir -p "$w/root/nix/store/$s-prep"
		echo '#!/bin/sh' >"$w/root/nix/store/$s-prep/prepare-root"
		chmod +x "$w/root/nix/store/$s-prep/prepare-root"
		ln -s "/nix/store/$s-prep/prepare-root" "$w/root/nix/store/$s-sys/prepare-root"
	done
	ln -s /nix/store/systemd-A "$w/root/nix/store/builtin-sys/systemd"
	ln -s /nix/store/systemd-A "$w/root/nix/store/target-sys/systemd"
	# The other two shapes of top-level.nix: systemd-built (init = a copy of
	# systemd, prepare-root = the stage-2 script) and nixos-init-built (init
	# = a copy of systemd, no prepare-root).
	mkdir -p "$w/root/nix/store/systemd-A/lib/systemd"
	printf '\177ELF systemd stand-in\n' >"$w/root/nix/store/systemd-A/lib/systemd/systemd"
	for s in sdbuilt niinit; do
		mkdir -p "$w/root/nix/store/$s-sys"
		cp "$w/root/nix/store/systemd-A/lib/systemd/systemd" "$w/root/nix/store/$s-sys/init"
		ln -s /nix/store/systemd-A "$w/root/nix/store/$s-sys/systemd"
	done
	printf '#!/bin/sh\n# stage-2-init.sh\n' >"$w/root/nix/store/sdbuilt-sys/prepare-root"
	chmod +x "$w/root/nix/store/sdbuilt-sys/prepare-root"
	echo "keep-network = false" >"$w/etc/initrd-provision.conf"
	cat >"$w/stub" <<'EOF'
#!/bin/sh
# stub of `initrd-provision boot --sysroot S --config C`
echo "$*" >"$STUB_DIR/args"
cp "$5" "$STUB_DIR/seen.conf"
case "$STUB_MODE" in
handoff) mkdir -p "$IP_HANDOFF" && echo "$STUB_SYSTEM" >"$IP_HANDOFF/system" ;;
none) ;;
fail) exit 3 ;;
sleep) sleep 10 ;;
esac
exit 0
EOF
	chmod +x "$w/stub"
}

glue_env() { # DIR: the variables the module sets, pointed into DIR
	local w=$1
	export STUB_DIR=$w IP_HANDOFF=$w/run/initrd-provision
	export IP_BIN=$w/stub IP_CONF=$w/etc/initrd-provision.conf IP_RUN_CONF=$w/run/initrd-provision.conf
	export IP_TIMEOUT=${IP_TIMEOUT:-5} IP_ON_FAILURE=${IP_ON_FAILURE:-fallback}
	export IP_CLOSURE_LINK=$w/nixos-closure IP_SWITCH_ROOT_CONF=$w/etc/switch-root.conf
	export IP_INITRD_SYSTEMD=/nix/store/systemd-A
}

# scripted SHELL DIR MODE SYSTEM [INIT]: runs ip_scripted_main like the
# module's postMountCommands; prints "<rc> <stage2Init after>".
scripted() {
	local sh=$1 w=$2
	(
		glue_env "$w"
		export STUB_MODE=$3 STUB_SYSTEM=$4
		rm -rf "$w/run/initrd-provision"
		$sh -c ". '$GLUE'
			stage2Init=${5:-/nix/store/builtin-sys/init}
			if ip_next=\$(ip_scripted_main '$w/root' \"\$stage2Init\"); then
				rc=0
				if [ -n \"\$ip_next\" ]; then stage2Init=\$ip_next; fi
			else
				rc=\$?
			fi
			echo \"\$rc \$stage2Init\"" 2>"$w/stderr"
	)
}

case_glue_scripted() {
	local sh w got
	for sh in "${SHELLS[@]}"; do
		w=$(make_tmpdir)
		make_world "$w"
		# Scripted-built systems (init is the stage-2 script): no prepare-root.
		rm "$w/root/nix/store/builtin-sys/prepare-root" "$w/root/nix/store/target-sys/prepare-root"
		got=$(scripted "$sh" "$w" handoff /nix/store/target-sys)
		[ "$got" = "0 /nix/store/target-sys/init" ] || { fail_because "$sh: hand-off: '$got' $(cat "$w/stderr")"; return 1; }
		# The run-time config is the generated one plus builtin-system.
		printf 'keep-network = false\nbuiltin-system = /nix/store/builtin-sys\n' | cmp -s - "$w/seen.conf" ||
			{ fail_because "$sh: run-time config: $(cat "$w/seen.conf")"; return 1; }
		[ "$(cat "$w/args")" = "boot --sysroot $w/root --config $w/run/initrd-provision.conf" ] ||
			{ fail_because "$sh: arguments: $(cat "$w/args")"; return 1; }
		# The built-in system is the directory of init= resolved in the root.
		ln -s /nix/store/builtin-sys "$w/root/nix/store/profile-link"
		got=$(scripted "$sh" "$w" none "" /nix/store/profile-link/init)
		[ "$got" = "0 /nix/store/profile-link/init" ] || { fail_because "$sh: no hand-off: '$got'"; return 1; }
		grep -qx 'builtin-system = /nix/store/builtin-sys' "$w/seen.conf" ||
			{ fail_because "$sh: builtin-system through a link: $(cat "$w/seen.conf")"; return 1; }
		got=$(scripted "$sh" "$w" handoff /nix/store/builtin-sys)
		[ "$got" = "0 /nix/store/builtin-sys/init" ] || { fail_because "$sh: built-in chosen: '$got'"; return 1; }
		# Failures: banner, built-in system, and under fallback stage 1 goes on.
		got=$(scripted "$sh" "$w" fail "")
		[ "$got" = "0 /nix/store/builtin-sys/init" ] &&
			grep -q '^initrd-provision: FAILED glue: initrd-provision boot exited with status 3; booting built-in system /nix/store/builtin-sys$' "$w/stderr" ||
			{ fail_because "$sh: binary fails: '$got' $(cat "$w/stderr")"; return 1; }
		got=$(scripted "$sh" "$w" handoff /nix/store/notarget-sys)
		[ "$got" = "0 /nix/store/builtin-sys/init" ] && grep -q 'FAILED glue: /nix/store/notarget-sys has no init' "$w/stderr" ||
			{ fail_because "$sh: target without init: '$got' $(cat "$w/stderr")"; return 1; }
		got=$(scripted "$sh" "$w" handoff "../../etc/passwd")
		[ "$got" = "0 /nix/store/builtin-sys/init" ] && grep -q "not a store path" "$w/stderr" ||
			{ fail_because "$sh: bad hand-off: '$got' $(cat "$w/stderr")"; return 1; }
		got=$(scripted "$sh" "$w" handoff "/nix/store/target-sys/../builtin-sys")
		[ "$got" = "0 /nix/store/builtin-sys/init" ] && grep -q "not a plain store path" "$w/stderr" ||
			{ fail_because "$sh: dotted hand-off: '$got' $(cat "$w/stderr")"; return 1; }
		got=$(IP_TIMEOUT=1 scripted "$sh" "$w" sleep "")
		[ "$got" = "0 /nix/store/builtin-sys/init" ] && grep -q "FAILED glue: initrd-provision boot exited with status" "$w/stderr" ||
			{ fail_because "$sh: timeout: '$got' $(cat "$w/stderr")"; return 1; }
		got=$(scripted "$sh" "$w" none "" /nix/store/missing/init)
		[ "$got" = "0 /nix/store/missing/init" ] || { fail_because "$sh: unresolvable init: '$got'"; return 1; }
		# halt/reboot: the caller powers off; the glue says so by failing.
		got=$(IP_ON_FAILURE=halt scripted "$sh" "$w" fail "")
		[ "${got%% *}" != 0 ] && grep -q 'on-failure = halt' "$w/stderr" ||
			{ fail_because "$sh: halt policy: '$got' $(cat "$w/stderr")"; return 1; }
	done
}

# Scripted stage 1 hands each shape of toplevel the entry that activates it
# (defect 1 of issue 15): prepare-root for a systemd-built system, the init
# script for a scripted-built one, and a refusal naming nixos-init for one
# that starts systemd with nothing to activate it.
case_glue_scripted_shapes() {
	local sh w got
	for sh in "${SHELLS[@]}"; do
		w=$(make_tmpdir)
		make_world "$w"
		rm "$w/root/nix/store/target-sys/prepare-root"
		got=$(scripted "$sh" "$w" handoff /nix/store/sdbuilt-sys)
		[ "$got" = "0 /nix/store/sdbuilt-sys/prepare-root" ] ||
			{ fail_because "$sh: systemd-built target: '$got' $(cat "$w/stderr")"; return 1; }
		grep -q '^initrd-provision: handing over to /nix/store/sdbuilt-sys (/nix/store/sdbuilt-sys/prepare-root)$' "$w/stderr" ||
			{ fail_because "$sh: systemd-built target: no hand-over line: $(cat "$w/stderr")"; return 1; }
		got=$(scripted "$sh" "$w" handoff /nix/store/target-sys)
		[ "$got" = "0 /nix/store/target-sys/init" ] ||
			{ fail_because "$sh: scripted-built target: '$got' $(cat "$w/stderr")"; return 1; }
		# nixos-init-built: refused with the contract's banner, built-in boots.
		got=$(scripted "$sh" "$w" handoff /nix/store/niinit-sys)
		[ "$got" = "0 /nix/store/builtin-sys/init" ] &&
			grep -q '^initrd-provision: FAILED glue: /nix/store/niinit-sys starts systemd directly and has no prepare-root (built with system.nixos-init.enable?);.*; booting built-in system /nix/store/builtin-sys$' "$w/stderr" ||
			{ fail_because "$sh: nixos-init target: '$got' $(cat "$w/stderr")"; return 1; }
		got=$(IP_ON_FAILURE=halt scripted "$sh" "$w" handoff /nix/store/niinit-sys)
		[ "${got%% *}" != 0 ] && grep -q 'on-failure = halt' "$w/stderr" ||
			{ fail_because "$sh: nixos-init target under halt: '$got' $(cat "$w/stderr")"; return 1; }
		# prepare-root as an absolute link (resolved in the root, not here).
		rm "$w/root/nix/store/sdbuilt-sys/prepare-root"
		ln -s /nix/store/target-prep/prepare-root "$w/root/nix/store/sdbuilt-sys/prepare-root"
		got=$(scripted "$sh" "$w" handoff /nix/store/sdbuilt-sys)
		[ "$got" = "0 /nix/store/sdbuilt-sys/prepare-root" ] ||
			{ fail_because "$sh: prepare-root link: '$got' $(cat "$w/stderr")"; return 1; }
	done
}

# systemd SHELL DIR MODE SYSTEM: runs ip_systemd_main like the initrd unit;
# prints its status.
systemd_run() {
	local sh=$1 w=$2
	(
		glue_env "$w"
		export STUB_MODE=$3 STUB_SYSTEM=$4
		rm -rf "$w/run/initrd-provision" "$w/etc/switch-root.conf"
		$sh -c ". '$GLUE'; ip_systemd_main '$w/root'; echo \$?" 2>"$w/stderr"
	)
}

case_glue_systemd() {
	local sh w got
	for sh in "${SHELLS[@]}"; do
		w=$(make_tmpdir)
		make_world "$w"
		ln -s /nix/store/builtin-sys "$w/nixos-closure"
		got=$(systemd_run "$sh" "$w" handoff /nix/store/target-sys)
		[ "$got" = 0 ] && [ "$(readlink "$w/nixos-closure")" = /nix/store/target-sys ] &&
			[ "$(cat "$w/etc/switch-root.conf")" = "NEW_INIT=" ] ||
			{ fail_because "$sh: same systemd: rc $got, $(readlink "$w/nixos-closure"), $(cat "$w/etc/switch-root.conf" 2>&1)"; return 1; }
		grep -qx 'builtin-system = /nix/store/builtin-sys' "$w/seen.conf" ||
			{ fail_because "$sh: builtin-system: $(cat "$w/seen.conf")"; return 1; }
		# Another systemd: PID 1 must exec the new system's init.
		ln -sfn /nix/store/builtin-sys "$w/nixos-closure"
		ln -sfn /nix/store/systemd-B "$w/root/nix/store/target-sys/systemd"
		got=$(systemd_run "$sh" "$w" handoff /nix/store/target-sys)
		[ "$got" = 0 ] && [ "$(cat "$w/etc/switch-root.conf")" = "NEW_INIT=/nix/store/target-sys/init" ] ||
			{ fail_because "$sh: other systemd: rc $got, $(cat "$w/etc/switch-root.conf" 2>&1)"; return 1; }
		# Nothing to do, and failures: /nixos-closure stays, nothing written.
		local mode
		for mode in none fail; do
			ln -sfn /nix/store/builtin-sys "$w/nixos-closure"
			got=$(systemd_run "$sh" "$w" "$mode" /nix/store/target-sys)
			[ "$got" = 0 ] && [ "$(readlink "$w/nixos-closure")" = /nix/store/builtin-sys ] &&
				[ ! -e "$w/etc/switch-root.conf" ] ||
				{ fail_because "$sh: mode $mode: rc $got, $(readlink "$w/nixos-closure")"; return 1; }
		done
		# A system without prepare-root (scripted stage 1) cannot be activated.
		rm "$w/root/nix/store/target-sys/prepare-root"
		got=$(systemd_run "$sh" "$w" handoff /nix/store/target-sys)
		[ "$got" = 0 ] && [ "$(readlink "$w/nixos-closure")" = /nix/store/builtin-sys ] &&
			grep -q 'has no prepare-root' "$w/stderr" ||
			{ fail_because "$sh: no prepare-root: rc $got, $(cat "$w/stderr")"; return 1; }
		# No /nixos-closure: nothing to hand over to; fallback goes on, halt fails.
		rm "$w/nixos-closure"
		got=$(systemd_run "$sh" "$w" handoff /nix/store/target-sys)
		[ "$got" = 0 ] && grep -q 'nixos-closure is missing' "$w/stderr" ||
			{ fail_because "$sh: no /nixos-closure: rc $got"; return 1; }
		got=$(IP_ON_FAILURE=reboot systemd_run "$sh" "$w" handoff /nix/store/target-sys)
		[ "$got" != 0 ] || { fail_because "$sh: reboot policy returned 0"; return 1; }
	done
}

# stage2.bootDefault's unit (nixos-module/boot-default.sh) against a fake
# root: it runs the booted system's switch-to-configuration boot only after a
# provisioned boot that nothing changed since.
BOOT_DEFAULT=$REPO_ROOT/nixos-module/boot-default.sh
case_boot_default() {
	command -v jq >/dev/null || { skip_because "jq not installed"; return 0; }
	local r got s
	r=$(make_tmpdir)
	mkdir -p "$r/run/initrd-provision" "$r/nix/var/nix/profiles"
	for s in image pushed; do
		mkdir -p "$r/nix/store/$s-sys/bin"
		printf '#!/bin/sh\necho "switch-to-configuration of %s: $*"\n' "$s" >"$r/nix/store/$s-sys/bin/switch-to-configuration"
		chmod +x "$r/nix/store/$s-sys/bin/switch-to-configuration"
	done
	ln -s "$r/nix/store/image-sys" "$r/nix/var/nix/profiles/system-1-link"
	ln -s "$r/nix/store/pushed-sys" "$r/nix/var/nix/profiles/system-2-link"
	ln -s system-2-link "$r/nix/var/nix/profiles/system"
	ln -s "$r/nix/store/pushed-sys" "$r/run/booted-system"
	ln -s "$r/nix/store/pushed-sys" "$r/run/current-system"
	bd() { IP_ROOT=$r bash -c "set -u; . '$BOOT_DEFAULT'; ip_boot_default" 2>&1; }
	local cases=(
		'provisioned|/nix/store/pushed-sys|switch-to-configuration of pushed: boot'
		'unchanged|/nix/store/pushed-sys|switch-to-configuration of pushed: boot'
		'builtin|/nix/store/image-sys|boot default left alone: the initrd'"'"'s outcome was '"'"'builtin'"'"
		'fallback|/nix/store/image-sys|boot default left alone'
		'provisioned|/nix/store/image-sys|boot default left alone: the initrd handed over'
	)
	local c outcome system want
	for c in "${cases[@]}"; do
		IFS='|' read -r outcome system want <<<"$c"
		printf '{"outcome":"%s","system":"%s"}\n' "$outcome" "$system" >"$r/run/initrd-provision/report.json"
		got=$(bd)
		case "$got" in
		*"$want"*) ;;
		*) fail_because "$outcome/$system: got '$got', want '$want'"; return 1 ;;
		esac
		if [ "$want" = "${want#switch-to}" ] && [ "$got" != "${got#*switch-to-configuration of}" ]; then
			fail_because "$outcome/$system: ran switch-to-configuration: $got"; return 1
		fi
	done
	# The operator switched since boot: the profile moved on, leave it.
	printf '{"outcome":"provisioned","system":"/nix/store/pushed-sys"}\n' >"$r/run/initrd-provision/report.json"
	ln -sfn system-1-link "$r/nix/var/nix/profiles/system"
	got=$(bd)
	case "$got" in
	*"system profile '/nix/store/image-sys'"*) ;;
	*) fail_because "profile moved: $got"; return 1 ;;
	esac
	# A report that is not JSON fails the unit (journal says why).
	echo 'not json' >"$r/run/initrd-provision/report.json"
	if bd >/dev/null; then fail_because "a broken report was accepted"; return 1; fi
}

# ip_write_cmdline: the command line find-etc reads names the system handed over to.
case_glue_cmdline() {
	local sh w got
	for sh in "${SHELLS[@]}"; do
		w=$(make_tmpdir)
		make_world "$w"
		printf 'console=ttyS0 init=/nix/var/nix/profiles/system/init quiet x=*\n' >"$w/cmdline"
		ln -s /nix/store/builtin-sys "$w/nixos-closure"
		got=$(systemd_run "$sh" "$w" handoff /nix/store/target-sys)
		# A file the word x=* would glob to, in the directory it runs in.
		touch "$w/x=glob"
		(glue_env "$w"; cd "$w" && $sh -c ". '$GLUE'; ip_write_cmdline '$w/cmdline' '$w/out'")
		[ "$(cat "$w/out" 2>&1)" = "console=ttyS0 quiet x=* init=/nix/store/target-sys/init" ] ||
			{ fail_because "$sh: hand-off: '$(cat "$w/out" 2>&1)'"; return 1; }
		# No hand-off, or one the glue refused: nothing written (find-etc reads
		# the real command line, the built-in system's).
		local mode
		for mode in none fail; do
			rm -f "$w/out"
			ln -sfn /nix/store/builtin-sys "$w/nixos-closure"
			got=$(systemd_run "$sh" "$w" "$mode" /nix/store/target-sys)
			(glue_env "$w"; $sh -c ". '$GLUE'; ip_write_cmdline '$w/cmdline' '$w/out'")
			[ ! -e "$w/out" ] || { fail_because "$sh: mode $mode wrote '$(cat "$w/out")'"; return 1; }
		done
		rm "$w/root/nix/store/target-sys/prepare-root"
		got=$(systemd_run "$sh" "$w" handoff /nix/store/target-sys)
		(glue_env "$w"; $sh -c ". '$GLUE'; ip_write_cmdline '$w/cmdline' '$w/out'")
		[ ! -e "$w/out" ] || { fail_because "$sh: refused target: wrote '$(cat "$w/out")'"; return 1; }
	done
}

run_case parse case_parse
run_case render-defaults case_render_defaults
run_case render-full case_render_full
run_case render-rejects case_render_rejects
run_case check-config case_check_config
run_case unit-render case_unit_render
run_case render-builtin-closure case_render_builtin_closure
run_case glue-resolve case_glue_resolve
run_case glue-scripted case_glue_scripted
run_case glue-scripted-shapes case_glue_scripted_shapes
run_case glue-systemd case_glue_systemd
run_case glue-cmdline case_glue_cmdline
run_case boot-default case_boot_default
