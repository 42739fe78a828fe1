#!/usr/bin/env bash
# Whole boots over IPv6 (issue 18).  The guest's NIC is a tap on a bridge in
# a network namespace made here; in that namespace dnsmasq sends Router
# Advertisements (M flag) and serves DHCPv6 (and, dual stack, DHCPv4), the
# mock IMDS listens on [fd00:ec2::254]:80 (and 169.254.169.254:80), and the
# binary cache on [2001:db8:5::1]:80 -- the namespace's own addresses and
# ports, nothing on the host.
#   ipv6-only   no IPv4 at all: IMDS endpoint auto falls over to
#               [fd00:ec2::254]; the cache is s3://qemu-cache without
#               endpoint=, which only IPv6 being up turns into the dual-stack
#               host qemu-cache.s3.dualstack.us-east-1.amazonaws.com: dnsmasq
#               (the guest's DNS server) knows that name, and only that
#               one, as [2001:db8:5::1] (scheme=http: no TLS to fake)
#   dual-stack  DHCPv4 and DHCPv6 both: IMDS over IPv4, the cache at
#               http://[2001:db8:5::1], no dual-stack rule
SUITE=ipv6
. "$(dirname "$0")/lib.sh"
SCENARIOS=(ipv6-only dual-stack)
# IP_IPV6_ONLY_CASE=ipv6-only (or dual-stack) runs just that one.
[ -z "${IP_IPV6_ONLY_CASE:-}" ] || SCENARIOS=("$IP_IPV6_ONLY_CASE")
skip_all() { for s in "${SCENARIOS[@]}"; do echo "SKIP: $SUITE: $s: $1"; done; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespace, tap)"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ -x /usr/sbin/dnsmasq ] || skip_all "dnsmasq is not installed (tools/packages/tests.txt)"
boot_mode_available || skip_all "$BOOT_MISSING_REASON"
qemu_world || exit 0

NS=ipv6-qemu-$$
DNSMASQ_PID=""
remove_namespace() {
	stop_servers
	[ -z "$DNSMASQ_PID" ] || stop_pid "$DNSMASQ_PID"
	local pid
	for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
}
at_exit remove_namespace

NSDIR=$(make_tmpdir)
if ! { ip netns add "$NS" &&
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.accept_dad=0 &&
	ip -n "$NS" link set lo up &&
	ip -n "$NS" addr add fd00:ec2::254/128 dev lo &&
	ip -n "$NS" addr add 169.254.169.254/32 dev lo &&
	ip -n "$NS" link add br0 type bridge &&
	ip -n "$NS" tuntap add dev tap0 mode tap &&
	ip -n "$NS" link set tap0 master br0 &&
	ip -n "$NS" addr add 2001:db8:5::1/64 dev br0 nodad &&
	ip -n "$NS" link set tap0 up && ip -n "$NS" link set br0 up; } 2>"$NSDIR/err"; then
	skip_all "cannot make the namespace, bridge and tap here: $(head -n 1 "$NSDIR/err")"
fi

# start_router [ipv4]: dnsmasq on br0 (RA + DHCPv6, and DHCPv4 with ipv4).
start_router() {
	[ -z "$DNSMASQ_PID" ] || stop_pid "$DNSMASQ_PID"
	local v4=()
	if [ "${1:-}" = ipv4 ]; then
		ip -n "$NS" addr replace 192.0.2.1/24 dev br0
		v4=(--dhcp-range=192.0.2.50,192.0.2.99,255.255.255.0,1h --dhcp-option=option:router,192.0.2.1)
	else
		ip -n "$NS" addr del 192.0.2.1/24 dev br0 2>/dev/null || true
	fi
	ROUTER_LOG=$NSDIR/dnsmasq.$1.log
	ip netns exec "$NS" /usr/sbin/dnsmasq --no-daemon --conf-file=/dev/null \
		--interface=br0 --bind-interfaces --no-ping "${v4[@]}" \
		--no-resolv --no-hosts --log-queries --local=/amazonaws.com/ \
		--host-record=qemu-cache.s3.dualstack.us-east-1.amazonaws.com,2001:db8:5::1 \
		--enable-ra --ra-param=br0,10,600 \
		--dhcp-range=2001:db8:5::100,2001:db8:5::1ff,64,10m \
		--dhcp-option=option6:dns-server,[2001:db8:5::1] \
		--dhcp-leasefile="$NSDIR/leases" --log-facility="$ROUTER_LOG" --log-dhcp \
		>"$NSDIR/dnsmasq.out" 2>&1 &
	DNSMASQ_PID=$!
	local i
	for i in $(seq 50); do
		grep -q 'router advertisement enabled' "$ROUTER_LOG" 2>/dev/null && return 0
		sleep 0.1
	done
	CASE_REASON="dnsmasq did not start: $(tail -n 2 "$NSDIR/dnsmasq.out" | tr '\n' ' ')"
	return 1
}

# ns_server NAME CMD...: a server inside the namespace; waits for its port file.
ns_server() {
	local name=$1; shift
	rm -f "$P_DIR/$name.port"
	ip netns exec "$NS" "$@" --port 80 --port-file "$P_DIR/$name.port" --log "$P_DIR/$name.log" \
		>"$P_DIR/$name.out" 2>&1 &
	local pid=$!
	_SERVER_PIDS="$_SERVER_PIDS $pid"
	_wait_file "$P_DIR/$name.port" 10 "$pid" >/dev/null ||
		{ CASE_REASON="$name did not start: $(tail -n 2 "$P_DIR/$name.out" | tr '\n' ' ')"; return 1; }
}

# One provisioning boot: user-data names the target, the cache is served on
# [2001:db8:5::1] and named by SUBSTITUTER; IMDS on IMDS_BIND.
provision_over() { # NAME IMDS_BIND SUBSTITUTER
	p_new
	p_user_data "system = $TARGET_SYSTEM
"
	ns_server imds "$MOCK_IMDS" --bind "$2" --user-data-file "$P_DIR/user-data" --role qemu-test-role || return 1
	ns_server cache /usr/bin/python3 "$QEMU_TESTS_DIR/cache-serve.py" --bind 2001:db8:5::1 --dir "$CACHE_DIR" || return 1
	CACHE_LOG=$P_DIR/cache.log
	CACHE_SUBSTITUTER=$3
	p_initrd || return 1
	p_boot "$1" --netns "$NS" --netdev "tap,id=n0,ifname=tap0,script=no,downscript=no"
	record_time "$1"
	assert_stage2_ok "$TARGET_SYSTEM" direct || return 1
	assert_no_failure_banner || return 1
	assert_handoff_to "$TARGET_SYSTEM" || return 1
	assert_log_contains '^initrd-provision: .*IPv6 on [a-z0-9]+: 2001:db8:5::1[0-9a-f]{2}/128 in [0-9]+ ms after link up' \
		"the IPv6 lease line" || return 1
	assert_nars_served "$TARGET_FETCH_COUNT" || return 1
	grep -q 'GET /latest/user-data 200' "$P_DIR/imds.log" ||
		{ fail_because "the mock IMDS on $2 served no user-data: $(cat "$P_DIR/imds.log")"; return 1; }
	grep -E 'IPv6 on|lease on|not up|IMDS|imds' "$BOOT_LOG" | sed 's/^/  | /' | head -n 8
}

ipv6_only() {
	start_router ipv6 || return 1
	provision_over ipv6-only fd00:ec2::254 "s3://qemu-cache?scheme=http&region=us-east-1" || return 1
	assert_log_contains '^initrd-provision: only IPv6 is up: s3:// substituters without endpoint= use the dual-stack host s3\.dualstack\.REGION\.amazonaws\.com$' \
		"the line saying the dual-stack S3 host is used" || return 1
	[ "$(grep -c 'only IPv6 is up' "$BOOT_LOG")" = 1 ] || { fail_because "the dual-stack line is not said once"; return 1; }
	grep -q 'qemu-cache.s3.dualstack.us-east-1.amazonaws.com' "$ROUTER_LOG" ||
		{ fail_because "the guest never asked DNS for the dual-stack host: $(grep query "$ROUTER_LOG" | head -n 3)"; return 1; }
	assert_log_contains '^initrd-provision: .*IPv4 not up, going on with IPv6: .*no DHCPOFFER' \
		"the line saying IPv4 did not come up" || return 1
}

dual_stack() {
	start_router ipv4 || return 1
	provision_over dual-stack 169.254.169.254 "http://[2001:db8:5::1]" || return 1
	assert_log_lacks 'only IPv6 is up' "the dual-stack S3 line" || return 1
	assert_log_contains '^initrd-provision: .*lease on [a-z0-9]+: 192\.0\.2\.[0-9]+/24' "the IPv4 lease line" || return 1
	assert_log_lacks 'not up, going on' "a family reported down" || return 1
}

for s in "${SCENARIOS[@]}"; do run_case "$s" "${s//-/_}"; done
