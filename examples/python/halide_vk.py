"""halide_vk -- ctypes bindings for halide-vk-runtime (libhalide_vk_runtime.so).

No build step and no dependency beyond the standard library; numpy is used
only if you ask for it (Buffer.to_numpy). Python 3.6+.

    import array, halide_vk as hvk
    rt = hvk.Runtime()                       # or Runtime('/path/libhalide_vk_runtime.so.0')
    data = array.array('f', range(100))
    buf = hvk.Buffer(data, [100])            # halide_buffer_t over the array's memory
    rt.copy_to_device(buf)                   # allocates device memory, uploads
    ...
    rt.copy_to_host(buf)                     # results land in `data`
    rt.device_free(buf)
    rt.release()                             # halide_device_release

Every call that returns a Halide error code raises HalideError carrying the
code and the messages the runtime passed to halide_error (collected by the
Python error handler this module installs).

The library is found from, in order: the path given to Runtime(), the
environment variable HALIDE_VK_RUNTIME_LIB, then the system's
libhalide_vk_runtime.so.0.
"""
import array
import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_bool, c_char_p, c_int, c_int8, c_int32, c_size_t,
                    c_uint8, c_uint16, c_uint32, c_uint64, c_void_p)

__all__ = ['HalideError', 'Runtime', 'Buffer', 'halide_type_t', 'halide_dimension_t', 'halide_buffer_t',
           'halide_device_interface_t', 'TYPE_INT', 'TYPE_UINT', 'TYPE_FLOAT', 'HOST_DIRTY', 'DEVICE_DIRTY']

# halide_type_code_t
TYPE_INT, TYPE_UINT, TYPE_FLOAT, TYPE_HANDLE, TYPE_BFLOAT = 0, 1, 2, 3, 4
# halide_buffer_flags
HOST_DIRTY, DEVICE_DIRTY = 1, 2

# ---------------------------------------------------------------------------
# The C structures (HalideRuntime.h)
# ---------------------------------------------------------------------------


class halide_type_t(Structure):
    _fields_ = [('code', c_uint8), ('bits', c_uint8), ('lanes', c_uint16)]

    def bytes(self):
        return (self.bits + 7) // 8


class halide_dimension_t(Structure):
    _fields_ = [('min', c_int32), ('extent', c_int32), ('stride', c_int32), ('flags', c_uint32)]


class halide_device_interface_t(Structure):
    pass  # fields below: they refer to halide_buffer_t


class halide_buffer_t(Structure):
    _fields_ = [
        ('device', c_uint64),
        ('device_interface', POINTER(halide_device_interface_t)),
        ('host', POINTER(c_uint8)),
        ('flags', c_uint64),
        ('type', halide_type_t),
        ('dimensions', c_int32),
        ('dim', POINTER(halide_dimension_t)),
        ('padding', c_void_p),
    ]


_buf_p = POINTER(halide_buffer_t)
_iface_p = POINTER(halide_device_interface_t)

halide_device_interface_t._fields_ = [
    ('device_malloc', CFUNCTYPE(c_int, c_void_p, _buf_p, _iface_p)),
    ('device_free', CFUNCTYPE(c_int, c_void_p, _buf_p)),
    ('device_sync', CFUNCTYPE(c_int, c_void_p, _buf_p)),
    ('device_release', CFUNCTYPE(None, c_void_p, _iface_p)),
    ('copy_to_host', CFUNCTYPE(c_int, c_void_p, _buf_p)),
    ('copy_to_device', CFUNCTYPE(c_int, c_void_p, _buf_p, _iface_p)),
    ('device_and_host_malloc', CFUNCTYPE(c_int, c_void_p, _buf_p, _iface_p)),
    ('device_and_host_free', CFUNCTYPE(c_int, c_void_p, _buf_p)),
    ('buffer_copy', CFUNCTYPE(c_int, c_void_p, _buf_p, _iface_p, _buf_p)),
    ('device_crop', CFUNCTYPE(c_int, c_void_p, _buf_p, _buf_p)),
    ('device_slice', CFUNCTYPE(c_int, c_void_p, _buf_p, c_int, c_int, _buf_p)),
    ('device_release_crop', CFUNCTYPE(c_int, c_void_p, _buf_p)),
    ('wrap_native', CFUNCTYPE(c_int, c_void_p, _buf_p, c_uint64, _iface_p)),
    ('detach_native', CFUNCTYPE(c_int, c_void_p, _buf_p)),
    ('compute_capability', CFUNCTYPE(c_int, c_void_p, POINTER(c_int), POINTER(c_int))),
    ('impl', c_void_p),
]

halide_error_handler_t = CFUNCTYPE(None, c_void_p, c_char_p)

# array.array typecodes for each Halide scalar type.
_TYPECODES = {(TYPE_FLOAT, 32): 'f', (TYPE_FLOAT, 64): 'd', (TYPE_UINT, 8): 'B', (TYPE_INT, 8): 'b',
              (TYPE_UINT, 16): 'H', (TYPE_INT, 16): 'h', (TYPE_UINT, 32): 'I', (TYPE_INT, 32): 'i',
              (TYPE_UINT, 64): 'Q', (TYPE_INT, 64): 'q'}
_FROM_TYPECODE = {v: k for k, v in _TYPECODES.items()}


class HalideError(RuntimeError):
    """A Halide runtime call returned a non-zero halide_error_code_t."""

    def __init__(self, call, code, messages):
        self.call = call
        self.code = code
        self.messages = list(messages)
        text = '%s returned %d' % (call, code)
        if self.messages:
            text += ': ' + ' | '.join(self.messages)
        super().__init__(text)


# ---------------------------------------------------------------------------
# Buffers
# ---------------------------------------------------------------------------


class Buffer:
    """A halide_buffer_t over host memory the Python side owns.

    `host` is an array.array (or any writable buffer: bytearray, a ctypes
    array, a numpy array); `shape` lists the extents, innermost first, dense
    unless `strides` (in elements) is given. `type` defaults from the array's
    typecode. The object keeps the host memory, the dimension array and the
    C struct alive; pass `buf.ref` (a pointer) to C.
    """

    def __init__(self, host, shape, type=None, strides=None, mins=None):
        if type is None:
            code = getattr(host, 'typecode', None)
            if code not in _FROM_TYPECODE:
                raise ValueError('give type= for host memory without an array typecode')
            type = halide_type_t(*_FROM_TYPECODE[code], 1)
        elif isinstance(type, tuple):
            type = halide_type_t(type[0], type[1], 1)
        self.host_object = host
        self.dims = (halide_dimension_t * max(1, len(shape)))()
        stride = 1
        for i, extent in enumerate(shape):
            s = strides[i] if strides is not None else stride
            self.dims[i] = halide_dimension_t(mins[i] if mins is not None else 0, extent, s, 0)
            stride *= extent
        self.struct = halide_buffer_t()
        self.struct.type = type
        self.struct.dimensions = len(shape)
        self.struct.dim = self.dims
        if host is not None:
            # The address of the element at the min coordinates.
            self._host_view = (ctypes.c_char * len(memoryview(host).cast('B'))).from_buffer(host)
            self.struct.host = ctypes.cast(self._host_view, POINTER(c_uint8))
        self.parent = None

    @property
    def ref(self):
        return byref(self.struct)

    @property
    def ptr(self):
        return ctypes.pointer(self.struct)

    @property
    def device(self):
        return self.struct.device

    def set_host_dirty(self, v=True):
        self.struct.flags = (self.struct.flags | HOST_DIRTY) if v else (self.struct.flags & ~HOST_DIRTY)

    def set_device_dirty(self, v=True):
        self.struct.flags = (self.struct.flags | DEVICE_DIRTY) if v else (self.struct.flags & ~DEVICE_DIRTY)

    def crop_view(self, mins, extents):
        """A new Buffer describing a sub-rectangle of this one (coordinates
        of this buffer), sharing its host memory; no device state yet (make it
        with Runtime.device_crop)."""
        t = self.struct.type
        view = Buffer(None, list(extents), type=t,
                      strides=[self.dims[i].stride for i in range(len(extents))], mins=list(mins))
        offset = sum((mins[i] - self.dims[i].min) * self.dims[i].stride for i in range(len(extents)))
        if self.struct.host:
            addr = ctypes.addressof(self.struct.host.contents) + offset * t.bytes()
            view.struct.host = ctypes.cast(c_void_p(addr), POINTER(c_uint8))
        view.host_object = self.host_object
        view.parent = self
        return view

    def memoryview(self):
        """The host memory as a memoryview in the element type."""
        mv = memoryview(self.host_object)
        code = _TYPECODES.get((self.struct.type.code, self.struct.type.bits))
        return mv.cast('B').cast(code) if code is not None and mv.format != code else mv

    def to_numpy(self):
        """numpy view of the host memory (imports numpy; optional)."""
        import numpy  # noqa: only when asked
        code = _TYPECODES[(self.struct.type.code, self.struct.type.bits)]
        return numpy.frombuffer(self.host_object, dtype=numpy.dtype(code))


# ---------------------------------------------------------------------------
# The library
# ---------------------------------------------------------------------------


def _find_library(path=None):
    if path:
        return path
    env = os.environ.get('HALIDE_VK_RUNTIME_LIB')
    if env:
        return env
    return 'libhalide_vk_runtime.so.0'


class Runtime:
    """The loaded library, with a Python error handler installed."""

    def __init__(self, path=None):
        self.path = _find_library(path)
        self.lib = ctypes.CDLL(self.path)
        self.errors = []
        self._declare()
        # Keep the C callback alive as long as the Runtime (it is global in C).
        self._handler = halide_error_handler_t(self._on_error)
        self.lib.halide_set_error_handler(self._handler)
        self.interface = self.lib.halide_vulkan_device_interface()
        if not self.interface:
            raise RuntimeError('halide_vulkan_device_interface returned null')
        self.iface = self.interface.contents  # the table of function pointers

    def _on_error(self, user_context, msg):
        self.errors.append(msg.decode('utf-8', 'replace').rstrip('\n') if msg else '')

    def _declare(self):
        L = self.lib
        sig = {
            'halide_set_error_handler': (halide_error_handler_t, [halide_error_handler_t]),
            'halide_vulkan_device_interface': (_iface_p, []),
            'halide_device_malloc': (c_int, [c_void_p, _buf_p, _iface_p]),
            'halide_device_free': (c_int, [c_void_p, _buf_p]),
            'halide_copy_to_device': (c_int, [c_void_p, _buf_p, _iface_p]),
            'halide_copy_to_host': (c_int, [c_void_p, _buf_p]),
            'halide_device_sync': (c_int, [c_void_p, _buf_p]),
            'halide_device_crop': (c_int, [c_void_p, _buf_p, _buf_p]),
            'halide_device_release_crop': (c_int, [c_void_p, _buf_p]),
            'halide_device_release': (None, [c_void_p, _iface_p]),
            'halide_vulkan_wrap_vk_buffer': (c_int, [c_void_p, _buf_p, c_uint64, c_uint64]),
            'halide_vulkan_detach_vk_buffer': (c_int, [c_void_p, _buf_p]),
            'halide_vulkan_get_vk_buffer': (ctypes.c_size_t, [c_void_p, _buf_p]),
            'halide_vulkan_get_vk_crop_offset': (c_uint64, [c_void_p, _buf_p]),
            'halide_vulkan_initialize_kernels': (c_int, [c_void_p, POINTER(c_void_p), c_char_p, c_int]),
            'halide_vulkan_run': (c_int, [c_void_p, c_void_p, c_char_p, c_int, c_int, c_int, c_int, c_int, c_int,
                                          c_int, POINTER(c_size_t), POINTER(c_void_p), POINTER(c_int8)]),
            'halide_vulkan_finalize_kernels': (None, [c_void_p, c_void_p]),
            'halide_vulkan_is_initialized': (c_bool, []),
            'halide_vk_runtime_version': (c_char_p, []),
            'halide_vk_get_selected_device_name': (c_int, [c_void_p, c_char_p, c_size_t]),
            'halide_vk_get_validation_message_count': (c_uint64, []),
        }
        for name, (res, args) in sig.items():
            f = getattr(L, name)
            f.restype = res
            f.argtypes = args

    def _check(self, call, rc):
        if rc != 0:
            raise HalideError(call, rc, self.errors[-3:])
        return rc

    # -- information --------------------------------------------------------
    def version(self):
        return self.lib.halide_vk_runtime_version().decode()

    def device_name(self):
        buf = ctypes.create_string_buffer(256)
        self._check('halide_vk_get_selected_device_name',
                    self.lib.halide_vk_get_selected_device_name(None, buf, len(buf)))
        return buf.value.decode('utf-8', 'replace')

    def validation_message_count(self):
        return self.lib.halide_vk_get_validation_message_count()

    # -- buffers (generic API: validation and dirty bits) ---------------------
    def device_malloc(self, b):
        self._check('halide_device_malloc', self.lib.halide_device_malloc(None, b.ref, self.interface))

    def device_free(self, b):
        self._check('halide_device_free', self.lib.halide_device_free(None, b.ref))

    def copy_to_device(self, b):
        self._check('halide_copy_to_device', self.lib.halide_copy_to_device(None, b.ref, self.interface))

    def copy_to_host(self, b):
        self._check('halide_copy_to_host', self.lib.halide_copy_to_host(None, b.ref))

    def device_sync(self, b):
        self._check('halide_device_sync', self.lib.halide_device_sync(None, b.ref))

    def device_crop(self, src, dst):
        """Crop through the interface table (halide_vulkan_device_interface()
        ->device_crop), the way generated code reaches it. `dst` describes
        the window (Buffer.crop_view); it gets a device handle that aliases
        src's memory."""
        self._check('device_interface->device_crop', self.iface.device_crop(None, src.ref, dst.ref))

    def device_release_crop(self, b):
        self._check('device_interface->device_release_crop', self.iface.device_release_crop(None, b.ref))

    def release(self):
        """halide_device_release: destroys the runtime's Vulkan context."""
        self.lib.halide_device_release(None, self.interface)

    # -- Vulkan specifics -----------------------------------------------------
    def get_vk_buffer(self, b):
        return self.lib.halide_vulkan_get_vk_buffer(None, b.ref)

    def get_vk_crop_offset(self, b):
        return self.lib.halide_vulkan_get_vk_crop_offset(None, b.ref)

    def wrap_vk_buffer(self, b, vk_buffer, offset):
        self._check('halide_vulkan_wrap_vk_buffer',
                    self.lib.halide_vulkan_wrap_vk_buffer(None, b.ref, vk_buffer, offset))

    def detach_vk_buffer(self, b):
        self._check('halide_vulkan_detach_vk_buffer', self.lib.halide_vulkan_detach_vk_buffer(None, b.ref))

    # -- kernels ----------------------------------------------------------------
    def load_kernels(self, blob):
        """A kernel blob (bytes) -> Kernels, as generated code's per-pipeline state."""
        return Kernels(self, blob)


class Kernels:
    """One pipeline's kernel blob and state slot (what Halide-generated code
    keeps in a static variable)."""

    def __init__(self, runtime, blob):
        self.rt = runtime
        self.blob = ctypes.create_string_buffer(bytes(blob), len(blob))
        self.state = c_void_p(None)

    def initialize(self):
        self.rt._check('halide_vulkan_initialize_kernels',
                       self.rt.lib.halide_vulkan_initialize_kernels(None, byref(self.state), self.blob,
                                                                    len(self.blob)))

    def run(self, entry, blocks, threads, args, shared_mem_bytes=0):
        """args: Buffer objects and ctypes scalars (c_float(2.0), c_int32(n)),
        in the kernel's order. Like generated code, mark the outputs
        device-dirty afterwards (Buffer.set_device_dirty)."""
        n = len(args)
        sizes = (c_size_t * (n + 1))()
        ptrs = (c_void_p * (n + 1))()
        is_buffer = (c_int8 * (n + 1))()
        keep = []
        for i, a in enumerate(args):
            if isinstance(a, Buffer):
                sizes[i] = 8
                ptrs[i] = ctypes.addressof(a.struct)
                is_buffer[i] = 1
            else:
                sizes[i] = ctypes.sizeof(a)
                ptrs[i] = ctypes.addressof(a)
                keep.append(a)
        b = list(blocks) + [1] * (3 - len(blocks))
        t = list(threads) + [1] * (3 - len(threads))
        self.rt._check('halide_vulkan_run(%s)' % entry,
                       self.rt.lib.halide_vulkan_run(None, self.state, entry.encode(), b[0], b[1], b[2], t[0], t[1],
                                                     t[2], shared_mem_bytes, sizes, ptrs, is_buffer))
        del keep  # the runtime copied the scalars into the argument block

    def finalize(self):
        self.rt.lib.halide_vulkan_finalize_kernels(None, self.state)


def float_array(values):
    return array.array('f', values)
