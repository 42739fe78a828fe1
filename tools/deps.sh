#!/usr/bin/env bash
# Installs every Debian package the build, the tests, the demo and the
# benchmarks need (lists in tools/packages/*.txt, one package a line, '#'
# comments), then the npm packages pinned under tools/.  Idempotent: installs
# only what is missing and says what.  Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t wanted < <(sed -e 's/#.*//' tools/packages/*.txt | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done

# Node and npm (for the S3 stand-in, s3rver): any working npm will do.  Some
# machines carry NodeSource's nodejs, which conflicts with Debian's npm
# package, so Debian's are installed only when there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then
	missing+=(nodejs npm)
fi

# arm64 packages are downloaded (tools/fetch-debs), never installed: apt
# needs the architecture and its package lists for that.
need_update=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: error: not root; run 'sudo dpkg --add-architecture arm64 && sudo apt-get update'" >&2
		exit 1
	fi
	echo "deps: adding the dpkg architecture arm64 (for tools/fetch-debs)"
	dpkg --add-architecture arm64
	need_update=1
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then
		echo "deps: error: not root; run 'sudo make deps' or install them yourself" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "deps: all ${#wanted[@]} Debian packages present"
	if [ "$need_update" = 1 ]; then
		apt-get update -q
	fi
fi

# npm packages pinned by package-lock.json in their own folders.
for dir in tools/*/; do
	[ -f "$dir/package-lock.json" ] || continue
	if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
		echo "deps: npm ci in $dir"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) && touch "$dir/node_modules"
	fi
done
