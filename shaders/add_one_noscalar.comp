// A kernel with buffers but no scalar argument: on current Halide the
// argument block still exists and holds only the buffers' offsets. The
// element count comes from the bound range.
#version 450
layout(local_size_x = 32) in;
layout(std140, binding = 0) uniform Args {
    int off_out;
    int off_in;
} args;
layout(std430, binding = 1) buffer Out { int data[]; } out_buf;
layout(std430, binding = 2) readonly buffer In { int data[]; } in_buf;
void main() {
    int x = int(gl_WorkGroupID.x * 32u + gl_LocalInvocationID.x);
    if (x + args.off_out < out_buf.data.length()) {
        out_buf.data[x + args.off_out] = in_buf.data[x + args.off_in] + 1;
    }
}
