#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/corpus/{blob,regions}/seed-*.

blob: every fixture blob (tests/data/*.blob, cut from the Halide AOT fixture
objects) and every project test blob (shaders/, from a build directory's
shaders/test_kernel_blobs.h), each under a few control-byte prefixes (see
fuzz_blob.cpp), plus a few hand-made corrupt blobs.
regions: hand-written operation programs (see fuzz_regions.cpp).

Usage: fuzz/make_seeds.py BUILD_DIR   (a configured normal build)
"""
import os
import re
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'build')


def write(target, name, data):
    d = os.path.join(here, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(bytes(data))


blobs = {}
data_dir = os.path.join(root, 'tests', 'data')
for f in sorted(os.listdir(data_dir)):
    if f.endswith('.blob'):
        blobs['fixture-' + f[:-5]] = open(os.path.join(data_dir, f), 'rb').read()
header = os.path.join(build, 'shaders', 'test_kernel_blobs.h')
text = open(header).read()
for m in re.finditer(r'hvk_blob_(\w+)\[\] = \{([^}]*)\}', text):
    blobs['project-' + m.group(1)] = bytes(int(x, 16) for x in re.findall(r'0x[0-9a-fA-F]{2}', m.group(2)))

# control byte, fail_nth byte
variants = {
    'full-off': (0x00, 0),
    'full-warn-run': (0x84, 0),
    'bare10-strict': (0x09, 0),
    'v11-push-warn': (0x16, 0),
    'v12-oom7': (0x03, 7),
    'full-failmodule': (0x20, 0),
    'full-faillayout-oom40': (0x40, 40),
}
for name, blob in blobs.items():
    for vname, (c, n) in variants.items():
        write('blob', name + '-' + vname, bytes([c, n]) + blob)

# Corrupt blobs.
basic = blobs['project-basic']
write('blob', 'corrupt-truncated', bytes([0x80, 0]) + basic[:len(basic) // 2])
write('blob', 'corrupt-count', bytes([0x80, 0]) + struct.pack('<I', 0x7fffffff) + basic[4:])
write('blob', 'corrupt-size', bytes([0x80, 0]) + basic[:4] + struct.pack('<I', 0xfffffff0) + basic[8:])
write('blob', 'corrupt-empty', bytes([0, 0]))
write('blob', 'corrupt-zero-modules', bytes([0, 0]) + struct.pack('<I', 0))
write('blob', 'corrupt-trailing', bytes([0, 0]) + basic + b'\0\0\0\0')

# regions: op byte = (slot << 4) | op; then the second-slot byte; then operands.
def prog(*ops):
    return bytes([0]) + bytes(b for op in ops for b in op)

M = lambda s, shape: [(s << 4) | 0, 0] + shape        # malloc into slot s
U = lambda s, seed: [(s << 4) | 2, 0, seed]            # upload
D = lambda s: [(s << 4) | 3, 0]                         # download
C = lambda s, t, a, b: [(s << 4) | 4, t, a, b]          # crop t -> s
S = lambda s, t, a: [(s << 4) | 5, t, a]                # slice t -> s
W = lambda s, shape, k, off: [(s << 4) | 6, 0] + shape + [k, off & 255, off >> 8]
WO = lambda s, t, shape, off: [(s << 4) | 7, t] + shape + [off]
F = lambda s: [(s << 4) | 8, 0]
RC = lambda s: [(s << 4) | 9, 0]
DT = lambda s: [(s << 4) | 10, 0]
CP = lambda s, t: [(s << 4) | 11, t]                    # device copy t -> s
DH = lambda s, t: [(s << 4) | 12, t]                    # device -> host t -> s
ST = lambda a, x=0: [13, 0, a, x, x, x, x, x]           # stale / foreign
G = lambda s, n: [(s << 4) | 14, 0, n]
Q = lambda s: [(s << 4) | 15, 0]
TRIM = lambda s: [0x80 | (s << 4) | 15, 0]

sh1 = [0x04 - 4, 30, 0]          # u8? 1-D, extent 31
sh2 = [0x05, 12, 0x23]           # 2-D u16 with padding
sh3 = [0x02, 20, 0]              # 1-D u32

write('regions', 'malloc-upload-download', prog(M(0, sh1), U(0, 9), D(0), Q(0), F(0)))
write('regions', 'nested-crops', prog(M(0, sh2), U(0, 3), C(1, 0, 0x12, 0x21), C(2, 1, 0x01, 0x00), D(2), Q(2),
                                      F(0), D(2), U(2, 77), D(1), RC(2), RC(1)))
write('regions', 'slices', prog(M(0, sh2), U(0, 5), S(1, 0, 0x03), S(2, 0, 0x06), D(1), D(2), S(3, 1, 0x05),
                                D(3), F(1), F(2), F(3), F(0)))
write('regions', 'wrap-foreign', prog(W(0, sh2, 0, 256), U(0, 1), C(1, 0, 0x11, 0x02), F(0), DT(0), DT(1), DT(0),
                                      Q(0)))
write('regions', 'wrap-own', prog(M(0, sh3), U(0, 4), WO(1, 0, [0x00, 9, 0], 7), D(1), F(0), D(1), U(1, 8), DT(1)))
write('regions', 'copies', prog(M(0, sh2), M(1, sh2), U(0, 2), CP(1, 0), D(1), C(2, 0, 0x13, 0x12), CP(2, 1),
                                DH(3, 2), W(4, sh2, 1, 0), CP(4, 0), D(4), Q(4)))
write('regions', 'stale', prog(M(0, sh1), F(0), ST(1), ST(5), ST(9), ST(13), ST(17), ST(21), ST(25), ST(29),
                               ST(0, 0xA7)))
write('regions', 'grow', prog(M(0, sh3), U(0, 6), C(1, 0, 0x00, 0), G(0, 40), D(1), D(0), U(0, 1), D(0), TRIM(0)))
write('regions', 'bad-crops', prog(M(0, sh2), C(1, 0, 0x80, 0), C(2, 0, 0x7f, 0x7f), S(3, 0, 0xff), C(4, 5, 1, 1),
                                   F(0), F(0)))
write('regions', 'reuse-off', bytes([1]) + prog(M(0, sh1), M(1, sh2), F(0), M(2, sh1), U(2, 1), D(2))[1:])
print('seeds written')
