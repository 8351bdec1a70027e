/*
 * The C part of libivy (ivy-rs): the variadic functions of the ivy-c API,
 * which stable Rust cannot define. Each one formats its arguments with
 * vsnprintf and calls a non-variadic Rust entry point (src/shim.rs, whose
 * prototypes build.rs generates into ivy_shim.h). Nothing else lives here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Ivy/ivy.h"
#include "Ivy/ivybuffer.h"
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

/* Sets up `t` for fmt and ap; returns the text, or NULL on a formatting or
 * allocation error. Release with text_release(). */
static const char *text_of(struct text *t, const char *fmt, va_list ap)
{
    t->owned = NULL;
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

MsgRcvPtr IvyBindMsg(MsgCallback callback, void *user_data, const char *fmt_regexp, ...)
{
    struct text t;
    if (fmt_regexp == NULL)
        return NULL;
    va_list ap;
    va_start(ap, fmt_regexp);
    const char *re = text_of(&t, fmt_regexp, ap);
    va_end(ap);
    MsgRcvPtr result = re == NULL ? NULL : ivy_rs_bind_msg(callback, user_data, re);
    text_release(&t);
    return result;
}

MsgRcvPtr IvyChangeMsg(MsgRcvPtr msg, const char *fmt_regex, ...)
{
    struct text t;
    if (fmt_regex == NULL)
        return msg;
    va_list ap;
    va_start(ap, fmt_regex);
    const char *re = text_of(&t, fmt_regex, ap);
    va_end(ap);
    MsgRcvPtr result = re == NULL ? msg : ivy_rs_change_msg(msg, re);
    text_release(&t);
    return result;
}

int IvySendMsg(const char *fmt_message, ...)
{
    struct text t;
    /* ivy-c: a NULL or empty format sends nothing ("%s" with "" is a message). */
    if (fmt_message == NULL || fmt_message[0] == '\0')
        return 0;
    va_list ap;
    va_start(ap, fmt_message);
    const char *message = text_of(&t, fmt_message, ap);
    va_end(ap);
    int count = message == NULL ? 0 : ivy_rs_send_msg(message);
    text_release(&t);
    return count;
}

void IvySendError(IvyClientPtr app, int id, const char *fmt, ...)
{
    struct text t;
    if (fmt == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    const char *error = text_of(&t, fmt, ap);
    va_end(ap);
    if (error != NULL)
        ivy_rs_send_error(app, id, error);
    text_release(&t);
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
