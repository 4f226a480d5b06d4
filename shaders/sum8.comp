// Many buffers: out = in0 + in1 + ... + in7 (int32), each with its own offset.
#version 450
layout(local_size_x = 64) in;
layout(std140, binding = 0) uniform Args {
    int n;
    int off0;
    int off1;
    int off2;
    int off3;
    int off4;
    int off5;
    int off6;
    int off7;
    int off8;
} args;
layout(std430, binding = 1) buffer Out { int data[]; } out_buf;
layout(std430, binding = 2) readonly buffer In0 { int data[]; } in0;
layout(std430, binding = 3) readonly buffer In1 { int data[]; } in1;
layout(std430, binding = 4) readonly buffer In2 { int data[]; } in2;
layout(std430, binding = 5) readonly buffer In3 { int data[]; } in3;
layout(std430, binding = 6) readonly buffer In4 { int data[]; } in4;
layout(std430, binding = 7) readonly buffer In5 { int data[]; } in5;
layout(std430, binding = 8) readonly buffer In6 { int data[]; } in6;
layout(std430, binding = 9) readonly buffer In7 { int data[]; } in7;
void main() {
    int x = int(gl_GlobalInvocationID.x);
    if (x < args.n) {
        out_buf.data[x + args.off0] = in0.data[x + args.off1] + in1.data[x + args.off2] +
                                        in2.data[x + args.off3] + in3.data[x + args.off4] +
                                        in4.data[x + args.off5] + in5.data[x + args.off6] +
                                        in6.data[x + args.off7] + in7.data[x + args.off8];
    }
}
