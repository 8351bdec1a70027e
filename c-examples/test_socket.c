/*
 * The socket layer of ivysocket.h on loopback, in one process: a TCP server
 * and connections to it (SocketConnect, SocketConnectAddr); lines both ways
 * with SocketSend, SocketSendRaw, SocketSendRawWithId and SocketBroadcast,
 * sent from inside line handlers too; user data, uuids, addresses and ports;
 * SocketWaitForReply; congestion up to a full queue, then the decongestion
 * handler; a line past the 1 MiB limit; closes and their delete handlers. A
 * UDP socket receives its own datagrams (SocketSendBroadcast; over IPv6, with
 * an IPv6 server too, when the host has ::1). SocketAddMember is only given
 * addresses that are no groups: no multicast traffic leaves the machine.
 * Every wait is bounded (run_until, alarm).
 */
#include <Ivy/ivychannel.h>
#include <Ivy/ivyloop.h>
#include <Ivy/ivysocket.h>
#include <Ivy/timer.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define TIME_LIMIT_S 120
#define MAX_LINES 8

/* ---- running the loop until something happened ---------------------------- */
static int (*until)(void);
static int timed_out = 0;

static void check_until(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    if (until())
        IvyChannelStop();
}

static void time_up(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    timed_out++;
    IvyChannelStop();
}

/* Runs the loop until cond() holds or ms have passed; returns cond(). */
static int run_until(int (*cond)(void), long ms)
{
    until = cond;
    TimerId poll = TimerRepeatAfter(TIMER_LOOP, 2, check_until, NULL);
    TimerId limit = TimerRepeatAfter(1, ms, time_up, NULL);
    IvyChannelInit(); /* the loop may run again */
    IvyMainLoop();
    TimerRemove(poll);
    TimerRemove(limit); /* a finished timer's id is harmless here */
    return cond();
}

/* ---- a record of what handlers got ----------------------------------------- */
struct side {
    const char *name;
    Client client;
    int lines;
    char line[MAX_LINES][128];
    long long big_lines; /* lines longer than 127 bytes */
    int deletes;
    int decongestions;
    const void *data_seen;
};

static void record_line(struct side *s, Client client, const void *data, const char *line)
{
    CHECK(client == s->client);
    s->data_seen = data;
    if (strlen(line) >= sizeof s->line[0]) {
        s->big_lines++;
        return;
    }
    if (s->lines < MAX_LINES)
        snprintf(s->line[s->lines], sizeof s->line[0], "%s", line);
    s->lines++;
}

/* Connecting sides: their data is their struct side. */
static struct side c1 = {"c1", NULL, 0, {{0}}, 0, 0, 0, NULL};
static struct side c2 = {"c2", NULL, 0, {{0}}, 0, 0, 0, NULL};
static struct side c3 = {"c3", NULL, 0, {{0}}, 0, 0, 0, NULL};
/* Accepted sides, in accept order: their data is what on_create returned. */
static struct side accepted[3] = {
    {"a1", NULL, 0, {{0}}, 0, 0, 0, NULL},
    {"a2", NULL, 0, {{0}}, 0, 0, 0, NULL},
    {"a3", NULL, 0, {{0}}, 0, 0, 0, NULL},
};
static int accepts = 0;

static void on_client_line(Client client, const void *data, char *line)
{
    struct side *s = (struct side *)data;
    record_line(s, client, data, line);
}

static void on_client_delete(Client client, const void *data)
{
    struct side *s = (struct side *)data;
    CHECK(client == s->client);
    s->deletes++;
}

static void on_client_decongestion(Client client, const void *data)
{
    struct side *s = (struct side *)data;
    CHECK(client == s->client);
    s->decongestions++;
}

static void *on_create(Client client)
{
    CHECK(accepts < 3);
    if (accepts >= 3)
        return NULL;
    accepted[accepts].client = client;
    return &accepted[accepts++];
}

/* The server side echoes what c1 sends ("hello ..."), from inside the handler. */
static void on_server_line(Client client, const void *data, char *line)
{
    struct side *s = (struct side *)data;
    CHECK(s != NULL);
    if (s == NULL)
        return;
    record_line(s, client, data, line);
    if (s == &accepted[0] && strncmp(line, "all", 3) != 0)
        CHECK(SocketSend(client, "echo %s\n", line) == SendOk);
}

static void on_server_delete(Client client, const void *data)
{
    struct side *s = (struct side *)data;
    CHECK(s != NULL && client == s->client);
    if (s != NULL)
        s->deletes++;
}

static void on_server_decongestion(Client client, const void *data)
{
    struct side *s = (struct side *)data;
    CHECK(s != NULL && client == s->client);
    if (s != NULL)
        s->decongestions++;
}

/* ---- UDP ------------------------------------------------------------------- */
static struct side u4 = {"u4", NULL, 0, {{0}}, 0, 0, 0, NULL};
static struct side u6 = {"u6", NULL, 0, {{0}}, 0, 0, 0, NULL};

static void on_datagram_line(Client client, const void *data, char *line)
{
    struct side *s = (struct side *)data;
    record_line(s, client, data, line);
    line[0] = 'X'; /* the line is writable */
}

/* ---- conditions ------------------------------------------------------------ */
static int two_accepted_three_lines(void) { return accepts == 2 && accepted[0].lines == 3; }
static int echoes_back(void) { return c1.lines == 3; }
static int broadcast_seen(void) { return accepted[0].lines == 4 && accepted[1].lines == 1 && c1.lines == 4 && c2.lines == 1; }
static int two_datagram_lines(void) { return u4.lines == 2; }
static int six_line(void) { return u6.lines == 1; }
static long long expected_big = -1;
static int a2_decongested(void) { return accepted[1].decongestions == 1 && c2.big_lines == expected_big; }
static int after_seen(void) { return c2.lines == 2; }
static int a1_deleted(void) { return accepted[0].deletes == 1; }
static int c2_deleted(void) { return c2.deletes == 1; }
static int third_accepted(void) { return accepts == 3; }
static int too_long_closed(void) { return accepted[2].deletes == 1 && c3.deletes == 1; }

static int ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void test_ipv6(void)
{
    if (!ipv6_loopback()) {
        printf("test_socket: no IPv6 loopback here: IPv6 part skipped\n");
        return;
    }
    u6.client = SocketBroadcastCreate(1, 0, &u6, on_datagram_line);
    CHECK(u6.client != NULL);
    unsigned short port6 = SocketGetLocalPort(u6.client);
    struct in6_addr lo = in6addr_loopback;
    SocketSendBroadcast6(u6.client, &lo, port6, "six %d\n", 6);
    CHECK(run_until(six_line, 5000));
    CHECK_STR(u6.line[0], "six 6");
    const char *host = NULL;
    unsigned short port = 0;
    SocketGetRemoteHost(u6.client, &host, &port);
    CHECK_STR(host, "::1");
    CHECK(port == port6);
    CHECK(SocketAddMember6(u6.client, &lo) == 0); /* ::1 is no group */
    SocketClose(u6.client);

    Server server6 = SocketServer(1, 0, NULL, NULL, NULL, NULL);
    CHECK(server6 != NULL);
    char six[] = "::1";
    Client c6 = SocketConnect(1, six, SocketServerGetPort(server6), NULL, NULL, NULL, NULL);
    CHECK(c6 != NULL);
    struct sockaddr_storage *ss = SocketGetRemoteAddr(c6);
    CHECK(ss != NULL && ss->ss_family == AF_INET6);
    CHECK(SocketConnect(0, six, SocketServerGetPort(server6), NULL, NULL, NULL, NULL) == NULL); /* IPv4 only */
    SocketClose(c6);
    SocketServerClose(server6);
}

int main(void)
{
    static char chunk[16384];
    char buf[64];
    alarm(TIME_LIMIT_S);
    setvbuf(stdout, NULL, _IOLBF, 0);
    SocketInit();

    /* ---- a server, two connections ----------------------------------------- */
    Server server = SocketServer(0, ANYPORT, on_create, on_server_delete, on_server_decongestion, on_server_line);
    CHECK(server != NULL);
    unsigned short port = SocketServerGetPort(server);
    CHECK(port != 0);

    char loopback[] = "127.0.0.1";
    c1.client = SocketConnect(0, loopback, port, &c1, on_client_line, on_client_delete, on_client_decongestion);
    CHECK(c1.client != NULL);
    struct sockaddr_storage target;
    memset(&target, 0, sizeof target);
    struct sockaddr_in *sin = (struct sockaddr_in *)&target;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(9); /* ignored: the port argument counts */
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c2.client = SocketConnectAddr(0, &target, port, &c2, on_client_line, on_client_delete, on_client_decongestion);
    CHECK(c2.client != NULL);
    CHECK(SocketConnectAddr(0, NULL, port, NULL, NULL, NULL, NULL) == NULL);

    /* A port nobody listens on any more. */
    Server gone = SocketServer(0, 0, NULL, NULL, NULL, NULL);
    unsigned short gone_port = SocketServerGetPort(gone);
    SocketServerClose(gone);
    CHECK(SocketServerGetPort(gone) == 0);
    CHECK(SocketConnect(0, loopback, gone_port, NULL, NULL, NULL, NULL) == NULL);
    Server twin = SocketServer(0, port, NULL, NULL, NULL, NULL); /* SO_REUSEPORT: a second listener */
    CHECK(twin != NULL);
    SocketServerClose(twin);

    /* ---- sends ---------------------------------------------------------------- */
    CHECK(SocketSend(c1.client, "hello %d\n", 1) == SendOk);
    CHECK(SocketSendRaw(c1.client, "raw\npart", 8) == SendOk);
    CHECK(SocketSendRawWithId(c1.client, "ial ", "end\n", 4) == SendOk);
    CHECK(SocketSendRaw(NULL, "x", 1) == SendParamError);
    CHECK(SocketSendRaw(c1.client, NULL, 1) == SendParamError);
    CHECK(SocketSendRaw(c1.client, "x", -1) == SendParamError);
    CHECK(SocketSendRawWithId(c1.client, NULL, "x", 1) == SendParamError);
    CHECK(SocketSend(c1.client, NULL) == SendParamError);
    CHECK(run_until(two_accepted_three_lines, 5000));
    CHECK(accepted[0].client != NULL && accepted[1].client != NULL);
    /* accepted[0] is c1's other end (c1 connected first). */
    CHECK(SocketGetRemotePort(accepted[0].client) == SocketGetLocalPort(c1.client));
    CHECK(SocketGetRemotePort(accepted[1].client) == SocketGetLocalPort(c2.client));
    CHECK(accepted[0].data_seen == &accepted[0]);
    CHECK_STR(accepted[0].line[0], "hello 1");
    CHECK_STR(accepted[0].line[1], "raw");
    CHECK_STR(accepted[0].line[2], "partial end");

    CHECK(run_until(echoes_back, 5000));
    CHECK(c1.data_seen == &c1);
    CHECK_STR(c1.line[0], "echo hello 1");
    CHECK_STR(c1.line[2], "echo partial end");

    SocketBroadcast("all %d\n", 2); /* the four TCP connections of the layer */
    CHECK(run_until(broadcast_seen, 5000));
    CHECK_STR(accepted[0].line[3], "all 2");
    CHECK_STR(accepted[1].line[0], "all 2");
    CHECK_STR(c1.line[3], "all 2");
    CHECK_STR(c2.line[0], "all 2");

    /* ---- data, uuids, addresses ---------------------------------------------- */
    CHECK(SocketGetData(c1.client) == &c1);
    SocketSetData(c1.client, &c3);
    CHECK(SocketGetData(c1.client) == &c3);
    SocketSetData(c1.client, &c1);
    CHECK(SocketGetData(NULL) == NULL);
    CHECK(SocketCmpUuid(c1.client, c2.client) == 1);
    CHECK(SocketGetUuid(c1.client) == NULL);
    SocketSetUuid(c1.client, "uuid-1");
    SocketSetUuid(c2.client, "uuid-1");
    CHECK_STR(SocketGetUuid(c1.client), "uuid-1");
    CHECK(SocketCmpUuid(c1.client, c2.client) == 0);
    SocketSetUuid(c2.client, "uuid-2");
    CHECK(SocketCmpUuid(c1.client, c2.client) < 0);
    CHECK(SocketCmpUuid(c2.client, c1.client) > 0);
    SocketSetUuid(c2.client, NULL);
    CHECK_STR(SocketGetUuid(c2.client), "uuid-2");

    CHECK(SocketGetRemotePort(c1.client) == port);
    CHECK(SocketGetLocalPort(c1.client) != 0);
    const char *host = NULL;
    unsigned short rport = 0;
    SocketGetRemoteHost(c1.client, &host, &rport);
    CHECK_STR(host, "127.0.0.1");
    CHECK(rport == port);
    SocketGetRemoteHost(NULL, &host, &rport);
    CHECK(host == NULL && rport == 0);
    CHECK_STR(SocketGetPeerHost(c1.client), "localhost");
    CHECK(SocketGetPeerHost(NULL) == NULL);
    struct sockaddr_storage *remote = SocketGetRemoteAddr(c1.client);
    CHECK(remote != NULL && remote->ss_family == AF_INET);
    if (remote != NULL) {
        struct sockaddr_in *r = (struct sockaddr_in *)remote;
        CHECK(r->sin_port == htons(port));
        CHECK(r->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    }
    CHECK(SocketGetRemoteAddr(NULL) == NULL);

    /* ---- waiting for a reply without the loop -------------------------------- */
    CHECK(SocketSend(accepted[0].client, "answer %d\nrest\n", 42) == SendOk);
    CHECK(SocketWaitForReply(c1.client, buf, sizeof buf, 5) == 9);
    CHECK_STR(buf, "answer 42");
    CHECK(SocketWaitForReply(c1.client, buf, 4, 5) == 3); /* cut to the room */
    CHECK_STR(buf, "res");
    CHECK(SocketWaitForReply(c1.client, buf, sizeof buf, 0) == -1); /* nothing more */
    CHECK(SocketWaitForReply(NULL, buf, sizeof buf, 0) == -1);
    CHECK(SocketWaitForReply(c1.client, NULL, 10, 0) == -1);
    CHECK(SocketWaitForReply(c1.client, buf, 0, 0) == -1);

    /* ---- UDP ----------------------------------------------------------------- */
    u4.client = SocketBroadcastCreate(0, 0, &u4, on_datagram_line);
    CHECK(u4.client != NULL);
    unsigned short uport = SocketGetLocalPort(u4.client);
    CHECK(uport != 0);
    SocketSendBroadcast(u4.client, 0x7F000001UL, uport, "dgram %d\nno newline", 7);
    CHECK(run_until(two_datagram_lines, 5000));
    CHECK_STR(u4.line[0], "dgram 7");
    CHECK_STR(u4.line[1], "no newline"); /* the datagram's end ends the line */
    CHECK(SocketGetRemotePort(u4.client) == uport);
    SocketGetRemoteHost(u4.client, &host, &rport);
    CHECK_STR(host, "127.0.0.1");
    CHECK(SocketSendRaw(u4.client, "x\n", 2) == SendError); /* not a connection */
    CHECK(SocketAddMember(u4.client, 0x7F000001UL) == 0);   /* no group */
    CHECK(SocketAddMember(NULL, 0xE0000001UL) == 0);
    CHECK(SocketAddMember(c1.client, 0xE0000001UL) == 0); /* not a datagram socket */
    CHECK(SocketAddMember6(u4.client, NULL) == 0);
    SocketClose(u4.client);
    test_ipv6();

    /* ---- congestion: a2 sends to c2, which reads only when the loop runs ---- */
    memset(chunk, 'x', sizeof chunk - 1);
    chunk[sizeof chunk - 1] = '\n';
    int ok = 0, changed = 0, still = 0, full = 0;
    for (int i = 0; i < 8192 && full == 0; i++) {
        switch (SocketSendRaw(accepted[1].client, chunk, (int)sizeof chunk)) {
        case SendOk: ok++; break;
        case SendStateChangeToCongestion: changed++; break;
        case SendStillCongestion: still++; break;
        case SendStateFifoFull: full++; break;
        default: CHECK(0); break;
        }
    }
    CHECK(ok >= 1 && changed == 1 && still >= 1 && full == 1);
    CHECK((long long)still * (long long)sizeof chunk <= 32LL << 20);
    CHECK(SocketSendRaw(accepted[1].client, "y\n", 2) == SendStateFifoFull); /* full until bytes drain */
    CHECK(accepted[1].decongestions == 0);
    expected_big = ok + changed + still; /* whole sends, the dropped ones absent */
    CHECK(run_until(a2_decongested, 60000));
    CHECK(c2.big_lines == expected_big);
    CHECK(SocketSendRaw(accepted[1].client, "after\n", 6) == SendOk);
    CHECK(run_until(after_seen, 5000));
    CHECK_STR(c2.line[1], "after");

    /* ---- closes -------------------------------------------------------------- */
    SocketClose(c1.client);
    CHECK(c1.deletes == 1); /* at once */
    SocketClose(c1.client); /* stale: nothing */
    SocketClose(NULL);
    CHECK(c1.deletes == 1);
    CHECK(run_until(a1_deleted, 5000)); /* the peer saw the end */
    SocketClose(accepted[1].client);
    CHECK(accepted[1].deletes == 1);
    CHECK(run_until(c2_deleted, 5000));

    /* A line past 1 MiB ends the connection that receives it. */
    c3.client = SocketConnect(0, loopback, port, &c3, on_client_line, on_client_delete, NULL);
    CHECK(c3.client != NULL);
    CHECK(run_until(third_accepted, 5000));
    static char huge[(1 << 20) + 100];
    memset(huge, 'z', sizeof huge);
    CHECK(SocketSendRaw(c3.client, huge, (int)sizeof huge) != SendError);
    CHECK(run_until(too_long_closed, 10000));
    CHECK(accepted[2].lines == 0 && accepted[2].big_lines == 0);

    SocketServerClose(server);
    CHECK(timed_out == 0);
    return check_report("test_socket");
}
