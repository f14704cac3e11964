#!/bin/sh
# Prints npm's name (`cpu` in package.json, process.arch) for a Docker architecture, so that
# `npm ci` in the image installs the native packages of the image's platform, not of the
# machine that made the lockfile (.npmrc pins cpu=x64 for that; see
# infra/tools/lock-add-foreign-optionals.js).
#   sh infra/docker/npm-cpu.sh "$TARGETARCH"    (buildx sets TARGETARCH: amd64, arm64, ...)
# Without an argument (a builder that sets no TARGETARCH) it maps this machine's `uname -m`.
set -eu
arch="${1:-}"
if [ -z "$arch" ]; then
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    armv7l | armv7*) arch=arm ;;
    *) arch="$(uname -m)" ;;
  esac
fi
case "$arch" in
  amd64) echo x64 ;;
  arm64) echo arm64 ;;
  arm) echo arm ;;
  ppc64le) echo ppc64 ;;
  s390x) echo s390x ;;
  riscv64) echo riscv64 ;;
  *)
    echo "npm-cpu: no npm cpu name for architecture '$arch' (expected amd64, arm64, arm, ppc64le, s390x or riscv64)" >&2
    exit 1
    ;;
esac
