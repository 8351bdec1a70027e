/* The printf format attributes below are a GCC/Clang extension. */
#ifndef __GNUC__
#define __attribute__(x)
#endif
