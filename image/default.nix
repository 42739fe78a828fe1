# Builds the UEFI AMI disk image with initrd-provision in its initrd.
#
#   nix-build image -I nixpkgs=… --arg modules '[ ./my-cache.nix ]'
#   nix build .#amazonImage                       (flake, placeholders)
#
# The result holds the disk image (VHD by default) and
# nix-support/image-info.json, the input of tools/upload-ami.
{
  nixpkgs ? <nixpkgs>,
  system ? builtins.currentSystem,
  # Your settings: at least boot.initrd.provision.substituters and
  # boot.initrd.provision.trustedPublicKeys.
  modules ? [ ],
}:

let
  nixos = import "${nixpkgs}/nixos/lib/eval-config.nix" {
    inherit system;
    modules = [ ./configuration.nix ] ++ modules;
  };
in
nixos.config.system.build.amazonImage
// {
  # The evaluated system, for inspection (nix repl, nix-build -A …).
  inherit nixos;
}
