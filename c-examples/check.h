/* Tiny test helpers shared by the C tests (C11 and C++17). */
#ifndef IVY_EXAMPLES_CHECK_H
#define IVY_EXAMPLES_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *check_a_ = (a), *check_b_ = (b);                                       \
        if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) {     \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n",    \
                    __FILE__, __LINE__, #a, check_a_ ? check_a_ : "(null)",                \
                    check_b_ ? check_b_ : "(null)");                                       \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

/* A bus port for this test run: from IVY_TEST_PORT, else derived from the pid
 * (never 2010). */
static inline int test_port(void)
{
    const char *env = getenv("IVY_TEST_PORT");
    if (env != NULL && atoi(env) > 0)
        return atoi(env);
    return 20000 + (int)(getpid() % 20000);
}

/* Start order for two agents of one test: the first one (a forked child)
 * tells the other, through a pipe, once its loop has been running for a
 * moment, so that only the second agent's hello creates the link (no two
 * simultaneous connections between the same pair). */
static int start_pipe[2] = {-1, -1};

static inline void start_signal_cb(void)
{
    if (start_pipe[1] >= 0) {
        char c = 'r';
        if (write(start_pipe[1], &c, 1) != 1)
            perror("start pipe");
        close(start_pipe[1]);
        start_pipe[1] = -1;
    }
}

static inline int start_wait(void)
{
    char c = 0;
    close(start_pipe[1]);
    start_pipe[1] = -1;
    return read(start_pipe[0], &c, 1) == 1 ? 0 : -1;
}

/* Writes the private bus of a two-agent test, sets stdout line-buffered, opens
 * the start pipe and forks: the child's pid in the parent, 0 in the child, -1
 * on failure. */
static inline pid_t start_fork(char *bus, size_t size, int port)
{
    snprintf(bus, size, "127.255.255.255:%d", port);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pipe(start_pipe) != 0)
        return -1;
    return fork();
}

#endif
