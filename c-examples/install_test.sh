#!/bin/sh
# Installs the build into a temporary prefix, checks the layout, then builds
# and runs a small program against the installed package twice: with
# find_package(Ivy) (shared and static targets) and with pkg-config.
#   install_test.sh BUILD_DIR PROJECT_DIR CMAKE LIBDIR
set -eu
build="$1"
proj="$2"
cmake="$3"
libdir="$4"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

"$cmake" --install "$build" --prefix "$prefix" > "$tmp/install.log"

for f in $libdir/libivy.so.3.15 $libdir/libivy.a $libdir/pkgconfig/ivy-c.pc \
         $libdir/cmake/Ivy/IvyConfig.cmake $libdir/cmake/Ivy/IvyConfigVersion.cmake bin/ivyprobe \
         include/Ivy/ivy.h include/Ivy/ivyloop.h include/Ivy/ivychannel.h include/Ivy/timer.h \
         include/Ivy/ivybind.h include/Ivy/version.h include/Ivy/ivyglibloop.h \
         include/Ivy/ivysocket.h include/Ivy/ivybuffer.h include/Ivy/ivydebug.h include/Ivy/list.h; do
    test -e "$prefix/$f" || { echo "FAIL: $f not installed"; exit 1; }
done
for l in libivy.so.3 libivy.so; do
    test -L "$prefix/$libdir/$l" || { echo "FAIL: lib/$l is not a symlink"; exit 1; }
done
grep -qx "prefix=$prefix" "$prefix/$libdir/pkgconfig/ivy-c.pc" || { echo "FAIL: ivy-c.pc prefix"; cat "$prefix/$libdir/pkgconfig/ivy-c.pc"; exit 1; }
grep -qx "Version: 3.15" "$prefix/$libdir/pkgconfig/ivy-c.pc" || { echo "FAIL: ivy-c.pc version"; exit 1; }

echo "== find_package(Ivy)"
"$cmake" -S "$proj" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/configure.log"
"$cmake" --build "$tmp/cmake-build" > "$tmp/build.log"
"$tmp/cmake-build/hello_shared"
"$tmp/cmake-build/hello_static"
# the shared one really uses libivy.so.3
ldd "$tmp/cmake-build/hello_shared" | grep -q "libivy.so.3 => $prefix/$libdir/libivy.so.3" \
    || { echo "FAIL: hello_shared does not load the installed libivy.so.3"; ldd "$tmp/cmake-build/hello_shared"; exit 1; }

echo "== pkg-config ivy-c"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs ivy-c)
echo "pkg-config --cflags --libs ivy-c: $flags"
cc -Wall -Wextra -Werror -o "$tmp/hello_pc" "$proj/hello.c" $flags
LD_LIBRARY_PATH="$prefix/$libdir" "$tmp/hello_pc"
# static, with Libs.private
cc -Wall -Wextra -Werror -o "$tmp/hello_pc_static" "$proj/hello.c" $(pkg-config --cflags ivy-c) \
    "$prefix/$libdir/libivy.a" $(pkg-config --static --libs-only-l ivy-c | sed 's/-livy//')
"$tmp/hello_pc_static"
echo "ok: installed package works with find_package(Ivy) and pkg-config"
