#!/bin/sh
# The whole test suite, from a fresh Debian machine: installs what it needs,
# builds, and runs every test on lavapipe with the Khronos validation layer,
# in three passes (docs/testing.md):
#   1. build/       plain build, core validation (meson test)
#   2. build/       the same tests with synchronization validation
#                   (meson test --setup sync)
#   3. build-asan/  -Db_sanitize=address,undefined, core validation
# Any failing test fails the script (it stops at the first failing pass).
# Extra arguments go to `meson setup` of both builds (e.g. -Dtest_icd=system).
# HVK_TEST_SYNC=0 skips pass 2, HVK_TEST_ASAN=0 pass 3; BUILD_DIR and
# ASAN_BUILD_DIR rename the build folders.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

# meson setup DIR ARGS..., or reconfigure DIR with ARGS if it exists.
configure() {
    dir="$1"
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@"
    fi
}

BUILD_DIR="${BUILD_DIR:-build}"
configure "$BUILD_DIR" "$@"
meson compile -C "$BUILD_DIR"
echo "== test.sh: core validation ($BUILD_DIR)"
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2

if [ "${HVK_TEST_SYNC:-1}" != 0 ]; then
    echo "== test.sh: synchronization validation ($BUILD_DIR, --setup sync)"
    meson test -C "$BUILD_DIR" --setup sync --print-errorlogs --num-processes 2
fi

if [ "${HVK_TEST_ASAN:-1}" != 0 ]; then
    ASAN_BUILD_DIR="${ASAN_BUILD_DIR:-build-asan}"
    echo "== test.sh: AddressSanitizer + UndefinedBehaviorSanitizer ($ASAN_BUILD_DIR)"
    configure "$ASAN_BUILD_DIR" "$@" -Db_sanitize=address,undefined -Db_lundef=false
    meson compile -C "$ASAN_BUILD_DIR"
    meson test -C "$ASAN_BUILD_DIR" --print-errorlogs --num-processes 2
fi
if [ "${HVK_TEST_FUZZ:-1}" != 0 ]; then
    # A short libFuzzer run of both targets (clang build in build-fuzz); the
    # corpora themselves are replayed by every meson test run above.
    echo "== test.sh: libFuzzer, ${HVK_FUZZ_SECONDS:-20} s per target (build-fuzz)"
    ./fuzz/run.sh "${HVK_FUZZ_SECONDS:-20}"
fi
echo "== test.sh: all passes succeeded"
