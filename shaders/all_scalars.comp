// Every scalar type Halide can pass, widest first, then the offset of the
// one output buffer. Each value is stored to out[] as raw bits so the host
// can check the packing of the argument block.
#version 450
#extension GL_EXT_shader_explicit_arithmetic_types : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_8bit_storage : require
layout(local_size_x = 1) in;
layout(std140, binding = 0) uniform Args {
    double f64;
    int64_t i64;
    uint64_t u64;
    float f32;
    int i32;
    uint u32;
    float16_t f16;
    int16_t i16;
    uint16_t u16;
    int8_t i8;
    uint8_t u8;
    int off_out;
} args;
layout(std430, binding = 1) buffer Out { uint data[]; } out_buf;
void main() {
    int o = args.off_out;
    uvec2 d = unpackDouble2x32(args.f64);
    out_buf.data[o + 0] = d.x;
    out_buf.data[o + 1] = d.y;
    out_buf.data[o + 2] = uint(args.i64 & 0xffffffffl);
    out_buf.data[o + 3] = uint(args.i64 >> 32);
    out_buf.data[o + 4] = uint(args.u64 & 0xfffffffful);
    out_buf.data[o + 5] = uint(args.u64 >> 32);
    out_buf.data[o + 6] = floatBitsToUint(args.f32);
    out_buf.data[o + 7] = uint(args.i32);
    out_buf.data[o + 8] = args.u32;
    out_buf.data[o + 9] = uint(float16BitsToUint16(args.f16));
    out_buf.data[o + 10] = uint(int(args.i16));
    out_buf.data[o + 11] = uint(args.u16);
    out_buf.data[o + 12] = uint(int(args.i8));
    out_buf.data[o + 13] = uint(args.u8);
}
