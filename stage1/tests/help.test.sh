#!/usr/bin/env bash
# Every command's --help lists every option the command accepts: the long
# names of its getopt_long table and the letters of its short-option string,
# read from the source of the command, against what the binary prints.  A new
# option without a line in the help fails here.
SUITE=help
. "$(dirname "$0")/lib.sh"

SRC=$REPO_ROOT/stage1/src

# options_of FILE -> one option a line: --long for each table entry, -x for
# each letter of the optstring given to getopt_long in FILE.
options_of() {
	local file=$1
	# Table entries look like: { "name", required_argument, NULL, X },
	awk '/static const struct option [a-z_]+\[\] = \{/ { intable = 1; next }
	     intable && /^[[:space:]]*\};/ { intable = 0 }
	     intable && match($0, /\{ "[a-z0-9-]+"/) {
		s = substr($0, RSTART + 3, RLENGTH - 4); print "--" s }' "$file"
	# getopt_long(argc, argv, "OPTSTRING", ...): letters, minus the '+', ':' syntax.
	grep -o 'getopt_long([^"]*"[^"]*"' "$file" | sed 's/.*"\(.*\)"/\1/' |
		tr -d '+:' | fold -w1 | sed '/^$/d; s/^/-/'
}

# help_of CMD... -> what `initrd-provision CMD --help` prints on stdout.
help_of() { "$IP_BIN" "$@" --help 2>/dev/null; }

# check FILE CMD...: every option of FILE appears in CMD's help as a word.
check() {
	local file=$1; shift
	local help opts o missing=()
	help=$(help_of "$@") || { fail_because "'$* --help' exited non-zero"; return 1; }
	[ -n "$help" ] || { fail_because "'$* --help' printed nothing"; return 1; }
	opts=$(options_of "$file")
	[ -n "$opts" ] || { fail_because "found no options in $file (has the table's shape changed?)"; return 1; }
	for o in $opts; do
		# A whole word: --aws-region must not be satisfied by --aws-region-x,
		# nor -v by -vv.
		grep -Eq -- "(^|[^a-zA-Z0-9-])$o([^a-zA-Z0-9-]|$)" <<<"$help" || missing+=("$o")
	done
	[ ${#missing[@]} -eq 0 ] || { fail_because "'$* --help' does not mention: ${missing[*]}"; return 1; }
}

case_main() { check "$SRC/main.c"; }
case_fetch() { check "$SRC/cmd/fetch.c" fetch; }
case_boot() { check "$SRC/cmd/boot.c" boot; }
case_net() { check "$SRC/cmd/net.c" net; }
case_check_user_data() { check "$SRC/cmd/check_user_data.c" check-user-data; }
case_check_config() { check "$SRC/cmd/check_config.c" check-config; }

# What the help says of the caches must match what fetch speaks.
case_fetch_schemes() {
	local help s
	help=$(help_of fetch)
	for s in s3:// https:// http:// file://; do
		grep -qF -- "$s" <<<"$help" || { fail_because "fetch --help does not name $s caches"; return 1; }
	done
}

# The extractor itself must find what is obviously there, or every case above
# would pass on an empty list.
case_extractor() {
	local opts
	opts=$(options_of "$SRC/cmd/fetch.c")
	grep -qx -- '--substituter' <<<"$opts" || { fail_because "no --substituter in fetch.c's table: $opts"; return 1; }
	opts=$(options_of "$SRC/cmd/net.c")
	grep -qx -- '-i' <<<"$opts" || { fail_because "no -i in net.c's optstring: $opts"; return 1; }
}

run_case "the option extractor reads tables and optstrings" case_extractor
run_case "initrd-provision --help lists every option" case_main
run_case "fetch --help lists every option" case_fetch
run_case "fetch --help names every cache scheme" case_fetch_schemes
run_case "boot --help lists every option" case_boot
run_case "net --help lists every option" case_net
run_case "check-user-data --help lists every option" case_check_user_data
run_case "check-config --help lists every option" case_check_config
