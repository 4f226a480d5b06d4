// out = uint8(min(3 * in / 2 + offset, 255)) with 8-bit buffers and an
// 8-bit scalar (after the 32-bit one, as Halide sorts them).
#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
layout(local_size_x = 64) in;
layout(std140, binding = 0) uniform Args {
    int n;
    uint8_t offset;
    int off_out;
    int off_in;
} args;
layout(std430, binding = 1) buffer Out { uint8_t data[]; } out_buf;
layout(std430, binding = 2) readonly buffer In { uint8_t data[]; } in_buf;
void main() {
    int x = int(gl_WorkGroupID.x * 64u + gl_LocalInvocationID.x);
    if (x < args.n) {
        uint v = uint(in_buf.data[x + args.off_in]) * 3u / 2u + uint(args.offset);
        out_buf.data[x + args.off_out] = uint8_t(min(v, 255u));
    }
}
