#!/usr/bin/env bash
# `initrd-provision net` over IPv6, against real peers: dnsmasq (Router
# Advertisements with the M flag and RDNSS, DHCPv6 IA_NA, optionally DHCPv4)
# in one network namespace, our client in another, a veth pair between them;
# and net-dhcp6-server.py for what dnsmasq will not do (ignore Rapid Commit,
# NoAddrsAvail).  Both namespaces are removed, and the servers stopped, at
# exit.
#   dnsmasq: IPv6 2001:db8:1::100-1ff for 10 min, DNS 2001:db8:1::53, search
#   example6.test, router lifetime 600 s; IPv4 (dual-stack cases)
#   192.0.2.50-99/24 for 1 h, DNS 192.0.2.53, domain example.test.
SUITE=net-ipv6
. "$(dirname "$0")/lib.sh"
require_root "creates network namespaces and runs dnsmasq"
. "$(dirname "$0")/netns-lib.sh"
DNSMASQ=/usr/sbin/dnsmasq
require_net_tools ip "$DNSMASQ" timeout /usr/bin/python3

SRV=ipv6-srv-$$
CLI=ipv6-cli-$$
DIR=$(make_tmpdir)
RESOLV=$DIR/resolv.conf

remove_namespaces() { netns_remove "$SRV" "$CLI"; }
at_exit remove_namespaces

# The server's link-local address is the routers' source: no DAD on its
# side, so RAs go out at once.
if ! { ip netns add "$SRV" && ip netns add "$CLI" &&
	ip netns exec "$SRV" sysctl -qw net.ipv6.conf.default.accept_dad=0 &&
	ip -n "$SRV" link add ips0 type veth peer name ipc0 netns "$CLI" &&
	ip netns exec "$SRV" sysctl -qw net.ipv6.conf.ips0.accept_dad=0 &&
	ip -n "$SRV" addr add 192.0.2.1/24 dev ips0 &&
	ip -n "$SRV" addr add 2001:db8:1::1/64 dev ips0 nodad &&
	ip -n "$SRV" link set ips0 up; } 2>"$DIR/netns.err"; then
	echo "SKIP: $SUITE: all: cannot create network namespaces here: $(head -n1 "$DIR/netns.err")"
	exit 0
fi
# The router's link-local address (there once the link has carrier).
router_address() {
	ip -n "$SRV" -6 -o addr show dev ips0 scope link | awk '{ print $4 }' | cut -d/ -f1
}

# start_dnsmasq [ipv4] [slaac]: RA + DHCPv6, and DHCPv4 with "ipv4"; with
# "slaac" the RA has no M flag and there is no DHCPv6 (a SLAAC-only router).
start_dnsmasq() {
	stop_server_pid
	rm -f "$DIR/dnsmasq.log" "$DIR/leases"
	local v4=() v6=(--dhcp-range=2001:db8:1::100,2001:db8:1::1ff,64,10m)
	if [ "${1:-}" = ipv4 ]; then
		v4=(--dhcp-range=192.0.2.50,192.0.2.99,255.255.255.0,1h
			--dhcp-option=option:dns-server,192.0.2.53
			--dhcp-option=option:domain-name,example.test)
	fi
	[ "${2:-}" = slaac ] && v6=(--dhcp-range=2001:db8:1::,ra-only)
	ip netns exec "$SRV" "$DNSMASQ" --no-daemon --conf-file=/dev/null --port=0 \
		--interface=ips0 --bind-interfaces --no-ping "${v4[@]}" \
		--enable-ra --ra-param=ips0,60,600 "${v6[@]}" \
		--dhcp-option=option6:dns-server,[2001:db8:1::53] \
		--dhcp-option=option6:domain-search,example6.test \
		--dhcp-leasefile="$DIR/leases" --log-facility="$DIR/dnsmasq.log" --log-dhcp \
		>"$DIR/dnsmasq.stderr" 2>&1 &
	SERVER_PID=$!
	local i
	for i in $(seq 50); do
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		grep -q 'router advertisement enabled' "$DIR/dnsmasq.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_scripted MODE: net-dhcp6-server.py instead of dnsmasq.
start_scripted() {
	stop_server_pid
	rm -f "$DIR/scripted.log"
	ip netns exec "$SRV" /usr/bin/python3 "$REPO_ROOT/stage1/tests/net-dhcp6-server.py" ips0 \
		"$DIR/scripted.log" "$1" >"$DIR/scripted.stderr" 2>&1 &
	SERVER_PID=$!
	local i
	for i in $(seq 50); do
		grep -q ready "$DIR/scripted.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

clean_client() {
	ip -n "$CLI" -6 addr flush dev ipc0 scope global 2>/dev/null
	ip -n "$CLI" -4 addr flush dev ipc0 2>/dev/null
	ip -n "$CLI" -6 route flush dev ipc0 proto ra 2>/dev/null
	rm -f "$RESOLV"
}

run_client() { run_net "$CLI" --interface ipc0 "$@"; }

# The checks common to every successful IPv6 run against dnsmasq: the /128
# dnsmasq leased, its lifetimes (10 min), the default route via the
# router's link-local address expiring with the router lifetime (600 s).
check_ipv6_applied() {
	local addr got ROUTER
	ROUTER=$(router_address)
	addr=$(awk '$3 ~ /^2001:db8:1::/ { print $3 }' "$DIR/leases" | head -n1)
	[ -n "$addr" ] || { fail_because "dnsmasq has no DHCPv6 lease: $(cat "$DIR/leases")"; return 1; }
	got=$(ip -n "$CLI" -6 -o addr show dev ipc0 scope global | awk '{ print $4 }')
	[ "$got" = "$addr/128" ] || { fail_because "address: got '$got', dnsmasq leased $addr"; return 1; }
	ip -n "$CLI" -6 addr show dev ipc0 scope global |
		grep -Eq 'valid_lft (5[89][0-9]|600)sec preferred_lft (5[89][0-9]|600)sec' ||
		{ fail_because "lifetimes are not dnsmasq's 10 min: $(ip -n "$CLI" -6 addr show dev ipc0 scope global)"; return 1; }
	got=$(ip -n "$CLI" -6 route show default)
	grep -Eq "^default via $ROUTER dev ipc0 proto ra metric 1024 expires (5[89][0-9]|600)sec" <<<"$got" ||
		{ fail_because "default route: got [$got], want via $ROUTER expiring in 600 s"; return 1; }
	grep -q "net: ipc0: DHCPv6 lease obtained in [0-9]* ms after link up: address $addr/128, preferred 600 s, valid 600 s, dns 2001:db8:1::53, search example6.test" <<<"$OUT" ||
		{ fail_because "output: $OUT"; return 1; }
	IPV6_ADDR=$addr
}

ipv6_only_subnet() {
	clean_client
	start_dnsmasq || { fail_because "dnsmasq did not start: $(tail -n 3 "$DIR/dnsmasq.log")"; return 1; }
	run_client --timeout 20 --resolv-conf "$RESOLV"
	[ "$RC" = 0 ] || { fail_because "exit $RC: $ERR"; return 1; }
	check_ipv6_applied || return 1
	local want
	want="# written by initrd-provision from DHCPv6 and the router advertisement on ipc0
search example6.test
nameserver 2001:db8:1::53"
	[ "$(cat "$RESOLV")" = "$want" ] || { fail_because "resolv.conf: [$(cat "$RESOLV")]"; return 1; }
	grep -Eq 'net: IPv4 not up \(going on with IPv6\): ipc0: DHCP SELECTING: no DHCPOFFER [0-9.]+ s after the first DHCPDISCOVER \([0-9]+ sent\), and IPv6 is up' <<<"$OUT" ||
		{ fail_because "no line about IPv4: $OUT"; return 1; }
	[ -z "$(ip -n "$CLI" -4 addr show dev ipc0)" ] || { fail_because "an IPv4 address appeared"; return 1; }
	echo "$OUT" | sed 's/^/info: /'
	echo "info: whole command $MS ms under ASan (includes the IPv4 grace)"
}

ipv6_family_only() {
	clean_client
	run_client --family ipv6 --timeout 20 --resolv-conf "$RESOLV"
	[ "$RC" = 0 ] || { fail_because "exit $RC: $ERR"; return 1; }
	check_ipv6_applied || return 1
	grep -q 'IPv4' <<<"$OUT" && { fail_because "IPv4 was tried: $OUT"; return 1; }
	echo "info: --family ipv6: whole command $MS ms under ASan"
}

dual_stack() {
	clean_client
	start_dnsmasq ipv4 || { fail_because "dnsmasq did not start"; return 1; }
	run_client --timeout 20 --resolv-conf "$RESOLV"
	[ "$RC" = 0 ] || { fail_because "exit $RC: $ERR"; return 1; }
	check_ipv6_applied || return 1
	local addr4 got want
	addr4=$(awk '$3 ~ /^192\.0\.2\./ { print $3 }' "$DIR/leases")
	got=$(ip -n "$CLI" -4 -o addr show dev ipc0 | awk '{ print $4 }')
	[ "$got" = "$addr4/24" ] || { fail_because "IPv4 address: got '$got', leased $addr4"; return 1; }
	want="# written by initrd-provision from the DHCP lease on ipc0 (server 192.0.2.1)
# written by initrd-provision from DHCPv6 and the router advertisement on ipc0
search example.test example6.test
nameserver 192.0.2.53
nameserver 2001:db8:1::53"
	[ "$(cat "$RESOLV")" = "$want" ] || { fail_because "resolv.conf: [$(cat "$RESOLV")]"; return 1; }
	grep -q 'not up' <<<"$OUT" && { fail_because "a family is reported down: $OUT"; return 1; }
	echo "info: dual stack: whole command $MS ms under ASan"
}

flush_restores_settings() {
	start_dnsmasq ipv4 || { fail_because "dnsmasq did not start"; return 1; }
	ip netns exec "$CLI" sysctl -qw net.ipv6.conf.ipc0.accept_ra=2 net.ipv6.conf.ipc0.optimistic_dad=0
	run_client --timeout 20 --resolv-conf - --flush
	[ "$RC" = 0 ] || { fail_because "exit $RC: $ERR"; return 1; }
	grep -q 'DHCPv6 lease obtained' <<<"$OUT" || { fail_because "no IPv6 lease to flush: $OUT"; return 1; }
	local settings
	settings=$(ip netns exec "$CLI" sysctl -n net.ipv6.conf.ipc0.accept_ra net.ipv6.conf.ipc0.optimistic_dad | tr '\n' ' ')
	[ "$settings" = "2 0 " ] || { fail_because "accept_ra optimistic_dad after --flush: $settings, want 2 0"; return 1; }
	local left
	left=$(ip -n "$CLI" -6 addr show dev ipc0 scope global; ip -n "$CLI" -6 route show default;
		ip -n "$CLI" -4 addr show dev ipc0)
	[ -z "$left" ] || { fail_because "left behind: $left"; return 1; }
	ip -n "$CLI" -6 addr show dev ipc0 scope link | grep -q fe80:: ||
		{ fail_because "the link-local address went away"; return 1; }
}

no_server_fails_bounded() {
	stop_server_pid
	clean_client
	run_client --family ipv6 --timeout 3 --resolv-conf "$DIR/unused.conf"
	echo "info: no server: exit $RC after $MS ms: $ERR"
	[ "$RC" = 1 ] || { fail_because "exit $RC, want 1: $ERR"; return 1; }
	grep -Eq 'ipc0: IPv6: no Router Advertisement within 3.0 s \([0-9]+ Router Solicitations? sent\)' <<<"$ERR" ||
		{ fail_because "unclear message: $ERR"; return 1; }
	[ "$(wc -l <"$NET_OUT_DIR/err")" = 1 ] || { fail_because "more than one error line: $ERR"; return 1; }
	[ "$MS" -lt $((3000 + IP_TIME_SLACK_MS)) ] || { fail_because "took $MS ms for --timeout 3"; return 1; }
	[ ! -e "$DIR/unused.conf" ] || { fail_because "resolv.conf written without a lease"; return 1; }
}

# The default client sends no Rapid Commit; with --rapid-commit, a server
# that ignores it (answers Advertise, as EC2's reportedly did) still leads
# to Request/Reply and a lease.
rapid_commit_ignored() {
	clean_client
	start_scripted ignore-rc || { fail_because "scripted server did not start"; return 1; }
	run_client --family ipv6 --timeout 10 --resolv-conf -
	[ "$RC" = 0 ] || { fail_because "default client: exit $RC: $ERR"; return 1; }
	grep -q 'SOLICIT rc=0' "$DIR/scripted.log" && ! grep -q 'SOLICIT rc=1' "$DIR/scripted.log" ||
		{ fail_because "the default Solicit carried Rapid Commit: $(cat "$DIR/scripted.log")"; return 1; }
	clean_client
	start_scripted ignore-rc || { fail_because "scripted server did not start"; return 1; }
	run_client --family ipv6 --timeout 10 --resolv-conf - --rapid-commit
	[ "$RC" = 0 ] || { fail_because "--rapid-commit: exit $RC: $ERR"; return 1; }
	grep -q 'SOLICIT rc=1' "$DIR/scripted.log" && grep -q 'REQUEST reply' "$DIR/scripted.log" ||
		{ fail_because "server saw: $(cat "$DIR/scripted.log")"; return 1; }
	ip -n "$CLI" -6 -o addr show dev ipc0 scope global | grep -q '2001:db8:1::77/128' ||
		{ fail_because "no address: $(ip -n "$CLI" -6 addr show dev ipc0)"; return 1; }
}

noaddrs_advertise_fails_clearly() {
	clean_client
	start_scripted noaddrs || { fail_because "scripted server did not start"; return 1; }
	run_client --family ipv6 --timeout 4 --resolv-conf -
	[ "$RC" = 1 ] || { fail_because "exit $RC, want 1: $OUT $ERR"; return 1; }
	grep -Eq 'ipc0: DHCPv6 SOLICITING: no usable Advertise within [0-9.]+ s \([0-9]+ Solicits sent; [0-9]+ answers offered no address: NoAddrsAvail \("scripted: no addresses"\)\)' <<<"$ERR" ||
		{ fail_because "message: $ERR"; return 1; }
}

# NoAddrsAvail in the Reply is DHCPv6's NAK: Solicit again after the
# restart delay (1 s), then the lease.
noaddrs_reply_restarts() {
	clean_client
	start_scripted reply-noaddrs || { fail_because "scripted server did not start"; return 1; }
	run_client --family ipv6 --timeout 10 --resolv-conf - --verbose
	[ "$RC" = 0 ] || { fail_because "exit $RC: $(tail -n 3 "$NET_OUT_DIR/err")"; return 1; }
	grep -q 'DHCPv6 lease obtained in [0-9]* ms after link up (after 1 restart): address 2001:db8:1::77/128' <<<"$OUT" ||
		{ fail_because "output: $OUT"; return 1; }
	grep -q 'DHCPv6 REQUESTING -> INIT' <<<"$ERR" && grep -q 'scripted: pool empty' <<<"$ERR" ||
		{ fail_because "no restart in the debug log: $ERR"; return 1; }
	local events
	events=$(awk '$2 != "RS" { print $2 }' "$DIR/scripted.log" | tr '\n' ' ')
	[ "$events" = "ready SOLICIT REQUEST SOLICIT REQUEST " ] || { fail_because "server saw: $events"; return 1; }
}

# A router that advertises no managed addresses (SLAAC only) leaves IPv6
# nothing to wait for: given up as soon as IPv4 is up, without the grace.
slaac_only_router() {
	clean_client
	start_dnsmasq ipv4 slaac || { fail_because "dnsmasq did not start: $(tail -n 3 "$DIR/dnsmasq.log")"; return 1; }
	run_client --timeout 20 --grace 10 --resolv-conf -
	[ "$RC" = 0 ] || { fail_because "exit $RC: $ERR"; return 1; }
	grep -q 'net: IPv6 not up (going on with IPv4): ipc0: IPv6: the router advertises no managed addresses (M flag clear; SLAAC is not supported) and IPv4 is up' <<<"$OUT" ||
		{ fail_because "output: $OUT"; return 1; }
	[ -z "$(ip -n "$CLI" -6 addr show dev ipc0 scope global)" ] || { fail_because "an IPv6 address appeared"; return 1; }
	echo "info: SLAAC-only router, --grace 10: whole command $MS ms under ASan"
	[ "$MS" -lt $((10000 + IP_TIME_SLACK_MS)) ] || { fail_because "took $MS ms"; return 1; }
}

run_case ipv6_only_subnet ipv6_only_subnet
run_case ipv6_family_only ipv6_family_only
run_case dual_stack dual_stack
run_case slaac_only_router slaac_only_router
run_case flush_restores_settings flush_restores_settings
run_case no_server_fails_bounded no_server_fails_bounded
run_case rapid_commit_ignored rapid_commit_ignored
run_case noaddrs_advertise_fails_clearly noaddrs_advertise_fails_clearly
run_case noaddrs_reply_restarts noaddrs_reply_restarts
