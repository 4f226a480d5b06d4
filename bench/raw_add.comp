// Raw-Vulkan baseline kernel for bench_kernels: b[i] += 1 over n uints
// (n in a push constant), one storage buffer at binding 0.
#version 450
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer B { uint data[]; } b;
layout(push_constant) uniform P { uint n; } p;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < p.n) {
        b.data[i] += 1u;
    }
}
