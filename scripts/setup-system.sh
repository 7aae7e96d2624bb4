#!/usr/bin/env bash
# Installs the Debian packages the test suites and image builds use (DESIGN §12.16). Idempotent:
# packages already installed are skipped, and nothing is fetched from outside Debian's mirrors.
set -euo pipefail

PACKAGES=(
  socat mosquitto openssl docker.io busybox-static chromium
  genimage mtools dosfstools e2fsprogs fdisk fakeroot xz-utils
  qemu-user util-linux systemd python3-seccomp
  g++-aarch64-linux-gnu libc6-arm64-cross libstdc++6-arm64-cross
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing ${missing[*]}; run as root (or: sudo $0)" >&2
  exit 1
fi

echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-system: done"
