#!/bin/sh
# Builds the library and the demo (examples/demo) and runs the demo on the
# default Vulkan device: the GPU if there is one, lavapipe otherwise.
# Installs what it needs first. Arguments go to the demo, e.g.
#   ./scripts/demo.sh --width 3840 --height 2160 --iterations 20
#   ./scripts/demo.sh --halide-fixtures ../shared/fixtures/halide-aot
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build}"
if [ -f "$BUILD_DIR/build.ninja" ]; then
    meson setup --reconfigure "$BUILD_DIR" >/dev/null
else
    meson setup "$BUILD_DIR"
fi
# Only what the demo needs (the library, its kernels, the demo); a build
# configured with -Dtests=false has no demo: build everything and fall back
# to halide-vk-info.
if ! meson compile -C "$BUILD_DIR" examples/demo/demo 2>/dev/null; then
    meson compile -C "$BUILD_DIR"
fi
if [ -x "$BUILD_DIR/examples/demo/demo" ]; then
    exec "$BUILD_DIR/examples/demo/demo" "$@"
fi
echo "demo: not built (configure with -Dtests=true); showing the device instead" >&2
exec "$BUILD_DIR/tools/halide-vk-info"
