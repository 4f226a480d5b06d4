#!/usr/bin/env python3
"""Packs compiled SPIR-V compute shaders into the kernel blob that Halide
embeds in a Vulkan pipeline object (spec 04 §4.2-4.4), so that the runtime's
dispatch path can be tested without Halide.

usage: wrap_blob.py MANIFEST.json OUT_HEADER NAME=FILE.spv [NAME=FILE.spv ...]

MANIFEST maps blob names to lists of kernels:

  {"basic": [{"entry": "k_scale", "spv": "scale_f32", "uniform": 1, "storage": 2,
              "specs": [["tile_length", 1]],
              "shared": [["tile", 1, 4, 16]],
              "local_size_ids": [0, 0, 0]}, ...], ...}

  entry           entry point name written to the header; the SPIR-V's
                  OpEntryPoint (glslc always says "main") is renamed to it
  spv             NAME of a FILE.spv given on the command line
  uniform         uniform buffer count U (0 or 1)
  storage         storage buffer count B
  specs           specialization constants: [name, id] (4-byte uint32 type)
  shared          shared allocations: [name, constant id or 0, element bytes, length]
  local_size_ids  constant ids of the work-group size, or 0 0 0

OUT_HEADER gets one `static const unsigned char hvk_blob_<name>[]` array (and a
`hvk_blob_<name>_size` constant) per blob. An output whose name ends in
`.blob` instead gets the raw bytes of the one blob named by its base name
(e.g. out/demo.blob: blob "demo"), for hosts that load blobs from files
(examples/). Words are written little endian, which is the host byte order
on every platform the runtime supports.
"""
import json
import struct
import sys

OP_ENTRY_POINT = 15
OP_NAME = 5
SPIRV_MAGIC = 0x07230203


def encode_string(s):
    """floor(len/4)+1 words: the bytes, NUL padded (always at least one NUL)."""
    raw = s.encode('ascii')
    nwords = len(raw) // 4 + 1
    raw = raw + b'\0' * (nwords * 4 - len(raw))
    return [nwords] + list(struct.unpack('<%dI' % nwords, raw))


def decode_string(words):
    raw = struct.pack('<%dI' % len(words), *words)
    return raw.split(b'\0', 1)[0].decode('ascii')


def rename_entry_point(spirv, new_name):
    """Returns the SPIR-V words with every OpEntryPoint (and the OpName of its
    function) renamed to new_name."""
    words = list(struct.unpack('<%dI' % (len(spirv) // 4), spirv))
    if words[0] != SPIRV_MAGIC:
        raise SystemExit('not a SPIR-V module')
    out = words[:5]
    entry_funcs = set()
    old_names = set()
    i = 5
    while i < len(words):
        n = words[i] >> 16
        op = words[i] & 0xffff
        if n == 0:
            raise SystemExit('malformed SPIR-V')
        inst = words[i:i + n]
        if op == OP_ENTRY_POINT:
            model, func = inst[1], inst[2]
            # The name is a literal string starting at word 3; interface ids follow.
            name_words = 0
            while True:
                w = inst[3 + name_words]
                name_words += 1
                if (w >> 24) == 0 or (w & 0xff) == 0 or ((w >> 8) & 0xff) == 0 or ((w >> 16) & 0xff) == 0:
                    break
            old_names.add(decode_string(inst[3:3 + name_words]))
            interface = inst[3 + name_words:]
            enc = encode_string(new_name)[1:]
            inst = [((3 + len(enc) + len(interface)) << 16) | OP_ENTRY_POINT, model, func] + enc + interface
            entry_funcs.add(func)
        elif op == OP_NAME and inst[1] in entry_funcs:
            enc = encode_string(new_name)[1:]
            inst = [((2 + len(enc)) << 16) | OP_NAME, inst[1]] + enc
        out += inst
        i += n
    if not entry_funcs:
        raise SystemExit('no OpEntryPoint found')
    return out


def encode_kernel(k, spirv_words):
    rec = encode_string(k['entry'])
    rec += [k['uniform'], k['storage']]
    specs = k.get('specs', [])
    rec.append(len(specs))
    for name, cid in specs:
        rec += encode_string(name) + [cid, 4]
    shared = k.get('shared', [])
    rec.append(len(shared))
    for name, cid, esize, length in shared:
        rec += encode_string(name) + [cid, esize, length]
    rec += list(k.get('local_size_ids', [0, 0, 0]))
    header = [2 + len(rec), 1] + rec
    return header + spirv_words


def build_blob(kernels, spv_files):
    modules = []
    for k in kernels:
        with open(spv_files[k['spv']], 'rb') as f:
            spirv = f.read()
        modules.append((k['entry'], encode_kernel(k, rename_entry_point(spirv, k['entry']))))
    words = [len(modules)]
    for name, mod in modules:
        words += [4 * len(mod)] + encode_string(name)
    for _, mod in modules:
        words += mod
    return struct.pack('<%dI' % len(words), *words)


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    manifest_path, out_path = sys.argv[1], sys.argv[2]
    spv_files = {}
    for arg in sys.argv[3:]:
        name, path = arg.split('=', 1)
        spv_files[name] = path
    with open(manifest_path) as f:
        manifest = json.load(f)
    if out_path.endswith('.blob'):
        blob_name = out_path.replace('\\', '/').split('/')[-1][:-len('.blob')]
        if blob_name not in manifest:
            raise SystemExit('no blob named %r in %s' % (blob_name, manifest_path))
        with open(out_path, 'wb') as f:
            f.write(build_blob(manifest[blob_name], spv_files))
        return 0
    lines = ['// Generated by shaders/wrap_blob.py from %s; do not edit.' % manifest_path.split('/')[-1],
             '#pragma once', '#include <stddef.h>', '']
    for blob_name in sorted(manifest):
        data = build_blob(manifest[blob_name], spv_files)
        lines.append('alignas(4) static const unsigned char hvk_blob_%s[] = {' % blob_name)
        for i in range(0, len(data), 16):
            lines.append('    ' + ', '.join('0x%02x' % b for b in data[i:i + 16]) + ',')
        lines.append('};')
        lines.append('static const size_t hvk_blob_%s_size = %d;' % (blob_name, len(data)))
        lines.append('')
    with open(out_path, 'w') as f:
        f.write('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
