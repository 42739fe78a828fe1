#!/usr/bin/env bash
# Builds the libraries of the static (musl) initrd-provision binary from
# Debian's source packages, pinned to exact versions, into a prefix:
#
#   tools/build-static-deps.sh [DEPS_DIR [ARCH]]   (default: build/deps of this
#                                               checkout, the build machine's arch)
#
# ARCH x86_64 builds with Debian's musl-gcc.  ARCH aarch64 cross-builds with
# gcc-aarch64-linux-gnu and Debian's musl for arm64, taken from its .debs
# (not installed: see make_cross_musl) into DEPS_DIR/musl-sysroot, reached
# through the wrapper DEPS_DIR/bin/aarch64-linux-musl-gcc that make static
# ARCH=aarch64 uses too.
#
#   DEPS_DIR/prefix/          include/, lib/*.a, lib/pkgconfig/*.pc (relocatable),
#                             bin/curl-config; .stamps/ and .complete
#   DEPS_DIR/kernel-headers/  linux/, asm-generic/, asm/ for musl-gcc -isystem
#   DEPS_DIR/src/             downloaded source packages and build trees
#   DEPS_DIR/logs/<pkg>.log   full build output of each package
#
# Each package is rebuilt only when its stamp (version + recipe + flags +
# the stamps of the packages before it) changed.  A finished prefix is also
# copied to /var/cache/initrd-provision/static-deps-<key>/ (key: hash of this
# script, tools/static/*, the musl and gcc versions) and restored from there
# when DEPS_DIR has no matching prefix, so a fresh clone on the same machine
# skips the build.  Needs root only to add the deb-src entry (missing from a
# stock Debian 12) and to write /var/cache.
#
# Environment: STATIC_DEPS_JOBS (default: nproc), STATIC_DEPS_CACHE (default
# /var/cache/initrd-provision; empty disables the machine-level cache), CI=true
# prints more of a failing log.
set -euo pipefail
export LC_ALL=C
SELF=$(readlink -f "$0")
DEPS_DIR=
if [ $# -gt 0 ]; then
	mkdir -p "$1"
	DEPS_DIR=$(cd "$1" && pwd)
fi
cd "$(dirname "$SELF")/.."

# --- pinned source packages ------------------------------------------------
# Build order (a package may use the ones above it).  Versions are the ones in
# Debian 12 "bookworm" (+ bookworm-security) when this was written; the sha256
# is that of the .dsc, which in turn pins every tarball (dpkg-source checks).
#      name        source pkg   version                 sha256 of the .dsc
PINS=(
	"zlib        zlib        1:1.2.13.dfsg-1         3fa1e6b2fc525062aa88207dda52fed8e045373c809d362fe8a2bfbf7cf515a8"
	"bzip2       bzip2       1.0.8-5                 ed9c40f4de3f9e064535e15eac1c61a0f606763db98f4579dbc04067b94a8944"
	"xz          xz-utils    5.4.1-1+deb12u2         bffc9917562b5787661379621bb1f7510bf7271b03d8ce4181cebc84b90d3c35"
	"zstd        libzstd     1.5.4+dfsg2-5           8f602f92b575aa8b5e979196fb6ee82d78f233521dc9636526d3ecba1f63c1b1"
	"mbedtls     mbedtls     2.28.3-1                a8bf91b5ffb40654efb0ebe0c962ac1e87b8eed5e104880982eaa70dd4bb33e3"
	"curl        curl        7.88.1-10+deb12u15      2744f12e3aef161c0361743fa1b318296b122e566e47f381e4a63320fbcc23f4"
	"libnl       libnl3      3.7.0-0.2               dd41ed81344119f158f3ed194dad966247f21a1d1ee078295d347b4ec7c2adef"
	"libsodium   libsodium   1.0.18-1+deb12u1        2c23c57b5a9385dab5a1916014c9b5f2cdd7dadeb8a35b28c1bfb603ce7095c4"
	"brotli      brotli      1.0.9-2                 8c4c86748ec9770e08b60233d658593650444b04a452dc5b607ed5b5537b683e"
	"lz4         lz4         1.9.4-1                 e16302bca544d08d106efc216541f4a0403c8f8a5fad5eaac7588223a55af263"
)

: "${DEPS_DIR:=$PWD/build/deps}"
mkdir -p "$DEPS_DIR"
PREFIX=$DEPS_DIR/prefix
KHDR=$DEPS_DIR/kernel-headers
SRC=$DEPS_DIR/src
LOGS=$DEPS_DIR/logs
MACHINE_CACHE=${STATIC_DEPS_CACHE-/var/cache/initrd-provision}
JOBS=${STATIC_DEPS_JOBS:-$(nproc)}
SRC_LIST=/etc/apt/sources.list.d/initrd-provision-src.sources

# A clean environment for the builds: configure scripts pick up variables
# such as CURL_CA_BUNDLE (curl-config then reports the build machine's CA
# path), CFLAGS, PKG_CONFIG_PATH; and only Debian's tools on PATH.
for var in $(compgen -e); do
	case $var in
	HOME | TERM | TMPDIR | CI | LANG) ;;
	*) unset "$var" ;;
	esac
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
ARCH=${2:-$(uname -m)} # after the clean-up: make exports an ARCH= given to it

# Flags every package is compiled with (part of every stamp).  Sections let
# the final link drop unused functions (-Wl,--gc-sections).
DEP_CFLAGS="-O2 -ffunction-sections -fdata-sections -fstack-protector-strong"

log() { echo "static-deps: $*"; }
die() { echo "static-deps: error: $*" >&2; exit 1; }

# The compiler, binutils and configure's --host for ARCH.  The binutils are
# exported for the Makefiles that take them from the environment; HOST_MAKE
# names them for the ones that set them themselves (bzip2).
HOST_ARGS=()
case $ARCH in
x86_64)
	CROSS=
	export CC=musl-gcc
	;;
aarch64)
	CROSS=aarch64-linux-gnu-
	export CC=$DEPS_DIR/bin/aarch64-linux-musl-gcc
	HOST_ARGS=(--host=aarch64-linux-gnu)
	;;
*) die "ARCH '$ARCH' is not supported (x86_64, aarch64)" ;;
esac
export AR=${CROSS}ar RANLIB=${CROSS}ranlib
HOST_MAKE=(CC="$CC" AR="$AR" RANLIB="$RANLIB")

for tool in "${CROSS:-musl-}gcc" "${CROSS}ar" dpkg-source apt-get pkg-config autoreconf flex bison make sha256sum; do
	command -v "$tool" >/dev/null || die "'$tool' not found; run 'make deps' (tools/packages/build.txt)"
done

exec 9>"$DEPS_DIR/.lock"
flock 9

KEY=$( {
	cat "$SELF"
	[ -d tools/static ] && find tools/static -type f | sort | xargs -r cat
	if [ "$ARCH" = x86_64 ]; then
		dpkg-query -W -f='${Package} ${Version}\n' musl-dev gcc linux-libc-dev 2>/dev/null || true
		musl-gcc -dumpfullversion
	else
		echo "$ARCH"
		dpkg-query -W -f='${Package} ${Version}\n' gcc-aarch64-linux-gnu linux-libc-dev-arm64-cross 2>/dev/null || true
	fi
} | sha256sum | cut -c1-16)

# --- kernel headers for musl-gcc (libnl and everything including it) ---------
# musl-gcc searches only musl's include dir; libnl's headers need the kernel's
# uapi headers.  A folder of symlinks, not /usr/include, so that glibc's own
# headers stay invisible.
# The cross headers are linux-libc-dev-arm64-cross's.
make_kernel_headers() {
	local linux=/usr/include/linux generic=/usr/include/asm-generic asm
	if [ "$ARCH" = x86_64 ]; then
		asm=/usr/include/$(gcc -print-multiarch)/asm
	else
		linux=/usr/${CROSS%-}/include/linux
		generic=/usr/${CROSS%-}/include/asm-generic
		asm=/usr/${CROSS%-}/include/asm
	fi
	rm -rf "$KHDR"
	mkdir -p "$KHDR"
	ln -s "$linux" "$KHDR/linux"
	ln -s "$generic" "$KHDR/asm-generic"
	ln -s "$asm" "$KHDR/asm"
	for d in linux asm-generic asm; do
		[ -e "$KHDR/$d/" ] || die "kernel header folder $KHDR/$d is missing (install linux-libc-dev)"
	done
}

# Debian's musl for the target (musl-dev:arm64 1.2.3, the version of the
# x86_64 musl-dev), unpacked by tools/fetch-debs, and a compiler wrapper whose
# specs point at it instead of /usr.  The wrapper is what CC names here and
# in mk/static.mk.
CROSS_MUSL_PIN="musl-dev:arm64 1.2.3-1 55c2ca4bc3041c8ed8ac7dc3ef6080d9551a21650568b2fd7610b59eaf98a4f4"
CROSS_DEBS=${STATIC_DEPS_CACHE-/var/cache/initrd-provision}
CROSS_DEBS=${CROSS_DEBS:+$CROSS_DEBS/debs}
make_cross_musl() {
	local sysroot=$DEPS_DIR/musl-sysroot
	rm -rf "$sysroot"
	DEBS_CACHE=$CROSS_DEBS tools/fetch-debs "$sysroot" "$CROSS_MUSL_PIN" ||
		die "cannot get $CROSS_MUSL_PIN"
	local lib=$sysroot/usr/lib/aarch64-linux-musl
	sed -e "s|/usr/|$sysroot/usr/|g" "$lib/musl-gcc.specs" >"$DEPS_DIR/musl-aarch64.specs"
	mkdir -p "$DEPS_DIR/bin"
	cat >"$DEPS_DIR/bin/aarch64-linux-musl-gcc.tmp" <<-EOF
	#!/bin/sh
	# made by tools/build-static-deps.sh: gcc-aarch64-linux-gnu against musl-dev:arm64
	exec ${CROSS}gcc -specs "$DEPS_DIR/musl-aarch64.specs" "\$@"
	EOF
	chmod +x "$DEPS_DIR/bin/aarch64-linux-musl-gcc.tmp"
	mv "$DEPS_DIR/bin/aarch64-linux-musl-gcc.tmp" "$DEPS_DIR/bin/aarch64-linux-musl-gcc"
}

make_kernel_headers
if [ "$ARCH" != x86_64 ]; then
	make_cross_musl
	KEY=$(printf '%s\n' "$KEY" "$CROSS_MUSL_PIN" | sha256sum | cut -c1-16)
fi

complete_key() { cat "$PREFIX/.complete" 2>/dev/null || true; }

if [ "$(complete_key)" = "$KEY" ]; then
	touch "$PREFIX/.complete"
	log "up to date in $PREFIX (key $KEY)"
	exit 0
fi

# --- machine-level cache -------------------------------------------------------
# static-deps-KEY for x86_64, static-deps-aarch64-KEY for the cross build.
ARCH_TAG=$([ "$ARCH" = x86_64 ] || echo "-$ARCH")
# One builder per key on the machine (other clones, parallel CI jobs): the
# others wait on the lock, then restore what it saved.  Only entries whose
# .complete names the key are used; they are moved into place whole.
cached=""
if [ -n "$MACHINE_CACHE" ] && mkdir -p "$MACHINE_CACHE" 2>/dev/null && [ -w "$MACHINE_CACHE" ]; then
	cached=$MACHINE_CACHE/static-deps$ARCH_TAG-$KEY
	exec 8>"$MACHINE_CACHE/.lock-$KEY"
	if ! flock -n 8; then
		log "waiting for another build of the same deps (lock $MACHINE_CACHE/.lock-$KEY)"
		flock 8
	fi
elif [ -n "$MACHINE_CACHE" ] && [ -d "$MACHINE_CACHE/static-deps$ARCH_TAG-$KEY" ]; then
	cached=$MACHINE_CACHE/static-deps$ARCH_TAG-$KEY # readable, not writable: restore only
fi
if [ -n "$cached" ] && [ "$(cat "$cached/.complete" 2>/dev/null)" = "$KEY" ]; then
	log "restoring the prefix from $cached (key $KEY)"
	rm -rf "$PREFIX.tmp"
	if cp -a "$cached" "$PREFIX.tmp" && [ "$(cat "$PREFIX.tmp/.complete" 2>/dev/null)" = "$KEY" ]; then
		rm -rf "$PREFIX"
		mv "$PREFIX.tmp" "$PREFIX"
		touch "$PREFIX/.complete"
		exit 0
	fi
	rm -rf "$PREFIX.tmp"
	log "restoring from $cached failed; building instead"
fi

# --- sources ------------------------------------------------------------------
# Adds a deb-src entry of our own when apt knows no source index yet (a stock
# Debian 12 has only 'Types: deb' in debian.sources), then refreshes the lists.
apt_updated=0
apt_update() {
	[ "$(id -u)" = 0 ] || die "apt-get update needs root"
	local i
	for i in 1 2 3 4 5 6; do
		if apt-get update -q >"$LOGS/apt-update.log" 2>&1; then
			apt_updated=1
			return 0
		fi
		log "apt-get update failed (attempt $i; another apt running?), retrying"
		sleep 10
	done
	tail -n 20 "$LOGS/apt-update.log" >&2
	die "apt-get update failed; see $LOGS/apt-update.log"
}

ensure_deb_src() {
	if apt-get indextargets 'Identifier: Sources' | grep -q .; then
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "no deb-src entry in apt's sources and not root to add $SRC_LIST"
	local codename
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
	log "adding deb-src entries for Debian $codename in $SRC_LIST"
	cat >"$SRC_LIST" <<-EOF
	# Added by initrd-provision tools/build-static-deps.sh: Debian source
	# packages for the static (musl) build of its dependencies.
	Types: deb-src
	URIs: http://deb.debian.org/debian
	Suites: $codename $codename-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb-src
	URIs: http://deb.debian.org/debian-security
	Suites: $codename-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt_update
}

# fetch SRCPKG VERSION SHA256 DEST: downloads the source package (--only-source:
# brotli is also a binary package, whose name apt would map to the source of
# its newest version) into
# $SRC/dl (kept between builds), checks the .dsc against the pinned sha256,
# unpacks it (dpkg-source checks the tarballs against the .dsc) into DEST.
fetch() {
	local pkg=$1 version=$2 sha=$3 dest=$4
	local dsc="$SRC/dl/${pkg}_${version#*:}.dsc"
	mkdir -p "$SRC/dl"
	if [ ! -f "$dsc" ] || ! echo "$sha  $dsc" | sha256sum -c --status; then
		ensure_deb_src
		if ! (cd "$SRC/dl" && apt-get source -q --download-only --only-source "$pkg=$version") >>"$LOGS/download.log" 2>&1; then
			if [ "$apt_updated" = 0 ] && [ "$(id -u)" = 0 ]; then
				log "$pkg=$version not found; refreshing apt's lists once"
				apt_update
				(cd "$SRC/dl" && apt-get source -q --download-only --only-source "$pkg=$version") >>"$LOGS/download.log" 2>&1 ||
					die "apt-get source $pkg=$version failed; see $LOGS/download.log"
			else
				die "apt-get source $pkg=$version failed (is it still in the archive? update the pin in $SELF); see $LOGS/download.log"
			fi
		fi
	fi
	echo "$sha  $dsc" | sha256sum -c --status ||
		die "$dsc does not match the pinned sha256 $sha"
	rm -rf "$dest"
	dpkg-source -x "$dsc" "$dest" >>"$LOGS/$name.log" 2>&1 ||
		die "dpkg-source -x $dsc failed; see $LOGS/$name.log"
}

# Debian's patches touch configure.ac/Makefile.am of some packages; give the
# shipped generated files newer times than their inputs so that make does not
# try to re-run automake/autoconf (whose versions differ from upstream's).
freeze_autotools() {
	find . -exec touch -h -d @1600000000 {} +
	find . -name aclocal.m4 -exec touch -d @1600000100 {} +
	find . \( -name configure -o -name Makefile.in -o -name 'config.h.in' -o -name '*.h.in' \) \
		-exec touch -d @1600000200 {} +
}

# Rewrites absolute prefix paths so that the prefix can move (machine cache,
# another clone): .pc files use ${pcfiledir}, curl-config finds itself.
make_relocatable() {
	local pc
	for pc in "$PREFIX"/lib/pkgconfig/*.pc; do
		sed -i -e "s|^prefix=.*|prefix=\${pcfiledir}/../..|" -e "s|$PREFIX|\${prefix}|g" "$pc"
	done
	if [ -f "$PREFIX/bin/curl-config" ]; then
		sed -i -e "s|^prefix=.*|prefix=\$(cd \"\$(dirname \"\$0\")/..\" \&\& pwd)|" \
			-e "s|$PREFIX|\${prefix}|g" "$PREFIX/bin/curl-config"
	fi
	find "$PREFIX/lib" -name '*.la' -delete
}

# --- recipes (run inside the unpacked source; the body is part of the stamp) ----
autotools_env() {
	export CFLAGS="$DEP_CFLAGS" CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib"
}

build_zlib() {
	CFLAGS="$DEP_CFLAGS" ./configure --static --prefix="$PREFIX"
	make -j"$JOBS" libz.a
	make install
}

build_bzip2() {
	# Only the library; Debian's Makefile builds the tools and a shared one too.
	make -j"$JOBS" libbz2.a "${HOST_MAKE[@]}" CFLAGS="$DEP_CFLAGS -D_FILE_OFFSET_BITS=64"
	install -D -m 644 bzlib.h "$PREFIX/include/bzlib.h"
	install -D -m 644 libbz2.a "$PREFIX/lib/libbz2.a"
	mkdir -p "$PREFIX/lib/pkgconfig"
	cat >"$PREFIX/lib/pkgconfig/bzip2.pc" <<-EOF
	prefix=$PREFIX
	libdir=\${prefix}/lib
	includedir=\${prefix}/include
	Name: bzip2
	Description: bzip2 compression library (static, musl)
	Version: 1.0.8
	Libs: -L\${libdir} -lbz2
	Cflags: -I\${includedir}
	EOF
}

build_xz() {
	freeze_autotools
	autotools_env
	./configure --prefix="$PREFIX" "${HOST_ARGS[@]}" --disable-shared --enable-static \
		--disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo \
		--disable-lzma-links --disable-scripts --disable-doc --disable-nls \
		--enable-threads=posix
	make -j"$JOBS" -C src/liblzma
	make -C src/liblzma install
}

build_zstd() {
	# Single-threaded static library; no legacy (pre-v0.8) frame formats.
	local vars=(CC="$CC" CFLAGS="$DEP_CFLAGS" ZSTD_LEGACY_SUPPORT=0 PREFIX="$PREFIX")
	make -j"$JOBS" -C lib libzstd.a "${vars[@]}"
	make -C lib install-static install-includes install-pc "${vars[@]}"
}

build_mbedtls() {
	# Upstream's default configuration (TLS 1.2; 2.28 has no usable TLS 1.3).
	make -j"$JOBS" lib "${HOST_MAKE[@]}" CFLAGS="$DEP_CFLAGS"
	mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
	cp -r include/mbedtls include/psa "$PREFIX/include/"
	cp library/libmbedtls.a library/libmbedx509.a library/libmbedcrypto.a "$PREFIX/lib/"
	# 2.28 ships no .pc files; one module for the three libraries, in link order.
	cat >"$PREFIX/lib/pkgconfig/mbedtls.pc" <<-EOF
	prefix=$PREFIX
	libdir=\${prefix}/lib
	includedir=\${prefix}/include
	Name: mbedtls
	Description: Mbed TLS (static, musl): libmbedtls, libmbedx509, libmbedcrypto
	Version: 2.28.3
	Libs: -L\${libdir} -lmbedtls -lmbedx509 -lmbedcrypto
	Cflags: -I\${includedir}
	EOF
}

build_curl() {
	# Debian's last two patches turn the tree into the GnuTLS and NSS
	# flavours; its openssl flavour (plain libcurl) is built without them.
	patch -R -p1 <debian/patches/99_nss.patch
	patch -R -p1 <debian/patches/90_gnutls.patch
	freeze_autotools
	autotools_env
	CPPFLAGS="$CPPFLAGS -DCURL_PATCHSTAMP=\\\"$version\\\""
	./configure --prefix="$PREFIX" "${HOST_ARGS[@]}" --disable-shared --enable-static \
		--disable-dependency-tracking \
		--with-mbedtls="$PREFIX" --with-zlib="$PREFIX" --without-zstd \
		--without-ca-bundle --without-ca-path --without-ca-fallback \
		--enable-http --enable-file --enable-ipv6 --enable-threaded-resolver \
		--disable-ftp --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
		--disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb \
		--disable-smtp --disable-gopher --disable-mqtt \
		--disable-ntlm --disable-ntlm-wb --disable-tls-srp --disable-cookies \
		--disable-alt-svc --disable-hsts --disable-doh --disable-netrc \
		--disable-manual --disable-libcurl-option \
		--without-brotli --without-libpsl --without-libidn2 --without-nghttp2 \
		--without-nghttp3 --without-ngtcp2 --without-quiche --without-msh3 \
		--without-libssh --without-libssh2 --without-wolfssh --without-librtmp \
		--without-gssapi --without-libgsasl --without-hyper
	# AWS SigV4 rides on crypto-auth (on); the summary is in the log.
	grep -q 'CURL_DISABLE_CRYPTO_AUTH 1' lib/curl_config.h && return 1
	make -j"$JOBS" -C lib
	make -C lib install
	make -C include install
	make install-pkgconfigDATA install-binSCRIPTS
	[ -z "$("$PREFIX/bin/curl-config" --ca)" ] || { echo "curl has a compiled-in CA bundle"; return 1; }
}

build_libnl() {
	freeze_autotools
	autotools_env
	CPPFLAGS="$CPPFLAGS -isystem $KHDR"
	# sysconfdir is the run-time place of libnl's classid/pktloc files; the
	# install puts them into the prefix instead (pkgsysconfdir below).
	./configure --prefix="$PREFIX" "${HOST_ARGS[@]}" --sysconfdir=/etc --disable-shared --enable-static \
		--disable-dependency-tracking --disable-cli --disable-debug
	make -j"$JOBS" lib/libnl-3.la lib/libnl-route-3.la
	make install-data pkgsysconfdir="$PREFIX/etc/libnl"
	cp lib/.libs/libnl-3.a lib/.libs/libnl-route-3.a "$PREFIX/lib/"
	# Only these two libraries are built; drop the other modules' .pc files.
	rm -f "$PREFIX"/lib/pkgconfig/libnl-{cli,genl,idiag,nf,xfrm}-3.0.pc
}

build_libsodium() {
	# Debian's tarball is a git export without configure.
	autoreconf -fi
	autotools_env
	./configure --prefix="$PREFIX" "${HOST_ARGS[@]}" --disable-shared --enable-static \
		--disable-dependency-tracking --disable-pie
	make -j"$JOBS"
	make install
}

build_brotli() {
	# The decoder (br NARs and answers): libbrotlicommon and libbrotlidec
	# compiled straight from the tree into one archive, no cmake needed.
	# The encoder goes beside it for the unit tests only (they compress);
	# the program never links it.
	mkdir -p obj enc
	local f
	for f in c/common/*.c c/dec/*.c; do
		"$CC" $DEP_CFLAGS -Ic/include -c "$f" -o "obj/$(basename "$f" .c).o"
	done
	for f in c/enc/*.c; do
		"$CC" $DEP_CFLAGS -Ic/include -c "$f" -o "enc/$(basename "$f" .c).o"
	done
	mkdir -p "$PREFIX/include/brotli" "$PREFIX/lib/pkgconfig"
	"$AR" rcs "$PREFIX/lib/libbrotlidec.a" obj/*.o
	"$AR" rcs "$PREFIX/lib/libbrotlienc.a" enc/*.o
	cat >"$PREFIX/lib/pkgconfig/libbrotlienc.pc" <<-EOF
	prefix=$PREFIX
	libdir=\${prefix}/lib
	includedir=\${prefix}/include
	Name: libbrotlienc
	Description: Brotli encoder library, for the unit tests (static, musl)
	Version: 1.0.9
	Libs: -L\${libdir} -lbrotlienc -lbrotlidec -lm
	Cflags: -I\${includedir}
	EOF
	install -m 644 c/include/brotli/*.h "$PREFIX/include/brotli/"
	cat >"$PREFIX/lib/pkgconfig/libbrotlidec.pc" <<-EOF
	prefix=$PREFIX
	libdir=\${prefix}/lib
	includedir=\${prefix}/include
	Name: libbrotlidec
	Description: Brotli decoder library with its common part (static, musl)
	Version: 1.0.9
	Libs: -L\${libdir} -lbrotlidec
	Cflags: -I\${includedir}
	EOF
}

build_lz4() {
	# The library only (lz4 frames: lz4frame.h, with xxhash inside).
	make -j"$JOBS" -C lib liblz4.a "${HOST_MAKE[@]}" CFLAGS="$DEP_CFLAGS"
	mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
	install -m 644 lib/liblz4.a "$PREFIX/lib/"
	install -m 644 lib/lz4.h lib/lz4hc.h lib/lz4frame.h "$PREFIX/include/"
	cat >"$PREFIX/lib/pkgconfig/liblz4.pc" <<-EOF
	prefix=$PREFIX
	libdir=\${prefix}/lib
	includedir=\${prefix}/include
	Name: lz4
	Description: LZ4 library (static, musl)
	Version: 1.9.4
	Libs: -L\${libdir} -llz4
	Cflags: -I\${includedir}
	EOF
}

# --- build ------------------------------------------------------------------------
mkdir -p "$PREFIX/.stamps" "$SRC" "$LOGS"
rm -f "$PREFIX/.complete"
export PKG_CONFIG_LIBDIR="$PREFIX/lib/pkgconfig" PKG_CONFIG_PATH=
log "building into $PREFIX with $CC ($JOBS jobs); logs in $LOGS"
start_all=$(date +%s)
chain=$(printf '%s\n' "$DEP_CFLAGS" "$(declare -f freeze_autotools autotools_env)" | sha256sum | cut -c1-16)
for pin in "${PINS[@]}"; do
	read -r name pkg version sha <<<"$pin"
	stamp="$version $(printf '%s\n' "$chain" "$sha" "$(declare -f "build_$name")" | sha256sum | cut -c1-16)"
	chain=$(echo "$stamp" | sha256sum | cut -c1-16)
	if [ "$(cat "$PREFIX/.stamps/$name" 2>/dev/null)" = "$stamp" ]; then
		log "$name $version: up to date"
		continue
	fi
	log "$name: building Debian source $pkg $version"
	start=$(date +%s)
	: >"$LOGS/$name.log"
	fetch "$pkg" "$version" "$sha" "$SRC/$name"
	# Not in an if/|| context: errexit must stay active inside the recipe.
	set +e
	(cd "$SRC/$name" && set -ex && "build_$name") >>"$LOGS/$name.log" 2>&1
	rc=$?
	set -e
	if [ "$rc" != 0 ]; then
		echo "static-deps: error: building $name failed; last lines of $LOGS/$name.log:" >&2
		tail -n "$([ "${CI:-}" = true ] && echo 150 || echo 40)" "$LOGS/$name.log" >&2
		exit 1
	fi
	echo "$stamp" >"$PREFIX/.stamps/$name"
	log "$name: done in $(($(date +%s) - start)) s"
done
make_relocatable

# The prefix must answer for every library the program links.
pkg-config --exists --print-errors --static \
	libcurl libnl-3.0 libnl-route-3.0 libsodium libzstd liblzma zlib bzip2 libbrotlidec liblz4 mbedtls \
	libbrotlienc ||
	die "pkg-config cannot resolve the libraries in $PREFIX/lib/pkgconfig"
echo "$KEY" >"$PREFIX/.complete"
log "all built in $(($(date +%s) - start_all)) s (key $KEY)"

if [ -n "$cached" ] && [ -w "$MACHINE_CACHE" ]; then
	tmp=$(mktemp -d "$MACHINE_CACHE/.static-deps$ARCH_TAG-$KEY.XXXXXX")
	cp -a "$PREFIX/." "$tmp/"
	rm -rf "$cached"
	mv -T "$tmp" "$cached"
	log "saved to $cached"
	# Keep the three most recent keys of this ARCH (16 hex digits after the tag).
	ls -1dt "$MACHINE_CACHE"/static-deps"$ARCH_TAG"-???????????????? | tail -n +4 | xargs -r rm -rf
	find "$MACHINE_CACHE" -maxdepth 1 -name '.lock-*' -mtime +30 -delete
fi
