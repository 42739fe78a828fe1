# Shared by the tests that run `initrd-provision net` between two network
# namespaces (net-dnsmasq.test.sh, net-ipv6.test.sh); sourced after lib.sh.
#   require_net_tools TOOL...  one SKIP line for the suite when a tool is
#                              missing, a FAIL line when $IP_BIN is not built
#   stop_server_pid            stops $SERVER_PID (a server the test started)
#   netns_remove NS...         kills what still runs in them, deletes them
#   run_net NS ARGS...         `$IP_BIN net ARGS` in NS: sets RC OUT ERR MS
require_net_tools() {
	local tool
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null; then
			echo "SKIP: $SUITE: all: $tool is not installed (tools/packages/tests.txt)"
			exit 0
		fi
	done
	if [ ! -x "$IP_BIN" ]; then
		echo "FAIL: $SUITE: all: $IP_BIN not built (make test-build)"
		exit 1
	fi
}

SERVER_PID=""
stop_server_pid() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=""
	fi
}

netns_remove() {
	stop_server_pid
	local ns pid
	# Anything else still running in our namespaces was started here.
	for ns in "$@"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
}

NET_OUT_DIR=$(make_tmpdir)
run_net() {
	local ns=$1 start end
	shift
	start=$(date +%s%N)
	timeout 60 ip netns exec "$ns" "$IP_BIN" net "$@" >"$NET_OUT_DIR/out" 2>"$NET_OUT_DIR/err"
	RC=$?
	end=$(date +%s%N)
	MS=$(( (end - start) / 1000000 ))
	OUT=$(cat "$NET_OUT_DIR/out")
	ERR=$(cat "$NET_OUT_DIR/err")
}
