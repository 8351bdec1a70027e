/*
 * Drives two ivyprobe processes (C or Rust, any pair) on one loopback bus
 * through pipes, and checks what each prints: connection, messages with
 * captures both ways, a direct message, a ping, .who/.where, and a die that
 * ends the second probe. Every wait is bounded.
 *
 *   probe_duel PROBE_X PROBE_Y [PORT]
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "probe_io.h"

static struct probe x, y;

static void say(struct probe *p, const char *line)
{
    CHECK(probe_say(p, line) == 0);
}

/* A line told to a probe, its answer, and what the other probe prints then
 * (NULL: nothing to wait for). */
struct exchange {
    struct probe *told;
    const char *line, *answer;
    struct probe *other;
    const char *seen;
};

static void exchange(const struct exchange *e)
{
    say(e->told, e->line);
    CHECK(probe_expect(e->told, e->answer, 10));
    if (e->other != NULL)
        CHECK(probe_expect(e->other, e->seen, 10));
}

int main(int argc, char **argv)
{
    char bus[64];
    if (probe_test_start(argc, argv, 2, "probe_duel PROBE_X PROBE_Y [PORT]", bus, sizeof bus) != 0)
        return 2;

    x.label = "X";
    y.label = "Y";
    CHECK(probe_spawn(&x, argv[1], bus, "DuelX", "^from-y (.*) and (.*)$") == 0);
    /* Y starts once X is on the bus, so that only Y's hello makes the link. */
    CHECK(probe_expect(&x, "-> bound [0]", 10));
    probe_sleep_ms(300);
    CHECK(probe_spawn(&y, argv[2], bus, "DuelY", "^from-x (.*)$") == 0);

    CHECK(probe_expect(&x, "DuelY connected", 10));
    CHECK(probe_expect(&y, "DuelX connected", 10));
    /* The ready messages: X's "DuelX Ready" does not match Y's regexp and the
     * other way round, so nothing is printed for them. */

    const struct exchange script[] = {
        {&x, "from-x hello world", "-> Sent to 1 peer(s)", &y, "DuelX sent [0] 'hello world'"},
        {&y, "from-y one and two", "-> Sent to 1 peer(s)", &x, "DuelY sent [0] 'one' 'two'"},
        {&x, "nobody listens to this", "-> Sent to 0 peer(s)", NULL, NULL},
        {&x, ".direct DuelY 17 private words", "-> direct sent to DuelY", &y, "DuelX direct [17] 'private words'"},
        {&y, ".ping DuelX", "DuelX pong", NULL, NULL},
        {&x, ".who", "-> 1 peer(s): 'DuelY'", NULL, NULL},
        {&x, ".where DuelY", "-> DuelY on localhost", NULL, NULL},
        {&y, ".bind ^late (.*)", "-> bound [1] '^late (.*)'", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof script / sizeof script[0]; i++)
        exchange(&script[i]);
    /* Y's new subscription reaches X asynchronously: retry until X sends it. */
    int delivered = 0;
    for (int i = 0; i < 50 && !delivered; i++) {
        say(&x, "late news");
        CHECK(probe_expect(&x, "-> Sent to ", 10));
        delivered = strstr(x.last, "-> Sent to 1 peer(s)") != NULL;
        if (!delivered)
            probe_sleep_ms(100);
    }
    CHECK(delivered);
    CHECK(probe_expect(&y, "DuelX sent [1] 'news'", 10));

    say(&x, ".die DuelY");
    CHECK(probe_expect(&y, "DuelX die received", 10));
    CHECK(probe_wait_exit(&y, 10) == 0);
    CHECK(probe_expect(&x, "DuelY disconnected", 10));

    close(x.in); /* end of input: X quits */
    CHECK(probe_wait_exit(&x, 10) == 0);

    return check_report("probe_duel");
}
