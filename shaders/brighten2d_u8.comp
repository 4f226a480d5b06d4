// 2-D brighten of an 8-bit image: out(x, y) = min(in(x, y) * gain / 256 +
// bias, 255), both images with their own row strides (so either can be a
// crop of a larger image). Halide-style argument block: scalars, then one
// int32 element offset per buffer. Used by examples/demo.
#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
layout(local_size_x = 16, local_size_y = 16) in;
layout(std140, binding = 0) uniform Args {
    int width;
    int height;
    int gain;
    int bias;
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
    int v = int(in_buf.data[x + y * args.stride_in + args.off_in]) * args.gain / 256 + args.bias;
    out_buf.data[x + y * args.stride_out + args.off_out] = uint8_t(clamp(v, 0, 255));
}
