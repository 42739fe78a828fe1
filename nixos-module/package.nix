# initrd-provision, statically linked against musl (nixpkgs' pkgsStatic), with
# the dependencies of `make static`: libcurl on mbedTLS without a compiled-in
# CA bundle (the initrd's bundle is named in the config), zstd, xz, zlib,
# bzip2, brotli and lz4 (the NAR decompressors, used directly),
# libnl-3/libnl-route-3 and libsodium.  No libarchive: the engine does not
# call it, and a dependency nothing calls would only be built for nothing.
#
#   pkgs.callPackage ./package.nix { }
#
# It builds with the repository's Makefile (`make all`: the same sources,
# defines and warning flags as every other build); pkgsStatic's compiler
# wrapper links everything statically, and `pkg-config --static` pulls in
# the libraries' own dependencies.  `make static` itself builds its
# dependencies from Debian source packages and cannot run in the Nix sandbox;
# these are nixpkgs' versions of the same libraries, configured the same way.
{
  lib,
  pkgsStatic,
  # -Werror stays in the Makefile for development; compilers newer than the
  # project's may warn about new things, which should not break a user's build.
  werror ? false,
}:

let
  inherit (pkgsStatic) stdenv;

  # curl: HTTP(S) only, TLS by mbedTLS, no CA path or bundle compiled in.
  curl =
    (pkgsStatic.curlMinimal.override {
      opensslSupport = false;
      gnutlsSupport = false;
      http2Support = false;
      scpSupport = false;
      gssSupport = false;
      zstdSupport = false;
      pslSupport = false;
      idnSupport = false;
      brotliSupport = false;
    }).overrideAttrs
      (old: {
        pname = "curl-initrd-provision";
        propagatedBuildInputs = (old.propagatedBuildInputs or [ ]) ++ [ pkgsStatic.mbedtls ];
        configureFlags = (lib.filter (f: f != "--without-ssl") (old.configureFlags or [ ])) ++ [
          "--with-mbedtls=${lib.getDev pkgsStatic.mbedtls}"
          "--without-ca-bundle"
          "--without-ca-path"
          "--disable-ftp"
          "--disable-ldap"
          "--disable-rtsp"
          "--disable-dict"
          "--disable-telnet"
          "--disable-tftp"
          "--disable-pop3"
          "--disable-imap"
          "--disable-smb"
          "--disable-smtp"
          "--disable-gopher"
          "--disable-mqtt"
          "--disable-ntlm"
          "--disable-cookies"
          "--disable-alt-svc"
          "--disable-hsts"
          "--disable-doh"
          "--disable-netrc"
          "--enable-threaded-resolver"
          "--enable-ipv6"
        ];
        # A compiled-in bundle would silently win over the config's ca-bundle.
        postInstall = (old.postInstall or "") + ''
          if [ -n "$("$dev/bin/curl-config" --ca)" ]; then
            echo "curl-initrd-provision: curl has a compiled-in CA bundle" >&2
            exit 1
          fi
        '';
      });
in
stdenv.mkDerivation (finalAttrs: {
  pname = "initrd-provision";
  version = lib.fileContents ../VERSION;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Makefile
      ../VERSION
      ../mk
      ../stage1/src
    ];
  };

  strictDeps = true;
  enableParallelBuilding = true;

  nativeBuildInputs = [ pkgsStatic.buildPackages.pkg-config ];
  buildInputs = [
    curl
    pkgsStatic.libnl
    pkgsStatic.libsodium
    pkgsStatic.zstd
    pkgsStatic.xz
    pkgsStatic.zlib
    pkgsStatic.bzip2
    pkgsStatic.brotli
    pkgsStatic.lz4
    pkgsStatic.mbedtls
  ];

  makeFlags = [
    "CC=${stdenv.cc.targetPrefix}cc"
    "BUILD=build"
  ];
  # One make argument with a space in it: makeFlags would be split on it.
  preBuild = ''
    makeFlagsArray+=("PKG_CONFIG=${stdenv.cc.targetPrefix}pkg-config --static")
  '';
  buildFlags = [ "all" ];

  env = lib.optionalAttrs (!werror) { NIX_CFLAGS_COMPILE = "-Wno-error"; };

  installPhase = ''
    runHook preInstall
    install -D -m 755 build/initrd-provision "$out/bin/initrd-provision"
    runHook postInstall
  '';

  # The initrd has no dynamic loader for it.  Read the program headers with
  # the target's readelf (pkgsStatic is a cross stdenv: its binutils are
  # prefixed, there is no plain `readelf` on PATH) into a variable, so a
  # readelf that is missing or fails stops the build instead of looking
  # like "no interpreter".  Runs even where the binary cannot be executed.
  postInstall = ''
    headers=$(${stdenv.cc.targetPrefix}readelf --program-headers --wide "$out/bin/initrd-provision")
    case "$headers" in
    *LOAD*) ;;
    *)
      echo "initrd-provision: ${stdenv.cc.targetPrefix}readelf printed no program headers" >&2
      exit 1
      ;;
    esac
    case "$headers" in
    *INTERP* | *"Requesting program interpreter"*)
      echo "initrd-provision is dynamically linked (it has a program interpreter)" >&2
      exit 1
      ;;
    esac
  '';

  doInstallCheck = stdenv.buildPlatform.canExecute stdenv.hostPlatform;
  installCheckPhase = ''
    runHook preInstallCheck
    "$out/bin/initrd-provision" --version
    runHook postInstallCheck
  '';

  passthru = {
    inherit curl;
  };

  meta = {
    description = "Provision a NixOS system from a Nix binary cache in the initrd (static binary)";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "initrd-provision";
  };
})
