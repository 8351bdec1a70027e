/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVYDEBUG_H
#define IVYDEBUG_H

/* TRACE(fmt, ...) and TRACE_IF(cond, fmt, ...) print to stderr when DEBUG is
 * defined, and do nothing otherwise. */
#ifdef DEBUG
#include <stdio.h>
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#define TRACE_IF(cond, ...) do { if (cond) fprintf(stderr, __VA_ARGS__); } while (0)
#else
#define TRACE(...) ((void)0)
#define TRACE_IF(cond, ...) ((void)0)
#endif

#endif /* IVYDEBUG_H */
