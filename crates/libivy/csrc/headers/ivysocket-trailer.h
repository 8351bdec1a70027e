#ifdef __cplusplus
extern "C" {
#endif

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
