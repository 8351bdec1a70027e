#!/bin/sh
# Compiles every header of DIR/Ivy (the directory CMake installs as
# include/Ivy) as C99 and as C++11 with -pedantic -Werror: each header on its
# own, included twice, in both include styles (<Ivy/x.h> with -I DIR, "x.h"
# with -I DIR/Ivy); then all of them together, with their macros used (list.h,
# ivydebug.h with and without DEBUG).
#   check_headers.sh CC CXX DIR
set -eu
cc="$1"
cxx="$2"
dir="$3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

c_flags="-std=c99 -pedantic -Werror -Wall -Wextra -Wstrict-prototypes"
cxx_flags="-std=c++11 -pedantic -Werror -Wall -Wextra"
status=0
count=0

# compile NAME: NAME.c as C and as C++, with both include paths.
compile() {
    cp "$tmp/$1.c" "$tmp/$1.cpp"
    # shellcheck disable=SC2086
    if ! "$cc" $c_flags -I "$dir" -I "$dir/Ivy" -fsyntax-only "$tmp/$1.c" \
        || ! "$cxx" $cxx_flags -I "$dir" -I "$dir/Ivy" -fsyntax-only "$tmp/$1.cpp"; then
        echo "FAIL: $1"
        status=1
    fi
    count=$((count + 1))
}

for h in "$dir"/Ivy/*.h; do
    name=$(basename "$h" .h)
    printf '#include <Ivy/%s.h>\n#include "%s.h"\nint main(void) { return 0; }\n' "$name" "$name" > "$tmp/$name.c"
    compile "$name"
done

{
    for h in "$dir"/Ivy/*.h; do
        printf '#include <Ivy/%s>\n' "$(basename "$h")"
    done
    cat <<'EOF'
struct node { struct node *next; int value; };
int main(void)
{
    struct node *list = NULL, *p = NULL, *nxt = NULL;
    int sum = 0;
    IVY_LIST_ADD_START(list, p)
        p->value = 1;
    IVY_LIST_ADD_END(list, p)
    IVY_LIST_EACH(list, p) sum += p->value;
    IVY_LIST_ITER(list, p, p->value != 1);
    IVY_LIST_EACH_SAFE(list, p, nxt) sum += p->value;
    IVY_LIST_REMOVE(list, list);
    IVY_LIST_EMPTY(list);
    TRACE("sum %d\n", sum);
    TRACE_IF(sum != 2, "sum %d\n", sum);
    TRACE("no argument\n");
    return sum == 2 ? 0 : 1;
}
EOF
} > "$tmp/all.c"
compile all
{ echo '#define DEBUG 1'; cat "$tmp/all.c"; } > "$tmp/all_debug.c"
compile all_debug

[ "$status" -eq 0 ] && echo "ok: $count translation units compile as C99 and C++11 with -pedantic -Werror"
exit $status
