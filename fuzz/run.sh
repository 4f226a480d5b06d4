#!/bin/sh
# Short (or long) libFuzzer runs of the fuzz targets, on demand.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      default: 30 s, blob and regions
#
# Environment:
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz next to the sources);
#                   configured here with CC=clang CXX=clang++ -Dfuzzers=true if missing
#   FUZZ_JOBS       parallel libFuzzer processes per target (default 1)
#   FUZZ_MERGE=1    afterwards, merge what the run found into fuzz/corpus/<target>/
#                   (libFuzzer -merge=1: only inputs that add coverage)
#   VK_DRIVER_FILES the Vulkan ICD for fuzz_regions (default: lavapipe)
#
# Exit status: non-zero when a target crashed or failed a check; the input
# is in $FUZZ_BUILD_DIR/fuzz-artifacts/ (replay it with
# HVK_FUZZ_INPUTS=<file> meson test -C build fuzz_corpus_<target> -v, or run
# the libFuzzer binary on it directly).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
seconds=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-blob regions}
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
jobs=${FUZZ_JOBS:-1}

if [ ! -f "$build/build.ninja" ]; then
    CC=clang CXX=clang++ meson setup "$build" "$src" -Dfuzzers=true -Dtests=false
fi
ninja -C "$build" $(for t in $targets; do printf 'fuzz/fuzz_%s ' "$t"; done)

: "${VK_DRIVER_FILES:=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json}"
export VK_DRIVER_FILES VK_ICD_FILENAMES="$VK_DRIVER_FILES" NODEVICE_SELECT=1
# fuzz_regions runs without the validation layer unless HL_VK_LAYERS says otherwise.
cd "$build"  # -jobs writes fuzz-N.log here
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
status=0
for t in $targets; do
    work="$build/fuzz-corpus/$t"
    mkdir -p "$work"
    echo "== fuzz_$t: $seconds s, $jobs job(s)"
    if [ "$jobs" -gt 1 ]; then
        set -- -jobs="$jobs" -workers="$jobs"
    else
        set --
    fi
    if ! "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
        "$@" "$work" "$here/corpus/$t"; then
        echo "fuzz_$t FAILED: see $artifacts" >&2
        status=1
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "$build/fuzz/fuzz_$t" -merge=1 "$here/corpus/$t" "$work"
    fi
done
exit $status
