// Pre-#8954 layout (Halide v16-v21) without scalars: no argument block at
// all, storage buffers from binding 0, no index offsets.
#version 450
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer Out { int data[]; } out_buf;
layout(std430, binding = 1) readonly buffer In { int data[]; } in_buf;
void main() {
    int x = int(gl_WorkGroupID.x * 32u + gl_LocalInvocationID.x);
    if (x < out_buf.data.length()) {
        out_buf.data[x] = in_buf.data[x] * 2;
    }
}
