// The same test, compiled as C++17: the headers must be usable from C++.
#include "test_api.c"
