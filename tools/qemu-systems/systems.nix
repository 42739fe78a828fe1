# The QEMU test systems: small "NixOS-like" toplevel closures built by real
# Nix (Debian nix-bin 2.8, as root, sandbox off, builder /bin/sh, no nixpkgs).
# Built by tools/qemu-systems/build, which passes the host files below.
#
# A toplevel looks like a NixOS one where the boot touches it (nixpkgs
# nixos/modules/system/activation/top-level.nix), in three shapes:
#   scripted   init = the stage-2 stand-in (stage2.sh.in: "ACTIVATION
#              system=… entry=…" on the console, /run/current-system, then
#              exec <system>/systemd/lib/systemd/systemd); no prepare-root.
#              What boot.initrd.systemd.enable = false builds.
#   systemd    init = a copy of the systemd stand-in's lib/systemd/systemd,
#              prepare-root = the stage-2 stand-in (systemd stage 1 built).
#   nixos-init init = a copy of systemd, no prepare-root
#              (system.nixos-init.enable).
# and in every shape:
#   systemd        -> the systemd stand-in (systemd.sh.in): needs an
#                  activated system (/run/current-system), then runs its
#                  stage2-check; without one it prints "STAGE2 BAD …
#                  systemd started without activation" and powers off.
#   stage2-check   busybox sh script (stage2-check.sh.in): checks the
#                  system's payload against sha256 sums baked in at build
#                  time, prints "STAGE2 OK system=<toplevel> kernel=<marker>"
#                  (marker = ipt.marker= from /proc/cmdline, or "none"), or
#                  "STAGE2 BAD ...", then syncs and powers off.
#   kernel         -> <linux>/bzImage (Debian's vmlinuz, copied into the store)
#   initrd         -> an initrd (see below)
#   kernel-params  "ipt.marker=<name>-params" (what a kexec puts on the new
#                  command line, so the marker shows which command line booted)
#   init-interface-version, nixos-version  as top-level.nix writes them
#   sw             -> busybox (bin/busybox + applet links)
#   payload*       -> the payload store paths
#
# Kernels are told apart by STORE PATH, not by content: `linux-other` holds
# the very same bzImage as `linux` (it must boot for kexec) under another
# name, so <target-otherkernel>/kernel resolves to a different store path
# than the built-in system's kernel.  The mismatch check of
# `initrd-provision boot` compares resolved paths (builtin-kernel in the
# config), so this is a real mismatch for it.
#
# Initrds: builtin and target carry the generic test initrd (modules,
# busybox, /init; no initrd-provision, no config: it boots whatever init= on
# the command line says).  target-otherkernel carries `kexecInitrd`: the test
# initrd with initrd-provision and a config whose builtin-kernel is
# linux-other's bzImage, so after a kexec the second boot finds its kernel
# matching.  It has to be made after linux-other exists, hence the two
# phases in tools/qemu-systems/build (kexecInitrd = null in phase one).
# aarch64 (issue 17): tools/qemu-systems/build --arm64-root passes Debian's
# arm64 kernel (kernelName "Image", as in nixpkgs' aarch64 toplevels) and
# arm64 busybox, whose applet list (busyboxAppletsFile) it reads under
# qemu-user: the derivations only copy files, so x86_64 Nix builds them.
{ busyboxFile, kernelFile, kernelVersion, genericInitrdFile, kexecInitrdFile ? null
, kernelName ? "bzImage", busyboxAppletsFile ? null }:
let
  system = "x86_64-linux";
  mk = name: script: extra: derivation ({
    inherit name system;
    builder = "/bin/sh";
    args = [ "-e" "-c" script ];
    PATH = "/usr/bin:/bin";
    LC_ALL = "C";
  } // extra);

  # Deterministic pseudo-random bytes (AES-CTR keystream of a seed), so
  # payload hashes are the same on every machine and zstd cannot shrink them.
  # (One line, no trailing newline: it is followed by a redirection.)
  random = seed: bytes:
    "head -c ${toString bytes} /dev/zero | openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:${seed}";

  kernelSrc = builtins.path { path = kernelFile; name = "vmlinuz-${kernelVersion}"; };
  busyboxSrc = builtins.path { path = busyboxFile; name = "busybox-static"; };
  genericInitrdSrc = builtins.path { path = genericInitrdFile; name = "initrd-generic"; };

  checkTemplate = ./stage2-check.sh.in;
  stage2Template = ./stage2.sh.in;
  systemdTemplate = ./systemd.sh.in;
in rec {
  busybox = mk "busybox-static" ''
    mkdir -p "$out/bin"
    cp ${busyboxSrc} "$out/bin/busybox"
    chmod 0555 "$out/bin/busybox"
    for a in $(${if busyboxAppletsFile == null then ''"$out/bin/busybox" --list''
                 else "cat ${builtins.path { path = busyboxAppletsFile; name = "busybox-applets"; }}"}); do
      [ "$a" = busybox ] || ln -s busybox "$out/bin/$a"
    done
  '' {};

  systemd = mk "systemd-standin" ''
    mkdir -p "$out/lib/systemd"
    sed -e "s|@busybox@|${busybox}|g" ${systemdTemplate} > "$out/lib/systemd/systemd"
    chmod 0555 "$out/lib/systemd/systemd"
  '' {};

  linux = mk "linux-${kernelVersion}" ''
    mkdir -p "$out"
    cp ${kernelSrc} "$out/${kernelName}"
  '' {};

  # Same bytes, other store path (see the header).
  linux-other = mk "linux-${kernelVersion}-other" ''
    mkdir -p "$out"
    cp ${kernelSrc} "$out/${kernelName}"
  '' {};

  initrd-generic = mk "initrd-generic" ''
    mkdir -p "$out"
    cp ${genericInitrdSrc} "$out/initrd"
  '' {};

  initrd-kexec = if kexecInitrdFile == null then null else
    let src = builtins.path { path = kexecInitrdFile; name = "initrd-kexec-src"; };
    in mk "initrd-kexec" ''
      mkdir -p "$out"
      cp ${src} "$out/initrd"
    '' {};

  payload-builtin = mk "payload-builtin" ''
    mkdir -p "$out"
    printf 'built-in system payload\n' > "$out/hello"
    ${random "builtin" 1048576} > "$out/blob"
  '' {};

  payload-target = mk "payload-target" ''
    mkdir -p "$out"
    printf 'target system payload\n' > "$out/hello"
  '' {};

  # The bulk of a download: 2 x 4 MiB of incompressible bytes, so progress
  # is visible and a power cut can land in the middle.
  bulk-target-1 = mk "bulk-target-1" ''
    ${random "bulk-target-1" 4194304} > "$out"
  '' {};
  bulk-target-2 = mk "bulk-target-2" ''
    ${random "bulk-target-2" 4194304} > "$out"
  '' {};

  payload-otherkernel = mk "payload-otherkernel" ''
    mkdir -p "$out"
    printf 'target system with another kernel\n' > "$out/hello"
  '' {};

  toplevel = { name, kernel, initrd, payloads, shape ? "scripted" }: mk "nixos-system-${name}" ''
    mkdir -p "$out"
    ln -s ${kernel}/${kernelName} "$out/kernel"
    ln -s ${initrd}/initrd "$out/initrd"
    printf 'ipt.marker=%s-params' '${name}' > "$out/kernel-params"
    printf '%s' '${name}' > "$out/nixos-version"
    printf 'systemd 2' > "$out/init-interface-version"
    ln -s ${busybox} "$out/sw"
    ln -s ${systemd} "$out/systemd"
    sed -e "s|@busybox@|${busybox}|g" -e "s|@system@|$out|g" ${stage2Template} > "$out/stage2.tmp"
    chmod 0555 "$out/stage2.tmp"
    case '${shape}' in
    scripted) mv "$out/stage2.tmp" "$out/init" ;;
    systemd)
      cp ${systemd}/lib/systemd/systemd "$out/init"
      mv "$out/stage2.tmp" "$out/prepare-root"
      ;;
    nixos-init)
      cp ${systemd}/lib/systemd/systemd "$out/init"
      rm "$out/stage2.tmp"
      ;;
    *) echo "unknown shape ${shape}" >&2; exit 1 ;;
    esac
    i=0
    for p in ${toString payloads}; do
      i=$((i + 1)); ln -s "$p" "$out/payload$i"
    done
    # The sums are computed now, at build time, and baked into init.
    sums=$(for p in ${toString payloads}; do
      if [ -d "$p" ]; then find "$p" -type f | sort | xargs sha256sum; else sha256sum "$p"; fi
    done)
    sed -e "s|@busybox@|${busybox}|g" -e "s|@system@|$out|g" ${checkTemplate} > "$out/check.tmp"
    printf '%s\n' "$sums" > "$out/sums.tmp"
    # Splice the sums in where the template says @sums@ (own line).
    awk -v f="$out/sums.tmp" '
      $0 == "@sums@" { while ((getline l < f) > 0) print l; next } { print }
    ' "$out/check.tmp" > "$out/stage2-check"
    rm "$out/check.tmp" "$out/sums.tmp"
    chmod 0555 "$out/stage2-check"
  '' {};

  builtin = toplevel {
    name = "builtin"; kernel = linux; initrd = initrd-generic;
    payloads = [ payload-builtin ];
  };

  target = toplevel {
    name = "target"; kernel = linux; initrd = initrd-generic;
    payloads = [ payload-target bulk-target-1 bulk-target-2 ];
  };

  # The other two shapes of a real toplevel (see the header).
  payload-systemd = mk "payload-systemd" ''
    mkdir -p "$out"
    printf 'target built with systemd stage 1\n' > "$out/hello"
  '' {};
  payload-nixosinit = mk "payload-nixosinit" ''
    mkdir -p "$out"
    printf 'target built with nixos-init\n' > "$out/hello"
  '' {};

  target-systemd = toplevel {
    name = "target-systemd"; kernel = linux; initrd = initrd-generic;
    payloads = [ payload-systemd ]; shape = "systemd";
  };

  target-nixosinit = toplevel {
    name = "target-nixosinit"; kernel = linux; initrd = initrd-generic;
    payloads = [ payload-nixosinit ]; shape = "nixos-init";
  };

  target-otherkernel = if initrd-kexec == null then null else toplevel {
    name = "otherkernel"; kernel = linux-other; initrd = initrd-kexec;
    payloads = [ payload-otherkernel ];
  };
}
