// The one place the runtime includes Vulkan. volk supplies every function
// pointer: the loader is opened at run time, never linked, so the library
// still loads on a machine without libvulkan.
#pragma once

#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <volk.h>
