#ifndef __GNUC__
#define __attribute__(x)
#endif
