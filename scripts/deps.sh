#!/usr/bin/env bash
# Install the Debian packages that Tessera's build, tests and benchmarks need.
# Idempotent: installs only what is missing; uses sudo when not root.
#   scripts/deps.sh          build and test dependencies
#   scripts/deps.sh bench    ... plus the benchmarks' peers (h5py)
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libjansson-dev liblmdb-dev lmdb-utils libcmocka-dev
  libblosc-dev libzstd-dev liblz4-dev zlib1g-dev
  clang libclang-rt-14-dev
  python3 python3-numpy python3-zarr python3-numcodecs python3-lmdb
  libcurl4-openssl-dev libssl-dev
  # the S3 tests: a throwaway Ceph RGW (scripts/rgw.sh) and boto3 as the peer
  radosgw ceph-mon ceph-osd curl python3-boto3
  # rasters: the GDAL adapter (optional at build time; its tests need it)
  libgdal-dev gdal-bin python3-gdal
)

# `deps.sh bench`: also the peers the benchmarks compare against.
if [[ ${1:-} == bench ]]; then
  PACKAGES+=(python3-h5py)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
