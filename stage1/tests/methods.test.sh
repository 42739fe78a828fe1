#!/usr/bin/env bash
# The compression methods beyond Nix's own writers that real Nix reads (br
# through libbrotli, the rest through libarchive): caches whose NARs were
# compressed by the real command-line tools (brotli, lzip, lz4 from
# Debian), under the narinfos real Nix signed (the
# signature covers path, NarHash, NarSize and references, not the URL or the
# compression).  Real Nix reads each cache too (nix copy --from), and judges
# what initrd-provision unpacked.
SUITE=methods
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
load_world

CACHES=$TEST_TMP/caches
mkdir -p "$CACHES"

# make_cache METHOD EXT CMD...: cache-none's NARs through CMD (stdin to
# stdout) into $CACHES/cache-METHOD, the narinfos pointing at them.
make_cache() {
	local method=$1 ext=$2; shift 2
	local dir=$CACHES/cache-$method ni url nar size hash
	mkdir -p "$dir/nar"
	cp "$TW_DIR/cache-none/nix-cache-info" "$dir/"
	for ni in "$TW_DIR"/cache-none/*.narinfo; do
		url=$(sed -n 's/^URL: //p' "$ni")
		"$@" <"$TW_DIR/cache-none/$url" >"$dir/nar.tmp" || return 1
		hash=$(nix-hash --type sha256 --flat --base32 "$dir/nar.tmp")
		size=$(stat -c %s "$dir/nar.tmp")
		nar=nar/$hash.nar.$ext
		mv "$dir/nar.tmp" "$dir/$nar"
		sed -e "s|^URL: .*|URL: $nar|" -e "s|^Compression: .*|Compression: $method|" \
			-e "s|^FileHash: .*|FileHash: sha256:$hash|" -e "s|^FileSize: .*|FileSize: $size|" \
			"$ni" >"$dir/$(basename "$ni")"
	done
}

missing=""
for tool in brotli lzip lz4; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
	echo "SKIP: $SUITE: all: missing tools:$missing (Debian packages brotli lzip lz4)"
	exit 0
fi
# brotli at quality 5 with the largest standard window (16 MiB; the default
# quality 11 takes 5 s of CPU here); the others at their defaults (lz4 frames
# carry a content checksum).
make_cache br br brotli -c -q 5 -w 24 &&
	make_cache lzip lz lzip -c &&
	make_cache lz4 lz4 lz4 -c ||
	{ echo "FAIL: $SUITE: caches: a compressor failed"; exit 1; }
start_server M "$CACHES"

for m in br lzip lz4; do
	eval "case_$m() {
		local root=\$TEST_TMP/root-$m t out
		fetch \"\$root\" --substituter http://127.0.0.1:\$M_PORT/cache-$m \"\$ROOT_PATH\" ||
			{ fail_because \"fetch failed: \$(tail -n 2 \$TEST_TMP/stderr)\"; return 1; }
		judge \"\$root\" \"\$TW_DIR/cache-none\" || return 1
		[ \"\$(count \"\$M_LOG\" '^GET /cache-$m/nar/.* 200 ')\" = \"\$PATH_COUNT\" ] ||
			{ fail_because 'want one NAR request per path'; return 1; }
		# the same cache as real Nix reads it
		t=\$(make_tmpdir)
		out=\$(\"\$TOOLS/nix-hermetic\" nix copy --from \"file://\$CACHES/cache-$m\" --to \"local?root=\$t/r\" \
			--option trusted-public-keys \"\$TRUSTED_PUBKEY\" \"\$ROOT_PATH\" 2>&1) ||
			fail_because \"real Nix cannot read the cache: \$out\"
	}"
	run_case "$m cache (NARs by the real CLI, narinfos signed by real Nix): fetched, judged by real Nix" "case_$m"
done

# lzma (.lzma, which Nix can write through libarchive but Nix 2.8 aborts on
# reading) and the methods libarchive reads with an external program (lzop,
# grzip, lrzip): refused by name before any NAR request.
unsupported_is_refused_by_name() {
	local root; root=$(make_tmpdir)/root
	cp -r "$CACHES/cache-lz4" "$CACHES/cache-lzma"
	sed -i 's/^Compression: .*/Compression: lzma/' "$CACHES"/cache-lzma/*.narinfo
	if fetch "$root" --substituter "http://127.0.0.1:$M_PORT/cache-lzma" "$ROOT_PATH"; then
		fail_because "an lzma NAR was accepted"
		return 1
	fi
	stderr_has "uses compression 'lzma', which is not supported (supported: zstd, xz, bzip2, gzip, br, lzip, lz4, none)" || return 1
	[ "$(count "$M_LOG" '^GET /cache-lzma/nar/')" = 0 ] || fail_because "a NAR was requested"
}
run_case "lzma: refused by name, no NAR request" unsupported_is_refused_by_name
