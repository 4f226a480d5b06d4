// 1-D 3-tap box blur of uint16 with edges clamped. Each work-group stages
// its inputs plus a one-element halo in shared memory whose length is a
// specialization constant (id 1), set from shared_mem_bytes at dispatch,
// as Halide does for dynamically sized GPU-shared allocations.
#version 450
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
layout(local_size_x = 64) in;
layout(constant_id = 1) const uint kTileLength = 16;
layout(std140, binding = 0) uniform Args {
    int n;
    int off_out;
    int off_in;
} args;
layout(std430, binding = 1) buffer Out { uint16_t data[]; } out_buf;
layout(std430, binding = 2) readonly buffer In { uint16_t data[]; } in_buf;
shared uint tile[kTileLength];
void main() {
    int base = int(gl_WorkGroupID.x * 64u);
    int lx = int(gl_LocalInvocationID.x);
    for (int i = lx; i < 66 && i < int(kTileLength); i += 64) {
        int src = clamp(base + i - 1, 0, args.n - 1);
        tile[i] = uint(in_buf.data[src + args.off_in]);
    }
    barrier();
    int x = base + lx;
    if (x < args.n) {
        uint s = tile[lx] + tile[lx + 1] + tile[lx + 2];
        out_buf.data[x + args.off_out] = uint16_t(s / 3u);
    }
}
