/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVYBUFFER_H
#define IVYBUFFER_H

#include <stdarg.h>

#ifndef __GNUC__
#define __attribute__(x)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN cbindgen: generated from src/ivybuffer.rs; IVY_UPDATE_HEADERS=1 cargo build rewrites it */

/**
 * A growable character buffer: `make_message` formats at `data + offset`,
 * growing `data` (malloc'd, `size` bytes) as needed, and advances `offset`.
 * Start with all fields zero; free `data` with `free()`.
 */
typedef struct {
    /**
     * The text (malloc'd, NUL-terminated), or NULL.
     */
    char *data;
    /**
     * Bytes allocated at `data`.
     */
    int size;
    /**
     * Where the next text is written.
     */
    int offset;
} IvyBuffer;

/* END cbindgen */

/* Formats fmt with ap at buffer->data + buffer->offset, growing the malloc'd
 * data as needed (a zeroed IvyBuffer starts empty), and advances offset.
 * Returns the number of characters written, or -1 on error. */
extern int make_message(IvyBuffer *buffer, const char *fmt, va_list ap);

/* make_message with printf-style arguments. */
extern int make_message_var(IvyBuffer *buffer, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* IVYBUFFER_H */
