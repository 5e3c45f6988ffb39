#!/usr/bin/env bash
# Builds a Debian (bookworm) root filesystem with debootstrap and imports it as image `debian`.
# Needs root and Debian's package mirror (the one apt uses). Usage:
#   images/debian/build.sh [DATA_DIR] [SUITE]
set -euo pipefail
data_dir=${1:-./data}
suite=${2:-bookworm}
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include=ca-certificates,python3,curl "$suite" "$work/rootfs"
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb
"${SANDBOX_HOST:-.build/debug/sandbox-host}" images import debian "$work/rootfs" --data-dir "$data_dir"
