#!/usr/bin/env bash
# Builds the C benchmark (c-examples/bench/ivy_bench.c) against a libivy.so.3.
#
#   c-examples/bench/build.sh [OUTPUT]       (default: target/bench-c/ivy_bench)
#
# IVY_LIBDIR=dir  link against the libivy.so found there (e.g. an ivy-c 3.15 build)
#                 instead of building ours; IVY_INCLUDE=dir for its headers (the
#                 directory that holds Ivy/ivy.h; default: include/ of this tree).
# Without IVY_LIBDIR, ours is built with CMake into target/bench-cbuild (tests off).
# The binary gets no rpath on purpose: run it with LD_LIBRARY_PATH pointing at the
# libivy.so.3 to measure (bench/run.sh does), so that the same binary runs against
# any implementation.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/bench-c/ivy_bench}
inc=${IVY_INCLUDE:-$root/crates/libivy/include}
if [ -z "${IVY_LIBDIR:-}" ]; then
    IVY_LIBDIR=$root/target/bench-cbuild
    cmake -S "$root" -B "$IVY_LIBDIR" -DCMAKE_BUILD_TYPE=Release -DIVY_BUILD_TESTS=OFF >/dev/null
    cmake --build "$IVY_LIBDIR" --target ivy >/dev/null
fi
mkdir -p "$(dirname "$out")"
cc -std=c11 -O2 -Wall -Wextra -Werror -I "$inc" -o "$out" "$root/c-examples/bench/ivy_bench.c" \
    -L "$IVY_LIBDIR" -livy
echo "$out (run with LD_LIBRARY_PATH=$IVY_LIBDIR)"
