#!/bin/sh
# c++ for a plain (uninstrumented) host of a sanitized libhalide_vk_runtime:
# compiles as usual, and links the sanitizer runtime(s) named by
# HVK_SANITIZER_RUNTIME as the first DT_NEEDED of the executable, so that
# the runtime comes first in the process (ASan and TSan require that; an
# LD_PRELOAD would also reach the compilers and shells around the host).
# The real compiler: HVK_HOST_CXX (default c++). Used as CXX for the Halide
# fixture harnesses (tests/fixtures/meson.build).
cxx="${HVK_HOST_CXX:-c++}"
if [ -z "${HVK_SANITIZER_RUNTIME:-}" ]; then
    exec $cxx "$@"
fi
for a in "$@"; do
    case "$a" in
        -c|-S|-E) exec $cxx "$@" ;;   # no link step
    esac
done
# shellcheck disable=SC2086  # a space-separated list of paths
exec $cxx -Wl,--push-state,--no-as-needed $HVK_SANITIZER_RUNTIME -Wl,--pop-state "$@"
