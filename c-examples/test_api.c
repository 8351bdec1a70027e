/*
 * Single-process test of the whole C API: every function of every header is
 * called at least once (the bus ones with NULL or stale handles too, which must
 * be harmless), but for ivysocket.h's socket layer, which test_socket.c covers.
 * Built as C11 and as C++17, against libivy.so and libivy.a.
 * Exit status 0 when every check passed.
 */
#include <Ivy/ivy.h>
#include <Ivy/ivybind.h>
#include <Ivy/ivybuffer.h>
#include <Ivy/ivychannel.h>
#include <Ivy/ivydebug.h>
#include <Ivy/ivyglibloop.h>
#include <Ivy/ivyloop.h>
#include <Ivy/ivysocket.h>
#include <Ivy/list.h>
#include <Ivy/timer.h>
#include <Ivy/version.h>
/* The other include style must work too. */
#include "ivy.h"
#include "timer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Exported by libivy as by ivy-c, declared in no header. */
void IvyIdle(void);
#ifdef __cplusplus
}
#endif

#if IVYMAJOR_VERSION != 3 || IVYMINOR_VERSION != 15
#error "unexpected version.h"
#endif

/* ---- timers -------------------------------------------------------------- */
static int count3_fired = 0;
static int loop_fired = 0;
static int modified_fired = 0;
static int stop_fired = 0;
static TimerId loop_timer = NULL;

static void on_count3(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)delta;
    CHECK(data == (void *)&count3_fired);
    count3_fired++;
}

static void on_loop(TimerId id, void *data, unsigned long delta)
{
    (void)data;
    (void)delta;
    CHECK(id == loop_timer);
    if (++loop_fired == 4)
        TimerRemove(id); /* from inside its own callback */
}

static void on_modified(TimerId id, void *data, unsigned long delta)
{
    (void)data;
    (void)delta;
    modified_fired++;
    if (modified_fired <= 2)
        TimerModify(id, 5); /* does not consume a count */
}

/* ---- channels on a pipe -------------------------------------------------- */
static int pipe_fds[2];
static Channel read_channel = NULL;
static Channel write_channel = NULL;
static char received[64];
static size_t received_len = 0;
static int read_deleted = 0;
static int write_calls = 0;

static void on_pipe_read(Channel channel, IVY_HANDLE fd, void *data)
{
    CHECK(channel == read_channel);
    CHECK(data == (void *)pipe_fds);
    ssize_t n = read(fd, received + received_len, sizeof received - 1 - received_len);
    if (n > 0)
        received_len += (size_t)n;
    received[received_len] = '\0';
    if (n == 0 || strchr(received, '!') != NULL)
        IvyChannelRemove(channel); /* deferred: delete handler at the next iteration */
}

static void on_pipe_delete(void *data)
{
    CHECK(data == (void *)pipe_fds);
    read_deleted++;
}

static void on_pipe_write(Channel channel, IVY_HANDLE fd, void *data)
{
    (void)data;
    CHECK(channel == write_channel);
    write_calls++;
    if (write_calls == 1) {
        const char text[] = "through the pipe!";
        CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    }
    IvyChannelClearWritableEvent(channel);
}

/* ---- hooks ----------------------------------------------------------------- */
static int before_calls = 0;
static int after_calls = 0;
static void before_hook(void *data) { (void)data; before_calls++; }
static void after_hook(void *data) { (void)data; after_calls++; }

/* ---- the end of the loop --------------------------------------------------- */
static void on_stop(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    stop_fired++;
    IvyStop();
}

static void on_msg(IvyClientPtr app, void *user_data, int argc, char **argv)
{
    (void)app;
    (void)user_data;
    (void)argc;
    (void)argv;
}

static void on_direct(IvyClientPtr app, void *user_data, int id, char *msg)
{
    (void)app;
    (void)user_data;
    (void)id;
    (void)msg;
}

static void on_pong(IvyClientPtr app, int delay)
{
    (void)app;
    (void)delay;
}

static void on_die(IvyClientPtr app, void *user_data, int id)
{
    (void)app;
    (void)user_data;
    (void)id;
}

static int buffer_printf(IvyBuffer *buffer, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = make_message(buffer, fmt, ap);
    va_end(ap);
    return n;
}

struct node {
    struct node *next;
    int value;
};

static void test_list(void)
{
    struct node *list = NULL, *p = NULL, *nxt = NULL;
    int i, sum = 0;
    for (i = 1; i <= 3; i++) {
        IVY_LIST_ADD_START(list, p)
            p->value = i;
        IVY_LIST_ADD_END(list, p)
    }
    IVY_LIST_EACH(list, p) sum += p->value;
    CHECK(sum == 6);
    CHECK(list->value == 3); /* prepends */
    IVY_LIST_ITER(list, p, p->value != 2);
    CHECK(p != NULL && p->value == 2);
    IVY_LIST_REMOVE(list, p);
    sum = 0;
    IVY_LIST_EACH_SAFE(list, p, nxt) sum += p->value;
    CHECK(sum == 4);
    IVY_LIST_EMPTY(list);
    CHECK(list == NULL);
    TRACE("list ok %d\n", sum);
    TRACE_IF(sum != 4, "bad sum %d\n", sum);
}

static void test_buffer(void)
{
    IvyBuffer buffer = {NULL, 0, 0};
    CHECK(make_message_var(&buffer, "%d %s", 12, "ab") == 5);
    CHECK(buffer.offset == 5);
    CHECK(buffer_printf(&buffer, "-%c", 'z') == 2);
    CHECK_STR(buffer.data, "12 ab-z");
    /* growth */
    char big[10000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(make_message_var(&buffer, "%s", big) == (int)(sizeof big - 1));
    CHECK(buffer.size > buffer.offset);
    CHECK(strlen(buffer.data) == 7 + sizeof big - 1);
    free(buffer.data);
}

static void test_bind(void)
{
    int erroffset = -1;
    const char *errmessage = NULL;
    IvyBinding bad = IvyBindingCompile("foo(bar", &erroffset, &errmessage);
    CHECK(bad == NULL);
    CHECK(errmessage != NULL);
    CHECK(erroffset >= 0);

    IvyBinding b = IvyBindingCompile("^hello (\\w+) (\\d+)", &erroffset, &errmessage);
    CHECK(b != NULL);
    const char *msg = "hello world 42";
    CHECK(IvyBindingExec(b, msg) == 3);
    int len = 0;
    const char *arg = NULL;
    IvyBindingMatch(b, msg, 1, &len, &arg);
    CHECK(len == 5 && arg == msg + 6);
    IvyBindingMatch(b, msg, 2, &len, &arg);
    CHECK(len == 2 && arg == msg + 12);
    CHECK(IvyBindingExec(b, "goodbye") == 0);
    CHECK(IvyBindingExec(NULL, msg) == 0);
    IvyBindingFree(b);
    IvyBindingFree(b);    /* stale: harmless */
    IvyBindingFree(NULL); /* harmless */

    const char *words[] = {"hello", "foo"};
    CHECK(IvyBindingGetFilterCount() == 0);
    IvyBindingSetFilter(2, words);
    CHECK(IvyBindingGetFilterCount() == 2);
    CHECK(IvyBindingFilter("^hello (.*)") == 1);
    CHECK(IvyBindingFilter("^hellothere") == 0);
    CHECK(IvyBindingFilter("^bar") == 0);
    CHECK(IvyBindingFilter("bar") == 1);
    IvyBindindFilterCheck("hello");
    IvyBindingAddFilter("bar");
    CHECK(IvyBindingGetFilterCount() == 3);
    CHECK(IvyBindingFilter("^bar") == 1);
    IvyBindingRemoveFilter("bar");
    CHECK(IvyBindingGetFilterCount() == 2);
    IvyBindingTerminate();
    CHECK(IvyBindingGetFilterCount() == 0);

    /* the same list through ivy.h */
    IvySetFilter(2, words);
    IvyAddFilter("other");
    IvyAddFilter(NULL);
    CHECK(IvyBindingGetFilterCount() == 3);
    IvyRemoveFilter("other");
    IvyRemoveFilter("hello");
    IvyRemoveFilter("foo");
    CHECK(IvyBindingGetFilterCount() == 0);
}

static void test_handles(void)
{
    /* NULL and made-up handles: everything is a harmless no-op. */
    IvyClientPtr stale = (IvyClientPtr)(size_t)0x7777;
    CHECK_STR(IvyGetApplicationName(NULL), "Unknown");
    CHECK_STR(IvyGetApplicationName(stale), "Unknown");
    CHECK(IvyGetApplicationHost(NULL) == NULL);
    CHECK(IvyGetApplicationHost(stale) != NULL);
    char nobody[] = "nobody";
    CHECK(IvyGetApplication(nobody) == NULL);
    CHECK(IvyGetApplication(NULL) == NULL);
    CHECK_STR(IvyGetApplicationList(","), "");
    char **msgs = IvyGetApplicationMessages(stale);
    CHECK(msgs != NULL && msgs[0] == NULL);
    char text[] = "direct";
    IvySendDirectMsg(stale, 1, text);
    IvySendDirectMsg(NULL, 1, text);
    IvySendDieMsg(NULL);
    IvySendDieMsg(stale);
    IvySendPing(stale);
    IvySendError(stale, 3, "error %d", 3);
    IvySendError(NULL, 3, "%s", "error");
    IvyUnbindMsg(NULL);
    IvyUnbindMsg((MsgRcvPtr)(size_t)0x5555);
    CHECK(IvyChangeMsg(NULL, "x") == NULL);
    IvyChannelRemove(NULL);
    IvyChannelRemove((Channel)(size_t)0x4444);
    IvyChannelAddWritableEvent(NULL);
    IvyChannelClearWritableEvent(NULL);
    TimerRemove(NULL);
    TimerRemove((TimerId)(size_t)0x3333);
    TimerModify(NULL, 10);
    CHECK(TimerRepeatAfter(1, 10, NULL, NULL) == NULL);
    IvyDefaultApplicationCallback(NULL, NULL, IvyApplicationConnected);
    IvyDefaultBindCallback(NULL, NULL, 1, "^re", IvyAddBind);
    RWIvyClientPtr rw = NULL;
    (void)rw;
    SendState state = SendOk;
    CHECK(state == 0 && SendParamError == 6);
    Client client = NULL;
    Server server = NULL;
    SocketInterpretation interp = NULL;
    (void)client;
    (void)server;
    (void)interp;
    CHECK(IvyApplicationFifoFull == 4 && IvyChangeBind == 3);
    CHECK(TIMER_LOOP == -1 && ANYPORT == 0);
}

int main(void)
{
    char bus[64];
    test_bus(bus, sizeof bus, test_port());

    test_list();
    test_buffer();
    test_bind();
    test_handles();

    /* Bindings and timers work before IvyInit. */
    MsgRcvPtr early = IvyBindMsg(on_msg, NULL, "^early %d (.*)", 1);
    CHECK(early != NULL);
    CHECK(IvyChangeMsg(early, "^changed %s", "(.*)") == early);

    IvyInit("CApiTest", "CApiTest Ready", IvyDefaultApplicationCallback, NULL, on_die, NULL);
    IvySetBindCallback(IvyDefaultBindCallback, NULL);
    IvyBindDirectMsg(on_direct, NULL);
    IvySetPongCallback(on_pong);
    MsgRcvPtr second = IvyBindMsg(on_msg, (void *)&count3_fired, "^second (.*)");
    CHECK(second != NULL && second != early);
    IvyUnbindMsg(second);
    IvyUnbindMsg(second); /* stale: harmless */
    CHECK(IvySendMsg("nobody listens %d", 1) == 0);
    CHECK(IvySendMsg("%s", "") == 0);
    CHECK(IvySendMsg(NULL) == 0);

    IvyStart(bus);

    CHECK(TimerRepeatAfter(3, 5, on_count3, &count3_fired) != NULL);
    loop_timer = TimerRepeatAfter(TIMER_LOOP, 3, on_loop, NULL);
    CHECK(loop_timer != NULL);
    CHECK(TimerRepeatAfter(1, 5, on_modified, NULL) != NULL);
    struct timeval *tv = TimerGetSmallestTimeout();
    CHECK(tv != NULL && tv->tv_sec == 0 && tv->tv_usec <= 5000);
    TimerScan(); /* nothing due yet */

    CHECK(pipe(pipe_fds) == 0);
    read_channel = IvyChannelAdd(pipe_fds[0], pipe_fds, on_pipe_delete, on_pipe_read, NULL);
    CHECK(read_channel != NULL);
    write_channel = IvyChannelAdd(pipe_fds[1], NULL, NULL, on_pipe_read, on_pipe_write);
    CHECK(write_channel != NULL);
    IvyChannelAddWritableEvent(write_channel);

    IvySetBeforeSelectHook(before_hook, NULL);
    IvySetAfterSelectHook(after_hook, NULL);

    TimerId stop = TimerRepeatAfter(1, 300, on_stop, NULL);
    CHECK(stop != NULL);
    IvyIdle();
    IvyMainLoop();

    CHECK(stop_fired == 1);
    CHECK(count3_fired == 3);
    CHECK(loop_fired == 4);
    CHECK(modified_fired == 3);
    CHECK_STR(received, "through the pipe!");
    CHECK(read_deleted == 1);
    CHECK(write_calls == 1);
    CHECK(before_calls > 0 && after_calls > 0);

    /* A stopped loop returns at once until IvyChannelInit resets the flag. */
    IvySetBeforeSelectHook(NULL, NULL);
    IvySetAfterSelectHook(NULL, NULL);
    IvyChannelStop();
    IvyMainLoop();
    IvyChannelInit();
    SocketInit();
    TimerRepeatAfter(1, 1, on_stop, NULL);
    IvyMainLoop();
    CHECK(stop_fired == 2);

    IvyUnbindMsg(early);
    IvyTerminate();
    IvyTerminate(); /* twice: harmless */
    close(pipe_fds[0]);
    close(pipe_fds[1]);

    return check_report("test_api");
}
