#!/bin/sh
# Installs exactly the Debian packages halide-vk-runtime needs to build, test
# and run its demo. Idempotent: does nothing when everything is present.
set -eu

PACKAGES="build-essential pkg-config meson ninja-build python3 \
libvulkan-dev libvulkan-volk-dev spirv-tools glslc googletest libgtest-dev \
mesa-vulkan-drivers vulkan-validationlayers \
clang libclang-rt-14-dev clang-tidy"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-deps: need root or sudo to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
