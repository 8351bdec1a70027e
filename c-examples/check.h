/* Tiny test helpers shared by the C tests (C11 and C++17). */
#ifndef IVY_EXAMPLES_CHECK_H
#define IVY_EXAMPLES_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
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

/* Checks the arguments of a message callback: the texts given, then NULL. */
#define CHECK_ARGS(argc, argv, ...)                                                   \
    do {                                                                              \
        const char *const check_args_[] = {__VA_ARGS__};                              \
        const int check_n_ = (int)(sizeof check_args_ / sizeof check_args_[0]);      \
        CHECK((argc) == check_n_);                                                    \
        for (int check_i_ = 0; check_i_ < (argc) && check_i_ < check_n_; check_i_++) \
            CHECK_STR((argv)[check_i_], check_args_[check_i_]);                       \
        CHECK((argv)[(argc)] == NULL);                                                \
    } while (0)

/* The end of a test: says whether every check passed; its exit status. */
static inline int check_report(const char *test)
{
    if (check_failures != 0) {
        fprintf(stderr, "%s: %d check(s) failed\n", test, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", test);
    return 0;
}

/* A bus port for this test run: from IVY_TEST_PORT, else derived from the pid
 * (never 2010). */
static inline int test_port(void)
{
    const char *env = getenv("IVY_TEST_PORT");
    if (env != NULL && atoi(env) > 0)
        return atoi(env);
    return 20000 + (int)(getpid() % 20000);
}

/* The bus port given as argv[i], else test_port(). */
static inline int test_port_arg(int argc, char **argv, int i)
{
    return argc > i ? atoi(argv[i]) : test_port();
}

/* Writes the loopback bus of `port`. */
static inline void test_bus(char *bus, size_t size, int port)
{
    snprintf(bus, size, "127.255.255.255:%d", port);
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
    test_bus(bus, size, port);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pipe(start_pipe) != 0)
        return -1;
    return fork();
}

/* A two-agent test: B runs in a forked child and calls start_signal_cb once
 * its loop has been running for a moment; A runs in this process once B has
 * started, and is given B's pid. Each has `time_limit_s` (alarm). */
struct pair_test {
    const char *name;
    unsigned time_limit_s;
    int (*run_b)(void);
    int (*run_a)(pid_t b);
};

/* Runs `test` on the bus of `port` (written into `bus`): the exit status of
 * the agent of this process, 2 if the fork failed. */
static inline int run_pair(const struct pair_test *test, char *bus, size_t size, int port)
{
    pid_t child = start_fork(bus, size, port);
    if (child < 0)
        return 2;
    alarm(test->time_limit_s);
    if (child == 0)
        return test->run_b();
    if (start_wait() != 0)
        fprintf(stderr, "%s: B did not start\n", test->name);
    return test->run_a(child);
}

/* Waits for the child `pid`: 1 if it exited with status 0. */
static inline int child_succeeded(pid_t pid)
{
    int status = 0;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

#endif
