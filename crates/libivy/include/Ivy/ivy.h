/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVY_H
#define IVY_H

/* The printf format attributes below are a GCC/Clang extension. */
#ifndef __GNUC__
#define __attribute__(x)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN cbindgen: generated from src/ivy.rs; IVY_UPDATE_HEADERS=1 cargo build rewrites it */

/**
 * Events about a peer, given to the `IvyApplicationCallback`.
 */
typedef enum {
    /**
     * The peer finished its handshake.
     */
    IvyApplicationConnected,
    /**
     * The peer left.
     */
    IvyApplicationDisconnected,
    /**
     * The peer's socket refused bytes: they wait in its queue.
     */
    IvyApplicationCongestion,
    /**
     * The peer's queue was written out.
     */
    IvyApplicationDecongestion,
    /**
     * A message to the peer was dropped at its queue's cap.
     */
    IvyApplicationFifoFull,
} IvyApplicationEvent;

/**
 * Events about a peer's subscriptions, given to the `IvyBindCallback`.
 */
typedef enum {
    /**
     * The peer subscribed a regexp.
     */
    IvyAddBind,
    /**
     * The peer withdrew a subscription.
     */
    IvyRemoveBind,
    /**
     * The filter words refused the peer's regexp.
     */
    IvyFilterBind,
    /**
     * The peer changed the regexp of a subscription.
     */
    IvyChangeBind,
} IvyBindEvent;

/**
 * A peer, as handed to callbacks. Valid until its Disconnected event; a stale
 * one is harmless (calls with it do nothing).
 */
typedef const struct _clnt_lst_dict *IvyClientPtr;

/**
 * Told about a peer's connection events (`IvyInit`).
 */
typedef void (*IvyApplicationCallback)(IvyClientPtr app, void *user_data, IvyApplicationEvent event);

/**
 * Run when a peer asks us to die (`IvyInit`).
 */
typedef void (*IvyDieCallback)(IvyClientPtr app, void *user_data, int id);

/**
 * Told about a peer's subscriptions (`IvySetBindCallback`).
 */
typedef void (*IvyBindCallback)(IvyClientPtr app,
                                void *user_data,
                                int id,
                                const char *regexp,
                                IvyBindEvent event);

/**
 * Given a Pong's round trip in microseconds (`IvySetPongCallback`).
 */
typedef void (*IvyPongCallback)(IvyClientPtr app, int round_trip_delay);

/**
 * One of our own subscriptions, as returned by `IvyBindMsg`.
 */
typedef struct _msg_rcv *MsgRcvPtr;

/**
 * Given a direct message (`IvyBindDirectMsg`).
 */
typedef void (*MsgDirectCallback)(IvyClientPtr app, void *user_data, int id, char *msg);

/**
 * A peer, as handed to callbacks (writable form).
 */
typedef struct _clnt_lst_dict *RWIvyClientPtr;

/**
 * Given the captured groups of a message that matched a binding (`IvyBindMsg`).
 */
typedef void (*MsgCallback)(IvyClientPtr app, void *user_data, int argc, char **argv);

/**
 * Prints one line per peer event on stdout, as ivy-c does.
 */
void IvyDefaultApplicationCallback(IvyClientPtr app, void *user_data, IvyApplicationEvent event);

/**
 * Prints one line per peer subscription event on stdout, as ivy-c does.
 */
void IvyDefaultBindCallback(IvyClientPtr app,
                            void *user_data,
                            int id,
                            const char *regexp,
                            IvyBindEvent event);

/**
 * Adds each of the `argc` words of `argv` to the filter list (it does not
 * replace the list). Set filters before `IvyStart`.
 */
void IvySetFilter(int argc, const char **argv);

/**
 * Adds one word to the filter list (NULL: nothing).
 */
void IvyAddFilter(const char *arg);

/**
 * Removes every filter word equal to `arg`.
 */
void IvyRemoveFilter(const char *arg);

/**
 * Names the agent and sets its ready message (both copied; NULL name gives
 * "(null)", NULL ready sends none) and its application and die callbacks.
 * Opens nothing; calls `IvyChannelInit` (ours resets the loop's stop flag);
 * reads `IVY_DEBUG_BINARY`.
 */
void IvyInit(const char *AppName,
             const char *ready,
             IvyApplicationCallback callback,
             void *data,
             IvyDieCallback die_callback,
             void *die_data);

/**
 * Forgets the filter words. (ivy-c also frees the stored name and ready
 * message; ours stay usable, so a second call is harmless.)
 */
void IvyTerminate(void);

/**
 * Sets the callback told about peers' subscriptions (NULL: none).
 */
void IvySetBindCallback(IvyBindCallback bind_callback, void *bind_data);

/**
 * Sets the callback given each Pong's round trip in µs (negative when the
 * Pong's id is not the last Ping's). `IvySendPing` needs one.
 */
void IvySetPongCallback(IvyPongCallback pong_callback);

/**
 * Joins the bus `bus` ("net,net:port"); NULL or "" uses `IVYBUS`, then the
 * default `127.255.255.255:2010`. Returns at once; the loop does the rest.
 */
void IvyStart(const char *bus);

/**
 * Leaves the bus (peers see us go) and makes `IvyMainLoop` return.
 */
void IvyStop(void);

/**
 * The peer's name, or "Unknown". Library-owned storage, per thread.
 */
const char *IvyGetApplicationName(IvyClientPtr app);

/**
 * The peer's host (reverse-DNS short name, e.g. "localhost"); NULL for a NULL
 * app, "can't get peer" for an unknown one. Library-owned, per thread.
 */
const char *IvyGetApplicationHost(IvyClientPtr app);

/**
 * The newest peer named `name`, or NULL.
 */
IvyClientPtr IvyGetApplication(char *name);

/**
 * Every peer's name, newest first, each followed by `sep` (NULL: ""). The
 * buffer is library-owned, per thread, valid until the next call.
 */
char *IvyGetApplicationList(const char *sep);

/**
 * The peer's regexps, newest first, in a NULL-terminated array. Library-owned,
 * per thread, valid until the next call; an unknown peer gives an empty array.
 */
char **IvyGetApplicationMessages(IvyClientPtr app);

/**
 * Removes one of our subscriptions (peers are told); NULL or stale: nothing.
 */
void IvyUnbindMsg(MsgRcvPtr id);

/**
 * Asks the peer to die.
 */
void IvySendDieMsg(IvyClientPtr app);

/**
 * Sets the single callback for direct messages (a later call replaces it).
 */
void IvyBindDirectMsg(MsgDirectCallback callback, void *user_data);

/**
 * Sends `msg` (raw, not formatted) to one peer as a direct message.
 */
void IvySendDirectMsg(IvyClientPtr app, int id, char *msg);

/**
 * Pings the peer; the round trip goes to the pong callback, which must be set.
 */
void IvySendPing(IvyClientPtr app);

/* END cbindgen */

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

#endif /* IVY_H */
