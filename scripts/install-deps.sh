#!/usr/bin/env bash
# Installs every Debian 12 package chaoskit needs to build, test and run its lab.
# Safe to run again: it only calls apt-get when something is missing.
set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config clang llvm bpftool
	libbpf-dev libelf-dev zlib1g-dev libnl-3-dev libnl-route-3-dev libconfig-dev libjson-c-dev
	libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libcmocka-dev
	# sanitizer runtimes for the ASan/UBSan test build
	libclang-rt-14-dev
	# tests, lab and demo
	iproute2 iputils-ping openssl curl python3 util-linux procps
	# the game day's Prometheus probes, and rendering the HTML report in the tests
	prometheus chromium
	# network fault fidelity tests and benchmarks (TCP throughput, the iptables comparison)
	iperf3 iptables
	# process and disk faults: the FUSE backend of io-fault, real victims, the stress benchmark
	libfuse3-dev fuse3 sqlite3 stress-ng e2fsprogs
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get install needs it)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages such as prometheus start their own service on install; the lab runs its own
# instance inside a namespace instead. policy-rc.d answering 101 tells invoke-rc.d not to.
created_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi
rc=0
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
[ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
[ $rc -eq 0 ] || { echo "install-deps: apt-get failed ($rc)" >&2; exit $rc; }
echo "install-deps: done"
