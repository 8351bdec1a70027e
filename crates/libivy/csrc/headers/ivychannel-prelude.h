/* The file descriptor type of channels (ivy-c: SOCKET on Windows). */
#ifndef IVY_HANDLE
#define IVY_HANDLE int
#endif
