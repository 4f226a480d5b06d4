// Pre-#8954 layout with scalars: the argument block holds only the scalars.
#version 450
layout(local_size_x = 32) in;
layout(std140, binding = 0) uniform Args {
    float scale;
    int n;
} args;
layout(std430, binding = 1) buffer Out { float data[]; } out_buf;
layout(std430, binding = 2) readonly buffer In { float data[]; } in_buf;
void main() {
    int x = int(gl_WorkGroupID.x * 32u + gl_LocalInvocationID.x);
    if (x < args.n) {
        out_buf.data[x] = in_buf.data[x] * args.scale;
    }
}
