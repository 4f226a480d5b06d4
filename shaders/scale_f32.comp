// out[x] = in[x] * scale + bias, written the way Halide's Vulkan back end
// lays out a kernel: argument block at binding 0 with the scalars (widest
// first) then one int32 element offset per buffer; buffers follow as
// runtime arrays, indices shifted by their offsets.
#version 450
layout(local_size_x = 64) in;
layout(std140, binding = 0) uniform Args {
    float scale;
    float bias;
    int n;
    int off_out;
    int off_in;
} args;
layout(std430, binding = 1) buffer Out { float data[]; } out_buf;
layout(std430, binding = 2) readonly buffer In { float data[]; } in_buf;
void main() {
    int x = int(gl_WorkGroupID.x * 64u + gl_LocalInvocationID.x);
    if (x < args.n) {
        out_buf.data[x + args.off_out] = in_buf.data[x + args.off_in] * args.scale + args.bias;
    }
}
