# The test world's store paths (used by tools/testworld/make-closures).
# Plain derivations, builder /bin/sh, coreutils from the host (sandbox off);
# no nixpkgs.  Every output is deterministic, so store paths and NAR hashes are
# the same on every machine with the same Nix.  References are made by writing
# another path's string into an output (or into a symlink target).
#
# Dependency graph (root at the top; depth 5):
#   root -> mid -> links -> deep -> noref
#   root -> toplink -> script -> noref
#   root -> files, odd-plus, odd-dash, odd-dots, longname
#   mid  -> links, selfref (-> itself, files), large
{ largeBytes ? 3145728 }:
let
  mk = name: script: extra: derivation ({
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-e" "-c" script ];
    PATH = "/usr/bin:/bin";
    LC_ALL = "C";
  } // extra);
in rec {
  # No references at all; the NAR's root node is a regular file.
  noref = mk "tw-noref" ''
    printf 'no references here\n' > "$out"
  '' {};

  # The NAR's root node is an executable regular file; refers to noref.
  script = mk "tw-script" ''
    printf '#!/bin/sh\ncat ${noref}\n' > "$out"
    chmod 0555 "$out"
  '' {};

  # The NAR's root node is a symlink to another store path.
  toplink = mk "tw-toplink" ''
    ln -s ${script} "$out"
  '' {};

  # A few MiB of deterministic pseudo-random bytes (SHA-256 in counter mode)
  # and 1 MiB of very compressible text.
  large = mk "tw-large" ''
    mkdir "$out"
    /usr/bin/python3 -c '
import hashlib, sys
n = int(sys.argv[1])
with open(sys.argv[2], "wb") as f:
    i = 0
    while n > 0:
        b = hashlib.sha256(b"testworld-large-%d" % i).digest()[:n]
        f.write(b); n -= len(b); i += 1
' "$largeBytes" "$out/random.bin"
    i=0
    while [ $i -lt 16384 ]; do
      printf 'line %08d of the compressible part of the large path.......\n' $i
      i=$((i + 1))
    done > "$out/text.txt"
  '' { inherit largeBytes; };

  # Every kind of entry and awkward but legal names; file sizes around the NAR
  # 8-byte padding boundaries.
  files = mk "tw-files" ''
    mkdir "$out" "$out/empty-dir" "$out/sub" "$out/sub/nested"
    printf 'a regular file\n' > "$out/regular"
    : > "$out/empty"
    printf '#!/bin/sh\necho exec\n' > "$out/exec"; chmod 0755 "$out/exec"
    : > "$out/exec-empty"; chmod 0755 "$out/exec-empty"
    printf 'x' > "$out/size-1"
    printf '1234567' > "$out/size-7"
    printf '12345678' > "$out/size-8"
    printf '123456789' > "$out/size-9"
    printf 'nul\000inside\000' > "$out/binary-nul"
    printf 'nested\n' > "$out/sub/nested/file"
    printf 'plus\n' > "$out/a+b=c?d"
    printf 'dash\n' > "$out/-leading-dash"
    printf 'hidden\n' > "$out/.hidden"
    printf 'dots\n' > "$out/name.with.dots"
    printf 'dd\n' > "$out/..double-dot-prefix"
    printf 'space\n' > "$out/with space"
    printf 'utf8\n' > "$out/$(printf 'unicode-\303\274\303\237\342\202\254')"
    printf 'upper\n' > "$out/UPPER"
    printf 'long\n' > "$out/$(printf 'n%.0s' $(seq 1 255))"
    mkdir "$out/.hidden-dir"; printf 'in hidden dir\n' > "$out/.hidden-dir/f"
  '' {};

  # 20 nested directories, a file at every level; the bottom file refers to
  # noref.
  deep = mk "tw-deep" ''
    d="$out"
    mkdir "$d"
    i=1
    while [ $i -le 20 ]; do
      printf 'level %d\n' $i > "$d/file"
      d="$d/d$(printf %02d $i)"
      mkdir "$d"
      i=$((i + 1))
    done
    printf '${noref}\n' > "$d/bottom"
  '' {};

  # Symlinks: relative, upward, dangling, to a directory, absolute outside the
  # store, and to another store path (deep is referenced ONLY by a symlink).
  links = mk "tw-links" ''
    mkdir "$out" "$out/dir"
    printf 'target\n' > "$out/target-file"
    ln -s target-file "$out/rel"
    ln -s ../target-file "$out/dir/up"
    ln -s does-not-exist "$out/dangling"
    ln -s dir "$out/to-dir"
    ln -s /etc/passwd "$out/abs-outside"
    ln -s ${deep}/d01/d02 "$out/to-store-path"
  '' {};

  # Refers to itself (and to files).
  selfref = mk "tw-selfref" ''
    mkdir "$out" "$out/bin"
    printf '%s\n' "$out" > "$out/me"
    printf '#!/bin/sh\ncat %s/me ${files}/regular\n' "$out" > "$out/bin/run"
    chmod 0755 "$out/bin/run"
  '' {};

  # Store path names with every legal special character.
  oddPlus = mk "a+b=c?d" ''printf 'plus\n' > "$out"'' {};
  oddDash = mk "-leading-dash" ''mkdir "$out"; printf 'dash\n' > "$out/f"'' {};
  oddDots = mk "name.with.dots-1.2.3" ''mkdir "$out"; : > "$out/.keep"'' {};
  # A long store path name (the .drv name must stay within 211 characters).
  longname = mk ("tw-long-" + builtins.concatStringsSep "" (builtins.genList (_: "x") 192))
    ''printf 'long name\n' > "$out"'' {};

  mid = mk "tw-mid" ''
    mkdir "$out"
    printf '%s\n' ${links} ${selfref} ${large} > "$out/deps"
  '' {};

  root = mk "tw-root" ''
    mkdir "$out" "$out/bin" "$out/share"
    printf '#!/bin/sh\nexec ${toplink} "$@"\n' > "$out/bin/hello"
    chmod 0755 "$out/bin/hello"
    printf '%s\n' ${mid} ${files} ${oddPlus} ${oddDash} ${oddDots} ${longname} > "$out/share/deps"
  '' {};
}
