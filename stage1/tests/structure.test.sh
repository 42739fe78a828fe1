#!/usr/bin/env bash
# No dependency cycle between the modules of stage1/src (issue 20, part 6):
# tools/dep-cycles reads the #include lines and, from the ASan build's
# objects, which module calls which.  A cycle (aws <-> imds, main.c <-> cmd/
# before) means a module cannot be linked or tested without the other.
SUITE=structure
. "$(dirname "$0")/lib.sh"

CHECKER=$REPO_ROOT/tools/dep-cycles

# The checker must see a cycle that is there, or the cases below prove nothing.
case_checker_sees_a_cycle() {
	local src out
	src=$(make_tmpdir)
	mkdir -p "$src/low" "$src/high"
	printf '#include "high/b.h"\n' >"$src/low/a.h"
	printf '#include "low/a.h"\n' >"$src/high/b.h"
	printf '#include "high/b.h"\n' >"$src/main.c"
	out=$("$CHECKER" --src "$src") && { fail_because "no cycle found in a tree with one: $out"; return 1; }
	grep -qx 'cycle: high <-> low' <<<"$out" || { fail_because "wrong report: $out"; return 1; }
	grep -q 'low -> high: low/a.h includes high/b.h' <<<"$out" ||
		{ fail_because "the report does not name the include: $out"; return 1; }
}

case_includes() {
	local out
	out=$("$CHECKER") || { fail_because "$(tr '\n' ' ' <<<"$out")"; return 1; }
}

case_objects() {
	local out
	[ -f "$IP_BUILD/asan/main.o" ] || { skip_because "no ASan objects in $IP_BUILD/asan (make test-build)"; return 0; }
	out=$("$CHECKER" --objects "$IP_BUILD/asan") || { fail_because "$(tr '\n' ' ' <<<"$out")"; return 1; }
}

run_case "the checker reports a cycle and the include behind it" case_checker_sees_a_cycle
run_case "no include cycle between modules" case_includes
run_case "no call cycle between modules (nm over the ASan objects)" case_objects
