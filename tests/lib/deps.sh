#!/usr/bin/env bash
# Install the Debian packages numalens needs to build, test or demo, when
# they are missing. `make test` and `make demo` call this first, so that on
# a fresh Debian 12 machine they are the only set-up steps.
#   deps.sh build|test|demo|lab
set -euo pipefail
what=${1:-build}

build_pkgs="gcc make pkg-config libc6-dev libpfm4-dev libmicrohttpd-dev libvirt-dev
	libprotobuf-c-dev protobuf-c-compiler libcjson-dev libcurl4-gnutls-dev libxml2-dev
	libgnutls28-dev libyaml-dev libcrypt-dev libsystemd-dev"
run_pkgs="libvirt-daemon-system libvirt-clients qemu-system-x86 curl"
test_pkgs="prometheus valgrind protobuf-compiler jq yq strace openssl"
# `make lab`: initramfs tools, and numactl on this root (the lab guest
# shares it: numactl places its QEMU processes, jq reads the hint API)
lab_pkgs="cpio numactl kmod xz-utils jq"

case "$what" in
build) pkgs=$build_pkgs ;;
demo)  pkgs="$build_pkgs $run_pkgs" ;;
test)  pkgs="$build_pkgs $run_pkgs $test_pkgs" ;;
lab)   pkgs="$build_pkgs $run_pkgs $lab_pkgs" ;;
*) echo "usage: $0 build|test|demo|lab" >&2; exit 2 ;;
esac

missing=()
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "numalens: missing packages: ${missing[*]}" >&2
	echo "install them with: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "numalens: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# libvirt-daemon-system's maintainer scripts want systemd; without it they
# print warnings and still install.
apt-get install -y -q --no-install-recommends "${missing[@]}"
