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

/* Formats into `local` when it fits, else into a malloc'd buffer. Returns
 * NULL on a formatting or allocation error. Free with release(). */
static char *format(char *local, size_t local_size, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(local, local_size, fmt, ap);
    if (n < 0) {
        va_end(again);
        return NULL;
    }
    if ((size_t)n < local_size) {
        va_end(again);
        return local;
    }
    char *big = (char *)malloc((size_t)n + 1);
    if (big != NULL)
        vsnprintf(big, (size_t)n + 1, fmt, again);
    va_end(again);
    return big;
}

static void release(char *text, const char *local)
{
    if (text != local)
        free(text);
}

#define LOCAL_SIZE 1024

MsgRcvPtr IvyBindMsg(MsgCallback callback, void *user_data, const char *fmt_regexp, ...)
{
    char local[LOCAL_SIZE];
    if (fmt_regexp == NULL)
        return NULL;
    va_list ap;
    va_start(ap, fmt_regexp);
    char *re = format(local, sizeof local, fmt_regexp, ap);
    va_end(ap);
    if (re == NULL)
        return NULL;
    MsgRcvPtr result = ivy_rs_bind_msg(callback, user_data, re);
    release(re, local);
    return result;
}

MsgRcvPtr IvyChangeMsg(MsgRcvPtr msg, const char *fmt_regex, ...)
{
    char local[LOCAL_SIZE];
    if (fmt_regex == NULL)
        return msg;
    va_list ap;
    va_start(ap, fmt_regex);
    char *re = format(local, sizeof local, fmt_regex, ap);
    va_end(ap);
    if (re == NULL)
        return msg;
    MsgRcvPtr result = ivy_rs_change_msg(msg, re);
    release(re, local);
    return result;
}

int IvySendMsg(const char *fmt_message, ...)
{
    char local[LOCAL_SIZE];
    /* ivy-c: a NULL or empty format sends nothing ("%s" with "" is a message). */
    if (fmt_message == NULL || fmt_message[0] == '\0')
        return 0;
    va_list ap;
    va_start(ap, fmt_message);
    char *text = format(local, sizeof local, fmt_message, ap);
    va_end(ap);
    if (text == NULL)
        return 0;
    int count = ivy_rs_send_msg(text);
    release(text, local);
    return count;
}

void IvySendError(IvyClientPtr app, int id, const char *fmt, ...)
{
    char local[LOCAL_SIZE];
    if (fmt == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *text = format(local, sizeof local, fmt, ap);
    va_end(ap);
    if (text == NULL)
        return;
    ivy_rs_send_error(app, id, text);
    release(text, local);
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
