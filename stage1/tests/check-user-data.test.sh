#!/usr/bin/env bash
# initrd-provision check-user-data: what it prints and its exit codes.
SUITE=check-user-data
. "$(dirname "$0")/lib.sh"

SYS=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-web-24.05
KEY=cache.example.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=
D=$(make_tmpdir)

# expect RC PATTERN ARGS... : runs check-user-data, checks exit code and output.
expect() {
	local want_rc=$1 pattern=$2; shift 2
	local out rc
	out=$("$IP_BIN" check-user-data "$@" 2>&1 <"${STDIN_FILE:-/dev/null}"); rc=$?
	[ "$rc" = "$want_rc" ] || { fail_because "exit $rc, want $want_rc: $out"; return 1; }
	grep -qF -- "$pattern" <<<"$out" || { fail_because "output lacks '$pattern': $out"; return 1; }
}

bare_path() {
	printf '  %s\n' "$SYS" >"$D/bare"
	expect 0 "would boot $SYS from the image's substituters trusting the image's keys" "$D/bare"
}

document_policy_off() {
	printf 'system = %s\nsubstituters = s3://cache?region=eu-west-1\ntrusted-public-keys = %s\n' \
		"$SYS" "$KEY" >"$D/doc"
	expect 0 "would boot $SYS from the image's substituters" "$D/doc" &&
		expect 0 "warning: line 2: substituters ignored: allow-user-data-substituters is off" "$D/doc" &&
		expect 0 "warning: line 3: trusted-public-keys ignored" "$D/doc"
}

document_policy_on() {
	expect 0 "would boot $SYS from substituters [s3://cache?region=eu-west-1] trusting keys [$KEY]" \
		--allow-user-data-substituters --allow-user-data-keys "$D/doc"
}

gzip_stdin() {
	gzip -c "$D/doc" >"$D/doc.gz"
	STDIN_FILE=$D/doc.gz expect 0 "source: user-data (nix.conf-style document, gzip-compressed)" -
}

not_ours() {
	printf '#!/bin/sh\necho hi\n' >"$D/script"
	printf '#cloud-config\npackages: [git]\n' >"$D/cc"
	expect 0 "not ours: a script (starts with #!), left for amazon-init; the built-in system would boot" "$D/script" &&
		expect 0 "not ours: cloud-init user-data (#cloud-config); the built-in system would boot" "$D/cc"
}

malformed() {
	printf 'system = %s\nfoo = bar\n' "$SYS" >"$D/bad"
	printf 'system = /nix/store/abc-x\n' >"$D/badpath"
	expect 1 "error: line 2: unknown key 'foo'" "$D/bad" &&
		expect 1 "the built-in system would boot" "$D/bad" &&
		expect 1 "error: line 1: not a valid store path" "$D/badpath"
}

tag_source() {
	expect 0 "source: instance tag (nixos-system)" --tag "$SYS" "$D/cc" &&
		expect 0 "note: the nixos-system tag is ignored: user-data wins" --tag "$SYS" "$D/bare" &&
		expect 1 "error: tag value is not a valid store path" --tag "nope" "$D/cc"
}

usage() {
	expect 2 "no FILE given" && expect 2 "unknown option '--nope'" --nope "$D/bare" &&
		expect 1 "cannot open" "$D/missing"
}

run_case bare_path bare_path
run_case document_policy_off document_policy_off
run_case document_policy_on document_policy_on
run_case gzip_stdin gzip_stdin
run_case not_ours not_ours
run_case malformed malformed
run_case tag_source tag_source
run_case usage usage
