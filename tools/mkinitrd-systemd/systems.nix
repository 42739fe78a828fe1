# Toplevels shaped like NixOS systems built with boot.initrd.systemd.enable,
# for qemu-tests/systemd-stage1.test.sh.  Built by real Nix (builder /bin/sh,
# no nixpkgs) beside the world of tools/qemu-systems, whose busybox and
# kernel store paths they reuse (so the kernel matches: no kexec).
#
# What nixpkgs' nixos/modules/system/activation/top-level.nix puts in a
# toplevel with systemd stage 1, and the stand-in here:
#   init          a copy of $systemd/lib/systemd/systemd     same (a copy)
#   prepare-root  stage-2-init.sh with @systemConfig@, run   prepare-root.sh.in
#                 by initrd-nixos-activation.service (absent
#                 with system.nixos-init.enable)
#   systemd       -> the systemd package                      -> systemd-<label>
#   etc           -> the /etc tree                            etc/{os-release,ipt-system-name}
#   nixos-version, kernel, sw                                 same
# A "systemd package" here holds only lib/systemd/systemd: stage2-systemd.sh.in,
# which plays PID 1 of stage 2 and says which systemd it is.
{ busyboxPath, linuxPath }:
let
  system = "x86_64-linux";
  busybox = builtins.storePath busyboxPath;
  linux = builtins.storePath linuxPath;
  mk = name: script: derivation {
    inherit name system;
    builder = "/bin/sh";
    args = [ "-e" "-c" script ];
    PATH = "/usr/bin:/bin";
    LC_ALL = "C";
  };

  systemdPackage = label: mk "systemd-${label}" ''
    mkdir -p "$out/lib/systemd"
    sed -e "s|@busybox@|${busybox}|g" -e "s|@label@|${label}|g" ${./stage2-systemd.sh.in} > "$out/lib/systemd/systemd"
    chmod 0555 "$out/lib/systemd/systemd"
  '';

  payload = name: mk "payload-sd-${name}" ''
    mkdir -p "$out"
    i=0
    while [ $i -lt 2000 ]; do echo "${name} payload line $i"; i=$((i + 1)); done > "$out/data"
  '';

  toplevel = { name, systemd, prepareRoot ? true }: mk "nixos-system-${name}" ''
    mkdir -p "$out/etc"
    ${if prepareRoot then ''
      cp ${systemd}/lib/systemd/systemd "$out/init"
      sed -e "s|@busybox@|${busybox}|g" -e "s|@systemConfig@|$out|g" ${./prepare-root.sh.in} > "$out/prepare-root"
      chmod 0555 "$out/prepare-root"
    '' else ''
      # Built with scripted stage 1: init is the stage-2 script itself.
      sed -e "s|@busybox@|${busybox}|g" -e "s|@systemConfig@|$out|g" ${./prepare-root.sh.in} > "$out/init"
      chmod 0555 "$out/init"
    ''}
    ln -s ${systemd} "$out/systemd"
    ln -s ${linux}/bzImage "$out/kernel"
    ln -s ${busybox} "$out/sw"
    ln -s ${payload name} "$out/payload"
    printf '%s' '${name}' > "$out/nixos-version"
    printf 'NAME=NixOS\nID=nixos\nVERSION_ID=${name}\n' > "$out/etc/os-release"
    printf '%s\n' '${name}' > "$out/etc/ipt-system-name"
    # The payload's sum, baked in at build time; stage 2 checks it.
    (cd ${payload name} && sha256sum data) > "$out/payload.sha256"
  '';
in rec {
  systemd-a = systemdPackage "A";
  systemd-b = systemdPackage "B";
  # On the disk image; the initrd's systemd is "A".
  sd-builtin = toplevel { name = "sd-builtin"; systemd = systemd-a; };
  # Provisioned: the same systemd (empty NEW_INIT), another one (NEW_INIT set).
  sd-same = toplevel { name = "sd-same"; systemd = systemd-a; };
  sd-other = toplevel { name = "sd-other"; systemd = systemd-b; };
  # Built with scripted stage 1: init is the stage-2 script, no prepare-root.
  # The boot mode takes it; the systemd-stage-1 glue cannot activate it.  (A
  # nixos-init-built one, init = systemd and no prepare-root, is refused
  # earlier by the boot mode itself: stage1/tests/boot.test.sh target-shapes.)
  sd-noprep = toplevel { name = "sd-noprep"; systemd = systemd-a; prepareRoot = false; };
}
