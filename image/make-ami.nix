# system.build.amazonImage for image/configuration.nix: the UEFI disk image
# (GPT, ESP labelled ESP, ext4 root labelled nixos) and
# nix-support/image-info.json in the layout nixpkgs' EC2 image builder writes
# (nixos/maintainers/scripts/ec2/amazon-image.nix), which tools/upload-ami reads.
#
# Built with nixos/lib/make-disk-image.nix directly rather than through
# nixpkgs' amazon image module so that the image carries no channel and no
# configuration.nix: the built-in system never evaluates Nix on the instance.
{
  config,
  lib,
  pkgs,
  modulesPath,
  ...
}:

let
  cfg = config.initrdProvisionImage;

  architecture =
    {
      "x86_64-linux" = "x86_64";
      "aarch64-linux" = "arm64";
    }
    .${pkgs.stdenv.hostPlatform.system}
      or (throw "initrd-provision image: no AMI architecture for ${pkgs.stdenv.hostPlatform.system}");

  # What tools/upload-ami registers (same shape as nixpkgs' registerImage).
  registerImage = {
    Architecture = architecture;
    BootMode = "uefi";
    RootDeviceName = "/dev/xvda";
    VirtualizationType = "hvm";
    EnaSupport = true;
    ImdsSupport = "v2.0";
    SriovNetSupport = "simple";
    BlockDeviceMappings = [
      {
        DeviceName = "/dev/xvda";
        Ebs.VolumeType = "gp3";
      }
    ];
  };

  # The fields known at evaluation time; postVM adds the file and its size.
  # The paths this image places, in closureInfo's registration format, so
  # that the initrd takes them as whole without hashing them on the first
  # boot (builtin-closure; README "Reliability"): on EBS every block of a
  # fresh volume is loaded lazily from S3, so reading the image's own store
  # would cost more than the fetch.  make-disk-image registers the same
  # closure (its closureInfo of the toplevel, nixos/lib/make-disk-image.nix).
  builtinClosurePath = "/nix/var/nix/builtin-closure";
  builtinClosure = pkgs.closureInfo { rootPaths = [ config.system.build.toplevel ]; };

  imageInfoTemplate = pkgs.writeText "image-info-template.json" (
    builtins.toJSON {
      label = config.system.nixos.version;
      boot_mode = "uefi";
      system = pkgs.stdenv.hostPlatform.system;
      inherit registerImage;
    }
  );
in
{
  options.initrdProvisionImage = {
    format = lib.mkOption {
      type = lib.types.enum [
        "vpc"
        "raw"
      ];
      default = "raw";
      description = ''
        Disk image format: `raw` (what tools/upload-ami writes to a snapshot
        with the EBS direct APIs, block by block, skipping the zero blocks)
        or `vpc` (a dynamic VHD, only for `upload-ami --method import-snapshot`).
      '';
    };

    additionalSpace = lib.mkOption {
      type = lib.types.str;
      default = "512M";
      description = ''
        Free space on the root file system beyond the built-in system.  The
        root partition grows to the EBS volume at first boot
        (boot.growPartition), so this only has to hold the first download;
        a larger root volume at launch gives provisioned systems room.
      '';
    };
  };

  config = {
    assertions = [
      {
        assertion = config.ec2.efi;
        message = "image/make-ami.nix builds UEFI images only: set ec2.efi = true.";
      }
    ];

    boot.initrd.provision.extraSettings.builtin-closure = builtinClosurePath;

    system.build.amazonImage = import "${modulesPath}/../lib/make-disk-image.nix" {
      inherit lib config pkgs;
      inherit (cfg) format additionalSpace;
      name = "initrd-provision-amazon-image-${config.system.nixos.label}-${pkgs.stdenv.hostPlatform.system}";
      diskSize = "auto";
      fsType = "ext4";
      partitionTableType = "efi";
      installBootLoader = true;
      copyChannel = false;
      configFile = null;
      contents = [
        {
          source = "${builtinClosure}/registration";
          target = builtinClosurePath;
        }
      ];
      postVM = ''
        mkdir -p $out/nix-support
        echo "file ${cfg.format} $diskImage" >> $out/nix-support/hydra-build-products
        bytes=$(${pkgs.qemu_kvm}/bin/qemu-img info --output json "$diskImage" | ${pkgs.jq}/bin/jq '."virtual-size"')
        # logical_bytes is a string, as nixpkgs writes it.
        ${pkgs.jq}/bin/jq --arg file "$diskImage" --arg bytes "$bytes" \
          '. + {file: $file, logical_bytes: $bytes, disks: {root: {file: $file, logical_bytes: $bytes}}}' \
          ${imageInfoTemplate} > $out/nix-support/image-info.json
      '';
    };
  };
}
