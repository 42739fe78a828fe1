# boot.initrd.provision: boot the NixOS system that the instance's EC2
# user-data names, fetched from a Nix binary cache inside the initrd by the
# static `initrd-provision` binary.  See README.md ("Use it on AWS") and
# boot-contract.md for the binary's side of the bargain.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:

let
  inherit (lib)
    concatMapStringsSep
    literalExpression
    mkDefault
    mkIf
    mkMerge
    mkOption
    optional
    optionalAttrs
    types
    ;

  cfg = config.boot.initrd.provision;
  renderer = import ./render-config.nix;
  systemdStage1 = config.boot.initrd.systemd.enable;

  settingsText = renderer.renderOptions {
    inherit (cfg)
      substituters
      trustedPublicKeys
      allowUserDataSubstituters
      allowUserDataKeys
      tagName
      onFailure
      kernelMismatch
      keepNetwork
      apply
      extraSettings
      ;
    imds = {
      inherit (cfg.imds) endpoint timeout allowV1;
    };
    # No builtin-kernel: the binary takes <builtin-system>/kernel, the kernel
    # of the generation the loader booted (its entry pairs that kernel with
    # this initrd).  Writing the kernel's path here carried its string
    # context, and make-initrd copies the whole closure of every file it is
    # given (nixpkgs pkgs/build-support/kernel/make-initrd.sh,
    # make-initrd-ng): bzImage and all of lib/modules in the initrd.
  };

  canRunPackage = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;

  configFile =
    pkgs.runCommand "initrd-provision.conf"
      {
        text = settingsText;
        passAsFile = [ "text" ];
      }
      ''
        cp "$textPath" "$out"
        ${lib.optionalString (cfg.checkConfig && canRunPackage) ''
          ${lib.getExe cfg.package} --check-config "$out"
        ''}
      '';

  caBundle = pkgs.runCommand "initrd-provision-ca-bundle.crt" { } ''
    cp ${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt "$out"
  '';

  binary = lib.getExe cfg.package;

  initrdUnit = import ./initrd-unit.nix;
  glueVars = initrdUnit.glueVars { inherit (cfg) timeout onFailure; };

  glueLib = builtins.readFile ./stage1-glue.sh;

  keyIsValid = k: builtins.match "[^:[:space:]]+:[A-Za-z0-9+/]{43}=" k != null;
  substituterIsValid = s: builtins.match "(https?|s3)://[^[:space:]]+" s != null;

  # The keys of the contract that only extraSettings can set.
  extraKeys = lib.subtractLists renderer.ownedKeys renderer.contractKeys;

  nixEnabled = config.nix.enable or true;

  hasAmazonInit = options ? virtualisation && options.virtualisation ? amazon-init;
in
{
  options.boot.initrd.provision = {
    enable = lib.mkEnableOption ''
      provisioning in the initrd: before stage 2, fetch the NixOS system that
      the instance's EC2 user-data (or instance tag) names from a Nix binary
      cache, verify it, and boot it instead of the built-in system
      (initrd-provision)
    '';

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage \"\${initrd-provision}/nixos-module/package.nix\" { }";
      description = ''
        The initrd-provision package.  It must provide a statically linked
        `bin/initrd-provision`: the initrd has no C library for it.
      '';
    };

    substituters = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "s3://my-nix-cache?region=eu-central-1"
        "https://cache.example.org"
      ];
      description = ''
        Binary caches the system closure is fetched from, tried in order:
        `https://…`, `http://…`, or
        `s3://bucket[/prefix]?region=…&endpoint=…` (signed with the
        instance role's credentials from IMDS).
      '';
    };

    trustedPublicKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "my-cache-1:rYqs8g7W2FzmO6N07LVwSdpHXDOmP0FfIpzXsT0nDlk=" ];
      description = ''
        Public keys (`name:base64`) whose signatures make a store path
        acceptable.  Every path of the closure must carry a valid signature
        by one of them.
      '';
    };

    allowUserDataSubstituters = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Whether `substituters = …` in the user-data may add caches.  Whoever
        can change user-data could then make the machine download from a
        cache of their choosing (signatures are still checked).
      '';
    };

    allowUserDataKeys = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Whether `trusted-public-keys = …` in the user-data may add keys.
        Whoever can change user-data could then make the machine boot any
        system they signed.  Leave this off unless user-data is as trusted as
        the image.
      '';
    };

    imds = {
      endpoint = mkOption {
        type = types.str;
        default = "auto";
        example = "http://[fd00:ec2::254]";
        description = ''
          The instance metadata service (IMDSv2) the user-data is read from:
          an http:// URL, or `auto` (the binary's default): http://169.254.169.254
          first, then http://[fd00:ec2::254], so IPv6-only subnets work too.
        '';
      };

      timeout = mkOption {
        type = types.ints.positive;
        default = 30;
        description = "Total time budget in seconds for reaching IMDS (token and user-data).";
      };

      allowV1 = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Whether to fall back to IMDSv1 (requests without a session token)
          when IMDSv2 is unavailable.
        '';
      };
    };

    tagName = mkOption {
      type = types.nullOr types.str;
      default = "nixos-system";
      example = null;
      description = ''
        Instance tag read from `meta-data/tags/instance/` when the user-data
        names no system (needs instance metadata tags enabled).  User-data
        wins when both are set.  `null` disables the lookup.
      '';
    };

    onFailure = mkOption {
      type = types.enum [
        "fallback"
        "halt"
        "reboot"
      ];
      default = "fallback";
      description = ''
        What happens when the named system cannot be provisioned:
        `fallback` boots the built-in system (the one on the image),
        `halt` powers the instance off, `reboot` reboots it.
      '';
    };

    kernelMismatch = mkOption {
      type = types.enum [
        "kexec"
        "continue"
        "fail"
      ];
      default = "kexec";
      description = ''
        What happens when the provisioned system has a different kernel than
        the one running: `kexec` boots the system's own kernel and initrd
        (kexec_file_load), `continue` boots it on the running kernel anyway
        (its kernel modules will not match), `fail` treats it as a failure
        (see {option}`boot.initrd.provision.onFailure`).
      '';
    };

    keepNetwork = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Whether to leave the addresses configured in the initrd for stage 2
        instead of flushing them.
      '';
    };

    apply = mkOption {
      type = types.enum [
        "every-boot"
        "when-changed"
      ];
      default = "every-boot";
      description = ''
        Which boots apply the user-data.  `every-boot`: every boot boots the
        system the user-data names (what a fleet wants: an instance is always
        on the named system; what was changed by hand, e.g. with
        nixos-rebuild, is reverted at the next boot).  `when-changed`: the
        user-data is applied once per instance and document (the instance-id
        and a SHA-256 of the user-data are recorded in
        {file}`/var/lib/initrd-provision/applied` on the disk); later boots
        of the same instance with the same user-data boot what the system
        profile names, so changes made by hand stay.  New user-data, or a
        new instance launched from a snapshot of the disk, applies again.
        Remove the file to apply the user-data at the next boot.
      '';
    };

    timeout = mkOption {
      type = types.ints.unsigned;
      default = 900;
      description = ''
        Upper bound in seconds on the whole provisioning step.  When it is
        exceeded the step is abandoned and
        {option}`boot.initrd.provision.onFailure` applies.  `0` means no
        bound.
      '';
    };

    checkConfig = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether to validate the generated configuration with
        `initrd-provision --check-config` at build time (skipped when the
        package cannot run on the build machine).
      '';
    };

    extraSettings = mkOption {
      type =
        with types;
        attrsOf (oneOf [
          bool
          int
          str
          (listOf str)
        ]);
      default = { };
      example = {
        interfaces = [ "ens5" ];
        dhcp-timeout = 10;
        connections = 16;
        aws-region = "eu-central-1";
      };
      description = ''
        Further keys of {file}`/etc/initrd-provision.conf` (nix.conf syntax;
        lists are written space-separated).  Keys with a dedicated option
        above cannot be set here.  Known keys: ${concatMapStringsSep ", " (k: "`${k}`") extraKeys}.
      '';
    };

    stage2.enable = mkOption {
      type = types.bool;
      default = cfg.enable;
      defaultText = literalExpression "config.boot.initrd.provision.enable";
      example = true;
      description = ''
        Whether to add the stage 2 side: a unit that registers the
        provisioned store paths with Nix (`nix-store --load-db <
        /nix-path-registration`, before nix-daemon.socket) and one that
        writes the initrd's report into the journal.  Enable this in the
        systems you push and boot, too, when they do not enable the whole
        module.
      '';
    };

    stage2.bootDefault = mkOption {
      type = types.bool;
      default = cfg.enable;
      defaultText = literalExpression "config.boot.initrd.provision.enable";
      example = true;
      description = ''
        Whether a system provisioned in the initrd makes itself the boot
        default once it is up, as `switch-to-configuration boot` (and
        `nixos-rebuild boot`) does: the initrd already made it the newest
        generation of the system profile; a stage-2 unit installs the boot
        loader entries, this system's first.  Later reboots then start its
        own kernel and initrd: no kexec when its kernel differs from the
        image's, and it boots even when IMDS or the cache cannot be reached.

        On by default in systems that also enable the initrd part
        ({option}`boot.initrd.provision.enable`): their initrd keeps
        applying the user-data at every boot.  Off otherwise: a system whose
        initrd does not provision would, once the default, never apply new
        user-data again (the image's initrd would no longer run).
      '';
    };
  };

  config = mkMerge [
    (mkIf cfg.enable {
      assertions = [
        {
          assertion = cfg.trustedPublicKeys != [ ] || cfg.allowUserDataKeys;
          message = ''
            boot.initrd.provision is enabled without any trusted public key, so no
            closure could ever be verified.  Set boot.initrd.provision.trustedPublicKeys
            to your cache's key (`nix key convert-secret-to-public < secret-key`).
          '';
        }
        {
          assertion = cfg.substituters != [ ] || cfg.allowUserDataSubstituters;
          message = ''
            boot.initrd.provision is enabled without any substituter, and user-data may
            not add one (allowUserDataSubstituters = false): there is nothing to fetch
            from.  Set boot.initrd.provision.substituters.
          '';
        }
        {
          assertion = builtins.all keyIsValid cfg.trustedPublicKeys;
          message = ''
            boot.initrd.provision.trustedPublicKeys: not of the form name:base64-of-32-bytes:
            ${lib.concatStringsSep " " (builtins.filter (k: !keyIsValid k) cfg.trustedPublicKeys)}
          '';
        }
        {
          assertion = builtins.all substituterIsValid cfg.substituters;
          message = ''
            boot.initrd.provision.substituters: only https://, http:// and s3:// URLs are
            supported: ${lib.concatStringsSep " " (builtins.filter (s: !substituterIsValid s) cfg.substituters)}
          '';
        }
        {
          assertion = !systemdStage1 || lib.versionAtLeast lib.trivial.release "24.05";
          message = ''
            boot.initrd.provision with systemd stage 1 needs NixOS 24.05 or later
            (initrd-find-nixos-closure.service and /nixos-closure).
          '';
        }
        {
          assertion = !(systemdStage1 && (config.system.nixos-init.enable or false));
          message = ''
            boot.initrd.provision does not work with system.nixos-init.enable: its
            initrd-init reads init= from the kernel command line itself, so the
            provisioned system would never be activated.
          '';
        }
      ];

      warnings =
optional (cfg.trustedPublicKeys == [ ]) ''
          boot.initrd.provision.trustedPublicKeys is empty: this image trusts only keys
          that user-data supplies (allowUserDataKeys = true).  Anyone who can set
          user-data can make it boot anything.
        ''
        ++ optional (systemdStage1 && (config.boot.initrd.systemd.network.enable or false)) ''
          boot.initrd.provision brings the network up itself; boot.initrd.systemd.network
          (systemd-networkd in the initrd) would manage the same interfaces.
        '';

      # Nitro: NVMe disks, ENA network; af_packet for the DHCP client's raw socket.
      boot.initrd.availableKernelModules = [
        "nvme"
        "ena"
      ];
      boot.initrd.kernelModules = [ "af_packet" ];

      system.requiredKernelConfig = mkIf (cfg.kernelMismatch == "kexec") (
        with config.lib.kernelConfig; [ (isEnabled "KEXEC_FILE") ]
      );

      system.build.initrdProvisionConfig = configFile;
    })

    # amazon-init would take our user-data (`system = /nix/store/…`) for a
    # configuration.nix and run nixos-rebuild with it.  Set only when the
    # option exists (nixpkgs' amazon-image.nix is imported).
    (mkIf cfg.enable (
      optionalAttrs hasAmazonInit {
        virtualisation.amazon-init.enable = mkDefault false;
      }
    ))

    (mkIf (cfg.enable && systemdStage1) {
      boot.initrd.systemd = {
        contents = {
          "/etc/initrd-provision.conf".source = configFile;
          ${renderer.caBundlePath}.source = caBundle;
        };
        storePaths = [ binary ];
        extraBin.initrd-provision = binary;

        services.initrd-provision =
          initrdUnit.provisionService {
            inherit binary;
            initrdSystemd = config.boot.initrd.systemd.package;
            inherit (cfg) timeout onFailure;
            glue = glueLib;
          }
          # The script inlines the whole glue, scripted-stage-1 functions
          # too, which shellcheck reports as unreachable (SC2317): with
          # systemd.enableStrictShellChecks (NixOS 24.11+, nixpkgs'
          # systemd-lib.nix makeJobScript -> writeShellApplication) the
          # initrd would not build.
          // lib.optionalAttrs (lib.versionAtLeast lib.trivial.release "24.11") {
            enableStrictShellChecks = false;
          };
        # /etc as an overlay: find-etc must see the provisioned system.
        services.initrd-find-etc = mkIf (config.system.etc.overlay.enable or false) initrdUnit.findEtcOverride;
      };
    })

    (mkIf (cfg.enable && !systemdStage1) {
      boot.initrd.extraFiles = {
        "/etc/initrd-provision.conf".source = configFile;
        ${renderer.caBundlePath}.source = caBundle;
      };

      boot.initrd.extraUtilsCommands = ''
        copy_bin_and_libs ${binary}
      '';
      boot.initrd.extraUtilsCommandsTest = ''
        $out/bin/initrd-provision --version
      '';

      # Before boot.initrd.network's address flush (default priority), so the
      # network is still up when the binary runs.
      boot.initrd.postMountCommands = lib.mkBefore ''
        # boot.initrd.provision
        ${glueVars}
        IP_BIN=initrd-provision
        ${glueLib}
        if ip_next=$(ip_scripted_main "$targetRoot" "$stage2Init"); then
          if [ -n "$ip_next" ]; then
            stage2Init="$ip_next"
          fi
        else
          case "$IP_ON_FAILURE" in
            halt) poweroff -f ;;
            reboot) reboot -f ;;
          esac
        fi
      '';
    })

    (mkIf cfg.enable {
      environment.systemPackages = [ cfg.package ];
    })

    (mkIf cfg.stage2.enable {
      warnings = optional (cfg.stage2.bootDefault && !cfg.enable) ''
        boot.initrd.provision.stage2.bootDefault makes this system the boot default
        after it was provisioned, but its own initrd does not provision
        (boot.initrd.provision.enable = false): from then on no boot applies new
        user-data.  Enable boot.initrd.provision here too, or leave bootDefault off.
      '';

      # What `switch-to-configuration boot` does after `nix-env --set`: the
      # initrd set the profile; this installs the boot loader entries
      # (config.system.build.installBootLoader through the booted system's
      # own switch-to-configuration, nixpkgs
      # nixos/modules/system/activation/switch-to-configuration.nix).  Only
      # when this boot is the provisioned system, untouched since.
      systemd.services.initrd-provision-boot-default = mkIf cfg.stage2.bootDefault {
        description = "Make the system provisioned in the initrd the boot default";
        wantedBy = [ "multi-user.target" ];
        # The boot loader builders list generations with nix-env: the
        # provisioned paths must be registered first.
        after = [
          "local-fs.target"
          "initrd-provision-register-paths.service"
        ];
        unitConfig.ConditionPathExists = "/run/initrd-provision/report.json";
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          SyslogIdentifier = "initrd-provision";
        };
        script = ''
          set -u
          PATH=${lib.makeBinPath [ pkgs.coreutils pkgs.jq ]}
          IP_ROOT=
          ${builtins.readFile ./boot-default.sh}
          ip_boot_default
        '';
      };

      systemd.services.initrd-provision-register-paths = mkIf nixEnabled {
        description = "Register the store paths provisioned in the initrd";
        wantedBy = [ "sysinit.target" ];
        after = [ "local-fs.target" ];
        before = [
          "nix-daemon.socket"
          "nix-daemon.service"
          "shutdown.target"
        ];
        conflicts = [ "shutdown.target" ];
        unitConfig = {
          DefaultDependencies = false;
          ConditionPathExists = "/nix-path-registration";
          RequiresMountsFor = [ "/nix/store" "/nix/var/nix" ];
        };
        serviceConfig = {
          Type = "oneshot";
          StandardInput = "file:/nix-path-registration";
          ExecStart = "${config.nix.package.out}/bin/nix-store --load-db";
          # Only after a successful load: a failed one stays for the next boot.
          ExecStartPost = "${pkgs.coreutils}/bin/rm -f /nix-path-registration";
        };
      };

      systemd.services.initrd-provision-report = {
        description = "Copy the initrd-provision report into the journal";
        wantedBy = [ "multi-user.target" ];
        unitConfig.ConditionPathExists = "/run/initrd-provision/report.json";
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          SyslogIdentifier = "initrd-provision";
          StandardOutput = "journal";
          # One journal line (the JSON compacted); the persistent copy stays in
          # /var/log/initrd-provision/report.json.
          ExecStart = "${lib.getExe pkgs.jq} -c . /run/initrd-provision/report.json";
        };
      };
    })
  ];
}
