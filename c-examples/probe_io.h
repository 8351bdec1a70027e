/*
 * Driving an ivyprobe process (C or Rust) from a test: spawned on a bus with
 * its stdin and stdout on pipes, told lines, its output awaited line by line.
 * While a test waits for a line, its own loop may keep running: the wait
 * calls a pump, which runs the caller's loop (or just sleeps) for a while.
 * Every wait is bounded; the lines are echoed on stdout (200 bytes at most).
 * Needs _POSIX_C_SOURCE 200809L (or _DEFAULT_SOURCE).
 */
#ifndef IVY_EXAMPLES_PROBE_IO_H
#define IVY_EXAMPLES_PROBE_IO_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "spawn.h"

#define PROBE_BUF 65536

struct probe {
    const char *label;
    pid_t pid;
    int in;  /* we write its stdin */
    int out; /* we read its stdout (non-blocking) */
    char buf[PROBE_BUF];
    size_t len;
    char last[PROBE_BUF]; /* the line that ended the last wait */
};

/* The start of a test that drives the probe programs named by argv[1] to
 * argv[probes], then takes an optional bus port: writes its bus and returns 0;
 * or says `usage` and returns -1 when they are missing. Ignores SIGPIPE (a
 * probe may be gone when told a line) and line-buffers stdout. */
static inline int probe_test_start(int argc, char **argv, int probes, const char *usage, char *bus, size_t size)
{
    if (argc <= probes) {
        fprintf(stderr, "usage: %s\n", usage);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_bus(bus, size, test_port_arg(argc, argv, probes + 1));
    return 0;
}

/* Runs the caller's loop (or waits) for at most `ms` milliseconds. */
typedef void (*probe_pump)(int ms);

static inline double probe_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void probe_sleep_ms(int ms)
{
    struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* Calls pump(ms) until `cond` holds: a failed check, naming `what`, if it
 * does not within `seconds`. */
#define PUMP_UNTIL(cond, what, seconds, pump, ms)                                        \
    do {                                                                                 \
        double until_ = probe_now() + (seconds);                                         \
        while (!(cond) && probe_now() < until_)                                          \
            pump(ms);                                                                    \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: timeout waiting for %s\n", __FILE__, __LINE__, what); \
            check_failures++;                                                            \
        }                                                                                \
    } while (0)

/* Starts `path -b bus -n name regexp`. 0 on success. */
static inline int probe_spawn(struct probe *p, const char *path, const char *bus, const char *name,
                              const char *regexp)
{
    char *const argv[] = {(char *)path, (char *)"-b", (char *)bus, (char *)"-n", (char *)name, (char *)regexp, NULL};
    p->pid = spawn_piped(argv, &p->in, &p->out);
    if (p->pid < 0)
        return -1;
    fcntl(p->out, F_SETFL, O_NONBLOCK);
    p->len = 0;
    p->last[0] = '\0';
    return 0;
}

/* Reads what the probe wrote so far. 0 at its end of output. */
static inline int probe_read(struct probe *p)
{
    for (;;) {
        if (p->len >= sizeof p->buf - 1)
            return 1; /* a line longer than the buffer: the wait will time out */
        ssize_t n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n > 0) {
            p->len += (size_t)n;
            continue;
        }
        if (n == 0)
            return 0;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
}

/* Takes the complete lines received, echoing them; 1 when one contains
 * `needle` (that line is in p->last, the lines after it stay). */
static inline int probe_take_lines(struct probe *p, const char *needle)
{
    char *nl;
    while ((nl = (char *)memchr(p->buf, '\n', p->len)) != NULL) {
        *nl = '\0';
        int hit = strstr(p->buf, needle) != NULL;
        printf("[%s] %.200s%s\n", p->label, p->buf, strlen(p->buf) > 200 ? "..." : "");
        snprintf(p->last, sizeof p->last, "%s", p->buf);
        size_t used = (size_t)(nl - p->buf) + 1;
        memmove(p->buf, nl + 1, p->len - used);
        p->len -= used;
        if (hit)
            return 1;
    }
    return 0;
}

/* Waits for a line of the probe containing `needle` (the output up to and
 * including that line is consumed), running `pump` meanwhile. 1 if it came
 * within timeout_s. */
static inline int probe_expect_pumping(struct probe *p, const char *needle, double timeout_s, probe_pump pump)
{
    double deadline = probe_now() + timeout_s;
    int open = 1;
    for (;;) {
        if (probe_take_lines(p, needle))
            return 1;
        if (!open) {
            fprintf(stderr, "[%s] EOF waiting for '%s'\n", p->label, needle);
            return 0;
        }
        double left = deadline - probe_now();
        if (left <= 0) {
            fprintf(stderr, "[%s] timeout waiting for '%s'\n", p->label, needle);
            return 0;
        }
        pump(left < 0.02 ? 1 : 20);
        open = probe_read(p);
    }
}

/* probe_expect_pumping with no loop of the caller's to run: waits for the
 * probe's output. */
static int probe_waited_fd = -1;

static inline void probe_wait_output(int ms)
{
    struct pollfd pfd = {probe_waited_fd, POLLIN, 0};
    poll(&pfd, 1, ms);
}

static inline int probe_expect(struct probe *p, const char *needle, double timeout_s)
{
    probe_waited_fd = p->out;
    return probe_expect_pumping(p, needle, timeout_s, probe_wait_output);
}

/* Writes one line to the probe's stdin. 0 on success. */
static inline int probe_say(struct probe *p, const char *line)
{
    printf("[%s] <- %s\n", p->label, line);
    size_t len = strlen(line);
    if (write(p->in, line, len) != (ssize_t)len || write(p->in, "\n", 1) != 1)
        return -1;
    return 0;
}

/* Waits for the probe to exit: its exit status (128 + signal when killed),
 * or -1 if it had to be killed after timeout_s. */
static inline int probe_wait_exit(struct probe *p, double timeout_s)
{
    double deadline = probe_now() + timeout_s;
    while (probe_now() < deadline) {
        int status;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        probe_sleep_ms(20);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    return -1;
}

#endif
