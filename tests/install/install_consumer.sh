#!/bin/sh
# Installs the build tree into a temporary DESTDIR (meson install --destdir),
# then builds consumer.c against the *installed* files only, through
# pkg-config, as C99 and as C++, runs both, and runs the installed
# halide-vk-info. Nothing outside BUILD_DIR/OUT_DIR is written.
#
#   install_consumer.sh MESON BUILD_DIR OUT_DIR CONSUMER_SRC VERSION PKG_CONFIG
#   (CC, CXX and CONSUMER_FLAGS, e.g. -fsanitize=address, come from the
#   environment)
set -eu
MESON=$1 BUILD=$2 OUT=$3 SRC=$4 VERSION=$5 PKGCONF=$6
CC=${CC:-cc}
CXX=${CXX:-c++}
CONSUMER_FLAGS=${CONSUMER_FLAGS:-}

fail() { echo "FAIL install: $*" >&2; exit 1; }
step() { echo "== $*"; }

rm -rf "$OUT"
mkdir -p "$OUT"
DEST=$(cd "$OUT" && pwd)/root

step "meson install --destdir $DEST"
$MESON install -C "$BUILD" --destdir "$DEST" --no-rebuild --quiet > "$OUT/install.log" 2>&1 \
    || { cat "$OUT/install.log" >&2; fail "meson install failed"; }

PC=$(find "$DEST" -name halide-vk-runtime.pc | head -n 1)
[ -n "$PC" ] || fail "no halide-vk-runtime.pc installed"
PCDIR=$(dirname "$PC")
LIBDIR=$(dirname "$PCDIR")         # <prefix>/<libdir>/pkgconfig -> <prefix>/<libdir>
echo "pkg-config file: $PC"

step "library: soname and version links"
[ -f "$LIBDIR/libhalide_vk_runtime.so.$VERSION" ] || fail "missing $LIBDIR/libhalide_vk_runtime.so.$VERSION"
[ -L "$LIBDIR/libhalide_vk_runtime.so.0" ] || fail "missing soname link libhalide_vk_runtime.so.0"
[ -L "$LIBDIR/libhalide_vk_runtime.so" ] || fail "missing development link libhalide_vk_runtime.so"
[ "$(readlink -f "$LIBDIR/libhalide_vk_runtime.so")" = "$(readlink -f "$LIBDIR/libhalide_vk_runtime.so.$VERSION")" ] \
    || fail "libhalide_vk_runtime.so does not resolve to the versioned file"
if command -v readelf > /dev/null 2>&1; then
    readelf -d "$LIBDIR/libhalide_vk_runtime.so.$VERSION" | grep -q 'SONAME.*\[libhalide_vk_runtime\.so\.0\]' \
        || fail "SONAME is not libhalide_vk_runtime.so.0"
    readelf -V "$LIBDIR/libhalide_vk_runtime.so.$VERSION" | grep -q 'HALIDE_VK_RUNTIME_0' \
        || fail "no HALIDE_VK_RUNTIME_0 version node"
    if readelf -d "$LIBDIR/libhalide_vk_runtime.so.$VERSION" | grep -Eq 'R(UN)?PATH'; then
        fail "the installed library keeps a build-tree RPATH/RUNPATH"
    fi
fi

step "headers"
INCDIR=$(find "$DEST" -type d -name halide_vk_runtime -path '*/include/*' | head -n 1)
[ -n "$INCDIR" ] || fail "no include/halide_vk_runtime directory installed"
for h in HalideRuntime.h HalideRuntimeVulkan.h halide_vk_runtime.h; do
    [ -f "$INCDIR/$h" ] || fail "missing header $INCDIR/$h"
done

step "pkg-config (sysroot $DEST)"
# Only the installed .pc, with every -I/-L rebased into DESTDIR.
PKG_CONFIG_LIBDIR=$PCDIR
PKG_CONFIG_PATH=
PKG_CONFIG_SYSROOT_DIR=$DEST
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
[ "$($PKGCONF --modversion halide-vk-runtime)" = "$VERSION" ] || fail "pkg-config --modversion is not $VERSION"
CFLAGS_PC=$($PKGCONF --cflags halide-vk-runtime)
LIBS_PC=$($PKGCONF --libs halide-vk-runtime)
echo "cflags: $CFLAGS_PC"
echo "libs:   $LIBS_PC"
case "$CFLAGS_PC" in
    *"-I$INCDIR"*) ;;
    *) fail "pkg-config --cflags does not point at $INCDIR" ;;
esac
case "$LIBS_PC" in
    *"-L$LIBDIR"*"-lhalide_vk_runtime"*) ;;
    *) fail "pkg-config --libs does not name $LIBDIR and -lhalide_vk_runtime" ;;
esac

step "consumer, C99 (found through its RPATH)"
# shellcheck disable=SC2086
$CC -std=c99 -pedantic -Wall -Wextra -Werror $CONSUMER_FLAGS -o "$OUT/consumer_c99" "$SRC" $CFLAGS_PC $LIBS_PC \
    -Wl,-rpath,"$LIBDIR" -ldl || fail "C99 consumer does not compile against the installed tree"
# meson test sets LD_LIBRARY_PATH to the build tree, which would win over
# the consumer's RUNPATH: run without it.
env -u LD_LIBRARY_PATH "$OUT/consumer_c99" "$LIBDIR" || fail "C99 consumer failed"

step "consumer, C++ (found through LD_LIBRARY_PATH)"
# shellcheck disable=SC2086
$CXX -std=c++17 -Wall -Wextra -Werror $CONSUMER_FLAGS -x c++ "$SRC" -x none -o "$OUT/consumer_cxx" $CFLAGS_PC $LIBS_PC -ldl \
    || fail "C++ consumer does not compile against the installed tree"
LD_LIBRARY_PATH=$LIBDIR "$OUT/consumer_cxx" "$LIBDIR" \
    || fail "C++ consumer failed"

step "installed halide-vk-info"
INFO=$(find "$DEST" -type f -name halide-vk-info | head -n 1)
[ -n "$INFO" ] || fail "halide-vk-info is not installed"
[ -x "$INFO" ] || fail "$INFO is not executable"
rc=0
env -u LD_LIBRARY_PATH "$INFO" > "$OUT/info.txt" 2>&1 || rc=$?
cat "$OUT/info.txt"
[ "$rc" -eq 0 ] || fail "halide-vk-info exited with $rc"
grep -q "^halide-vk-runtime $VERSION" "$OUT/info.txt" || fail "halide-vk-info does not print the version"
grep -q "would use device" "$OUT/info.txt" || fail "halide-vk-info names no device"

echo "PASS install"
