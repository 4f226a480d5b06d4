/* Exits with a context, live device buffers and a crop still around, and
 * no halide_device_release: the runtime's exit handler must tear everything
 * down cleanly (no crash, no validation message) before the driver unloads. */
#include <stdio.h>
#include <string.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"

int main(void) {
    static float host[4096];
    halide_dimension_t dim = {0, 4096, 1, 0};
    halide_buffer_t buf;
    memset(&buf, 0, sizeof(buf));
    buf.type.code = halide_type_float;
    buf.type.bits = 32;
    buf.type.lanes = 1;
    buf.dimensions = 1;
    buf.dim = &dim;
    buf.host = (uint8_t *)host;
    for (int i = 0; i < 4096; i++) host[i] = (float)i;
    buf.flags = halide_buffer_flag_host_dirty;
    if (halide_copy_to_device(NULL, &buf, halide_vulkan_device_interface()) != 0) {
        return 1;
    }
    halide_buffer_t crop = buf;
    halide_dimension_t crop_dim = {100, 50, 1, 0};
    crop.dim = &crop_dim;
    crop.device = 0;
    crop.device_interface = NULL;
    if (halide_device_crop(NULL, &buf, &crop) != 0) {
        return 1;
    }
    printf("exiting with live buffers\n");
    return 0;
}
