#!/usr/bin/env bash
# Side by side: initrd-provision fetch and `nix copy --from http://...
# --to local?root=...` on the same cache served by nginx on 127.0.0.1.
#
# Usage: stage1/tests/tools/bench-fetch-vs-nix.sh CORPUS_ENV WORK_DIR [RUNS] [-- FETCH_ARGS...]
#   CORPUS_ENV  corpus.env written by tools/testworld/make-corpus (ROOT_PATH,
#               CACHE_ZSTD, TRUSTED_PUBKEY)
#   WORK_DIR    where the roots go (a fresh root per run; put it on the file
#               system you want to measure, e.g. a tmpfs or an ext4 disk)
#   RUNS        alternating runs of each (default 3)
#   FS=ext4-image (environment): every run gets a fresh ext4 file system (a
#               loop-mounted image under WORK_DIR, made and removed around
#               the run), so no run pays for the deletions of the one before
#               (ext4's inode allocator slows down after many recent deletes)
# Prints one line per run (wall, user+sys CPU, peak RSS from /usr/bin/time -v)
# and the medians; then the time of a second (idempotent) run of ours.
# Builds nothing: uses build/initrd-provision (make) as it is.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CORPUS_ENV=$1 WORK=$2 RUNS=${3:-3}
shift $(( $# >= 3 ? 3 : $# ))
[ "${1:-}" = -- ] && shift
# shellcheck disable=SC1090
. "$CORPUS_ENV"
BIN=$PWD/build/initrd-provision
STATE=$WORK/nginx-state
mkdir -p "$WORK"
PORT=$(tools/testworld/serve-nginx "$CACHE_ZSTD" --state "$STATE")
URL=http://127.0.0.1:$PORT

measure() { # NAME CMD...: prints "NAME wall cpu rss_mib"
	local name=$1; shift
	local out=$WORK/time.out
	/usr/bin/time -v -o "$out" "$@" >/dev/null 2>"$WORK/$name.stderr" || { echo "$name FAILED"; tail -3 "$WORK/$name.stderr"; exit 1; }
	awk -v n="$name" -F': ' '
		/Elapsed \(wall clock\)/ { split($2, t, ":"); w = (length(t) == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2] }
		/User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
		END { printf "%s %.2f %.2f %.1f\n", n, w, u + s, r / 1024 }' "$out"
}

# fresh_root NAME: prints a root directory for one run
MNT=$WORK/mnt
fresh_root() {
	if [ "${FS:-dir}" = ext4-image ]; then
		mountpoint -q "$MNT" && umount "$MNT"
		rm -f "$WORK/fs.img"
		truncate -s 4G "$WORK/fs.img"
		mkfs.ext4 -q -F "$WORK/fs.img"
		mkdir -p "$MNT"
		mount -o loop "$WORK/fs.img" "$MNT"
		echo "$MNT/$1"
	else
		rm -rf "${WORK:?}/$1"
		echo "$WORK/$1"
	fi
}
cleanup_fs() { if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT"; fi; rm -f "$WORK/fs.img"; }
trap 'cleanup_fs; tools/testworld/serve-nginx --stop "$STATE"' EXIT

results=$WORK/results.txt
: >"$results"
for _ in $(seq "$RUNS"); do
	root=$(fresh_root nix)
	sync
	measure nix tools/testworld/nix-hermetic nix copy --from "$URL" --to "local?root=$root" \
		--option trusted-public-keys "$TRUSTED_PUBKEY" "$ROOT_PATH" | tee -a "$results"
	if [ "${SYNC_AFTER_NIX:-0}" = 1 ]; then
		t0=$(date +%s.%N); sync; t1=$(date +%s.%N)
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "nix-then-sync %.2f\n", b - a }' | tee -a "$results"
	fi
	root=$(fresh_root ours)
	sync
	measure ours "$BIN" fetch --quiet --root "$root" --substituter "$URL" \
		--trusted-public-key "$TRUSTED_PUBKEY" "$@" "$ROOT_PATH" | tee -a "$results"
done
measure ours-second-run "$BIN" fetch --quiet --root "$root" --substituter "$URL" \
	--trusted-public-key "$TRUSTED_PUBKEY" "$@" "$ROOT_PATH" | tee -a "$results"
echo "medians (wall s, CPU s, peak RSS MiB) over $RUNS runs:"
for n in ours nix; do
	grep "^$n " "$results" | awk -v n="$n" '{ w[NR] = $2; c[NR] = $3; r[NR] = $4 }
		function med(a, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
		END { printf "  %-5s wall %.2f  cpu %.2f  rss %.1f\n", n, med(w, NR), med(c, NR), med(r, NR) }'
done
