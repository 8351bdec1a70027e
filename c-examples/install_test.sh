#!/bin/sh
# Installs the build into a temporary prefix, checks the layout, then builds
# and runs small programs against the installed package, with find_package(Ivy)
# (shared and static targets) and with pkg-config: one on the library's loop
# (hello.c), one with ivychannel.h of its own (own_channels.c) and, with the
# GLib flavour, one on GLib's loop (hello_glib.c, linked with libglibivy alone).
#   install_test.sh BUILD_DIR PROJECT_DIR CMAKE LIBDIR WITH_GLIB(ON|OFF)
set -eu
build="$1"
proj="$2"
cmake="$3"
libdir="$4"
glib="$5"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
port=$((30000 + $$ % 20000))  # private bus ports for the programs that start one

"$cmake" --install "$build" --prefix "$prefix" > "$tmp/install.log"

files="$libdir/libivy.so.3.15 $libdir/libivy.a $libdir/pkgconfig/ivy-c.pc
    $libdir/cmake/Ivy/IvyConfig.cmake $libdir/cmake/Ivy/IvyConfigVersion.cmake bin/ivyprobe
    include/Ivy/ivy.h include/Ivy/ivyloop.h include/Ivy/ivychannel.h include/Ivy/timer.h
    include/Ivy/ivybind.h include/Ivy/version.h include/Ivy/ivyglibloop.h
    include/Ivy/ivysocket.h include/Ivy/ivybuffer.h include/Ivy/ivydebug.h include/Ivy/list.h"
links="libivy.so.3 libivy.so"
if [ "$glib" = ON ]; then
    files="$files $libdir/libglibivy.so.3.15 $libdir/libglibivy.a $libdir/pkgconfig/ivy-glib.pc"
    links="$links libglibivy.so.3 libglibivy.so"
fi
for f in $files; do
    test -e "$prefix/$f" || { echo "FAIL: $f not installed"; exit 1; }
done
for l in $links; do
    test -L "$prefix/$libdir/$l" || { echo "FAIL: lib/$l is not a symlink"; exit 1; }
done
for pc in ivy-c $( [ "$glib" = ON ] && echo ivy-glib ); do
    grep -qx "prefix=$prefix" "$prefix/$libdir/pkgconfig/$pc.pc" || { echo "FAIL: $pc.pc prefix"; cat "$prefix/$libdir/pkgconfig/$pc.pc"; exit 1; }
    grep -qx "Version: 3.15" "$prefix/$libdir/pkgconfig/$pc.pc" || { echo "FAIL: $pc.pc version"; exit 1; }
done
if [ "$glib" = ON ]; then
    grep -qx "Requires: glib-2.0" "$prefix/$libdir/pkgconfig/ivy-glib.pc" || { echo "FAIL: ivy-glib.pc Requires"; exit 1; }
fi

# The shared program `exe` loads the installed library `lib`.
loads() {
    ldd "$1" | grep -q "$2 => $prefix/$libdir/$2" || { echo "FAIL: $1 does not load the installed $2"; ldd "$1"; exit 1; }
}

echo "== find_package(Ivy)"
"$cmake" -S "$proj" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DIVY_EXPECT_GLIB="$glib" > "$tmp/configure.log"
"$cmake" --build "$tmp/cmake-build" > "$tmp/build.log"
for kind in shared static; do
    "$tmp/cmake-build/hello_$kind"
    "$tmp/cmake-build/own_channels_$kind" "$port"
    [ "$glib" = ON ] && "$tmp/cmake-build/hello_glib_$kind" "$port"
done
loads "$tmp/cmake-build/hello_shared" libivy.so.3
loads "$tmp/cmake-build/own_channels_shared" libivy.so.3
[ "$glib" = ON ] && loads "$tmp/cmake-build/hello_glib_shared" libglibivy.so.3

export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
export LD_LIBRARY_PATH="$prefix/$libdir"
# Builds $proj/SOURCE.c with pkg-config PACKAGE (LIB: its library), shared and
# static (the archive and Libs.private), and runs both with ARGS.
pc_build() {
    source="$1"; package="$2"; lib="$3"; shift 3
    flags=$(pkg-config --cflags --libs "$package")
    echo "pkg-config --cflags --libs $package: $flags"
    cc -Wall -Wextra -Werror -o "$tmp/${source}_pc" "$proj/$source.c" $flags
    "$tmp/${source}_pc" "$@"
    loads "$tmp/${source}_pc" "lib$lib.so.3"
    cc -Wall -Wextra -Werror -o "$tmp/${source}_pc_static" "$proj/$source.c" $(pkg-config --cflags "$package") \
        "$prefix/$libdir/lib$lib.a" $(pkg-config --static --libs-only-l "$package" | sed "s/-l$lib //")
    "$tmp/${source}_pc_static" "$@"
}
echo "== pkg-config ivy-c"
pc_build hello ivy-c ivy
pc_build own_channels ivy-c ivy "$port"
if [ "$glib" = ON ]; then
    echo "== pkg-config ivy-glib"
    pc_build hello_glib ivy-glib glibivy "$port"
fi
echo "ok: installed package works with find_package(Ivy) and pkg-config"
