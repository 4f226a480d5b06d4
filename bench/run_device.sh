#!/bin/bash
# Runs the benchmarks and the Halide AOT fixture binaries on a GPU machine
# (the device tool): everything is built beforehand on the development
# machine into BUILD (default build-bench: bench/, runtime/, and the fixture
# binaries that run.sh built into BUILD/fixtures). Logs go to $OUT (or
# ./bench-out). Usage: bench/run_device.sh [BUILD]
B="${1:-build-bench}"
OUT="${OUT:-$PWD/bench-out}"
mkdir -p "$OUT"
if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
ICD=""
for c in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
         /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$c" ] && { ICD="$c"; break; }
done
[ -n "$ICD" ] || { echo "no NVIDIA ICD found" >&2; exit 1; }
export VK_DRIVER_FILES="$ICD" VK_ICD_FILENAMES="$ICD" NODEVICE_SELECT=1
export LD_LIBRARY_PATH="$PWD/$B/runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{ nvidia-smi -L; nproc; echo "icd: $ICD"; } 2>&1 | tee "$OUT/env.log"

echo "== bench_kernels"; timeout 300 "$B/bench/bench_kernels" 2>&1 | tee "$OUT/kernels.log"
echo "== bench_memory"; timeout 300 "$B/bench/bench_memory" 2>&1 | tee "$OUT/memory.log"

echo "== fixtures"
{
    pass=0; fail=0
    for t in saxpy blur3x3_u16 two_stage offset_window brighten_u8 scale_f16 wrap_vk_buffer device_crop; do
        exe="$B/fixtures/$t"
        [ -x "$exe" ] || { echo "MISSING $t"; continue; }
        for v in "" odd; do
            out=$(timeout 120 "$exe" $v 2>/tmp/fx.err); rc=$?
            echo "$out" | grep -E '^(PASS|FAIL|TIME) '
            if [ $rc -eq 0 ] && echo "$out" | grep -qE '^PASS '; then pass=$((pass+1)); else
                fail=$((fail+1)); echo "  rc=$rc"; head -5 /tmp/fx.err; fi
        done
    done
    echo "$pass passed, $fail failed"
} 2>&1 | tee "$OUT/fixtures.log"

if [ -n "${RUN_TESTS:-}" ]; then
    echo "== tests on the GPU"
    mkdir -p /tmp/hvk-src/tests && [ -e /tmp/hvk-src/tests/data ] || ln -s "$PWD/tests/data" /tmp/hvk-src/tests/data
    for t in "$B/tests/vulkan/memory/test_copies" "$B/tests/vulkan/kernels/test_dispatch"; do
        [ -x "$t" ] && timeout 150 "$t" 2>&1 | grep -E '^\[  (PASSED|FAILED) |^\[==========\]|FAILED' | tail -8
    done 2>&1 | tee "$OUT/tests.log"
fi
