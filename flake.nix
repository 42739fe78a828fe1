{
  description = "initrd-provision: boot the NixOS system named by EC2 user-data, fetched from a Nix binary cache in the initrd";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      # The AMI's NixOS system: image/configuration.nix plus your modules.
      amazonImageSystem =
        {
          system,
          modules ? [ ],
        }:
        lib.nixosSystem {
          modules = [
            ./image/configuration.nix
            {
              nixpkgs.hostPlatform = system;
              boot.initrd.provision.package = self.packages.${system}.default;
            }
          ] ++ modules;
        };
    in
    {
      # boot.initrd.provision.* (and the stage 2 units).  Import it into the
      # AMI's configuration and into the systems you push.
      nixosModules.default = ./nixos-module;

      overlays.default = final: _prev: {
        initrd-provision = final.callPackage ./nixos-module/package.nix { };
      };

      lib = {
        inherit amazonImageSystem;
        # lib.amazonImage { system = "x86_64-linux"; modules = [ ./my-cache.nix ]; }
        amazonImage = args: (amazonImageSystem args).config.system.build.amazonImage;
      };

      packages = forAllSystems (
        system: pkgs: rec {
          initrd-provision = pkgs.callPackage ./nixos-module/package.nix { };
          default = initrd-provision;
          # Built with the placeholder cache and key of image/configuration.nix
          # (it evaluates, with warnings); build your own with lib.amazonImage.
          amazonImage = self.lib.amazonImage { inherit system; };
        }
      );

      nixosConfigurations = lib.listToAttrs (
        map (system: {
          name = "amazon-${system}";
          value = amazonImageSystem { inherit system; };
        }) systems
      );
    };
}
