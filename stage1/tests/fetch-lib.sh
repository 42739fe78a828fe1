# shellcheck shell=bash
# Helpers shared by fetch.test.sh and fetch-errors.test.sh (sourced after
# lib.sh): the real-Nix test world, a fault-injecting HTTP server, running
# the engine, and checking what it left in a root.

TOOLS="$REPO_ROOT/tools/testworld"
# The world is cached across runs (make-closures checks its own stamp).
TW="${IP_TESTWORLD:-$IP_BUILD/testworld}"

# Builds (or reuses) the world and sources its world.env.  Skips the suite
# with a reason when that is impossible.
load_world() {
	require_root "real Nix builds into /nix/store"
	command -v nix-build >/dev/null || { echo "SKIP: $SUITE: all: nix-build is not installed"; exit 0; }
	if ! timeout 600 "$TOOLS/make-closures" "$TW" >"$TEST_TMP/make-closures.log" 2>&1; then
		echo "FAIL: $SUITE: world: make-closures failed: $(tail -n 3 "$TEST_TMP/make-closures.log" | tr '\n' ' ')"
		exit 1
	fi
	# shellcheck disable=SC1091
	. "$TW/world.env"
}

# start_server NAME DIR [http-serve args...]: serves DIR; sets NAME_PORT and
# NAME_LOG (request log) and stops the server at exit.
_SERVER_PIDS=""
_stop_servers() { local p; for p in $_SERVER_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
at_exit _stop_servers
start_server() {
	local name=$1 dir=$2; shift 2
	local pf="$TEST_TMP/$name.port" log="$TEST_TMP/$name.log"
	rm -f "$pf"
	: >"$log"
	"$TOOLS/http-serve" "$dir" --port-file "$pf" --log "$log" "$@" 2>>"$TEST_TMP/$name.err" &
	_SERVER_PIDS="$_SERVER_PIDS $!"
	for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
	[ -s "$pf" ] || { echo "FAIL: $SUITE: $name: http-serve did not start"; exit 1; }
	printf -v "${name}_PORT" '%s' "$(cat "$pf")"
	printf -v "${name}_LOG" '%s' "$log"
}

# fetch ROOT ARGS...: runs the engine (bounded), stderr to $TEST_TMP/stderr.
# The trusted key and --no-sync (tests run on a shared disk) are added.
fetch() {
	local root=$1; shift
	timeout 120 "$IP_BIN" fetch --root "$root" --trusted-public-key "$TRUSTED_PUBKEY" \
		--no-sync "$@" 2>"$TEST_TMP/stderr"
}
stderr_has() {
	grep -qF -- "$1" "$TEST_TMP/stderr" ||
		fail_because "stderr lacks '$1': $(tail -n 3 "$TEST_TMP/stderr" | tr '\n' ' ')"
}

judge() { # ROOT CACHE_DIR
	"$TOOLS/nix-judge" --cache "$2" --expect-paths "$TW_DIR/all-paths" "$1" \
		>"$TEST_TMP/judge.out" 2>&1 ||
		fail_because "nix-judge: $(head -n 5 "$TEST_TMP/judge.out" | tr '\n' ' ')"
}

# count LOG PATTERN: requests in a server log whose line matches PATTERN.
count() { grep -cE -- "$2" "$1" || true; }

hash_part() { basename "$1" | cut -c1-32; }

# Nothing left that is not whole: no temporaries in ROOT/nix/store, every
# entry there is a path of the world whose NAR hashes to the good cache's
# NarHash, the paths named after ROOT are absent, and if a registration file
# exists it lists only whole paths.
check_clean() { # ROOT GOOD_CACHE [ABSENT_PATH...]
	local root=$1 cache=$2; shift 2
	local e p want got
	[ -d "$root/nix/store" ] || return 0
	for e in "$root/nix/store"/.[!.]* "$root/nix/store"/*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		p=/nix/store/$(basename "$e")
		case " $ALL_PATHS " in *" $p "*) ;; *) fail_because "leftover $e"; return 1 ;; esac
		want=$(sed -n 's/^NarHash: //p' "$cache/$(hash_part "$p").narinfo")
		got=sha256:$(nix-store --dump "$e" | sha256sum | cut -c1-64)
		want=$(nix-hash --type sha256 --to-base16 "${want#sha256:}" 2>/dev/null)
		[ "$got" = "sha256:$want" ] || { fail_because "$e is not whole"; return 1; }
	done
	for p in "$@"; do
		if [ -e "$root$p" ] || [ -L "$root$p" ]; then fail_because "$p was left in place"; return 1; fi
	done
	if [ -f "$root/nix-path-registration" ]; then
		for p in $(registered_paths "$root/nix-path-registration"); do
			[ -e "$root$p" ] || [ -L "$root$p" ] || { fail_because "$p registered but absent"; return 1; }
		done
	fi
	return 0
}

# The paths a registration file registers (not their references/derivers).
registered_paths() {
	awk 'BEGIN { s = 0 }
	     s == 0 { print; s = 1; next }
	     s == 1 || s == 2 || s == 3 { s++; next }
	     s == 4 { n = $0 + 0; s = n > 0 ? 5 : 0; next }
	     s == 5 { if (--n == 0) s = 0; next }' "$1"
}
