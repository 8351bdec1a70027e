#!/bin/sh
# Checks a shared library of the C API, libivy.so.3.15 or libglibivy.so.3.15:
# SONAME libNAME.so.3; the dynamic symbols are exactly the functions declared
# in the headers (plus IvyIdle, exported undeclared as by ivy-c); no Rust
# symbol leaks.
#   check_symbols.sh LIBNAME_SO INCLUDE_IVY_DIR
set -eu
so="$1"
inc="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expected=$(basename "$so" | sed -E 's/^(lib[^.]+\.so\.[0-9]+).*/\1/')
soname=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "$expected" ]; then
    echo "FAIL: SONAME is '$soname', expected $expected"
    exit 1
fi

# Function declarations: "<type> Name(" at the start of a line, outside typedefs.
cat "$inc"/*.h \
    | grep -E '^(extern )?[A-Za-z_][A-Za-z0-9_ ]*[ *]+[A-Za-z_][A-Za-z0-9_]*\(' \
    | grep -vE '^(typedef|#)' \
    | sed -E 's/^[^(]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/' \
    | sort -u > "$tmp/declared"
echo IvyIdle >> "$tmp/declared"
sort -u -o "$tmp/declared" "$tmp/declared"

nm -D --defined-only "$so" | awk '{ print $3 }' | sort -u > "$tmp/exported"

status=0
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "FAIL: exported symbols differ from the header functions (- declared, + exported)"
    status=1
fi
if grep -E '^(_ZN|_R|rust_)' "$tmp/exported"; then
    echo "FAIL: Rust symbols are exported"
    status=1
fi
count=$(wc -l < "$tmp/exported")
[ "$status" -eq 0 ] && echo "ok: SONAME $soname, $count C API symbols exported, nothing else"
exit $status
