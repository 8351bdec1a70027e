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

static void say(struct probe *p, const char *line)
{
    CHECK(probe_say(p, line) == 0);
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
    CHECK(probe_spawn(&x, argv[1], bus, "DuelX", "^from-y (.*) and (.*)$") == 0);
    /* Y starts once X is on the bus, so that only Y's hello makes the link. */
    CHECK(probe_expect(&x, "-> bound [0]", 10));
    probe_sleep_ms(300);
    CHECK(probe_spawn(&y, argv[2], bus, "DuelY", "^from-x (.*)$") == 0);

    CHECK(probe_expect(&x, "DuelY connected", 10));
    CHECK(probe_expect(&y, "DuelX connected", 10));
    /* The ready messages: X's "DuelX Ready" does not match Y's regexp and the
     * other way round, so nothing is printed for them. */

    say(&x, "from-x hello world");
    CHECK(probe_expect(&x, "-> Sent to 1 peer(s)", 10));
    CHECK(probe_expect(&y, "DuelX sent [0] 'hello world'", 10));

    say(&y, "from-y one and two");
    CHECK(probe_expect(&y, "-> Sent to 1 peer(s)", 10));
    CHECK(probe_expect(&x, "DuelY sent [0] 'one' 'two'", 10));

    say(&x, "nobody listens to this");
    CHECK(probe_expect(&x, "-> Sent to 0 peer(s)", 10));

    say(&x, ".direct DuelY 17 private words");
    CHECK(probe_expect(&x, "-> direct sent to DuelY", 10));
    CHECK(probe_expect(&y, "DuelX direct [17] 'private words'", 10));

    say(&y, ".ping DuelX");
    CHECK(probe_expect(&y, "DuelX pong", 10));

    say(&x, ".who");
    CHECK(probe_expect(&x, "-> 1 peer(s): 'DuelY'", 10));
    say(&x, ".where DuelY");
    CHECK(probe_expect(&x, "-> DuelY on localhost", 10));

    say(&y, ".bind ^late (.*)");
    CHECK(probe_expect(&y, "-> bound [1] '^late (.*)'", 10));
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

    if (check_failures != 0) {
        fprintf(stderr, "probe_duel: %d check(s) failed\n", check_failures);
        return 1;
    }
    printf("probe_duel: all checks passed\n");
    return 0;
}
