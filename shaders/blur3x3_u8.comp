// 3x3 box blur of an 8-bit image with edges clamped to the image:
// out(x, y) = round(sum of in(clamp(x+i), clamp(y+j)), i,j in -1..1) / 9).
// Laid out as Halide's Vulkan back end lays out a 2-D kernel: scalars
// (extents, then row strides) in the argument block, then one int32 element
// offset per buffer that the runtime fills in. Used by examples/demo.
#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
layout(local_size_x = 16, local_size_y = 16) in;
layout(std140, binding = 0) uniform Args {
    int width;
    int height;
    int stride_out;
    int stride_in;
    int off_out;
    int off_in;
} args;
layout(std430, binding = 1) buffer Out { uint8_t data[]; } out_buf;
layout(std430, binding = 2) readonly buffer In { uint8_t data[]; } in_buf;
void main() {
    int x = int(gl_GlobalInvocationID.x);
    int y = int(gl_GlobalInvocationID.y);
    if (x >= args.width || y >= args.height) {
        return;
    }
    uint s = 0u;
    for (int j = -1; j <= 1; j++) {
        int yy = clamp(y + j, 0, args.height - 1);
        for (int i = -1; i <= 1; i++) {
            int xx = clamp(x + i, 0, args.width - 1);
            s += uint(in_buf.data[xx + yy * args.stride_in + args.off_in]);
        }
    }
    out_buf.data[x + y * args.stride_out + args.off_out] = uint8_t((s + 4u) / 9u);
}
