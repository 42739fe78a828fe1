# Evaluates nixos-module/default.nix with nixpkgs' lib.evalModules beside
# tools/nixos-eval/stubs.nix and returns what the module produced, for
# tools/nixos-eval/run.  Needs only nixpkgs' lib (the nix-community/nixpkgs.lib
# repository), given as <nixpkgs-lib>; make check does not use it.
#
#   nix-instantiate --eval --strict --json -I nixpkgs-lib=/path/to/nixpkgs.lib/lib \
#     tools/nixos-eval/eval.nix --arg config '{ boot.initrd.systemd.enable = true; … }'
{
  lib ? import <nixpkgs-lib>,
  config ? { },
  # Whether nixpkgs' amazon-init option exists (amazon-image.nix imported).
  withAmazonInit ? true,
}:

let
  evaluated = lib.evalModules {
    modules = [
      ./stubs.nix
      ../../nixos-module
      config
    ]
    ++ lib.optional withAmazonInit {
      options.virtualisation.amazon-init.enable = lib.mkOption {
        type = lib.types.bool;
        default = true;
      };
    };
  };
  c = evaluated.config;
  p = c.boot.initrd.provision;
  svc = c.boot.initrd.systemd.services;
in
{
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  inherit (c) warnings;
  configText = c.system.build.initrdProvisionConfig.env.text or null;
  # The store paths the rendered file drags into the initrd: make-initrd
  # copies the closure of every extraFiles / contents source, and the
  # file's inputs are the string context of its text.
  configTextContext = builtins.attrNames (
    builtins.getContext (c.system.build.initrdProvisionConfig.env.text or "")
  );
  configCheck = c.system.build.initrdProvisionConfig.script or null;
  availableKernelModules = c.boot.initrd.availableKernelModules;
  kernelModules = c.boot.initrd.kernelModules;
  requiredKernelConfig = map (x: x.name) c.system.requiredKernelConfig;
  systemdUnit = if svc ? initrd-provision then svc.initrd-provision else null;
  findEtcUnit = if svc ? initrd-find-etc then svc.initrd-find-etc else null;
  systemdContents = lib.mapAttrs (_: v: "${v.source}") c.boot.initrd.systemd.contents;
  systemdStorePaths = map toString c.boot.initrd.systemd.storePaths;
  extraBin = c.boot.initrd.systemd.extraBin;
  extraFiles = lib.mapAttrs (_: v: "${v.source}") c.boot.initrd.extraFiles;
  extraUtilsCommands = c.boot.initrd.extraUtilsCommands;
  postMountCommands = c.boot.initrd.postMountCommands;
  stage2Units = lib.filterAttrs (n: _: lib.hasPrefix "initrd-provision" n) c.systemd.services;
  systemPackages = map (d: d.name) c.environment.systemPackages;
  amazonInit = c.virtualisation.amazon-init.enable or "no such option";
  options = {
    inherit (p) enable substituters tagName onFailure kernelMismatch timeout;
    stage2 = p.stage2.enable;
  };
}
