#!/usr/bin/env bash
# Self-tests of the test-world tools (tools/testworld/): the world made by real
# Nix, the fault-injecting server, the judge, nginx, a tiny corpus.  The world
# and the corpus are cached under $IP_BUILD/testworld/, so re-runs take seconds.
SUITE=testworld
. "$(dirname "$0")/lib.sh"
TW="$REPO_ROOT/tools/testworld"
require_root "builds into /nix/store with real Nix"
for tool in nix nix-store nix-build curl; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $SUITE: all: $tool not installed (tools/deps.sh)"
		exit 0
	fi
done

WORLD="$IP_BUILD/testworld/world"
world_ok=0
case_world() {
	"$TW/make-closures" "$WORLD" >"$TEST_TMP/make-closures.out" 2>&1 ||
		fail_because "make-closures failed: $(tail -n 3 "$TEST_TMP/make-closures.out")" || return 1
	# shellcheck source=/dev/null
	. "$WORLD/world.env"
	local c n
	for c in "$CACHE_ZSTD" "$CACHE_XZ" "$CACHE_BZIP2" "$CACHE_GZIP" "$CACHE_NONE" "$CACHE_UNTRUSTED" "$CACHE_BOTH"; do
		n=$(ls "$c"/*.narinfo | wc -l)
		[ "$n" = "$PATH_COUNT" ] || fail_because "$c: $n narinfos, want $PATH_COUNT" || return 1
		[ "$(grep -l '^Sig: ' "$c"/*.narinfo | wc -l)" = "$n" ] || fail_because "$c: unsigned narinfo" || return 1
		[ "$(grep -l '^Compression: ' "$c"/*.narinfo | wc -l)" = "$n" ] || fail_because "$c: no Compression:" || return 1
		grep -q '^StoreDir: /nix/store' "$c/nix-cache-info" || fail_because "$c: no nix-cache-info" || return 1
	done
	grep -q '^Compression: xz' "$CACHE_XZ/${ROOT_PATH:11:32}.narinfo" || fail_because "xz cache not xz" || return 1
	grep -q '^Compression: none' "$CACHE_NONE/${ROOT_PATH:11:32}.narinfo" || fail_because "none cache compressed" || return 1
	! grep -q "^Sig: ${TRUSTED_PUBKEY%%:*}:" "$CACHE_UNTRUSTED"/*.narinfo || fail_because "trusted Sig in the untrusted cache" || return 1
	[ "$(grep -c '^Sig: ' "$CACHE_BOTH/${ROOT_PATH:11:32}.narinfo")" = 2 ] || fail_because "cache-both: want 2 Sigs" || return 1
	grep -q "^References: .*${SELFREF_PATH#/nix/store/}" "$CACHE_ZSTD/${SELFREF_PATH:11:32}.narinfo" ||
		fail_because "self reference missing" || return 1
	grep -q '^References: $' "$CACHE_ZSTD/${NOREF_PATH:11:32}.narinfo" || fail_because "noref has references" || return 1
	[ "$("$TW/make-closures" "$WORLD")" = cached ] || fail_because "second run did not say cached" || return 1
	world_ok=1
}
run_case world-signed-caches case_world
need_world() { [ "$world_ok" = 1 ] || skip_because "no test world"; }

# --- http-serve -------------------------------------------------------------
SERVE_PID="" PORT="" SLOG=""
stop_server() {
	if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; fi
	SERVE_PID=""
}
at_exit stop_server
# start_server DIR [ARGS...]: starts http-serve, sets PORT, SLOG, SERVE_PID.
start_server() {
	stop_server
	local d; d=$(make_tmpdir)
	SLOG="$d/log"
	"$TW/http-serve" "$1" --port-file "$d/port" --log "$SLOG" "${@:2}" 2>"$d/err" &
	SERVE_PID=$!
	for _ in $(seq 1 500); do
		[ -s "$d/port" ] && break
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.01
	done
	[ -s "$d/port" ] || { fail_because "http-serve did not start: $(cat "$d/err")"; return 1; }
	PORT=$(cat "$d/port")
}
url() { echo "http://127.0.0.1:$PORT$1"; }
# curl_rc ARGS...: prints curl's exit status (and nothing else).
curl_rc() { curl -sS -o /dev/null --max-time 5 "$@" 2>/dev/null; echo $?; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b - a}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a < b)}'; }
NAR_LARGE=""
find_large_nar() { # the NAR file of LARGE_PATH in cache-none
	NAR_LARGE=$(sed -n 's/^URL: //p' "$CACHE_NONE/${LARGE_PATH:11:32}.narinfo")
}

case_serve_exact() {
	need_world || return 0
	find_large_nar
	start_server "$CACHE_NONE" || return 1
	local t; t=$(make_tmpdir)
	curl -sS --max-time 10 -o "$t/a" "$(url "/$NAR_LARGE")" "$(url /nix-cache-info)" -o "$t/b" ||
		fail_because "curl failed" || return 1
	cmp -s "$t/a" "$CACHE_NONE/$NAR_LARGE" || fail_because "large NAR not byte-exact" || return 1
	cmp -s "$t/b" "$CACHE_NONE/nix-cache-info" || fail_because "nix-cache-info not byte-exact" || return 1
	curl -sS --max-time 5 -D "$t/h" -o /dev/null -I "$(url /nix-cache-info)" || fail_because "HEAD failed" || return 1
	grep -qi "^content-length: $(stat -c %s "$CACHE_NONE/nix-cache-info")" "$t/h" || fail_because "HEAD: no Content-Length" || return 1
	[ "$(curl_rc "$(url /nope.narinfo)" -f)" = 22 ] || fail_because "missing file not 404" || return 1
	[ "$(curl_rc "$(url /../../etc/passwd)" -f --path-as-is)" = 22 ] || fail_because "escaped the directory" || return 1
	local want
	want="GET /$NAR_LARGE 200 $(stat -c %s "$CACHE_NONE/$NAR_LARGE")
GET /nix-cache-info 200 $(stat -c %s "$CACHE_NONE/nix-cache-info")
HEAD /nix-cache-info 200 0
GET /nope.narinfo 404 10"
	[ "$(head -n 4 "$SLOG")" = "$want" ] || fail_because "log: $(head -n 4 "$SLOG" | tr '\n' '|')" || return 1
	# Keep-alive: two requests, one connection.
	curl -sS -v --max-time 5 -o /dev/null -o /dev/null "$(url /nix-cache-info)" "$(url /nix-cache-info)" 2>"$t/v"
	grep -q 'Re-using existing connection' "$t/v" || fail_because "no keep-alive" || return 1
}
run_case serve-byte-exact-and-log case_serve_exact

case_fault_status() {
	need_world || return 0
	start_server "$CACHE_NONE" --fault '*.narinfo:status=500:times=1' \
		--fault '/nix-cache-info:status=429:retry-after=7' || return 1
	local n="/${ROOT_PATH:11:32}.narinfo" c1 c2 h
	c1=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$(url "$n")")
	c2=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$(url "$n")")
	[ "$c1/$c2" = 500/200 ] || fail_because "status=500:times=1 gave $c1 then $c2" || return 1
	h=$(curl -s -D - -o /dev/null --max-time 5 "$(url /nix-cache-info)")
	echo "$h" | grep -q '^HTTP/1.1 429' || fail_because "no 429" || return 1
	echo "$h" | grep -qi '^retry-after: 7' || fail_because "no Retry-After" || return 1
	grep -q "^GET $n 500 [0-9]* status=500:times=1$" "$SLOG" || fail_because "log: $(cat "$SLOG")" || return 1
}
run_case fault-status-times-retry-after case_fault_status

case_fault_reset() {
	need_world || return 0
	find_large_nar
	start_server "$CACHE_NONE" --fault "/nar/*:reset-after=100000" || return 1
	local rc; rc=$(curl_rc "$(url "/$NAR_LARGE")")
	[ "$rc" = 56 ] || fail_because "curl exit $rc, want 56 (connection reset)" || return 1
	grep -q " 200 100000 reset-after=100000$" "$SLOG" || fail_because "log: $(cat "$SLOG")" || return 1
	start_server "$CACHE_NONE" --fault "/nix-cache-info:reset" --fault "*.narinfo:close" || return 1
	rc=$(curl_rc "$(url /nix-cache-info)")
	[ "$rc" = 56 ] || fail_because "reset: curl exit $rc, want 56" || return 1
	rc=$(curl_rc "$(url "/${ROOT_PATH:11:32}.narinfo")")
	[ "$rc" = 52 ] || fail_because "close: curl exit $rc, want 52 (empty reply)" || return 1
}
run_case fault-reset case_fault_reset

case_fault_truncate_wrong_length() {
	need_world || return 0
	find_large_nar
	start_server "$CACHE_NONE" --fault "/nar/*:truncate=5000" --fault "/nix-cache-info:wrong-length=10" || return 1
	local rc
	rc=$(curl_rc "$(url "/$NAR_LARGE")")
	[ "$rc" = 18 ] || fail_because "truncate: curl exit $rc, want 18 (partial file)" || return 1
	rc=$(curl_rc "$(url /nix-cache-info)")
	[ "$rc" = 18 ] || fail_because "wrong-length=10: curl exit $rc, want 18" || return 1
}
run_case fault-truncate-and-wrong-length case_fault_truncate_wrong_length

case_fault_stall_and_stop() {
	need_world || return 0
	start_server "$CACHE_NONE" --fault "/nix-cache-info:stall" --fault "*.narinfo:hang" || return 1
	local t0 rc
	t0=$(now)
	rc=$(curl_rc --max-time 1 "$(url /nix-cache-info)")
	[ "$rc" = 28 ] || fail_because "stall: curl exit $rc, want 28 (timeout)" || return 1
	lt "$(elapsed "$t0")" 3 || fail_because "stall not bounded by --max-time" || return 1
	# Other requests are served while one stalls; the server stops promptly.
	curl -s --max-time 20 -o /dev/null "$(url /nix-cache-info)" &
	curl -s --max-time 20 -o /dev/null "$(url "/${ROOT_PATH:11:32}.narinfo")" &
	sleep 0.2
	[ "$(curl_rc "$(url "/nar/")" -f)" = 22 ] || fail_because "server blocked by a stall" || return 1
	t0=$(now)
	kill "$SERVE_PID"; wait "$SERVE_PID"; rc=$?; SERVE_PID=""
	lt "$(elapsed "$t0")" 2 || fail_because "SIGTERM took $(elapsed "$t0") s with stalled clients" || return 1
	[ "$rc" = 0 ] || fail_because "http-serve exited $rc on SIGTERM" || return 1
	wait
}
run_case fault-stall-hang-and-sigterm case_fault_stall_and_stop

case_fault_drip_delay_file() {
	need_world || return 0
	local d; d=$(make_tmpdir)
	start_server "$CACHE_NONE" --faults-file "$d/faults" || return 1
	local t0 el f="/${NOREF_PATH:11:32}.narinfo" size
	size=$(stat -c %s "$CACHE_NONE$f")
	echo "$f:drip=$size" >"$d/faults"
	t0=$(now)
	curl -sS --max-time 5 -o "$d/body" "$(url "$f")" || fail_because "drip: curl failed" || return 1
	el=$(elapsed "$t0")
	cmp -s "$d/body" "$CACHE_NONE$f" || fail_because "drip: body differs" || return 1
	lt 0.6 "$el" && lt "$el" 2 || fail_because "drip at size B/s took $el s, want ~0.9" || return 1
	echo "$f:delay=0.3" >"$d/faults.new"; mv "$d/faults.new" "$d/faults"
	t0=$(now)
	[ "$(curl_rc "$(url "$f")" -f)" = 0 ] || fail_because "delay: curl failed" || return 1
	lt 0.25 "$(elapsed "$t0")" || fail_because "delay=0.3 answered in $(elapsed "$t0") s" || return 1
	rm "$d/faults"
	t0=$(now)
	[ "$(curl_rc "$(url "$f")" -f)" = 0 ] || fail_because "no-fault: curl failed" || return 1
	lt "$(elapsed "$t0")" 0.25 || fail_because "faults file removed but still slow" || return 1
}
run_case fault-drip-delay-faults-file case_fault_drip_delay_file

# --- the judge ---------------------------------------------------------------
GOOD_ROOT=""
provision_with_nix() { # DIR CACHE_URL: real Nix provisions DIR; writes the registration
	"$TW/nix-hermetic" nix copy --from "$2" --to "local?root=$1" \
		--option trusted-public-keys "$TRUSTED_PUBKEY" "$ROOT_PATH" 2>"$1.log" &&
		"$TW/nix-hermetic" nix-store --store "local?root=$1" --dump-db >"$1/nix-path-registration" &&
		rm -rf "$1/nix/var" "$1/nix/store/.links"
}
case_judge_accepts() {
	need_world || return 0
	GOOD_ROOT=$(make_tmpdir)/root
	# Through http-serve, so that real Nix's client also exercises the server.
	start_server "$CACHE_XZ" || return 1
	provision_with_nix "$GOOD_ROOT" "$(url "")" || fail_because "nix copy failed: $(tail -n 2 "$GOOD_ROOT.log")" || return 1
	local out
	out=$("$TW/nix-judge" --cache "$CACHE_XZ" --expect-paths "$TW_DIR/all-paths" "$GOOD_ROOT" 2>&1) ||
		fail_because "judge rejected a root made by nix copy: $out" || return 1
	[ "$out" = "judge: $PATH_COUNT paths ok" ] || fail_because "judge said: $out" || return 1
	[ "$(grep -c '\.nar\.xz 200 ' "$SLOG")" = "$PATH_COUNT" ] || fail_because "want $PATH_COUNT NAR requests in the log" || return 1
	# The registration may carry sha256:base32 hashes too.
	local r2 h; r2=$(make_tmpdir)/reg
	while IFS= read -r line; do
		if [[ $line =~ ^[0-9a-f]{64}$ ]]; then
			h=$(nix-hash --type sha256 --to-base32 "$line")
			echo "sha256:$h"
		else
			printf '%s\n' "$line"
		fi
	done <"$GOOD_ROOT/nix-path-registration" >"$r2"
	out=$("$TW/nix-judge" "$GOOD_ROOT" "$r2" 2>&1) || fail_because "base32 registration rejected: $out" || return 1
	[ ! -e "$GOOD_ROOT/nix/var" ] || fail_because "judge wrote ROOT/nix/var" || return 1
	[ ! -e "$GOOD_ROOT/nix/store/.links" ] || fail_because "judge left .links behind" || return 1
}
run_case judge-accepts-nix-provisioned-root case_judge_accepts

need_good_root() { [ -n "$GOOD_ROOT" ] && [ -d "$GOOD_ROOT" ] || skip_because "no provisioned root"; }
case_judge_rejects_modified() {
	need_good_root || return 0
	local r; r=$(make_tmpdir)/root
	cp -a "$GOOD_ROOT" "$r"
	local f="$r$FILES_PATH/regular"
	chmod u+w "$f"; printf 'X' | dd of="$f" bs=1 seek=0 conv=notrunc status=none; chmod u-w "$f"
	touch -h -d @1 "$f"
	local out
	if out=$("$TW/nix-judge" "$r" 2>&1); then fail_because "judge accepted a modified file"; return 1; fi
	echo "$out" | grep -q "was modified" || fail_because "no 'was modified' from Nix: $out" || return 1
	echo "$out" | grep -q "$FILES_PATH: NAR hash" || fail_because "own hash check silent: $out" || return 1
}
run_case judge-rejects-modified-file case_judge_rejects_modified

case_judge_rejects_leftovers() {
	need_good_root || return 0
	local r out; r=$(make_tmpdir)/root
	cp -a "$GOOD_ROOT" "$r"
	mkdir "$r/nix/store/.tmp-${LARGE_PATH#/nix/store/}"
	if out=$("$TW/nix-judge" "$r" 2>&1); then fail_because "judge accepted a leftover temp dir"; return 1; fi
	echo "$out" | grep -q "temporary leftover" || fail_because "judge said: $out" || return 1
	rmdir "$r/nix/store/.tmp-${LARGE_PATH#/nix/store/}"
	# An unregistered path, and a registered one that is missing.
	mkdir "$r/nix/store/00000000000000000000000000000000-stray"
	if out=$("$TW/nix-judge" "$r" 2>&1); then fail_because "judge accepted an unregistered path"; return 1; fi
	echo "$out" | grep -q "stray: in the store but not registered" || fail_because "judge said: $out" || return 1
	rmdir "$r/nix/store/00000000000000000000000000000000-stray"
	rm -f "$r$NOREF_PATH"
	if out=$("$TW/nix-judge" "$r" 2>&1); then fail_because "judge accepted a missing path"; return 1; fi
	echo "$out" | grep -q "$NOREF_PATH: registered but missing" || fail_because "judge said: $out" || return 1
}
run_case judge-rejects-leftovers-and-missing case_judge_rejects_leftovers

case_narinfo_edit() {
	need_world || return 0
	local t out other; t=$(make_tmpdir)
	cp -a "$CACHE_ZSTD" "$t/c"; cp -a "$CACHE_ZSTD" "$t/c2"
	other=$(sed -n 's/^NarHash: //p' "$CACHE_ZSTD/${NOREF_PATH:11:32}.narinfo")
	"$TW/narinfo-edit" "$t/c" "$LARGE_PATH" --set "NarHash=$other" --sign "$TRUSTED_SECKEY_FILE" >/dev/null ||
		fail_because "narinfo-edit --sign failed" || return 1
	"$TW/narinfo-edit" "$t/c2" "$LARGE_PATH" --set "NarHash=$other" >/dev/null || fail_because "narinfo-edit failed" || return 1
	# Real Nix: re-signed -> the signature passes and the hash check fails;
	# not re-signed -> the signature fails.
	out=$("$TW/nix-hermetic" nix copy --from "file://$t/c" --to "local?root=$t/r" \
		--option trusted-public-keys "$TRUSTED_PUBKEY" "$LARGE_PATH" 2>&1) && fail_because "nix accepted a wrong NarHash" && return 1
	echo "$out" | grep -q "hash mismatch" || fail_because "re-signed: nix said: $out" || return 1
	out=$("$TW/nix-hermetic" nix copy --from "file://$t/c2" --to "local?root=$t/r2" \
		--option trusted-public-keys "$TRUSTED_PUBKEY" "$LARGE_PATH" 2>&1) && fail_because "nix accepted a bad signature" && return 1
	echo "$out" | grep -q "lacks a valid signature" || fail_because "unsigned edit: nix said: $out" || return 1
}
run_case narinfo-edit-resigns case_narinfo_edit

# --- nginx -------------------------------------------------------------------
case_nginx() {
	need_world || return 0
	[ -x /usr/sbin/nginx ] || { skip_because "nginx-light not installed"; return 0; }
	local s; s=$(make_tmpdir)
	local port
	port=$("$TW/serve-nginx" "$CACHE_ZSTD" --state "$s/ng" --port-file "$s/port") ||
		fail_because "serve-nginx failed: $(cat "$s/ng/start.err" 2>/dev/null)" || return 1
	nginx_state="$s/ng"
	stop_nginx() { [ -z "${nginx_state:-}" ] || "$TW/serve-nginx" --stop "$nginx_state"; }
	at_exit stop_nginx
	[ "$(cat "$s/port")" = "$port" ] || fail_because "port file differs" || return 1
	local n="${ROOT_PATH:11:32}.narinfo"
	curl -sS --max-time 5 -o "$s/body" "http://127.0.0.1:$port/$n" || fail_because "curl failed" || return 1
	cmp -s "$s/body" "$CACHE_ZSTD/$n" || fail_because "body differs" || return 1
	grep -q "^GET /$n 200 $(stat -c %s "$CACHE_ZSTD/$n")\$" "$s/ng/access.log" || fail_because "access log: $(cat "$s/ng/access.log")" || return 1
	"$TW/serve-nginx" --stop "$s/ng" || fail_because "stop failed" || return 1
	nginx_state=""
	[ "$(curl_rc "http://127.0.0.1:$port/$n")" = 7 ] || fail_because "still answering after --stop" || return 1
}
run_case serve-nginx case_nginx

# --- a tiny corpus (the benchmark generator, small) ----------------------------
case_corpus() {
	local c="$IP_BUILD/testworld/corpus-tiny" out
	out=$("$TW/make-corpus" "$c" --paths 12 --bytes 2M --seed 7 2>&1) || fail_because "make-corpus: $out" || return 1
	# shellcheck source=/dev/null
	. "$c/corpus.env"
	[ "$PATH_COUNT" = 12 ] || fail_because "PATH_COUNT=$PATH_COUNT, want 12" || return 1
	[ "$(ls "$CACHE_ZSTD"/*.narinfo | wc -l)" = 12 ] || fail_because "cache has not 12 narinfos" || return 1
	[ "$DEPTH" -ge 5 ] || fail_because "depth $DEPTH" || return 1
	[ "$SYMLINK_COUNT" -gt 0 ] || fail_because "no symlinks" || return 1
	[ "$("$TW/make-corpus" "$c" --paths 12 --bytes 2M --seed 7)" = cached ] || fail_because "not cached" || return 1
}
run_case make-corpus-tiny case_corpus
