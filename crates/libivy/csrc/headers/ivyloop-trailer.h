#ifdef __cplusplus
extern "C" {
#endif

/* Calls the channel's write handler whenever its fd is writable. */
extern void IvyChannelAddWritableEvent(Channel channel);

/* Stops the calls started by IvyChannelAddWritableEvent. */
extern void IvyChannelClearWritableEvent(Channel channel);

#ifdef __cplusplus
}
#endif
