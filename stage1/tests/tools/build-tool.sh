# Sourced by integration tests after lib.sh: builds a test driver from
# stage1/tests/tools/<name>.c against the sanitizer library, with the same
# flags and libraries as the Makefile's unit-test link.
#   build_tool NAME   -> prints the binary's path; fails (message on stderr)
#                        when build/asan/libip.a is missing or cc fails
IP_PKG_LIBS="libcurl libzstd libnl-3.0 libnl-route-3.0 libsodium liblzma zlib libbrotlidec liblz4"
build_tool() {
	local name=$1 lib="$IP_BUILD/asan/libip.a" out="$TEST_TMP/$1"
	if [ ! -f "$lib" ]; then
		echo "$lib is missing; run 'make test-build'" >&2
		return 1
	fi
	# shellcheck disable=SC2046
	cc -std=gnu11 -D_GNU_SOURCE -I"$REPO_ROOT/stage1/src" -pthread -O1 -g \
		-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
		$(pkg-config --cflags $IP_PKG_LIBS) \
		-o "$out" "$REPO_ROOT/stage1/tests/tools/$name.c" "$lib" \
		$(pkg-config --libs $IP_PKG_LIBS) >&2 || return 1
	echo "$out"
}

# Milliseconds since the epoch (for bounded-duration assertions).
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
