#!/usr/bin/env bash
# Installs a Swift 6 toolchain into /opt/swift inside cibuildwheel's manylinux_2_34 image
# (AlmaLinux 9, the same base as swift.org's UBI 9 toolchains), for x86_64 or aarch64.
set -euo pipefail
version="${SWIFT_VERSION:-6.3.1}"
case "$(uname -m)" in
    x86_64) platform=ubi9 ;;
    aarch64) platform=ubi9-aarch64 ;;
    *) echo "no Swift toolchain for $(uname -m)" >&2; exit 1 ;;
esac
dnf install -y -q binutils gcc libstdc++-devel libcurl-devel libedit python3 sqlite zlib-devel >/dev/null
url="https://download.swift.org/swift-${version}-release/${platform}/swift-${version}-RELEASE/swift-${version}-RELEASE-${platform}.tar.gz"
mkdir -p /opt/swift
curl -fsSL "$url" | tar -xz -C /opt/swift --strip-components=1
/opt/swift/usr/bin/swift --version
