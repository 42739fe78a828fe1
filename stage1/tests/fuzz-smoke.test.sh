#!/usr/bin/env bash
# Short bounded run of every fuzz target over its committed corpus (make check);
# the long campaign is `make fuzz`.
SUITE=fuzz-smoke
. "$(dirname "$0")/lib.sh"
: "${IP_FUZZ_DIR:=$IP_BUILD/fuzz}"
: "${FUZZ_SMOKE_SECONDS:=5}"
found=0
for fuzzer in "$IP_FUZZ_DIR"/fuzz-*; do
	[ -x "$fuzzer" ] && [ -f "$fuzzer" ] || continue
	found=1
	name=$(basename "$fuzzer"); name=${name#fuzz-}
	smoke() {
		local work; work=$(make_tmpdir)
		local seeds="$REPO_ROOT/stage1/tests/fuzz/corpus/$name"
		[ -d "$seeds" ] || seeds=""
		if ! "$fuzzer" -max_total_time="$FUZZ_SMOKE_SECONDS" -artifact_prefix="$work/" \
			"$work" ${seeds:+"$seeds"} >"$work/log" 2>&1; then
			fail_because "crash: $(grep -m1 -E 'ERROR|SUMMARY' "$work/log")"
			return 1
		fi
	}
	run_case "$name" smoke
done
if [ "$found" = 0 ]; then
	echo "SKIP: $SUITE: all: no fuzz targets built in $IP_FUZZ_DIR"
fi
