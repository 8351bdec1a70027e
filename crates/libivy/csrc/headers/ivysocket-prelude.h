/* struct sockaddr_storage and struct in6_addr (ivy-c's header includes these too). */
#include <netinet/in.h>
#include <sys/socket.h>

/* The port value meaning "any". */
#ifndef ANYPORT
#define ANYPORT 0
#endif

/* The file descriptor type of channels (ivy-c: SOCKET on Windows). */
#ifndef IVY_HANDLE
#define IVY_HANDLE int
#endif
