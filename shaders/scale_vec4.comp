// Vectorised buffers: runtime arrays of vec4 (ArrayStride 16), as Halide
// declares them when every access is a dense aligned 4-wide vector. The
// offsets count vec4 elements.
#version 450
layout(local_size_x = 32) in;
layout(std140, binding = 0) uniform Args {
    float scale;
    int n4;
    int off_out;
    int off_in;
} args;
layout(std430, binding = 1) buffer Out { vec4 data[]; } out_buf;
layout(std430, binding = 2) readonly buffer In { vec4 data[]; } in_buf;
void main() {
    int x = int(gl_GlobalInvocationID.x);
    if (x < args.n4) {
        out_buf.data[x + args.off_out] = in_buf.data[x + args.off_in] * args.scale;
    }
}
