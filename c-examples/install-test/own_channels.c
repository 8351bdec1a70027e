/* Built against the installed package: a program with ivychannel.h of its own,
 * on a poll loop (never IvyMainLoop). The library registers its descriptors
 * here, and a timer of timer.h fires through them; then it stops.
 *   own_channels PORT */
#include <Ivy/ivy.h>
#include <Ivy/ivychannel.h>
#include <Ivy/ivyloop.h>
#include <Ivy/timer.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX 16

struct _channel {
    int fd;
    void *data;
    ChannelHandleRead read;
};

static struct _channel channels[MAX];
static int used[MAX];
static int added = 0, stopped = 0, ticks = 0;

void IvyChannelInit(void)
{
}

void IvyChannelStop(void)
{
    stopped = 1;
}

Channel IvyChannelAdd(IVY_HANDLE fd, void *data, ChannelHandleDelete handle_delete, ChannelHandleRead handle_read,
                      ChannelHandleWrite handle_write)
{
    (void)handle_delete;
    (void)handle_write;
    for (int i = 0; i < MAX; i++) {
        if (!used[i]) {
            used[i] = 1;
            channels[i].fd = fd;
            channels[i].data = data;
            channels[i].read = handle_read;
            added++;
            return &channels[i];
        }
    }
    return NULL;
}

void IvyChannelRemove(Channel channel)
{
    used[channel - channels] = 0;
}

void IvyChannelAddWritableEvent(Channel channel)
{
    (void)channel;
}

void IvyChannelClearWritableEvent(Channel channel)
{
    (void)channel;
}

static void tick(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    if (++ticks == 3)
        IvyStop();
}

int main(int argc, char **argv)
{
    char bus[64];
    snprintf(bus, sizeof bus, "127.255.255.255:%s", argc > 1 ? argv[1] : "23456");
    IvyInit("OwnChannels", NULL, NULL, NULL, NULL, NULL);
    IvyStart(bus);
    int at_start = added; /* the loop's descriptor, the listener, the UDP socket */
    TimerRepeatAfter(TIMER_LOOP, 10, tick, NULL);
    for (int turns = 0; !stopped && turns < 500; turns++) {
        struct pollfd fds[MAX];
        int slot[MAX], n = 0;
        for (int i = 0; i < MAX; i++) {
            if (used[i]) {
                fds[n].fd = channels[i].fd;
                fds[n].events = POLLIN;
                slot[n++] = i;
            }
        }
        if (poll(fds, (nfds_t)n, 100) > 0) {
            for (int k = 0; k < n; k++) {
                int i = slot[k];
                if ((fds[k].revents & POLLIN) && used[i])
                    channels[i].read(&channels[i], channels[i].fd, channels[i].data);
            }
        }
    }
    printf("own channels: %d added at IvyStart, %d ticks, stopped %d\n", at_start, ticks, stopped);
    return at_start == 3 && ticks == 3 && stopped ? 0 : 1;
}
