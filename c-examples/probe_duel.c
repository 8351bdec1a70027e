/*
 * Drives two ivyprobe processes (C or Rust, any pair) on one loopback bus
 * through pipes, and checks what each prints: connection, messages with
 * captures both ways, a direct message, a ping, .who/.where, and a die that
 * ends the second probe. Every wait is bounded.
 *
 *   probe_duel PROBE_X PROBE_Y [PORT]
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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

struct probe {
    const char *label;
    pid_t pid;
    int in;  /* we write its stdin */
    int out; /* we read its stdout */
    char buf[65536];
    size_t len;
};

static int spawn(struct probe *p, const char *path, const char *bus, const char *name, const char *regexp)
{
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0)
        return -1;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[0]);
        close(to_child[1]);
        close(from_child[0]);
        close(from_child[1]);
        execl(path, path, "-b", bus, "-n", name, regexp, (char *)NULL);
        perror("execl");
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    p->in = to_child[1];
    p->out = from_child[0];
    p->len = 0;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads p's output until a line containing `needle` arrives (the output up to
 * and including that line is consumed). Returns 1 if found within timeout_s. */
static char last_line[65536];

static int expect(struct probe *p, const char *needle, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    for (;;) {
        char *nl;
        while ((nl = (char *)memchr(p->buf, '\n', p->len)) != NULL) {
            *nl = '\0';
            int hit = strstr(p->buf, needle) != NULL;
            printf("[%s] %s\n", p->label, p->buf);
            snprintf(last_line, sizeof last_line, "%s", p->buf);
            size_t used = (size_t)(nl - p->buf) + 1;
            memmove(p->buf, nl + 1, p->len - used);
            p->len -= used;
            if (hit)
                return 1;
        }
        double left = deadline - now_s();
        if (left <= 0) {
            fprintf(stderr, "[%s] timeout waiting for '%s'\n", p->label, needle);
            return 0;
        }
        struct pollfd pfd = {p->out, POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR)
            return 0;
        if (r > 0) {
            ssize_t n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
            if (n <= 0) {
                fprintf(stderr, "[%s] EOF waiting for '%s'\n", p->label, needle);
                return 0;
            }
            p->len += (size_t)n;
        }
    }
}

static void say(struct probe *p, const char *line)
{
    printf("[%s] <- %s\n", p->label, line);
    size_t len = strlen(line);
    CHECK(write(p->in, line, len) == (ssize_t)len);
    CHECK(write(p->in, "\n", 1) == 1);
}

static int wait_exit(struct probe *p, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    while (now_s() < deadline) {
        int status;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: probe_duel PROBE_X PROBE_Y [PORT]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int port = argc > 3 ? atoi(argv[3]) : test_port();
    char bus[64];
    snprintf(bus, sizeof bus, "127.255.255.255:%d", port);

    static struct probe x, y;
    x.label = "X";
    y.label = "Y";
    CHECK(spawn(&x, argv[1], bus, "DuelX", "^from-y (.*) and (.*)$") == 0);
    /* Y starts once X is on the bus, so that only Y's hello makes the link. */
    CHECK(expect(&x, "-> bound [0]", 10));
    struct timespec settle = {0, 300 * 1000 * 1000};
    nanosleep(&settle, NULL);
    CHECK(spawn(&y, argv[2], bus, "DuelY", "^from-x (.*)$") == 0);

    CHECK(expect(&x, "DuelY connected", 10));
    CHECK(expect(&y, "DuelX connected", 10));
    /* The ready messages: X's "DuelX Ready" does not match Y's regexp and the
     * other way round, so nothing is printed for them. */

    say(&x, "from-x hello world");
    CHECK(expect(&x, "-> Sent to 1 peer(s)", 10));
    CHECK(expect(&y, "DuelX sent [0] 'hello world'", 10));

    say(&y, "from-y one and two");
    CHECK(expect(&y, "-> Sent to 1 peer(s)", 10));
    CHECK(expect(&x, "DuelY sent [0] 'one' 'two'", 10));

    say(&x, "nobody listens to this");
    CHECK(expect(&x, "-> Sent to 0 peer(s)", 10));

    say(&x, ".direct DuelY 17 private words");
    CHECK(expect(&x, "-> direct sent to DuelY", 10));
    CHECK(expect(&y, "DuelX direct [17] 'private words'", 10));

    say(&y, ".ping DuelX");
    CHECK(expect(&y, "DuelX pong", 10));

    say(&x, ".who");
    CHECK(expect(&x, "-> 1 peer(s): 'DuelY'", 10));
    say(&x, ".where DuelY");
    CHECK(expect(&x, "-> DuelY on localhost", 10));

    say(&y, ".bind ^late (.*)");
    CHECK(expect(&y, "-> bound [1] '^late (.*)'", 10));
    /* Y's new subscription reaches X asynchronously: retry until X sends it. */
    int delivered = 0;
    for (int i = 0; i < 50 && !delivered; i++) {
        say(&x, "late news");
        CHECK(expect(&x, "-> Sent to ", 10));
        delivered = strstr(last_line, "-> Sent to 1 peer(s)") != NULL;
        if (!delivered) {
            struct timespec pause = {0, 100 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    CHECK(delivered);
    CHECK(expect(&y, "DuelX sent [1] 'news'", 10));

    say(&x, ".die DuelY");
    CHECK(expect(&y, "DuelX die received", 10));
    CHECK(wait_exit(&y, 10) == 0);
    CHECK(expect(&x, "DuelY disconnected", 10));

    close(x.in); /* end of input: X quits */
    CHECK(wait_exit(&x, 10) == 0);

    if (check_failures != 0) {
        fprintf(stderr, "probe_duel: %d check(s) failed\n", check_failures);
        return 1;
    }
    printf("probe_duel: all checks passed\n");
    return 0;
}
