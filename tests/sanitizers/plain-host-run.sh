#!/bin/sh
# Runs a plain (uninstrumented) host that loads a sanitized
# libhalide_vk_runtime -- an interpreter such as python3 (ctypes dlopen)
# -- with the sanitizer runtime(s) of HVK_SANITIZER_RUNTIME in LD_PRELOAD,
# so that they come first in the process. Without HVK_SANITIZER_RUNTIME
# (plain builds) it just runs the command.
#   plain-host-run.sh [--interpreter] COMMAND [ARGS...]
# --interpreter: leak checking off (ASan's detect_leaks=0). CPython does
# not free its own heap at exit and its frames cannot be unwound, so its
# leaks cannot be told from ours; memory errors are still fatal, and the
# C hosts and GoogleTests check our leaks.
interpreter=
if [ "${1:-}" = --interpreter ]; then
    interpreter=1
    shift
fi
if [ -n "${HVK_SANITIZER_RUNTIME:-}" ]; then
    LD_PRELOAD="$HVK_SANITIZER_RUNTIME${LD_PRELOAD:+ $LD_PRELOAD}"
    export LD_PRELOAD
    if [ -n "$interpreter" ]; then
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
        export ASAN_OPTIONS
    fi
fi
exec "$@"
