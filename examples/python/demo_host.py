#!/usr/bin/env python3
"""A Python host for halide-vk-runtime through ctypes (halide_vk.py).

usage: demo_host.py [--lib LIB] [--blob BLOB]

  LIB   libhalide_vk_runtime.so (default: $HALIDE_VK_RUNTIME_LIB, then the
        system's libhalide_vk_runtime.so.0)
  BLOB  the project's "basic" kernel blob, build/shaders/basic.blob
        (default: $HALIDE_VK_BLOB)

It allocates, uploads, wraps the runtime's own VkBuffer at an offset onto a
second halide_buffer_t, runs k_scale_f32 on the wrapped buffer and on crops
made through the device interface table, reads the results back into Python
arrays and checks them against a Python reference, checks that errors reach
the Python error handler, then detaches, frees and releases. Exit status 0
when every check passed (and, with validation on, no validation message).
"""
import argparse
import array
import os
import sys
from ctypes import c_float, c_int32

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import halide_vk as hvk  # noqa: E402

N = 1000
CROP_MIN, CROP_EXTENT = 203, 500
# Where the wrapped view starts inside the runtime's own allocation: 64
# elements in (256 bytes: a multiple of any device's
# minStorageBufferOffsetAlignment), plus 3 elements, so the kernel sees an
# element offset that is not storage-aligned.
WRAP_ELEMENTS = 64 + 3


def scale_ref(x, s, b):
    """float32 x * s + b; exact for the integer inputs used here."""
    return array.array('f', [x * s + b])[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--lib', default=os.environ.get('HALIDE_VK_RUNTIME_LIB'))
    ap.add_argument('--blob', default=os.environ.get('HALIDE_VK_BLOB'))
    opts = ap.parse_args()
    if not opts.blob:
        ap.error('give --blob build/shaders/basic.blob (or set HALIDE_VK_BLOB)')
    with open(opts.blob, 'rb') as f:
        blob = f.read()

    rt = hvk.Runtime(opts.lib)
    print('python_host: halide-vk-runtime %s from %s' % (rt.version(), rt.path))
    print('python_host: device: %s' % rt.device_name())
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print('python_host: FAIL: %s' % what, file=sys.stderr)

    # Input: host array -> runtime-owned device buffer.
    in_host = array.array('f', [float(i - 100) for i in range(N)])
    inp = hvk.Buffer(in_host, [N])
    inp.set_host_dirty()
    rt.copy_to_device(inp)

    # A runtime-owned allocation big enough for the view plus slack ...
    big_host = array.array('f', [0.0] * (N + 2 * WRAP_ELEMENTS))
    big = hvk.Buffer(big_host, [len(big_host)])
    rt.device_malloc(big)
    vk_buffer = rt.get_vk_buffer(big)
    base = rt.get_vk_crop_offset(big)
    check(vk_buffer != 0, 'get_vk_buffer returned 0')
    # ... whose VkBuffer we wrap again, at an offset, onto a second buffer.
    out_host = array.array('f', [-1.0] * N)
    out = hvk.Buffer(out_host, [N])
    wrap_offset = base + WRAP_ELEMENTS * 4
    rt.wrap_vk_buffer(out, vk_buffer, wrap_offset)
    check(rt.get_vk_buffer(out) == vk_buffer, 'wrapped buffer reports another VkBuffer')
    check(rt.get_vk_crop_offset(out) == wrap_offset, 'wrapped buffer reports offset %d, expected %d' %
          (rt.get_vk_crop_offset(out), wrap_offset))
    print('python_host: wrapped VkBuffer 0x%x at offset %d (the runtime allocation starts at %d)' %
          (vk_buffer, wrap_offset, base))

    # One pipeline call: out = in * 3 + 1, then on crops made through the
    # interface table: out[CROP] = in[CROP] * 0.5 - 2.
    kernels = rt.load_kernels(blob)
    kernels.initialize()
    kernels.run('k_scale_f32', [(N + 63) // 64], [64], [out, inp, c_float(3.0), c_float(1.0), c_int32(N)])
    out_crop = out.crop_view([CROP_MIN], [CROP_EXTENT])
    in_crop = inp.crop_view([CROP_MIN], [CROP_EXTENT])
    rt.device_crop(out, out_crop)
    rt.device_crop(inp, in_crop)
    check(rt.get_vk_crop_offset(out_crop) == wrap_offset + CROP_MIN * 4, 'crop offset')
    kernels.run('k_scale_f32', [(CROP_EXTENT + 63) // 64], [64],
                [out_crop, in_crop, c_float(0.5), c_float(-2.0), c_int32(CROP_EXTENT)])
    kernels.finalize()
    out.set_device_dirty()

    # Results into the Python array (through its memoryview) and the check.
    rt.copy_to_host(out)
    got = out.memoryview()
    bad = 0
    for i in range(N):
        if CROP_MIN <= i < CROP_MIN + CROP_EXTENT:
            want = scale_ref(in_host[i], 0.5, -2.0)
        else:
            want = scale_ref(in_host[i], 3.0, 1.0)
        if got[i] != want:
            if bad < 5:
                print('python_host: element %d: got %r, expected %r' % (i, got[i], want), file=sys.stderr)
            bad += 1
    check(bad == 0, '%d wrong elements' % bad)

    # The wrapped view aliases the runtime's allocation: read that back too.
    big.set_device_dirty()
    rt.copy_to_host(big)
    check(list(big_host[WRAP_ELEMENTS:WRAP_ELEMENTS + N]) == list(out_host),
          'the runtime allocation does not show what was written through the wrapped view')

    # Errors come back as codes and reach the Python handler.
    before = len(rt.errors)
    try:
        rt.wrap_vk_buffer(out, vk_buffer, 0)  # already has a device allocation
        check(False, 'wrapping a buffer twice did not fail')
    except hvk.HalideError as e:
        check(e.code == -32, 'double wrap returned %d, expected -32' % e.code)
        check(len(rt.errors) > before, 'the Python error handler received nothing')
        print('python_host: expected error reached the Python handler: %s' % rt.errors[-1])

    # Tear down: crops, detach the view (the VkBuffer stays the runtime's),
    # free, release.
    rt.device_release_crop(out_crop)
    rt.device_release_crop(in_crop)
    rt.detach_vk_buffer(out)
    check(out.device == 0, 'detach left a device handle')
    rt.device_free(big)
    rt.device_free(inp)
    rt.release()
    check(not rt.lib.halide_vulkan_is_initialized(), 'context still alive after halide_device_release')
    if os.environ.get('HVK_TEST_VALIDATION') == '1':
        check(rt.validation_message_count() == 0, '%d validation messages' % rt.validation_message_count())

    try:
        import numpy  # noqa: F401  (optional)
        print('python_host: numpy view of the results: %s' % (out.to_numpy()[:4],))
    except ImportError:
        pass
    if failures:
        print('python_host: %d failure(s)' % len(failures), file=sys.stderr)
        return 1
    print('python_host: OK: k_scale_f32 on a wrapped view at offset %d and on crops; first results %s' %
          (wrap_offset, list(got[:4])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
