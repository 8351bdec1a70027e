/*
 * The lines the library prints, as ivy-c prints them and where (ivy-protocol.md
 * §8.6), and the switches: an agent (a forked child, stdout and stderr in
 * files) starts on a bus with a bad element, meets a raw peer (this process,
 * speaking the protocol by hand) that subscribes an invalid regexp, sends an
 * Error and then Die, and starts again. Run three times:
 *  - by default: stdout holds exactly
 *      Broadcasting on network 127.255.255.255, port P   (at each IvyStart)
 *      Error compiling 'foo(bar', missing )              (the peer's regexp)
 *      Received error 5 oops                              (the peer's Error)
 *    and stderr exactly "bad broadcast address";
 *  - with IVY_QUIET=1: nothing on either;
 *  - with IVY_LOG=1: the same stdout, and diagnostics added on stderr.
 * In every run the raw peer gets the Error reply to its regexp, its "^dot (.)$"
 * matches as ivy-c's PCRE does (on bytes: "dot e" is sent, "dot é" is not),
 * and the agent obeys the Die (Bye to the peer), with no Disconnected for that
 * stop of its own. Every wait is bounded.
 *
 *   test_printed [PORT]
 */
#include <Ivy/ivy.h>
#include <Ivy/ivyloop.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "probe_io.h"

#define WAIT_MS 10000

/* ---- the agent (child) ------------------------------------------------------ */

static int connected = 0, disconnected = 0, bytes_matched = 0;

static void on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)app;
    (void)data;
    connected += event == IvyApplicationConnected;
    disconnected += event == IvyApplicationDisconnected;
    /* The peer's "^dot (.)$" matches bytes, as ivy-c's PCRE: one byte, not
     * the two of a UTF-8 "é". */
    if (event == IvyApplicationConnected)
        bytes_matched = IvySendMsg("dot \xc3\xa9") == 0 && IvySendMsg("dot e") == 1;
}

/* Its exit status: 0, or what went wrong. */
static int agent(int port, int ready_fd)
{
    char bus[64];
    alarm(30);
    IvyInit("Printer", NULL, on_app, NULL, NULL, NULL);
    snprintf(bus, sizeof bus, "127.0.0.1.5,127:%d", port); /* one bad element */
    IvyStart(bus);
    if (write(ready_fd, "r", 1) != 1)
        return 3;
    close(ready_fd);
    IvyMainLoop(); /* until the peer's Die */
    if (connected != 1)
        return 4;
    if (disconnected != 0) /* none for our own stop */
        return 5;
    if (!bytes_matched)
        return 6;
    test_bus(bus, sizeof bus, port);
    IvyStart(bus);
    IvyStop();
    return 0;
}

/* ---- the raw peer (this process) --------------------------------------------- */

/* Waits for fd to be readable; 1 if it is within WAIT_MS. */
static int readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, WAIT_MS) == 1;
}

/* What the raw peer received from the agent, since it connected. */
static char got[8192];
static size_t got_len = 0;

/* Reads from the agent's connection until `expected` has come. */
static int receive(int fd, const char *expected)
{
    while (strstr(got, expected) == NULL) {
        ssize_t n = -1;
        if (got_len < sizeof got - 1 && readable(fd))
            n = read(fd, got + got_len, sizeof got - 1 - got_len);
        if (n <= 0) {
            fprintf(stderr, "the raw peer did not receive '%s'\n", expected);
            return 0;
        }
        got_len += (size_t)n;
        got[got_len] = '\0';
    }
    return 1;
}

static int send_text(int fd, const char *text)
{
    return write(fd, text, strlen(text)) == (ssize_t)strlen(text);
}

/* Announces the raw peer to the agent on the bus port, then talks to it. */
static void meet(int listener, int port)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    CHECK(getsockname(listener, (struct sockaddr *)&addr, &len) == 0);
    int tcp_port = ntohs(addr.sin_port);
    char text[256];
    snprintf(text, sizeof text, "3 %d raw-peer-id RawPeer\n", tcp_port);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((unsigned short)port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(sendto(udp, text, strlen(text), 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)strlen(text));
    close(udp);

    CHECK(readable(listener));
    int conn = accept(listener, NULL, NULL);
    CHECK(conn >= 0);
    if (conn < 0)
        return;
    got_len = 0;
    got[0] = '\0';
    CHECK(receive(conn, "5 0\002\n")); /* the agent's handshake */
    snprintf(text, sizeof text, "6 %d\002RawPeer\n1 7\002foo(bar\n1 8\002^dot (.)$\n5 0\002\n", tcp_port);
    CHECK(send_text(conn, text));
    CHECK(receive(conn, "3 7\002Error compiling 'foo(bar', missing )\n"));
    CHECK(receive(conn, "2 8\002e\003\n"));
    CHECK(send_text(conn, "3 5\002oops\n8 0\002\n"));
    CHECK(receive(conn, "0 0\002\n")); /* Bye: the agent obeyed */
    close(conn);
}

/* The whole content of the file fd. */
static const char *contents(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* Runs the agent with `setting` (NAME=VALUE, or NULL) in its environment;
 * its stdout and stderr go to `out` and `err`. */
static void run(const char *setting, int listener, int port, char *out, char *err, size_t size)
{
    char out_name[] = "/tmp/ivy-printed-XXXXXX", err_name[] = "/tmp/ivy-printed-XXXXXX";
    int out_fd = mkstemp(out_name), err_fd = mkstemp(err_name), ready[2];
    CHECK(out_fd >= 0 && err_fd >= 0 && pipe(ready) == 0);
    unlink(out_name);
    unlink(err_name);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(listener);
        unsetenv("IVY_QUIET");
        unsetenv("IVY_LOG");
        if (setting != NULL)
            putenv((char *)setting);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        exit(agent(port, ready[1])); /* exit: stdio is flushed, as in a program */
    }
    close(ready[1]);
    char c = 0;
    CHECK(readable(ready[0]) && read(ready[0], &c, 1) == 1);
    close(ready[0]);
    meet(listener, port);
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    contents(out_fd, out, size);
    contents(err_fd, err, size);
    close(out_fd);
    close(err_fd);
    printf("---- %s\n-- stdout:\n%s-- stderr:\n%s", setting ? setting : "default", out, err);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(120);
    int port = test_port_arg(argc, argv, 1);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any;
    memset(&any, 0, sizeof any);
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(listener, (struct sockaddr *)&any, sizeof any) == 0 && listen(listener, 4) == 0);

    char expected_out[512];
    snprintf(expected_out, sizeof expected_out,
             "Broadcasting on network 127.255.255.255, port %d\n"
             "Error compiling 'foo(bar', missing )\n"
             "Received error 5 oops\n"
             "Broadcasting on network 127.255.255.255, port %d\n",
             port, port);
    static char out[65536], err[65536];

    run(NULL, listener, port, out, err, sizeof out);
    CHECK_STR(out, expected_out);
    CHECK_STR(err, "bad broadcast address\n");

    run("IVY_QUIET=1", listener, port, out, err, sizeof out);
    CHECK_STR(out, "");
    CHECK_STR(err, "");

    run("IVY_LOG=1", listener, port, out, err, sizeof out);
    CHECK_STR(out, expected_out);
    CHECK(strncmp(err, "bad broadcast address\n", 22) == 0);
    CHECK(strstr(err, "\nbad broadcast address: 127.0.0.1.5\n") != NULL);

    close(listener);
    return check_report("test_printed");
}
