#!/bin/sh
# The whole test suite, from a fresh Debian machine: installs what it needs,
# builds, and runs every test on lavapipe with the Khronos validation layer.
# Extra arguments go to `meson setup` (e.g. -Db_sanitize=address,undefined).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build}"
if [ -f "$BUILD_DIR/build.ninja" ]; then
    meson setup --reconfigure "$BUILD_DIR" "$@" >/dev/null
else
    meson setup "$BUILD_DIR" "$@"
fi
meson compile -C "$BUILD_DIR"
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2
