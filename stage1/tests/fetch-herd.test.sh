#!/usr/bin/env bash
# A herd: 20 `initrd-provision fetch` processes start at the same moment and
# fetch the same closure from one S3 cache that throttles like S3 does (a
# token bucket in tools/s3/sigv4-proxy answering 503 SlowDown when empty),
# as an autoscaling group scaling out does.  Each process signs with its own
# access key, so the proxy's log says who asked what.  Every process must
# finish (real Nix judges all 20 roots), throttling must really have
# happened, no request may have been tried more often than the retry
# budget allows (counted by the proxy, not by the clients), and the clients
# must have cut their connections while throttled.  How long the herd
# takes against what the bucket allows is `make bench`'s herd row (a timed
# assertion would flake on a busy machine); the figure is logged here.
SUITE=fetch-herd
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3-lib.sh"

N=${IP_HERD_SIZE:-20}
RATE=${IP_HERD_RATE:-60}        # requests a second the bucket allows ...
BURST=${IP_HERD_BURST:-20}      # ... and at once
RETRIES=4                       # the default: 5 attempts a request, 10 while throttled
UP_KEY=AKIDHERDUPLOADER0001 UP_SECRET='herd/Upload+Secret00000000000000000000'
SECRET='herd/Fleet+Secret000000000000000000000'

require_root "the test world lives in the single-user /nix/store"
s3_require_tools

s3_load_world

key_of() { printf 'AKIDHERD%012d' "$1"; }
creds="$UP_KEY=$UP_SECRET"
for i in $(seq 1 "$N"); do creds+=",$(key_of "$i")=$SECRET"; done
CONTROL=$TEST_TMP/proxy-control
: >"$CONTROL"
s3_start --credentials "$creds" --control "$CONTROL"
URL="s3://herd?endpoint=$S3_ENDPOINT&region=us-east-1"

if ! CLI_KEY=$UP_KEY CLI_SECRET=$UP_SECRET aws_cli s3 mb s3://herd >"$TEST_TMP/cli.log" 2>&1 ||
	! CLI_KEY=$UP_KEY CLI_SECRET=$UP_SECRET aws_cli s3 sync "$CACHE_ZSTD" s3://herd/ >>"$TEST_TMP/cli.log" 2>&1; then
	echo "FAIL: $SUITE: upload: $(tail -n 2 "$TEST_TMP/cli.log")"
	exit 1
fi

# --- the herd ------------------------------------------------------------------------
printf 'rate = %s\nburst = %s\n' "$RATE" "$BURST" >"$CONTROL"
: >"$PROXY_LOG"
HERD=$TEST_TMP/herd
mkdir -p "$HERD"
t0=$(date +%s.%N)
pids=()
for i in $(seq 1 "$N"); do
	env -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID="$(key_of "$i")" AWS_SECRET_ACCESS_KEY="$SECRET" \
		timeout 300 "$IP_BIN" fetch --root "$HERD/root$i" --trusted-public-key "$TRUSTED_PUBKEY" \
		--no-sync --retries "$RETRIES" --report "$HERD/report$i.json" --substituter "$URL" "$ROOT_PATH" \
		>"$HERD/out$i" 2>&1 &
	pids+=($!)
done
for i in $(seq 1 "$N"); do
	rc=0
	wait "${pids[$((i - 1))]}" || rc=$?
	echo "$rc" >"$HERD/rc$i"
done
t1=$(date +%s.%N)
: >"$CONTROL"

accepted=$(grep -c ' relayed AKIDHERD' "$PROXY_LOG" || true)
slowdowns=$(grep -c ' 503 SlowDown AKIDHERD' "$PROXY_LOG" || true)
# What the bucket allows: BURST at once, then RATE a second.
floor=$(awk -v a="$accepted" -v r="$RATE" -v b="$BURST" 'BEGIN { f = (a - b) / r; printf("%.2f", (f < 0) ? 0 : f) }')
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf("%.2f", b - a) }')
ratio=$(awk -v w="$wall" -v f="$floor" 'BEGIN { printf("%.2f", (f > 0) ? w / f : 0) }')
echo "herd: $N fetches, $accepted requests served, $slowdowns SlowDown, $wall s (the bucket allows $floor s: ${ratio}x)" >&2

case_all_succeed_and_nix_accepts_them() {
	local i bad=""
	for i in $(seq 1 "$N"); do
		[ "$(cat "$HERD/rc$i")" = 0 ] || bad+=" $i(exit $(cat "$HERD/rc$i"): $(tail -n 1 "$HERD/out$i"))"
	done
	[ -z "$bad" ] || { fail_because "failed:$bad"; return 1; }
	# two at a time (each root is its own Nix database)
	seq 1 "$N" | xargs -P 2 -I{} sh -c '"$1" --cache "$2" --expect-paths "$3" "$4/root{}" >"$4/judge{}" 2>&1 ||
		echo {} >>"$4/misjudged"' _ "$REPO_ROOT/tools/testworld/nix-judge" "$CACHE_ZSTD" "$TW_DIR/all-paths" "$HERD"
	if [ -s "$HERD/misjudged" ]; then
		i=$(head -n 1 "$HERD/misjudged")
		fail_because "nix-judge rejects $(wc -l <"$HERD/misjudged") root(s), root$i: $(head -n 3 "$HERD/judge$i" | tr '\n' ' ')"
		return 1
	fi
}

case_the_cache_throttled() {
	# Otherwise this suite tests nothing: the bucket must have refused a
	# good share of the first wave.
	[ "$slowdowns" -ge "$N" ] || { fail_because "only $slowdowns SlowDown answers"; return 1; }
	# Each client saw exactly the refusals the proxy sent it.
	local i key want got
	for i in $(seq 1 "$N"); do
		key=$(key_of "$i")
		want=$(grep -c " 503 SlowDown $key\$" "$PROXY_LOG" || true)
		got=$(jq -r '.requests.throttled' "$HERD/report$i.json" 2>/dev/null)
		[ "$got" = "$want" ] || { fail_because "process $i counted $got throttled answers, the proxy sent $want"; return 1; }
	done
}

case_no_request_over_its_retry_budget() {
	# Counted by the proxy: per client and per object, at most 2 * (1 +
	# RETRIES) requests, a 503 or a good answer each (the attempts double
	# while the cache throttles, and here it throttles all the time).
	local worst
	worst=$(awk '{ n[$NF " " $3]++ }
		END { m = 0; for (k in n) if (n[k] > m) { m = n[k]; w = k }; print m, w }' \
		<(grep -E ' (503 SlowDown|[0-9]+ relayed) AKIDHERD' "$PROXY_LOG" | sed 's/ payload=.*//'))
	[ "${worst%% *}" -le $((2 * (RETRIES + 1))) ] ||
		{ fail_because "$worst requests for one object from one client, budget $((2 * (RETRIES + 1)))"; return 1; }
	local i m
	for i in $(seq 1 "$N"); do
		m=$(jq -r '.requests.most_attempts' "$HERD/report$i.json" 2>/dev/null)
		[ -n "$m" ] && [ "$m" != null ] && [ "$m" -le $((2 * (RETRIES + 1))) ] ||
			{ fail_because "process $i reports $m attempts for one request"; return 1; }
	done
	echo "most requests for one object by one client: $worst" >&2
}

case_connections_backed_off() {
	# A throttled client halves its connection limit (AIMD); with the whole
	# herd throttled, most clients must have gone below their 25.
	local i low cut=0
	for i in $(seq 1 "$N"); do
		low=$(jq -r '.connections_low' "$HERD/report$i.json" 2>/dev/null)
		[ -n "$low" ] && [ "$low" != null ] || { fail_because "report$i has no connections_low"; return 1; }
		[ "$low" -ge 25 ] || cut=$((cut + 1))
	done
	[ "$cut" -ge $((N / 2)) ] || fail_because "only $cut of $N clients cut their connections"
}

run_case all-succeed-and-nix-accepts-them case_all_succeed_and_nix_accepts_them
run_case the-cache-throttled case_the_cache_throttled
run_case no-request-over-its-retry-budget case_no_request_over_its_retry_budget
run_case connections-backed-off case_connections_backed_off
