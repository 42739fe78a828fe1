# The systemd-stage-1 side of boot.initrd.provision, as plain data: the
# initrd-provision.service declaration (in the shape of NixOS's
# boot.initrd.systemd.services.<name>), the ordering it imposes on
# initrd-find-etc.service when /etc is an overlay, and a renderer that turns
# them into unit files the way nixpkgs does.  Builtins only (like
# render-config.nix), so the NixOS module and the tests that boot the unit in
# a real systemd initrd (tools/mkinitrd-systemd, qemu-tests/systemd-stage1)
# evaluate the same declaration.
#
#   let u = import ./initrd-unit.nix; in
#   u.provisionService { binary = "/nix/store/…/bin/initrd-provision";
#     initrdSystemd = "/nix/store/…-systemd"; timeout = 900; onFailure = "fallback"; }
#   u.renderService { name = "initrd-provision"; service = …; execStart = "/…/initrd-provision-start"; }
let
  inherit (builtins)
    attrNames
    concatLists
    concatStringsSep
    isList
    map
    readFile
    toJSON
    toString
    ;

  # The variables stage1-glue.sh expects from both stage 1 flavours.
  glueVars =
    { timeout, onFailure }:
    ''
      IP_CONF=/etc/initrd-provision.conf
      IP_RUN_CONF=/run/initrd-provision.conf
      IP_HANDOFF=/run/initrd-provision
      IP_TIMEOUT=${toString timeout}
      IP_ON_FAILURE=${onFailure}
    '';

  # What initrd-find-etc.service reads instead of /proc/cmdline: written by
  # the unit below (ip_write_cmdline in stage1-glue.sh).
  cmdlineFile = "/run/initrd-provision/cmdline";

  provisionService =
    {
      # The static binary (a store path inside the initrd).
      binary,
      # boot.initrd.systemd.package: whose compiled-in binary path an empty
      # NEW_INIT makes PID 1 exec inside the new root.
      initrdSystemd,
      timeout ? 900,
      onFailure ? "fallback",
      glue ? readFile ./stage1-glue.sh,
    }:
    {
      description = "Provision the NixOS system named by EC2 user-data";
      # Root mounted, closure found (/nixos-closure exists), activation not
      # yet run (initrd-nixos-activation comes after initrd-switch-root.target).
      after = [
        "initrd-find-nixos-closure.service"
        "systemd-modules-load.service"
        "systemd-udev-trigger.service"
      ];
      wants = [ "initrd-find-nixos-closure.service" ];
      before = [
        "initrd.target"
        "shutdown.target"
      ];
      conflicts = [ "shutdown.target" ];
      wantedBy = [ "initrd.target" ];
      unitConfig =
        {
          DefaultDependencies = false;
          RequiresMountsFor = "/sysroot/nix/store";
          AssertPathExists = "/etc/initrd-release";
        }
        # FailureAction= is a [Unit] setting (systemd.unit(5), since systemd
        # 236); [Service] is only a legacy alias (systemd 252 still parses
        # Service.FailureAction; qemu-tests/systemd-stage1 powers off with
        # either).  The glue makes the unit fail only under halt/reboot.
        // (if onFailure == "halt" then { FailureAction = "poweroff-force"; } else { })
        // (if onFailure == "reboot" then { FailureAction = "reboot-force"; } else { });
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        StandardOutput = "journal+console";
        StandardError = "journal+console";
        # The glue bounds the binary itself; this only backs it up.
        TimeoutStartSec = if timeout == 0 then "infinity" else "${toString (timeout + 60)}s";
      };
      script = ''
        set +e
        export PATH=/bin:/sbin
        ${glueVars { inherit timeout onFailure; }}
        IP_BIN=${binary}
        IP_CLOSURE_LINK=/nixos-closure
        IP_SWITCH_ROOT_CONF=/etc/switch-root.conf
        IP_INITRD_SYSTEMD=${initrdSystemd}
        ${glue}
        ip_systemd_main /sysroot
        ip_rc=$?
        ip_write_cmdline /proc/cmdline ${cmdlineFile}
        exit $ip_rc
      '';
    };

  # With system.etc.overlay.enable, initrd-find-etc.service (nixos-init
  # find-etc, nixpkgs nixos/modules/system/etc/etc-activation.nix) picks the
  # /etc image of the toplevel that init= on /proc/cmdline names
  # (pkgs/by-name/ni/nixos-init/src/lib.rs, find_toplevel_in_prefix): the
  # built-in system's.  Run it after provisioning and let it read a command
  # line whose init= is the system being booted.  "-": when the unit wrote
  # nothing, find-etc reads the real /proc/cmdline (the built-in system).
  findEtcOverride = {
    after = [ "initrd-provision.service" ];
    serviceConfig.BindReadOnlyPaths = "-${cmdlineFile}:/proc/cmdline";
  };

  # --- rendering, as nixpkgs does it (nixos/lib/systemd-lib.nix: unitConfig,
  # attrsToSection, commonUnitText, serviceToUnit, makeJobScript) -----------
  toOption =
    x:
    if x == true then
      "true"
    else if x == false then
      "false"
    else
      toString x;

  # attrsToSection: one Key=value line per value (lists repeat the key),
  # keys in attribute-name order.
  attrsToSection =
    as:
    concatStringsSep "" (
      concatLists (
        map (name: map (x: "${name}=${toOption x}\n") (if isList as.${name} then as.${name} else [ as.${name} ])) (
          attrNames as
        )
      )
    );

  listKey = key: l: if l == [ ] then { } else { ${key} = toString l; };

  # [Unit]: the dependency lists become space-separated keys beside unitConfig.
  unitSection =
    s:
    (s.unitConfig or { })
    // listKey "Requires" (s.requires or [ ])
    // listKey "Wants" (s.wants or [ ])
    // listKey "After" (s.after or [ ])
    // listKey "Before" (s.before or [ ])
    // listKey "Conflicts" (s.conflicts or [ ])
    // (if (s.description or "") != "" then { Description = s.description; } else { });

  # renderService { name, service, execStart ? null, environment ? { } }:
  # the text of <name>.service.  execStart is where the test put the script
  # (renderScript); NixOS puts it in a store path of its own.
  renderService =
    {
      name,
      service,
      execStart ? null,
      environment ? { },
    }:
    let
      serviceSection =
        (service.serviceConfig or { })
        // (if execStart != null then { ExecStart = execStart; } else { });
      wantedBy = service.wantedBy or [ ];
    in
    ''
      [Unit]
      ${attrsToSection (unitSection service)}
    ''
    + ''
      [Service]
    ''
    + concatStringsSep "" (map (n: "Environment=${toJSON "${n}=${environment.${n}}"}\n") (attrNames environment))
    + attrsToSection serviceSection
    + (
      if wantedBy == [ ] then
        ""
      else
        ''

          [Install]
          WantedBy=${concatStringsSep " " wantedBy}
        ''
    );

  # A drop-in (<unit>.d/<file>.conf) that extends a unit defined elsewhere:
  # what the NixOS module system's merge of two definitions amounts to for
  # list-valued ordering keys and additional service settings.
  renderDropIn =
    override:
    let
      u = unitSection override;
      s = override.serviceConfig or { };
    in
    (if u == { } then "" else "[Unit]\n${attrsToSection u}")
    + (if s == { } then "" else "[Service]\n${attrsToSection s}");

  # makeJobScript without enableStrictShellChecks: writeShellScriptBin with
  # `set -e` in front (the unit's script turns it off again).
  renderScript =
    {
      service,
      shell ? "/bin/bash",
    }:
    ''
      #!${shell}
      set -e

      ${service.script}
    '';

  # The .wants / .requires directories generateUnits links the unit into.
  installLinks =
    service:
    map (t: "${t}.wants") (service.wantedBy or [ ]) ++ map (t: "${t}.requires") (service.requiredBy or [ ]);
in
{
  inherit
    glueVars
    cmdlineFile
    provisionService
    findEtcOverride
    renderService
    renderDropIn
    renderScript
    installLinks
    ;
}
