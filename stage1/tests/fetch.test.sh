#!/usr/bin/env bash
# initrd-provision fetch against real Nix: a closure built by nix-build,
# signed and copied by `nix copy` into zstd/xz/bzip2/gzip/none caches, served
# over HTTP on 127.0.0.1; every result judged by real Nix (--load-db,
# --verify --check-contents, nix-store --dump hashes, no leftovers).
SUITE=fetch
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
load_world
start_server W "$TW_DIR"
URL="http://127.0.0.1:$W_PORT"

for c in zstd xz bzip2 gzip none; do
	eval "case_$c() {
		local root=\$TEST_TMP/root-$c before nars
		before=\$(wc -l <\"\$W_LOG\")
		fetch \"\$root\" --substituter $URL/cache-$c --report \$TEST_TMP/report-$c.json \"\$ROOT_PATH\" ||
			{ fail_because \"fetch failed: \$(tail -n 2 \$TEST_TMP/stderr)\"; return 1; }
		judge \"\$root\" \"\$TW_DIR/cache-$c\" || return 1
		# one request per NAR, none twice
		nars=\$(tail -n +\$((before + 1)) \"\$W_LOG\" | grep -c '^GET /cache-$c/nar/.* 200 ')
		[ \"\$nars\" = \"\$PATH_COUNT\" ] || { fail_because \"\$nars NAR requests, want \$PATH_COUNT\"; return 1; }
		cmp -s <(sort \"\$root/nix-path-registration\") <(sort \"\$EXPECTED_REG\") ||
			fail_because 'registration differs from nix-store --dump-db'
	}"
	run_case "$c cache: fetched, judged by real Nix" "case_$c"
done

second_run_is_free() {
	local root=$TEST_TMP/root-zstd before after t0 t1 ms
	[ -f "$root/nix-path-registration" ] || { fail_because "needs the zstd case"; return 1; }
	local reg_before; reg_before=$(stat -c %Y.%i "$root/nix-path-registration")
	before=$(wc -l <"$W_LOG")
	t0=$(date +%s%N)
	fetch "$root" --substituter "$URL/cache-zstd" --report "$TEST_TMP/second.json" "$ROOT_PATH" ||
		{ fail_because "second run failed"; return 1; }
	t1=$(date +%s%N)
	after=$(wc -l <"$W_LOG")
	[ "$before" = "$after" ] || { fail_because "second run made $((after - before)) requests"; return 1; }
	ms=$(( (t1 - t0) / 1000000 ))
	[ "$ms" -lt $((2000 + IP_TIME_SLACK_MS)) ] || { fail_because "second run took $ms ms"; return 1; }
	grep -q '"from_registration": '"$PATH_COUNT" "$TEST_TMP/second.json" ||
		{ fail_because "not resolved from the registration file"; return 1; }
	[ "$(stat -c %Y.%i "$root/nix-path-registration")" = "$reg_before" ] ||
		{ fail_because "registration file rewritten although unchanged"; return 1; }
	judge "$root" "$TW_DIR/cache-zstd"
}
run_case "second run: no request at all, same registration" second_run_is_free

registration_lost_ledger_vouches() {
	# stage 2 deletes nix-path-registration once it loaded it: the ledger
	# of the first run still vouches for every path and stands in for the
	# narinfos
	local root=$TEST_TMP/root-xz before
	rm -f "$root/nix-path-registration"
	before=$(wc -l <"$W_LOG")
	fetch "$root" --substituter "$URL/cache-xz" --report "$TEST_TMP/lost.json" "$ROOT_PATH" ||
		{ fail_because "fetch failed"; return 1; }
	[ "$(tail -n +$((before + 1)) "$W_LOG" | wc -l)" = 0 ] || { fail_because "requests made"; return 1; }
	grep -q '"vouched": '"$PATH_COUNT" "$TEST_TMP/lost.json" || { fail_because "not all vouched"; return 1; }
	judge "$root" "$TW_DIR/cache-xz"
}
run_case "registration file lost, ledger kept: no request, registration written again" registration_lost_ledger_vouches

registration_and_ledger_lost_refetches_narinfos_only() {
	# nothing vouches: every path is hashed against its signed NarHash
	local root=$TEST_TMP/root-xz before
	rm -f "$root/nix-path-registration" "$root/nix/var/initrd-provision/ledger"
	before=$(wc -l <"$W_LOG")
	fetch "$root" --substituter "$URL/cache-xz" --report "$TEST_TMP/lost.json" "$ROOT_PATH" ||
		{ fail_because "fetch failed"; return 1; }
	[ "$(tail -n +$((before + 1)) "$W_LOG" | grep -c '/nar/')" = 0 ] || { fail_because "NARs fetched again"; return 1; }
	[ "$(tail -n +$((before + 1)) "$W_LOG" | grep -c '\.narinfo 200')" = "$PATH_COUNT" ] ||
		{ fail_because "want one narinfo per path"; return 1; }
	grep -q '"checked": '"$PATH_COUNT" "$TEST_TMP/lost.json" || { fail_because "not all checked"; return 1; }
	judge "$root" "$TW_DIR/cache-xz"
}
run_case "registration file and ledger lost: narinfos again, every path hashed, no NAR" registration_and_ledger_lost_refetches_narinfos_only

interrupted_run_resumes() {
	# what a crash leaves: some paths whole, a temporary tree, no registration
	local root=$TEST_TMP/root-resume before nars
	fetch "$root" --substituter "$URL/cache-zstd" "$ROOT_PATH" || { fail_because "first fetch failed"; return 1; }
	chmod -R u+w "$root$LARGE_PATH" "$root$MID_PATH"
	rm -rf "$root$LARGE_PATH" "$root$MID_PATH" "$root/nix-path-registration"
	mkdir -p "$root/nix/store/.ip-tmp-$(basename "$LARGE_PATH")/half"
	before=$(wc -l <"$W_LOG")
	fetch "$root" --substituter "$URL/cache-zstd" "$ROOT_PATH" || { fail_because "resume failed"; return 1; }
	stderr_has "removed 1 incomplete download(s)" || return 1
	nars=$(tail -n +$((before + 1)) "$W_LOG" | grep -c '/nar/')
	[ "$nars" = 2 ] || { fail_because "$nars NAR requests, want 2"; return 1; }
	judge "$root" "$TW_DIR/cache-zstd"
}
run_case "interrupted run: temporaries removed, only missing paths fetched" interrupted_run_resumes

set_profile() {
	local root=$TEST_TMP/root-zstd p=$TEST_TMP/root-zstd/nix/var/nix/profiles
	fetch "$root" --substituter "$URL/cache-zstd" --set-profile "$ROOT_PATH" || { fail_because "fetch failed"; return 1; }
	[ "$(readlink "$p/system")" = system-1-link ] || { fail_because "system -> $(readlink "$p/system")"; return 1; }
	[ "$(readlink "$p/system-1-link")" = "$ROOT_PATH" ] || { fail_because "system-1-link -> $(readlink "$p/system-1-link")"; return 1; }
	# again: same generation; another system: the next one
	fetch "$root" --substituter "$URL/cache-zstd" --set-profile "$ROOT_PATH" || return 1
	[ ! -e "$p/system-2-link" ] || { fail_because "a second generation for the same path"; return 1; }
	fetch "$root" --substituter "$URL/cache-zstd" --set-profile "$MID_PATH" || { fail_because "fetch of MID failed"; return 1; }
	[ "$(readlink "$p/system")" = system-2-link ] || { fail_because "system -> $(readlink "$p/system")"; return 1; }
	[ "$(readlink "$p/system-2-link")" = "$MID_PATH" ] || fail_because "system-2-link wrong"
}
run_case "--set-profile: system -> system-N-link -> path, like nix-env --set" set_profile

file_cache_with_sync() {
	local root=$TEST_TMP/root-file
	# the default durability path (syncfs per batch, fsync of the store)
	timeout 120 "$IP_BIN" fetch --root "$root" --trusted-public-key "$TRUSTED_PUBKEY" \
		--substituter "file://$TW_DIR/cache-bzip2" "$ROOT_PATH" 2>"$TEST_TMP/stderr" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr")"; return 1; }
	judge "$root" "$TW_DIR/cache-bzip2"
}
run_case "file:// cache, syncs on" file_cache_with_sync

substituters_in_order() {
	# an empty cache first (404 for everything), then one signed by a key we
	# do not trust, then the good one: each path ends up from the third
	local root=$TEST_TMP/root-order empty=$TEST_TMP/empty-cache
	mkdir -p "$empty"
	printf 'StoreDir: /nix/store\n' >"$empty/nix-cache-info"
	start_server E "$empty"
	fetch "$root" --substituter "http://127.0.0.1:$E_PORT" --substituter "$URL/cache-untrusted" \
		--substituter "$URL/cache-gzip" --report "$TEST_TMP/order.json" "$ROOT_PATH" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr")"; return 1; }
	/usr/bin/python3 - "$TEST_TMP/order.json" "$PATH_COUNT" <<'PY' || { fail_because "report: $(cat "$TEST_TMP/py.err")"; return 1; }
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
s = r["substituters"]
assert r["ok"] and r["paths"]["fetched"] == n, r["paths"]
assert s[0]["narinfo_not_found"] == n and s[0]["nars"] == 0, s[0]
assert s[1]["narinfo_rejected"] == n and s[1]["nars"] == 0, s[1]
assert s[2]["narinfos"] == n and s[2]["nars"] == n, s[2]
PY
	judge "$root" "$TW_DIR/cache-gzip"
}
run_case "several substituters: tried in order per path" substituters_in_order

both_signatures() {
	local root=$TEST_TMP/root-both
	fetch "$root" --substituter "$URL/cache-both" "$ROOT_PATH" || { fail_because "fetch failed"; return 1; }
	judge "$root" "$TW_DIR/cache-both"
}
run_case "untrusted Sig first, trusted second: accepted" both_signatures

narinfos_in_parallel() {
	# every narinfo answer takes 0.3 s: fetched one after another the 14
	# paths would take > 4 s; breadth-first with all of a level in flight
	# it is about the depth of the graph (6 levels + nix-cache-info)
	local root=$TEST_TMP/root-slow t
	start_server S "$TW_DIR" --fault '*.narinfo:delay=0.3'
	fetch "$root" --substituter "http://127.0.0.1:$S_PORT/cache-zstd" --report "$TEST_TMP/slow.json" \
		"$ROOT_PATH" || { fail_because "fetch failed"; return 1; }
	t=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"]["resolve"])' "$TEST_TMP/slow.json")
	/usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 2.8 else 1)' "$t" ||
		{ fail_because "resolution took $t s"; return 1; }
	judge "$root" "$TW_DIR/cache-zstd"
}
run_case "narinfos: many in flight (round trips ~ graph depth)" narinfos_in_parallel

report_json() {
	/usr/bin/python3 - "$TEST_TMP/report-zstd.json" "$PATH_COUNT" "$NAR_BYTES" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2]); nar = int(sys.argv[3])
assert r["ok"] is True and r["error"] is None
assert r["paths"] == {"closure": n, "present": 0, "fetched": n, "from_registration": 0,
                      "vouched": 0, "checked": 0, "replaced": 0}, r["paths"]
assert r["bytes"]["nar"] == nar and r["bytes"]["closure_nar"] == nar, r["bytes"]
for k in ("resolve", "check", "download", "unpack_verify_cpu", "sync", "register", "total"):
    assert r["seconds"][k] >= 0, k
assert r["requests"]["http"] == 2 * n + 1, r["requests"]
assert r["substituters"][0]["nars"] == n
PY
}
run_case "--report: JSON with paths, bytes, phase timings, per-substituter counts" report_json

usage_errors() {
	local root=$TEST_TMP/root-usage rc
	timeout 20 "$IP_BIN" fetch --root "$root" --substituter "$URL/cache-zstd" "$ROOT_PATH" 2>"$TEST_TMP/stderr"
	rc=$?
	[ "$rc" = 2 ] || { fail_because "no key: exit $rc, want 2"; return 1; }
	stderr_has "no trusted public key given" || return 1
	timeout 20 "$IP_BIN" fetch --root "$root" --substituter "s3://bucket?addressing-style=sideways" \
		--trusted-public-key "$TRUSTED_PUBKEY" "$ROOT_PATH" 2>"$TEST_TMP/stderr"
	rc=$?
	[ "$rc" = 2 ] || { fail_because "bad s3 URL: exit $rc, want 2"; return 1; }
	stderr_has "substituter 's3://bucket?addressing-style=sideways'" || return 1
	timeout 20 "$IP_BIN" fetch --root "$root" --substituter "$URL/cache-zstd" \
		--trusted-public-key "$TRUSTED_PUBKEY" /nix/store/not-a-path 2>"$TEST_TMP/stderr"
	rc=$?
	[ "$rc" = 2 ] || { fail_because "bad path: exit $rc, want 2"; return 1; }
	timeout 20 "$IP_BIN" fetch --root "$root" --substituter "$URL/cache-zstd" \
		--trusted-public-key "nokey" "$ROOT_PATH" 2>"$TEST_TMP/stderr"
	rc=$?
	[ "$rc" = 2 ] || { fail_because "bad key: exit $rc, want 2"; return 1; }
	[ ! -e "$root" ] || fail_because "a usage error touched the root"
}
run_case "usage errors: no key, bad s3:// URL, bad path, bad key (exit 2, nothing touched)" usage_errors

no_check_sigs_is_loud() {
	local root=$TEST_TMP/root-nosig
	timeout 60 "$IP_BIN" fetch --root "$root" --no-sync --no-check-sigs \
		--substituter "$URL/cache-untrusted" "$ROOT_PATH" 2>"$TEST_TMP/stderr" ||
		{ fail_because "fetch failed"; return 1; }
	stderr_has "warning: SIGNATURE CHECKING IS OFF (--no-check-sigs)" || return 1
	judge "$root" "$TW_DIR/cache-untrusted"
}
run_case "--no-check-sigs works and says so loudly" no_check_sigs_is_loud
