#!/bin/sh
# Builds the library and runs the demo on the default Vulkan device: the GPU
# if there is one, lavapipe otherwise. Installs what it needs first.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build}"
if [ -f "$BUILD_DIR/build.ninja" ]; then
    meson setup --reconfigure "$BUILD_DIR" >/dev/null
else
    meson setup "$BUILD_DIR"
fi
meson compile -C "$BUILD_DIR"
if [ -x "$BUILD_DIR/examples/demo/demo" ]; then
    exec "$BUILD_DIR/examples/demo/demo" "$@"
fi
exec "$BUILD_DIR/tools/halide-vk-info" "$@"
