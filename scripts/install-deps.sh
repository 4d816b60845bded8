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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
