#!/usr/bin/env bash
# Only whole paths count (issue 14): a path already under its final name is
# skipped only when something vouches for it (the ledger of an earlier run
# of ours, the image's list of the paths it placed); anything else is hashed
# against its signed NarHash and, when it differs, moved aside and fetched
# again.  Each damaged root is what stage 2 (Nix unpacks straight into the
# final name; a crash leaves a partial tree) or someone with the disk could
# leave; every result is judged by real Nix.
SUITE=whole-paths
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fetch-lib.sh"
load_world
start_server W "$TW_DIR"
URL="http://127.0.0.1:$W_PORT/cache-zstd"
LEDGER=nix/var/initrd-provision/ledger

# A root holding the whole closure, copied as the image builder would (no
# registration, no ledger: nothing vouches for it).
whole_root() {
	ROOT=$(make_tmpdir)
	mkdir -p "$ROOT/nix/store"
	local p
	for p in $ALL_PATHS; do cp -a "$p" "$ROOT/nix/store/"; done
}
writable() { chmod -R u+w "$ROOT$1"; }
read_only() { chmod -R a-w "$ROOT$1"; }

# fetch_once: one run over ROOT; requests it made in NEW_REQUESTS.
fetch_once() {
	local before; before=$(wc -l <"$W_LOG")
	fetch "$ROOT" --substituter "$URL" --report "$TEST_TMP/report.json" "$@" "$ROOT_PATH" ||
		{ fail_because "fetch failed: $(tail -n 2 "$TEST_TMP/stderr" | tr '\n' ' ')"; return 1; }
	NEW_REQUESTS=$(tail -n +$((before + 1)) "$W_LOG")
}
nar_requests() { printf '%s\n' "$NEW_REQUESTS" | grep -c '/nar/' || true; }
report_paths() { /usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["paths"]; print(" ".join("%s=%s" % (k, p[k]) for k in sys.argv[2:]))' "$TEST_TMP/report.json" "$@"; }
expect_paths() { # "key=value ..." as report_paths prints them
	local got; got=$(report_paths $(printf '%s\n' "$1" | sed 's/=[^ ]*//g'))
	[ "$got" = "$1" ] || fail_because "report paths: $got, want $1"
}

# damaged PATH: the run replaces exactly that path and leaves a root that
# real Nix accepts.
expect_replaced() {
	fetch_once || return 1
	stderr_has "$1 is present but not what its signed NarHash says" || return 1
	stderr_has "moved aside, fetching it again" || return 1
	[ "$(nar_requests)" = 1 ] || { fail_because "$(nar_requests) NAR requests, want 1"; return 1; }
	expect_paths "closure=$PATH_COUNT checked=$((PATH_COUNT - 1)) replaced=1 fetched=1" || return 1
	judge "$ROOT" "$TW_DIR/cache-zstd"
}

partial_tree() {
	whole_root; writable "$FILES_PATH"
	# what an unpack into the final name leaves when it dies half-way
	find "$ROOT$FILES_PATH" -mindepth 1 -maxdepth 1 | sort | tail -n +2 | xargs rm -rf
	read_only "$FILES_PATH"
	expect_replaced "$FILES_PATH"
}
run_case "partial tree under the final name: hashed, moved aside, fetched" partial_tree

dangling_symlink() {
	whole_root; writable "$LARGE_PATH"; rm -rf "$ROOT$LARGE_PATH"
	ln -s /nonexistent/planted "$ROOT$LARGE_PATH"
	expect_replaced "$LARGE_PATH" || return 1
	[ -d "$ROOT$LARGE_PATH" ] && [ ! -L "$ROOT$LARGE_PATH" ] || fail_because "the symlink is still there"
}
run_case "dangling symlink planted at a final name: never followed, replaced" dangling_symlink

one_file_changed() {
	whole_root; writable "$FILES_PATH"
	local f; f=$(find "$ROOT$FILES_PATH" -type f -size +0 | sort | head -n 1)
	printf 'X' | dd of="$f" bs=1 seek=0 conv=notrunc 2>/dev/null
	read_only "$FILES_PATH"
	expect_replaced "$FILES_PATH"
}
run_case "one file changed (same size): replaced" one_file_changed

extra_file() {
	whole_root; writable "$MID_PATH"
	echo planted >"$ROOT$MID_PATH/extra"
	read_only "$MID_PATH"
	expect_replaced "$MID_PATH"
}
run_case "extra file in a path: replaced" extra_file

nothing_vouches_whole_closure() {
	whole_root
	fetch_once || return 1
	[ "$(nar_requests)" = 0 ] || { fail_because "$(nar_requests) NARs fetched for a whole closure"; return 1; }
	expect_paths "vouched=0 checked=$PATH_COUNT replaced=0 fetched=0" || return 1
	judge "$ROOT" "$TW_DIR/cache-zstd" || return 1
	# the run recorded them: the next one reads nothing and asks nothing
	[ -s "$ROOT/$LEDGER" ] || { fail_because "no ledger written"; return 1; }
	rm -f "$ROOT/nix-path-registration" # as stage 2 does once it loaded it
	fetch_once || return 1
	[ -z "$NEW_REQUESTS" ] || { fail_because "second run made requests"; return 1; }
	expect_paths "vouched=$PATH_COUNT checked=0 from_registration=$PATH_COUNT" || return 1
	judge "$ROOT" "$TW_DIR/cache-zstd"
}
run_case "nothing vouches: every path hashed once, then the ledger vouches (no request)" nothing_vouches_whole_closure

ledger_stops_vouching_for_a_path_made_again() {
	whole_root
	fetch_once || return 1
	# stage 2's garbage collector deleted the path, then Nix began to
	# unpack it again into its final name and died: a new entry, partial
	writable "$MID_PATH"; rm -rf "$ROOT$MID_PATH"
	cp -a "$MID_PATH" "$ROOT$MID_PATH"; chmod -R u+w "$ROOT$MID_PATH"
	find "$ROOT$MID_PATH" -mindepth 1 -type f | sort | head -n 1 | xargs rm -f
	read_only "$MID_PATH"
	rm -f "$ROOT/nix-path-registration"
	fetch_once || return 1
	stderr_has "$MID_PATH is present but not what its signed NarHash says" || return 1
	[ "$(nar_requests)" = 1 ] || { fail_because "$(nar_requests) NAR requests, want 1"; return 1; }
	expect_paths "vouched=$((PATH_COUNT - 1)) checked=0 replaced=1 fetched=1" || return 1
	judge "$ROOT" "$TW_DIR/cache-zstd"
}
run_case "ledger: a path deleted and made again is not vouched for" ledger_stops_vouching_for_a_path_made_again

builtin_closure_vouches() {
	local form
	for form in registration store-paths; do
		whole_root
		if [ "$form" = registration ]; then cp "$EXPECTED_REG" "$TEST_TMP/builtin"
		else tr ' ' '\n' <<<"$ALL_PATHS" >"$TEST_TMP/builtin"; fi
		fetch_once --builtin-closure "$TEST_TMP/builtin" || return 1
		[ "$(nar_requests)" = 0 ] || { fail_because "$form: NARs fetched"; return 1; }
		expect_paths "vouched=$PATH_COUNT checked=0 fetched=0" || return 1
		if [ "$form" = registration ]; then
			[ -z "$NEW_REQUESTS" ] || { fail_because "registration form: requests made"; return 1; }
		fi
		judge "$ROOT" "$TW_DIR/cache-zstd" || return 1
	done
}
run_case "--builtin-closure (closureInfo registration or store-paths): vouched, not read" builtin_closure_vouches

unreadable_builtin_list_is_a_warning() {
	whole_root
	fetch_once --builtin-closure "$TEST_TMP/does-not-exist" || return 1
	stderr_has "ignoring the built-in closure list $TEST_TMP/does-not-exist" || return 1
	expect_paths "vouched=0 checked=$PATH_COUNT"
}
run_case "--builtin-closure missing: a warning, every path hashed" unreadable_builtin_list_is_a_warning
