/*
 * The C part of libivy (ivy-rs): the variadic functions of the ivy-c API,
 * which stable Rust cannot define. Each one formats its arguments with
 * vsnprintf and calls a non-variadic Rust entry point (src/shim.rs, whose
 * prototypes build.rs generates into ivy_shim.h) or SocketSendRaw. Also
 * ivy_rs_puts, through which the Rust side prints. Nothing else lives here.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Ivy/ivy.h"
#include "Ivy/ivybuffer.h"
#include "Ivy/ivysocket.h"
#include "ivy_shim.h"

/* Used by the Rust side to print through the program's own stdio buffers. */
void ivy_rs_puts(const char *s, int stream)
{
    fputs(s, stream == 2 ? stderr : stdout);
}

/* The text of a printf-style call: the format itself when it holds no '%',
 * the argument when the format is exactly "%s" (no formatting work in either
 * case: IvySendMsg("%s", msg) is what most programs do), else the formatted
 * text, in `local` when it fits, else in `owned` (malloc'd). */
#define LOCAL_SIZE 1024
struct text {
    char *owned;
    char local[LOCAL_SIZE];
};

/* Sets up `t` for fmt and ap; returns the text, or NULL for a NULL format
 * and on a formatting or allocation error. Release with text_release(). */
static const char *text_of(struct text *t, const char *fmt, va_list ap)
{
    t->owned = NULL;
    if (fmt == NULL)
        return NULL;
    if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0') {
        va_list probe;
        va_copy(probe, ap);
        const char *arg = va_arg(probe, const char *);
        va_end(probe);
        if (arg != NULL)
            return arg;
        /* NULL: formatted below, as printf prints it. */
    } else if (strchr(fmt, '%') == NULL) {
        return fmt;
    }
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(t->local, sizeof t->local, fmt, ap);
    if (n < 0 || (size_t)n < sizeof t->local) {
        va_end(again);
        return n < 0 ? NULL : t->local;
    }
    t->owned = (char *)malloc((size_t)n + 1);
    if (t->owned != NULL)
        vsnprintf(t->owned, (size_t)n + 1, fmt, again);
    va_end(again);
    return t->owned;
}

static void text_release(struct text *t)
{
    free(t->owned);
}

/* In a variadic function whose last named parameter is fmt: runs `use`, an
 * expression of `text` (the text of fmt and the arguments), unless the text
 * cannot be made (a NULL fmt makes none). */
#define WITH_TEXT(fmt, use)                                     \
    do {                                                        \
        struct text with_text_;                                 \
        va_list with_ap_;                                       \
        va_start(with_ap_, fmt);                                \
        const char *text = text_of(&with_text_, fmt, with_ap_); \
        va_end(with_ap_);                                       \
        if (text != NULL)                                       \
            use;                                                \
        text_release(&with_text_);                              \
    } while (0)

MsgRcvPtr IvyBindMsg(MsgCallback callback, void *user_data, const char *fmt_regexp, ...)
{
    MsgRcvPtr result = NULL;
    WITH_TEXT(fmt_regexp, result = ivy_rs_bind_msg(callback, user_data, text));
    return result;
}

MsgRcvPtr IvyChangeMsg(MsgRcvPtr msg, const char *fmt_regex, ...)
{
    MsgRcvPtr result = msg;
    WITH_TEXT(fmt_regex, result = ivy_rs_change_msg(msg, text));
    return result;
}

int IvySendMsg(const char *fmt_message, ...)
{
    int count = 0;
    /* ivy-c: a NULL or empty format sends nothing ("%s" with "" is a message). */
    if (fmt_message != NULL && fmt_message[0] != '\0')
        WITH_TEXT(fmt_message, count = ivy_rs_send_msg(text));
    return count;
}

void IvySendError(IvyClientPtr app, int id, const char *fmt, ...)
{
    WITH_TEXT(fmt, ivy_rs_send_error(app, id, text));
}

/* ivysocket.h */

static SendState send_text(Client client, const char *text)
{
    size_t len = strlen(text);
    return len <= (size_t)INT_MAX ? SocketSendRaw(client, text, (int)len) : SendParamError;
}

SendState SocketSend(Client client, const char *fmt, ...)
{
    SendState state = SendParamError;
    WITH_TEXT(fmt, state = send_text(client, text));
    return state;
}

void SocketBroadcast(const char *fmt, ...)
{
    WITH_TEXT(fmt, ivy_rs_socket_broadcast(text));
}

void SocketSendBroadcast(Client client, unsigned long host, unsigned short port, const char *fmt, ...)
{
    WITH_TEXT(fmt, ivy_rs_socket_send_broadcast(client, host, port, text));
}

void SocketSendBroadcast6(Client client, struct in6_addr *host, unsigned short port, const char *fmt, ...)
{
    WITH_TEXT(fmt, ivy_rs_socket_send_broadcast6(client, host, port, text));
}

/* ivybuffer.h: formats at buffer->data + buffer->offset, growing the malloc'd
 * buffer as needed, and advances offset. Returns the number of characters
 * written, or -1 on error (the buffer is then left as it was). */
int make_message(IvyBuffer *buffer, const char *fmt, va_list ap)
{
    if (buffer == NULL || fmt == NULL)
        return -1;
    if (buffer->data == NULL || buffer->size <= 0) {
        char *fresh = (char *)malloc(4096);
        if (fresh == NULL)
            return -1;
        free(buffer->data);
        buffer->data = fresh;
        buffer->size = 4096;
        buffer->offset = 0;
    }
    if (buffer->offset < 0 || buffer->offset > buffer->size)
        buffer->offset = 0;
    for (;;) {
        size_t avail = (size_t)(buffer->size - buffer->offset);
        va_list again;
        va_copy(again, ap);
        int n = vsnprintf(buffer->data + buffer->offset, avail, fmt, again);
        va_end(again);
        if (n < 0)
            return -1;
        if ((size_t)n < avail) {
            buffer->offset += n;
            return n;
        }
        size_t wanted = (size_t)buffer->offset + (size_t)n + 1;
        size_t grown = (size_t)buffer->size * 2;
        if (grown < wanted)
            grown = wanted;
        if (grown > 0x7fffffff)
            return -1;
        char *bigger = (char *)realloc(buffer->data, grown);
        if (bigger == NULL)
            return -1;
        buffer->data = bigger;
        buffer->size = (int)grown;
    }
}

int make_message_var(IvyBuffer *buffer, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = make_message(buffer, fmt, ap);
    va_end(ap);
    return n;
}
