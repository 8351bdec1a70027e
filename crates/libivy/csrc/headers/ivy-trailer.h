#ifdef __cplusplus
extern "C" {
#endif

/* Subscribes to the messages matching the regexp built from fmt_regexp and its
 * arguments (printf), after interval expansion "(?Imin#max[i])". The id is the
 * next of a process-wide counter from 0, never reused. */
extern MsgRcvPtr IvyBindMsg(MsgCallback callback, void *user_data, const char *fmt_regexp, ...)
    __attribute__((format(printf, 3, 4)));

/* Replaces the regexp of a subscription, keeping its id; returns msg. */
extern MsgRcvPtr IvyChangeMsg(MsgRcvPtr msg, const char *fmt_regex, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends the message built from fmt_message (printf) to every matching peer
 * subscription; returns the number of Msg lines sent. A NULL or empty format
 * sends nothing ("%s" with "" sends an empty message). */
extern int IvySendMsg(const char *fmt_message, ...)
    __attribute__((format(printf, 1, 2)));

/* Sends an Error message (id and printf-formatted text) to one peer. */
extern void IvySendError(IvyClientPtr app, int id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
