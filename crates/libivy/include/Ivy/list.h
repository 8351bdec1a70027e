/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVY_LIST_H
#define IVY_LIST_H

#include <stdio.h>
#include <stdlib.h>

/* Intrusive singly-linked lists: `list` is a pointer to the first element (or
 * NULL), every element is a struct with a `next` pointer member. */

#if defined(__GNUC__) || defined(__clang__)
#define IVY_LIST_TYPEOF(p) __typeof__(p)
#elif defined(__cplusplus)
#define IVY_LIST_TYPEOF(p) decltype(p)
#else
#define IVY_LIST_TYPEOF(p) void *
#endif
#ifndef TYPEOF
#define TYPEOF(p) IVY_LIST_TYPEOF(p)
#endif

/* Leaves p on the first element for which cond is false (or NULL). */
#define IVY_LIST_ITER(list, p, cond) \
    for ((p) = (list); (p) && (cond); (p) = (p)->next) {}

/* Loops over the elements: for each of them, p is that element. */
#define IVY_LIST_EACH(list, p) \
    for ((p) = (list); (p); (p) = (p)->next)

/* The same, allowing p to be removed inside the loop (nxt holds the next one). */
#define IVY_LIST_EACH_SAFE(list, p, nxt) \
    for ((p) = (list); ((nxt) = (p) ? (p)->next : (p)), (p); (p) = (nxt))

/* Unlinks element p from list and frees it. */
#define IVY_LIST_REMOVE(list, p) \
    do { \
        IVY_LIST_TYPEOF(p) *ivy_list_link_ = &(list); \
        while (*ivy_list_link_ && *ivy_list_link_ != (p)) \
            ivy_list_link_ = &(*ivy_list_link_)->next; \
        if (*ivy_list_link_) { \
            *ivy_list_link_ = (p)->next; \
            free(p); \
        } \
    } while (0)

/* IVY_LIST_ADD_START(list, p) { initialise *p } IVY_LIST_ADD_END(list, p):
 * allocates a zeroed element in p, runs the initialisation, then puts p at the
 * head of list. Exits the process if the allocation fails, as ivy-c does. */
#define IVY_LIST_ADD_START(list, p) \
    if (((p) = (IVY_LIST_TYPEOF(p))calloc(1, sizeof(*(p)))) != NULL) {

#define IVY_LIST_ADD_END(list, p) \
        (p)->next = (list); \
        (list) = (p); \
    } else { \
        perror("IVY LIST ADD malloc"); \
        exit(0); \
    }

/* Frees every element and leaves list NULL. */
#define IVY_LIST_EMPTY(list) \
    do { \
        while (list) { \
            IVY_LIST_TYPEOF(list) ivy_list_next_ = (list)->next; \
            free(list); \
            (list) = ivy_list_next_; \
        } \
    } while (0)

#endif /* IVY_LIST_H */
