/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVYSOCKET_H
#define IVYSOCKET_H

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

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN cbindgen: generated from src/ivysocket.rs; IVY_UPDATE_HEADERS=1 cargo build rewrites it */

/**
 * Result of a send on a connection of the socket layer (ivy-protocol.md §7).
 */
typedef enum {
    /**
     * Written.
     */
    SendOk,
    /**
     * Queued behind earlier bytes.
     */
    SendStillCongestion,
    /**
     * The socket took part of it or none: the rest is queued, the
     * connection is congested from now on.
     */
    SendStateChangeToCongestion,
    /**
     * Never used for a send (the decongestion handler tells it).
     */
    SendStateChangeToDecongestion,
    /**
     * Dropped: the queue is full.
     */
    SendStateFifoFull,
    /**
     * The socket failed, or the client is a datagram socket.
     */
    SendError,
    /**
     * NULL or stale client, NULL buffer or negative length.
     */
    SendParamError,
} SendState;

/**
 * A listening socket of the socket layer (opaque).
 */
typedef struct _server *Server;

/**
 * A connection or a datagram socket of the socket layer (opaque).
 */
typedef struct _client *Client;

/**
 * Called with each line received (LF removed; writable, NUL-terminated,
 * valid during the call) and the client's data.
 */
typedef void (*SocketInterpretation)(Client client, const void *data, char *line);

/**
 * Same as `IvyChannelInit`.
 */
void SocketInit(void);

/**
 * Listens on TCP `port` (0: any; `ipv6`: IPv6, else IPv4) on every
 * interface. Each accepted connection is a `Client` whose data is what
 * `create` returns for it; its lines go to `interpretation`, its end to
 * `handle_delete`, its decongestion to `handle_decongestion` (each may be
 * NULL). NULL if the socket cannot be made.
 */
Server SocketServer(int ipv6,
                    unsigned short port,
                    void *(*create)(Client client),
                    void (*handle_delete)(Client client, const void *data),
                    void (*handle_decongestion)(Client client, const void *data),
                    SocketInterpretation interpretation);

/**
 * The port the server listens on (0 for NULL).
 */
unsigned short SocketServerGetPort(Server server);

/**
 * Stops listening; the connections already accepted stay.
 */
void SocketServerClose(Server server);

/**
 * Closes the connection or datagram socket; its `handle_delete` runs now.
 * NULL or already closed: nothing.
 */
void SocketClose(Client client);

/**
 * Sends `len` bytes of `buffer` on a TCP connection, or queues them while it
 * is congested.
 */
SendState SocketSendRaw(Client client, const char *buffer, int len);

/**
 * Sends the string `id` then `len` bytes of `buffer`, as one whole.
 */
SendState SocketSendRawWithId(Client client, const char *id, const char *buffer, int len);

/**
 * The peer's host name (reverse DNS, short form; its address when unnamed),
 * or NULL. Library-owned, per thread.
 */
const char *SocketGetPeerHost(Client client);

/**
 * Sets the user data given to the client's handlers.
 */
void SocketSetData(Client client, const void *data);

/**
 * The client's user data (NULL for NULL).
 */
const void *SocketGetData(Client client);

/**
 * Resolves `host` (name or address, of the family `ipv6` says) and connects
 * to `port` there. The connection's lines go to `interpretation`, its end
 * to `handle_delete`, its decongestion to `handle_decongestion`; `data` is
 * given to them. NULL if no address answers within 5 s.
 */
Client SocketConnect(int ipv6,
                     const char *host,
                     unsigned short port,
                     void *data,
                     SocketInterpretation interpretation,
                     void (*handle_delete)(Client client, const void *data),
                     void (*handle_decongestion)(Client client, const void *data));

/**
 * Connects to `port` at the address of `addr` (its family decides; its port
 * is ignored); otherwise as `SocketConnect`.
 */
Client SocketConnectAddr(int ipv6,
                         struct sockaddr_storage *addr,
                         unsigned short port,
                         void *data,
                         SocketInterpretation interpretation,
                         void (*handle_delete)(Client client, const void *data),
                         void (*handle_decongestion)(Client client, const void *data));

/**
 * Waits at most `delai` seconds for a line from the client, reading its
 * socket directly (for programs that do not run the loop meanwhile); copies
 * it, NUL-terminated and cut to `size - 1` bytes, into `buffer`. Returns the
 * number of bytes copied, or -1 (time out, end of the connection, bad
 * arguments).
 */
int SocketWaitForReply(Client client, char *buffer, int size, int delai);

/**
 * A UDP socket on `port` (`ipv6`: IPv6, else IPv4) of every interface,
 * allowed to broadcast, sharing the port with other sockets. Each datagram
 * goes to `interpretation` line by line, with `data`. NULL on failure.
 */
Client SocketBroadcastCreate(int ipv6,
                             unsigned short port,
                             void *data,
                             SocketInterpretation interpretation);

/**
 * Joins the IPv4 multicast group `host` (host byte order) on the datagram
 * socket, with a TTL of 64. 1 on success, 0 on failure.
 */
int SocketAddMember(Client client, unsigned long host);

/**
 * Joins the IPv6 multicast group `host` on the datagram socket. 1 on
 * success, 0 on failure.
 */
int SocketAddMember6(Client client, struct in6_addr *host);

/**
 * The address of the peer (TCP) or of the last datagram's sender (UDP), or
 * NULL. Library-owned, per thread, valid until the next call.
 */
struct sockaddr_storage *SocketGetRemoteAddr(Client client);

/**
 * Gives the client a uuid (copied; NULL: nothing).
 */
void SocketSetUuid(Client client, const char *uuid);

/**
 * The client's uuid, or NULL. Library-owned, per thread.
 */
const char *SocketGetUuid(Client client);

/**
 * 0 when both clients have the same uuid; the sign of strcmp when both have
 * one; 1 otherwise.
 */
int SocketCmpUuid(Client c1, Client c2);

/**
 * The numeric address and the port of the peer (TCP) or of the last
 * datagram's sender (UDP); NULL and 0 when unknown. The host string is
 * library-owned, per thread.
 */
void SocketGetRemoteHost(Client client, const char **host, unsigned short *port);

/**
 * The local port of the client's socket (0 when unknown).
 */
unsigned short SocketGetLocalPort(Client client);

/**
 * The remote port of the peer or of the last datagram's sender, in host
 * byte order (0 when unknown).
 */
unsigned short SocketGetRemotePort(Client client);

/* END cbindgen */

/* Sends the text made from fmt and its arguments (printf) on the connection,
 * as SocketSendRaw does. SendParamError for a NULL format. */
extern SendState SocketSend(Client client, const char *fmt, ...);

/* Sends the text made from fmt and its arguments (printf) on every TCP
 * connection of the socket layer. */
extern void SocketBroadcast(const char *fmt, ...);

/* Sends the text made from fmt and its arguments (printf) in one datagram
 * from the datagram socket client to the IPv4 address host (host byte order)
 * and port. */
extern void SocketSendBroadcast(Client client, unsigned long host, unsigned short port, const char *fmt, ...);

/* The same to the IPv6 address host. */
extern void SocketSendBroadcast6(Client client, struct in6_addr *host, unsigned short port, const char *fmt, ...);

#ifdef __cplusplus
}
#endif

#endif /* IVYSOCKET_H */
