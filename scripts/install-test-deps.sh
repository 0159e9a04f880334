#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian 12 machine that has only Node:
# the Debian oracles and browser, then the npm packages from the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(chromium qemu-utils vmfs-tools vmfs6-tools libvmdk-utils e2fsprogs ntfs-3g dosfstools)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
