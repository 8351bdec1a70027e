/*
 * A program that implements ivychannel.h itself (IvyChannelInit, Stop, Add,
 * Remove, AddWritableEvent, ClearWritableEvent) on a plain poll(2) loop and
 * never calls IvyMainLoop, as Qt programs and others with a loop of their own
 * do (ivy-protocol.md §8.2). Built once against libivy.so (its functions
 * interpose) and once against libivy.a (they win over the library's weak
 * ones). On a loopback bus with a C ivyprobe (OwnProbe), it checks that the
 * library lives on this loop alone:
 *  - IvyInit calls IvyChannelInit; IvyStart registers the loop's descriptor,
 *    the TCP listener and the UDP socket through IvyChannelAdd;
 *  - the library's own timers fire through that descriptor: with descriptors
 *    exhausted (RLIMIT_NOFILE), the listener whose accept fails is removed
 *    (IvyChannelRemove) and added again 100 ms later, again and again until
 *    descriptors are back, then the probe's connection is accepted; a
 *    TimerRepeatAfter timer fires three times;
 *  - a message received; 100 messages sent from another thread arrive in
 *    order; a ping is answered;
 *  - congestion: with the probe stopped (SIGSTOP), messages are sent until
 *    Congestion: a writable watch is on (IvyChannelAddWritableEvent); the
 *    probe continued, Decongestion comes, the watch is off
 *    (IvyChannelClearWritableEvent), every message arrives in order;
 *  - a peer that vanishes (a second probe, killed): Disconnected, its channel
 *    removed;
 *  - IvyStop: the probe sees us leave, every socket of the bus is removed,
 *    IvyChannelStop is called, no Disconnected for our own stop;
 *  - started again, then a Die from the probe: the die callback,
 *    IvyChannelStop, no Disconnected;
 *  - ivysocket.h's layer on the same loop: a server, a line in, a line out,
 *    the connection's end and its delete handler, the server closed.
 * The loop calls a channel's delete handler on an error or hang-up, and from
 * inside IvyChannelRemove, as GLib and Qt do. Every wait is bounded.
 *
 *   test_own_loop IVYPROBE [PORT]
 * With IVY_TEST_NO_FD_LIMIT set (under valgrind), descriptors are not
 * exhausted.
 */
#include <Ivy/ivy.h>
#include <Ivy/ivychannel.h>
#include <Ivy/ivyloop.h>
#include <Ivy/ivysocket.h>
#include <Ivy/timer.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "check.h"
#include "probe_io.h"

#define TIME_LIMIT_S 120
#define WAIT_S 10.0

/* ======================= the program's loop =============================== */

#define MAX_CHANNELS 64

struct _channel {
    int used;
    int fd;
    void *data;
    ChannelHandleDelete on_delete;
    ChannelHandleRead on_read;
    ChannelHandleWrite on_write;
    int writable;
    unsigned generation; /* changes at each IvyChannelAdd of the slot */
};

static struct _channel channels[MAX_CHANNELS];
static unsigned generations = 0;

/* How often the library called each function. */
static struct {
    int init, stop, add, remove, writable_on, writable_off;
} calls;

/* The listening socket, found after IvyStart, and what happened to it. */
static int listener_fd = -1;
static int listener_adds = 0, listener_removes = 0;
static double listener_removed_at = 0, listener_added_at = 0;

void IvyChannelInit(void)
{
    calls.init++;
    printf("IvyChannelInit\n");
}

void IvyChannelStop(void)
{
    calls.stop++;
    printf("IvyChannelStop\n");
}

Channel IvyChannelAdd(IVY_HANDLE fd, void *data, ChannelHandleDelete handle_delete, ChannelHandleRead handle_read,
                      ChannelHandleWrite handle_write)
{
    CHECK(handle_read != NULL);
    for (int i = 0; i < MAX_CHANNELS; i++) {
        struct _channel *c = &channels[i];
        if (c->used)
            continue;
        c->used = 1;
        c->fd = fd;
        c->data = data;
        c->on_delete = handle_delete;
        c->on_read = handle_read;
        c->on_write = handle_write;
        c->writable = 0;
        c->generation = ++generations;
        calls.add++;
        if (fd == listener_fd) {
            listener_adds++;
            listener_added_at = probe_now();
        }
        printf("IvyChannelAdd(fd %d)\n", fd);
        return c;
    }
    CHECK(!"out of channels");
    return NULL;
}

void IvyChannelRemove(Channel c)
{
    CHECK(c != NULL && c->used);
    if (c == NULL || !c->used)
        return;
    calls.remove++;
    if (c->fd == listener_fd) {
        listener_removes++;
        listener_removed_at = probe_now();
    }
    printf("IvyChannelRemove(fd %d)\n", c->fd);
    struct _channel gone = *c;
    memset(c, 0, sizeof *c);
    /* As GLib and Qt: the delete handler runs at once, from inside. */
    if (gone.on_delete != NULL)
        gone.on_delete(gone.data);
}

void IvyChannelAddWritableEvent(Channel c)
{
    CHECK(c != NULL && c->used && !c->writable);
    calls.writable_on++;
    printf("IvyChannelAddWritableEvent(fd %d)\n", c->fd);
    c->writable = 1;
}

void IvyChannelClearWritableEvent(Channel c)
{
    CHECK(c != NULL && c->used && c->writable);
    calls.writable_off++;
    printf("IvyChannelClearWritableEvent(fd %d)\n", c->fd);
    c->writable = 0;
}

static int watched(void)
{
    int n = 0;
    for (int i = 0; i < MAX_CHANNELS; i++)
        n += channels[i].used;
    return n;
}

static int watched_writable(void)
{
    int n = 0;
    for (int i = 0; i < MAX_CHANNELS; i++)
        n += channels[i].used && channels[i].writable;
    return n;
}

/* Whether slot i still holds the channel of that generation. */
static int alive(int i, unsigned generation)
{
    return channels[i].used && channels[i].generation == generation;
}

/* One turn of the loop: waits at most `ms` for the watched descriptors, then
 * calls the handlers of each ready one: read, write (while its writable watch
 * is on), then delete on an error or a hang-up (as GLib does), each only if
 * the channel is still there. */
static void turn(int ms)
{
    struct pollfd fds[MAX_CHANNELS];
    int slot[MAX_CHANNELS];
    unsigned generation[MAX_CHANNELS];
    nfds_t n = 0;
    for (int i = 0; i < MAX_CHANNELS; i++) {
        if (!channels[i].used)
            continue;
        fds[n].fd = channels[i].fd;
        fds[n].events = (short)(POLLIN | (channels[i].writable ? POLLOUT : 0));
        fds[n].revents = 0;
        slot[n] = i;
        generation[n] = channels[i].generation;
        n++;
    }
    if (poll(fds, n, ms) <= 0)
        return;
    for (nfds_t k = 0; k < n; k++) {
        int i = slot[k];
        short ready = fds[k].revents;
        struct _channel *c = &channels[i];
        if ((ready & POLLIN) && alive(i, generation[k]))
            c->on_read(c, c->fd, c->data);
        if ((ready & POLLOUT) && alive(i, generation[k]) && c->writable && c->on_write != NULL)
            c->on_write(c, c->fd, c->data);
        if ((ready & (POLLERR | POLLHUP)) && alive(i, generation[k]) && c->on_delete != NULL)
            c->on_delete(c->data);
    }
}

/* Runs the loop until `cond` holds (a failed check after `seconds`). */
#define RUN_UNTIL(cond, seconds) PUMP_UNTIL(cond, #cond, seconds, turn, 20)

/* Waits for a line of the probe while the loop runs. */
static int expect(struct probe *p, const char *needle)
{
    return probe_expect_pumping(p, needle, WAIT_S, turn);
}

/* ======================= the agent ======================================== */

static struct probe probe;     /* OwnProbe, for the whole test */
static struct probe vanisher;  /* Vanisher, killed */

static IvyClientPtr probe_app = NULL;
static int probe_connected = 0, probe_disconnected = 0;
static int vanisher_connected = 0, vanisher_disconnected = 0;
static int congestion = 0, decongestion = 0, fifo_full = 0;
static char received[256];
static int received_count = 0;
static int pongs = 0, pong_delay = -1;
static int died = 0;
static int ticks = 0;

static void on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)data;
    const char *name = IvyGetApplicationName(app);
    printf("application %s: event %d\n", name, (int)event);
    int is_probe = strcmp(name, "OwnProbe") == 0;
    int is_vanisher = strcmp(name, "Vanisher") == 0;
    switch (event) {
    case IvyApplicationConnected:
        if (is_probe) {
            probe_app = app;
            probe_connected++;
        }
        vanisher_connected += is_vanisher;
        break;
    case IvyApplicationDisconnected:
        probe_disconnected += is_probe;
        vanisher_disconnected += is_vanisher;
        break;
    case IvyApplicationCongestion: congestion++; break;
    case IvyApplicationDecongestion: decongestion++; break;
    case IvyApplicationFifoFull: fifo_full++; break;
    }
}

static void on_die(IvyClientPtr app, void *data, int id)
{
    (void)app;
    (void)data;
    (void)id;
    died++;
}

static void on_message(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    if (argc == 1)
        snprintf(received, sizeof received, "%s", argv[0]);
    received_count++;
}

static void on_pong(IvyClientPtr app, int delay)
{
    (void)app;
    pongs++;
    pong_delay = delay;
}

static void on_tick(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    ticks++;
}

#define THREAD_FIRST 1000
#define THREAD_COUNT 100

static void *send_from_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < THREAD_COUNT; i++)
        IvySendMsg("from-own %d from a thread", THREAD_FIRST + i);
    return NULL;
}

/* Waits for the probe to print our messages numbered first..last, in order. */
static void expect_numbers(int first, int last)
{
    char needle[64];
    for (int i = first; i <= last; i++) {
        snprintf(needle, sizeof needle, "OwnLoop sent [0] '%d'", i);
        if (!expect(&probe, needle)) {
            check_failures++;
            return;
        }
    }
}

/* The descriptor of the listening socket among the watched ones. */
static int find_listener(void)
{
    for (int i = 0; i < MAX_CHANNELS; i++) {
        int listening = 0;
        socklen_t len = sizeof listening;
        if (channels[i].used &&
            getsockopt(channels[i].fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
            return channels[i].fd;
    }
    return -1;
}

/* Starts the agent; 3 descriptors watched the first time (the loop's, the
 * listener and the UDP socket), 2 more later. */
static void start(const char *bus)
{
    int before = watched();
    IvyStart(bus);
    CHECK(watched() == before + (before == 0 ? 3 : 2));
    listener_fd = find_listener();
    CHECK(listener_fd >= 0);
}

/* The listener's accept fails (no descriptor left): the library's back-off
 * timer, through the loop's descriptor, watches it again and again. */
static void accept_without_descriptors(void)
{
    struct rlimit saved, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    int lowest_free = dup(0);
    close(lowest_free);
    low = saved;
    low.rlim_cur = (rlim_t)lowest_free;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    RUN_UNTIL(listener_removes >= 1, WAIT_S);
    double removed_at = listener_removed_at;
    RUN_UNTIL(listener_adds >= 1, WAIT_S);
    printf("listener watched again after %.3f s\n", listener_added_at - removed_at);
    CHECK(listener_added_at - removed_at >= 0.09);
    RUN_UNTIL(listener_removes >= 2 && listener_adds >= 2, WAIT_S);
    CHECK(probe_connected == 0);
    CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
}

static void congest(void)
{
    static char pad[30001];
    memset(pad, 'x', sizeof pad - 1);
    int writable_on = calls.writable_on, writable_off = calls.writable_off;
    CHECK(kill(probe.pid, SIGSTOP) == 0);
    int first = 2000, sent = 0;
    for (; sent < 2000 && congestion == 0; sent++) {
        CHECK(IvySendMsg("from-own %d %s", first + sent, pad) == 1);
        turn(0);
    }
    RUN_UNTIL(congestion == 1, WAIT_S);
    printf("congestion after %d messages\n", sent);
    CHECK(watched_writable() == 1);
    CHECK(calls.writable_on == writable_on + 1);
    CHECK(fifo_full == 0);
    CHECK(kill(probe.pid, SIGCONT) == 0);
    expect_numbers(first, first + sent - 1);
    RUN_UNTIL(decongestion == 1, WAIT_S);
    CHECK(watched_writable() == 0);
    CHECK(calls.writable_off == writable_off + 1);
}

static void vanish(const char *path, const char *bus)
{
    int before = watched();
    vanisher.label = "Vanisher";
    CHECK(probe_spawn(&vanisher, path, bus, "Vanisher", "^nothing$") == 0);
    RUN_UNTIL(vanisher_connected == 1, WAIT_S);
    CHECK(watched() == before + 1);
    CHECK(kill(vanisher.pid, SIGKILL) == 0);
    CHECK(probe_wait_exit(&vanisher, WAIT_S) == 128 + SIGKILL);
    RUN_UNTIL(vanisher_disconnected == 1, WAIT_S);
    CHECK(watched() == before);
}

/* ivysocket.h's layer on this loop. */
static Client accepted = NULL;
static char socket_line[64];
static int socket_lines = 0, socket_deletes = 0;

static void *on_socket_create(Client client)
{
    accepted = client;
    return &accepted;
}

static void on_socket_delete(Client client, const void *data)
{
    CHECK(client == accepted && data == &accepted);
    socket_deletes++;
}

static void on_socket_line(Client client, const void *data, char *line)
{
    CHECK(client == accepted && data == &accepted);
    snprintf(socket_line, sizeof socket_line, "%s", line);
    socket_lines++;
}

static void socket_layer(void)
{
    int before = watched();
    Server server = SocketServer(0, 0, on_socket_create, on_socket_delete, NULL, on_socket_line);
    CHECK(server != NULL && watched() == before + 1);
    int peer = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(SocketServerGetPort(server));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(peer, (struct sockaddr *)&to, sizeof to) == 0);
    CHECK(write(peer, "line in\n", 8) == 8);
    RUN_UNTIL(socket_lines == 1, WAIT_S);
    CHECK_STR(socket_line, "line in");
    CHECK(watched() == before + 2);
    CHECK(SocketSend(accepted, "line out %d\n", 2) == SendOk);
    char reply[32] = {0};
    CHECK(read(peer, reply, sizeof reply - 1) == 11);
    CHECK_STR(reply, "line out 2\n");
    close(peer);
    RUN_UNTIL(socket_deletes == 1, WAIT_S);
    CHECK(watched() == before + 1);
    SocketServerClose(server);
    CHECK(watched() == before);
}

int main(int argc, char **argv)
{
    char bus[64];
    if (probe_test_start(argc, argv, 1, "test_own_loop IVYPROBE [PORT]", bus, sizeof bus) != 0)
        return 2;
    alarm(TIME_LIMIT_S);

    /* The probe first: our hello makes the link, the probe dials us. */
    probe.label = "OwnProbe";
    CHECK(probe_spawn(&probe, argv[1], bus, "OwnProbe", "^from-own ([0-9]+) (.*)") == 0);
    CHECK(probe_expect(&probe, "-> bound [0]", WAIT_S));
    probe_sleep_ms(300);

    IvyInit("OwnLoop", "OwnLoop Ready", on_app, NULL, on_die, NULL);
    CHECK(calls.init == 1);
    IvyBindMsg(on_message, NULL, "^to-own (.*)");
    IvySetPongCallback(on_pong);
    start(bus);
    /* Valgrind closes a descriptor past the limit that accept returns: the
     * probe would see its connection reset. */
    if (getenv("IVY_TEST_NO_FD_LIMIT") == NULL)
        accept_without_descriptors();
    RUN_UNTIL(probe_connected == 1, WAIT_S);
    CHECK(expect(&probe, "OwnLoop connected"));

    TimerRepeatAfter(3, 20, on_tick, NULL);
    RUN_UNTIL(ticks == 3, WAIT_S);

    CHECK(probe_say(&probe, "to-own hello world") == 0);
    RUN_UNTIL(received_count == 1, WAIT_S);
    CHECK_STR(received, "hello world");

    pthread_t sender;
    CHECK(pthread_create(&sender, NULL, send_from_thread, NULL) == 0);
    expect_numbers(THREAD_FIRST, THREAD_FIRST + THREAD_COUNT - 1);
    pthread_join(sender, NULL);

    IvySendPing(probe_app);
    RUN_UNTIL(pongs == 1, WAIT_S);
    CHECK(pong_delay >= 0);

    congest();
    vanish(argv[1], bus);

    /* Our own stop. */
    IvyStop();
    CHECK(calls.stop == 1);
    CHECK(watched() == 1); /* the loop's descriptor: timers work on */
    CHECK(expect(&probe, "OwnLoop disconnected"));
    CHECK(probe_disconnected == 0);

    /* Again, until the probe tells us to die. */
    start(bus);
    RUN_UNTIL(probe_connected == 2, WAIT_S);
    CHECK(expect(&probe, "OwnLoop connected"));
    CHECK(probe_say(&probe, ".die OwnLoop") == 0);
    RUN_UNTIL(died == 1 && calls.stop == 2, WAIT_S);
    CHECK(expect(&probe, "OwnLoop disconnected"));
    CHECK(watched() == 1);
    CHECK(probe_disconnected == 0);
    CHECK(congestion == 1 && decongestion == 1);

    socket_layer();

    close(probe.in); /* end of input: the probe quits */
    CHECK(probe_wait_exit(&probe, WAIT_S) == 0);
    printf("calls: init %d, stop %d, add %d, remove %d, writable on %d, off %d\n", calls.init, calls.stop,
           calls.add, calls.remove, calls.writable_on, calls.writable_off);
    return check_report("test_own_loop");
}
