/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVYBIND_H
#define IVYBIND_H

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN cbindgen: generated from src/ivybind.rs; IVY_UPDATE_HEADERS=1 cargo build rewrites it */

/**
 * A compiled regexp, as returned by `IvyBindingCompile`.
 */
typedef struct _binding *IvyBinding;

/**
 * The number of filter words.
 */
int IvyBindingGetFilterCount(void);

/**
 * Adds each of the `argc` words of `argv` to the filter list.
 */
void IvyBindingSetFilter(int argc, const char **argv);

/**
 * Adds one filter word (NULL: nothing).
 */
void IvyBindingAddFilter(const char *argv);

/**
 * Removes every filter word equal to `arg`.
 */
void IvyBindingRemoveFilter(const char *arg);

/**
 * 1 if a peer regexp `expression` passes the filter (§5.6), else 0.
 */
int IvyBindingFilter(const char *expression);

/**
 * Warns on stderr when filters are set and `message` is none of the words
 * (ivy-c calls it for a message that matched no peer).
 */
void IvyBindindFilterCheck(const char *message);

/**
 * Compiles `expression`; NULL on error, with `*erroffset` and `*errmessage`
 * set (the message is library-owned, per thread) and the error printed.
 */
IvyBinding IvyBindingCompile(const char *expression, int *erroffset, const char **errmessage);

/**
 * Frees a compiled regexp (NULL or already freed: nothing).
 */
void IvyBindingFree(IvyBinding _bind);

/**
 * Runs the regexp on `message`: 0 for no match, else 1 + the number of
 * captured groups (as PCRE's return code), remembered for `IvyBindingMatch`.
 */
int IvyBindingExec(IvyBinding _bind, const char *message);

/**
 * Gives capture `argnum` (1 = first group; 0 = the whole message) of the last
 * `IvyBindingExec` on `message`: `*arg` points into `message`, `*arglen` is
 * its length. Out of range: `*arg` = `message`, `*arglen` = 0.
 */
void IvyBindingMatch(IvyBinding _bind,
                     const char *message,
                     int argnum,
                     int *arglen,
                     const char **arg);

/**
 * Forgets the filter words.
 */
void IvyBindingTerminate(void);

/* END cbindgen */

#ifdef __cplusplus
}
#endif

#endif /* IVYBIND_H */
