# The built-in system of a UEFI AMI whose initrd provisions the system that
# the instance's user-data names.  Kept small: it is what boots when there is
# nothing to provision or provisioning fails (on-failure = fallback), and it
# never evaluates Nix on the instance.
#
# Override the placeholders below with your cache and key, e.g. in a module
# passed to image/default.nix or the flake's lib.amazonImage:
#   { boot.initrd.provision.substituters = [ "s3://my-cache?region=eu-central-1" ];
#     boot.initrd.provision.trustedPublicKeys = [ "my-cache-1:…" ]; }
{
  config,
  lib,
  modulesPath,
  ...
}:

let
  # A key of 32 zero bytes: a valid-looking but small-order ed25519 key that
  # verifies no signature, so an image built with the placeholder trusts
  # nothing.
  placeholderKey = "replace-me-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  placeholderCache = "s3://replace-me-nix-cache?region=us-east-1";
in
{
  imports = [
    "${modulesPath}/virtualisation/amazon-image.nix"
    ../nixos-module
    ./make-ami.nix
  ];

  ec2.efi = true;
  boot.initrd.systemd.enable = true;

  boot.initrd.provision = {
    enable = true;
    substituters = lib.mkDefault [ placeholderCache ];
    trustedPublicKeys = lib.mkDefault [ placeholderKey ];
  };

  warnings =
    lib.optional (lib.elem placeholderKey config.boot.initrd.provision.trustedPublicKeys) ''
      image/configuration.nix: boot.initrd.provision.trustedPublicKeys still holds the
      placeholder key, which verifies nothing: every provisioning attempt will fall back
      to the built-in system.  Set your cache's public key.
    ''
    ++ lib.optional (lib.elem placeholderCache config.boot.initrd.provision.substituters) ''
      image/configuration.nix: boot.initrd.provision.substituters still holds the
      placeholder cache.  Set your own.
    '';

  # Our user-data (`system = /nix/store/…`) is not a configuration.nix; the
  # module already defaults amazon-init off, this makes the image explicit.
  virtualisation.amazon-init.enable = false;

  # Small and evaluation-free: no channel, no documentation, no
  # configuration.nix on the image (make-ami.nix).
  documentation.enable = false;
  documentation.nixos.enable = false;
  nix.channel.enable = false;
  nix.settings.experimental-features = [ "nix-command" ];

  system.stateVersion = lib.mkDefault lib.trivial.release;
}
