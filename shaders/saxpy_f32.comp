// 2-D saxpy: out(x, y) = a * x(x, y) + y(x, y), dense rows of `width`.
#version 450
layout(local_size_x = 16, local_size_y = 16) in;
layout(std140, binding = 0) uniform Args {
    float a;
    int width;
    int height;
    int stride_out;
    int stride_x;
    int stride_y;
    int off_out;
    int off_x;
    int off_y;
} args;
layout(std430, binding = 1) buffer Out { float data[]; } out_buf;
layout(std430, binding = 2) readonly buffer X { float data[]; } x_buf;
layout(std430, binding = 3) readonly buffer Y { float data[]; } y_buf;
void main() {
    int x = int(gl_WorkGroupID.x * 16u + gl_LocalInvocationID.x);
    int y = int(gl_WorkGroupID.y * 16u + gl_LocalInvocationID.y);
    if (x < args.width && y < args.height) {
        out_buf.data[x + y * args.stride_out + args.off_out] =
            args.a * x_buf.data[x + y * args.stride_x + args.off_x] + y_buf.data[x + y * args.stride_y + args.off_y];
    }
}
