/* Built against the installed package: runs the loop for a moment, then stops. */
#include <Ivy/ivy.h>
#include <Ivy/ivyloop.h>
#include <Ivy/timer.h>
#include <Ivy/version.h>
#include <stdio.h>

static int ticks = 0;

static void tick(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    if (++ticks == 3)
        IvyStop();
}

int main(void)
{
    IvyInit("InstallTest", NULL, NULL, NULL, NULL, NULL);
    TimerRepeatAfter(TIMER_LOOP, 10, tick, NULL);
    IvyMainLoop();
    printf("hello from libivy %d.%d after %d ticks\n", IVYMAJOR_VERSION, IVYMINOR_VERSION, ticks);
    return ticks == 3 ? 0 : 1;
}
