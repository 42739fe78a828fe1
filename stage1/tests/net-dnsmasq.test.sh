#!/usr/bin/env bash
# `initrd-provision net` against a real DHCP server: dnsmasq in one network
# namespace, our client in another, a veth pair between them.  Everything
# stays inside the two namespaces made here (the client binds to the veth
# only); both are removed, and dnsmasq stopped, at exit.
#   dnsmasq hands out 192.0.2.50-99/24 for 1 h, router 192.0.2.2, DNS
#   192.0.2.53, domain example.test, MTU 9001 (as EC2 does) and classless
#   routes 198.51.100.0/24 via 192.0.2.254, 203.0.113.0/24 via 198.18.0.1
#   (outside the subnet: needs an on-link host route) and default via
#   192.0.2.1 -- which must win over the router option (RFC 3442).
SUITE=net-dnsmasq
. "$(dirname "$0")/lib.sh"
require_root "creates network namespaces and runs dnsmasq"
. "$(dirname "$0")/netns-lib.sh"
DNSMASQ=/usr/sbin/dnsmasq
require_net_tools ip "$DNSMASQ" timeout

SRV=ipt-srv-$$
CLI=ipt-cli-$$
DIR=$(make_tmpdir)
RESOLV=$DIR/resolv.conf

remove_namespaces() { netns_remove "$SRV" "$CLI"; }
at_exit remove_namespaces

if ! { ip netns add "$SRV" && ip netns add "$CLI" &&
	ip -n "$SRV" link add ips0 type veth peer name ipc0 netns "$CLI" &&
	ip -n "$SRV" addr add 192.0.2.1/24 dev ips0 &&
	ip -n "$SRV" link set ips0 up &&
	ip -n "$SRV" link add ips1 type veth peer name ipc1 netns "$CLI" &&
	ip -n "$SRV" link set ips1 up; } 2>"$DIR/netns.err"; then
	echo "SKIP: $SUITE: all: cannot create network namespaces here: $(head -n1 "$DIR/netns.err")"
	exit 0
fi

start_dnsmasq() {
	stop_server_pid
	rm -f "$DIR/dnsmasq.log"
	# --no-ping: dnsmasq would otherwise ping the address for 3 s before
	# offering it, which measures dnsmasq, not the client.
	ip netns exec "$SRV" "$DNSMASQ" --no-daemon --conf-file=/dev/null --port=0 \
		--interface=ips0 --bind-interfaces --no-ping \
		--dhcp-range=192.0.2.50,192.0.2.99,255.255.255.0,1h \
		--dhcp-option=option:router,192.0.2.2 \
		--dhcp-option=option:dns-server,192.0.2.53 \
		--dhcp-option=option:domain-name,example.test \
		--dhcp-option=option:mtu,9001 \
		--dhcp-option=option:classless-static-route,198.51.100.0/24,192.0.2.254,203.0.113.0/24,198.18.0.1,0.0.0.0/0,192.0.2.1 \
		--dhcp-leasefile="$DIR/leases" --log-facility="$DIR/dnsmasq.log" --log-dhcp \
		>"$DIR/dnsmasq.stderr" 2>&1 &
	SERVER_PID=$!
	local i
	for i in $(seq 50); do
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		grep -q 'sockets bound exclusively' "$DIR/dnsmasq.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# run_client ARGS...: runs the client in its namespace; sets RC, OUT, ERR, MS.
run_client() { run_net "$CLI" "$@"; }

lease_applied() {
	start_dnsmasq || { fail_because "dnsmasq did not start: $(tail -n 3 "$DIR/dnsmasq.log")"; return 1; }
	run_client --interface ipc0 --timeout 20 --resolv-conf "$RESOLV"
	[ "$RC" = 0 ] || { fail_because "exit $RC: $ERR"; return 1; }
	# The address dnsmasq recorded in its lease file for our MAC.
	local mac addr
	mac=$(ip -n "$CLI" -o link show ipc0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	addr=$(awk -v m="$mac" '$2 == m { print $3 }' "$DIR/leases")
	[ -n "$addr" ] || { fail_because "dnsmasq has no lease for $mac"; return 1; }
	local got
	got=$(ip -n "$CLI" -4 -o addr show dev ipc0 | awk '{ print $4, $5, $6 }')
	[ "$got" = "$addr/24 brd 192.0.2.255" ] ||
		{ fail_because "address: got '$got', dnsmasq leased $addr/24"; return 1; }
	ip -n "$CLI" -4 addr show dev ipc0 | grep -Eq 'valid_lft (3[0-5][0-9]{2}|3600)sec' ||
		{ fail_because "address lifetime is not the 1 h lease: $(ip -n "$CLI" -4 addr show dev ipc0)"; return 1; }
	ip -n "$CLI" link show ipc0 | grep -q ' mtu 9001 ' ||
		{ fail_because "MTU is not 9001: $(ip -n "$CLI" link show ipc0 | head -n1)"; return 1; }
	got=$(ip -n "$CLI" -4 route show proto dhcp | sed 's/ *$//' | sort)
	local want
	want=$(sort <<EOF
default via 192.0.2.1 dev ipc0 src $addr metric 1024
198.18.0.1 dev ipc0 scope link src $addr metric 1024
198.51.100.0/24 via 192.0.2.254 dev ipc0 src $addr metric 1024
203.0.113.0/24 via 198.18.0.1 dev ipc0 src $addr metric 1024
EOF
)
	[ "$got" = "$want" ] || { fail_because "routes: got [$got], want [$want]"; return 1; }
	grep -qx 'nameserver 192.0.2.53' "$RESOLV" && grep -qx 'search example.test' "$RESOLV" ||
		{ fail_because "resolv.conf: $(cat "$RESOLV" 2>&1)"; return 1; }
	grep -q "net: ipc0: link up" <<<"$OUT" && grep -q "lease obtained in [0-9]* ms after link up: address $addr/24" <<<"$OUT" ||
		{ fail_because "output lacks the step lines: $OUT"; return 1; }
	local lease_ms
	lease_ms=$(grep -o 'lease obtained in [0-9]* ms' <<<"$OUT" | grep -o '[0-9]*')
	# The dual-stack default on an IPv4-only link: IPv6 is given up after
	# the grace, in one line, and the command succeeds.
	grep -Eq 'net: IPv6 not up \(going on with IPv4\): ipc0: IPv6: no Router Advertisement with the M flag [0-9.]+ s after the first Router Solicitation \([0-9]+ sent\), and IPv4 is up' <<<"$OUT" ||
		{ fail_because "no line about IPv6: $OUT"; return 1; }
	echo "info: link up -> lease: $lease_ms ms (whole command $MS ms under ASan, about 1 s of it the IPv6 grace)"
	echo "$OUT" | sed 's/^/info: /'
}

ipv6_link_local() {
	# The kernel adds fe80:: when the link comes up; DAD takes about a
	# second.  Wait for it, bounded.
	local i
	for i in $(seq 50); do
		if ip -n "$CLI" -6 addr show dev ipc0 scope link | grep -q 'inet6 fe80::' &&
			! ip -n "$CLI" -6 addr show dev ipc0 scope link | grep -q tentative; then
			echo "info: $(ip -n "$CLI" -6 -o addr show dev ipc0 scope link | awk '{ print $4 }') after <= $((i / 10)).$((i % 10)) s"
			return 0
		fi
		sleep 0.1
	done
	fail_because "no usable IPv6 link-local address: $(ip -n "$CLI" -6 addr show dev ipc0)"
}

rerun_keeps_state() {
	local before after
	before=$(ip -n "$CLI" -4 route show proto dhcp; ip -n "$CLI" -4 -o addr show dev ipc0 | awk '{ print $4 }')
	run_client --family ipv4 --interface ipc0 --timeout 20 --resolv-conf "$RESOLV" --keep
	[ "$RC" = 0 ] || { fail_because "second run: exit $RC: $ERR"; return 1; }
	after=$(ip -n "$CLI" -4 route show proto dhcp; ip -n "$CLI" -4 -o addr show dev ipc0 | awk '{ print $4 }')
	[ "$before" = "$after" ] || { fail_because "state changed: [$before] -> [$after]"; return 1; }
}

flush_removes_address_and_routes() {
	run_client --family ipv4 --interface ipc0 --timeout 20 --resolv-conf - --flush
	[ "$RC" = 0 ] || { fail_because "exit $RC: $ERR"; return 1; }
	grep -q 'flushed' <<<"$OUT" || { fail_because "no flush line: $OUT"; return 1; }
	local left
	left=$(ip -n "$CLI" -4 addr show dev ipc0; ip -n "$CLI" -4 route show dev ipc0)
	[ -z "$left" ] || { fail_because "left behind: $left"; return 1; }
	ip -n "$CLI" link show ipc0 | grep -q 'state UP' || { fail_because "link went down"; return 1; }
}

no_server_fails_bounded() {
	stop_server_pid
	run_client --interface ipc0 --timeout 3 --resolv-conf "$DIR/unused.conf"
	echo "info: no server: exit $RC after $MS ms: $ERR"
	[ "$RC" = 1 ] || { fail_because "exit $RC, want 1: $ERR"; return 1; }
	grep -q 'ipc0: DHCP SELECTING: no DHCPOFFER within 3.0 s' <<<"$ERR" &&
		grep -q 'raise --timeout' <<<"$ERR" ||
		{ fail_because "unclear message: $ERR"; return 1; }
	[ "$(wc -l <"$NET_OUT_DIR/err")" = 1 ] || { fail_because "more than one error line: $ERR"; return 1; }
	[ "$MS" -lt $((3000 + IP_TIME_SLACK_MS)) ] || { fail_because "took $MS ms for --timeout 3"; return 1; }
	[ ! -e "$DIR/unused.conf" ] || { fail_because "resolv.conf written without a lease"; return 1; }
}

# Two links, a server on only one of them (ipc0): the first complete lease
# wins and the command says which; the other link gets no address.
two_links_first_lease_wins() {
	ip -n "$CLI" addr flush dev ipc0
	start_dnsmasq || { fail_because "dnsmasq did not start"; return 1; }
	run_client --family ipv4 --interface ipc1 --interface ipc0 --timeout 10 --resolv-conf -
	[ "$RC" = 0 ] || { fail_because "exit $RC: $ERR"; return 1; }
	grep -q 'net: ipc0: won the race among 2 interfaces' <<<"$OUT" ||
		{ fail_because "output: $OUT"; return 1; }
	ip -n "$CLI" -4 -o addr show dev ipc0 | grep -q 'inet 192.0.2.' ||
		{ fail_because "ipc0 has no address"; return 1; }
	[ -z "$(ip -n "$CLI" -4 addr show dev ipc1)" ] || { fail_because "ipc1 got an address"; return 1; }
}

# dnsmasq only NAKs requests our client never sends (INIT-REBOOT, renewal),
# so a scripted server NAKs the first REQUEST: the client must go back to
# INIT, wait its restart delay (1 s) and then get the lease.
nak_restarts_and_recovers() {
	stop_server_pid
	ip -n "$CLI" addr flush dev ipc0
	local log=$DIR/nak.log
	ip netns exec "$SRV" /usr/bin/python3 "$REPO_ROOT/stage1/tests/net-nak-server.py" ips0 "$log" \
		>"$DIR/nak.stderr" 2>&1 &
	local pid=$! i
	for i in $(seq 50); do grep -q ready "$log" 2>/dev/null && break; sleep 0.1; done
	run_client --family ipv4 --interface ipc0 --timeout 10 --resolv-conf - --verbose
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	[ "$RC" = 0 ] || { fail_because "exit $RC: $(tail -n 3 "$NET_OUT_DIR/err")"; return 1; }
	grep -q 'lease obtained in [0-9]* ms after link up (after 1 DHCPNAK): address 192.0.2.77/24' <<<"$OUT" ||
		{ fail_because "output: $OUT"; return 1; }
	grep -q 'DHCP REQUESTING -> INIT' <<<"$ERR" && grep -q 'scripted NAK' <<<"$ERR" ||
		{ fail_because "no NAK restart in the debug log: $ERR"; return 1; }
	local events
	events=$(awk '{ print $2 }' "$log" | tr '\n' ' ')
	[ "$events" = "ready DISCOVER REQUEST DISCOVER REQUEST " ] ||
		{ fail_because "server saw: $events"; return 1; }
	local nak_at again_at gap
	nak_at=$(awk '$2 == "REQUEST" { print $1; exit }' "$log")
	again_at=$(awk '$2 == "DISCOVER" { n++; if (n == 2) print $1 }' "$log")
	gap=$((again_at - nak_at))
	echo "info: NAK -> new DISCOVER after $gap ms; total $MS ms"
	[ "$gap" -ge 900 ] && [ "$gap" -le 3000 ] || { fail_because "restart after $gap ms, want about 1000"; return 1; }
}

auto_detect_skips_virtual_links() {
	run_client --timeout 2 --resolv-conf -
	[ "$RC" = 1 ] || { fail_because "exit $RC, want 1: $ERR"; return 1; }
	grep -q 'no physical Ethernet interface found (seen: lo (loopback), ipc0 (virtual), ipc1 (virtual))' <<<"$ERR" ||
		{ fail_because "message: $ERR"; return 1; }
}

usage_and_unknown_interface() {
	run_client --timeout abc
	[ "$RC" = 2 ] || { fail_because "bad --timeout: exit $RC"; return 1; }
	run_client --interface nosuch0 --timeout 1 --resolv-conf -
	[ "$RC" = 1 ] && grep -q 'nosuch0: no such interface' <<<"$ERR" ||
		{ fail_because "unknown interface: exit $RC: $ERR"; return 1; }
	run_client --interface lo --timeout 1 --resolv-conf -
	[ "$RC" = 1 ] && grep -q 'lo: not an Ethernet interface' <<<"$ERR" ||
		{ fail_because "loopback: exit $RC: $ERR"; return 1; }
}

run_case lease_applied lease_applied
run_case ipv6_link_local ipv6_link_local
run_case rerun_keeps_state rerun_keeps_state
run_case flush_removes_address_and_routes flush_removes_address_and_routes
run_case two_links_first_lease_wins two_links_first_lease_wins
run_case no_server_fails_bounded no_server_fails_bounded
run_case nak_restarts_and_recovers nak_restarts_and_recovers
run_case auto_detect_skips_virtual_links auto_detect_skips_virtual_links
run_case usage_and_unknown_interface usage_and_unknown_interface
