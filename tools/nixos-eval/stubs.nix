# Declarations of the NixOS options nixos-module/default.nix sets or reads,
# typed like nixpkgs declares them (strictly enough to catch misspelt unit
# attributes and wrong value types), plus a fake `pkgs`.  Used by
# tools/nixos-eval/eval.nix with nixpkgs' lib alone: not a NixOS evaluation,
# a check of the module's types, merges, assertions and generated text.
{ lib, config, ... }:

let
  inherit (lib) mkOption types;

  fakeHash = name: builtins.substring 0 32 (builtins.hashString "sha256" name);
  drv =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/${fakeHash name}-${name}";
      meta.mainProgram = name;
    }
    // extra;

  unitOptions = {
    description = mkOption { type = types.str; default = ""; };
    after = mkOption { type = types.listOf types.str; default = [ ]; };
    before = mkOption { type = types.listOf types.str; default = [ ]; };
    wants = mkOption { type = types.listOf types.str; default = [ ]; };
    requires = mkOption { type = types.listOf types.str; default = [ ]; };
    conflicts = mkOption { type = types.listOf types.str; default = [ ]; };
    wantedBy = mkOption { type = types.listOf types.str; default = [ ]; };
    requiredBy = mkOption { type = types.listOf types.str; default = [ ]; };
    unitConfig = mkOption {
      type = types.attrsOf (types.oneOf [ types.str types.bool types.int (types.listOf types.str) ]);
      default = { };
    };
    serviceConfig = mkOption {
      type = types.attrsOf (types.oneOf [ types.str types.bool types.int (types.listOf types.str) ]);
      default = { };
    };
    script = mkOption { type = types.lines; default = ""; };
    # nixpkgs defaults it to systemd.enableStrictShellChecks; true here, as
    # for a configuration that turned strict checks on.
    enableStrictShellChecks = mkOption { type = types.bool; default = true; };
    enable = mkOption { type = types.bool; default = true; };
  };
  services = mkOption {
    type = types.attrsOf (types.submodule { options = unitOptions; });
    default = { };
  };
  fileType = types.attrsOf (
    types.submodule {
      options.source = mkOption { type = types.either types.package types.path; };
    }
  );
in
{
  options = {
    assertions = mkOption {
      type = types.listOf (types.submodule {
        options.assertion = mkOption { type = types.bool; };
        options.message = mkOption { type = types.str; };
      });
      default = [ ];
    };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; };

    boot.kernelPackages = mkOption { type = types.raw; };
    boot.initrd.availableKernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
    boot.initrd.kernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
    boot.initrd.extraFiles = mkOption { type = fileType; default = { }; };
    boot.initrd.extraUtilsCommands = mkOption { type = types.lines; default = ""; };
    boot.initrd.extraUtilsCommandsTest = mkOption { type = types.lines; default = ""; };
    boot.initrd.postMountCommands = mkOption { type = types.lines; default = ""; };

    boot.initrd.systemd = {
      enable = mkOption { type = types.bool; default = false; };
      package = mkOption { type = types.package; };
      contents = mkOption { type = fileType; default = { }; };
      storePaths = mkOption { type = types.listOf (types.either types.str types.package); default = [ ]; };
      extraBin = mkOption { type = types.attrsOf types.path; default = { }; };
      services = services;
      network.enable = mkOption { type = types.bool; default = false; };
    };

    system.boot.loader.kernelFile = mkOption { type = types.str; };
    system.requiredKernelConfig = mkOption { type = types.listOf types.attrs; default = [ ]; };
    system.build = mkOption { type = types.lazyAttrsOf types.unspecified; default = { }; };
    system.etc.overlay.enable = mkOption { type = types.bool; default = false; };
    system.nixos-init.enable = mkOption { type = types.bool; default = false; };

    lib = mkOption { type = types.attrsOf types.attrs; default = { }; };

    environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
    systemd.services = services;
    nix.enable = mkOption { type = types.bool; default = true; };
    nix.package = mkOption { type = types.package; };
  };

  config = {
    _module.args.pkgs = {
      callPackage = path: _args: drv "initrd-provision" { };
      runCommand =
        name: env: script:
        drv name { inherit env script; };
      cacert = drv "nss-cacert" { };
      coreutils = drv "coreutils" { };
      jq = drv "jq" { meta.mainProgram = "jq"; };
      stdenv = {
        buildPlatform.canExecute = _: true;
        hostPlatform.system = "x86_64-linux";
      };
    };

    # A real (never built) derivation, so its path carries string context
    # the way nixpkgs' kernel does: what the initrd's closure is made of.
    boot.kernelPackages.kernel = builtins.derivation {
      name = "linux-6.12.30";
      system = "x86_64-linux";
      builder = "/bin/sh";
    };
    system.boot.loader.kernelFile = "bzImage";
    boot.initrd.systemd.package = drv "systemd-257" { };
    nix.package = drv "nix-2.28" { out = drv "nix-2.28" { }; };
    lib.kernelConfig.isEnabled = name: { assertion = true; message = "CONFIG_${name} enabled"; inherit name; };
  };
}
