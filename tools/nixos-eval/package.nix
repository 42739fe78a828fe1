# Evaluates nixos-module/package.nix against a stub pkgsStatic (nixpkgs' lib,
# no nixpkgs) and returns what tools/nixos-eval/run checks: the build
# inputs, the cross prefix, and the shell of the "is it static?" check.
#
#   nix-instantiate --eval --strict --json -I nixpkgs-lib=… tools/nixos-eval/package.nix
{
  lib ? import <nixpkgs-lib>,
}:

let
  prefix = "x86_64-unknown-linux-musl-";
  pkg = name: {
    inherit name;
    pname = name;
    outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" name)}-${name}";
    dev = pkg' name;
    override = _: pkg name;
    overrideAttrs = f: pkg name // { attrs = f { configureFlags = [ "--enable-static" "--disable-shared" ]; }; };
  };
  pkg' = name: { outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" name)}-${name}-dev"; };
  pkgsStatic = lib.genAttrs [ "curlMinimal" "mbedtls" "libnl" "libsodium" "zstd" "xz" "zlib" "bzip2" "brotli" "lz4" "libarchive" ] pkg // {
    buildPackages = lib.genAttrs [ "pkg-config" "binutils-unwrapped" ] pkg;
    stdenv = {
      cc.targetPrefix = prefix;
      buildPlatform.canExecute = _: true;
      hostPlatform.system = "x86_64-linux";
      mkDerivation = f: let attrs = f attrs; in attrs;
    };
  };
  drv = import ../../nixos-module/package.nix { inherit lib pkgsStatic; };
in
{
  inherit prefix;
  buildInputs = map (d: d.name) drv.buildInputs;
  passthru = builtins.attrNames drv.passthru;
  # Every phase that can hold the check, in the order stdenv runs them.
  phases = lib.concatStringsSep "\n" (
    map (p: drv.${p} or "") [ "preInstall" "installPhase" "postInstall" "preFixup" "postFixup" "installCheckPhase" ]
  );
  postInstall = drv.postInstall or "";
}
