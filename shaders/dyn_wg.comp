// Work-group size from specialization constants 1, 2, 3 (Halide's dynamic
// thread extents). out(x, y) = x + 1000 * y for x < width, y < height.
#version 450
layout(local_size_x_id = 1, local_size_y_id = 2, local_size_z_id = 3) in;
layout(std140, binding = 0) uniform Args {
    int width;
    int height;
    int off_out;
} args;
layout(std430, binding = 1) buffer Out { int data[]; } out_buf;
void main() {
    int x = int(gl_GlobalInvocationID.x);
    int y = int(gl_GlobalInvocationID.y);
    if (x < args.width && y < args.height) {
        out_buf.data[x + y * args.width + args.off_out] = x + 1000 * y;
    }
}
