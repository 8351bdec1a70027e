/*
 * ivyprobe in C, on the libivy C API: the same options, commands and output
 * as the Rust ivyprobe (src/bin/ivyprobe.rs), so scripts can drive either.
 *
 *   ivyprobe [-b BUS] [-n NAME] [-s] [-c WORD,WORD...] [-v] [-h] [REGEXP...]
 *
 * Standard input is read line by line on the loop (a channel on fd 0); end of
 * input quits. Every output line is flushed as it is written.
 */
#include <Ivy/ivy.h>
#include <Ivy/ivybind.h>
#include <Ivy/ivyloop.h>
#include <Ivy/version.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BINDINGS 1024

struct binding {
    int id;
    MsgRcvPtr handle; /* NULL once unbound */
    char *regexp;
};

static struct binding bindings[MAX_BINDINGS];
static int binding_count = 0; /* our binding ids are 0, 1, ... in this process */
static int show_binds = 0;
static int died = 0;

static void print_quoted(const char *s) { printf(" '%s'", s); }

static void on_message(IvyClientPtr app, void *data, int argc, char **argv)
{
    const struct binding *b = (const struct binding *)data;
    printf("%s sent [%d]", IvyGetApplicationName(app), b->id);
    for (int i = 0; i < argc; i++)
        print_quoted(argv[i]);
    printf("\n");
}

static void on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)data;
    const char *name = IvyGetApplicationName(app);
    switch (event) {
    case IvyApplicationConnected: printf("%s connected from %s\n", name, IvyGetApplicationHost(app)); break;
    case IvyApplicationDisconnected: printf("%s disconnected\n", name); break;
    case IvyApplicationCongestion: printf("%s congestion\n", name); break;
    case IvyApplicationDecongestion: printf("%s decongestion\n", name); break;
    case IvyApplicationFifoFull: printf("%s fifo full\n", name); break;
    }
}

static void on_bind(IvyClientPtr app, void *data, int id, const char *regexp, IvyBindEvent event)
{
    (void)data;
    static const char *const what[] = {"bind", "unbind", "filtered", "change"};
    if (show_binds && (int)event >= 0 && (int)event <= 3)
        printf("%s %s [%d] '%s'\n", IvyGetApplicationName(app), what[event], id, regexp);
}

static void on_direct(IvyClientPtr app, void *data, int id, char *msg)
{
    (void)data;
    printf("%s direct [%d] '%s'\n", IvyGetApplicationName(app), id, msg);
}

static void on_pong(IvyClientPtr app, int delay)
{
    printf("%s pong %d us\n", IvyGetApplicationName(app), delay);
}

static void on_die(IvyClientPtr app, void *data, int id)
{
    (void)data;
    (void)id;
    printf("%s die received\n", IvyGetApplicationName(app));
    died = 1;
}

static void do_bind(const char *regexp)
{
    int offset = 0;
    const char *why = NULL;
    IvyBinding check = IvyBindingCompile(regexp, &offset, &why);
    if (check == NULL) {
        printf("-> bad regexp '%s' at offset %d: %s\n", regexp, offset, why ? why : "?");
        return;
    }
    IvyBindingFree(check);
    if (binding_count == MAX_BINDINGS) {
        printf("-> too many bindings\n");
        return;
    }
    struct binding *b = &bindings[binding_count];
    b->id = binding_count;
    b->regexp = strdup(regexp);
    b->handle = IvyBindMsg(on_message, b, "%s", regexp);
    binding_count++;
    printf("-> bound [%d] '%s'\n", b->id, regexp);
}

/* Splits the next space-separated word off *rest (NULL when there is none). */
static char *next_word(char **rest)
{
    char *s = *rest;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return NULL;
    char *end = strchr(s, ' ');
    if (end != NULL) {
        *end = '\0';
        *rest = end + 1;
    } else {
        *rest = s + strlen(s);
    }
    return s;
}

static IvyClientPtr find_app(char *name)
{
    IvyClientPtr app = IvyGetApplication(name);
    if (app == NULL)
        printf("-> no application %s\n", name);
    return app;
}

static void help(void)
{
    static const char *const lines[] = {
        "-> commands:",
        "->   .help               this help",
        "->   .quit               leave the bus and exit",
        "->   .bind RE            subscribe to RE",
        "->   .unbind ID          remove our binding ID",
        "->   .direct APP ID MSG  send a direct message",
        "->   .die APP            ask APP to die",
        "->   .ping APP           ping APP",
        "->   .where APP          host of APP",
        "->   .who                peers on the bus",
        "->   .showbind           our bindings",
        "->   anything else is sent as a message",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        printf("%s\n", lines[i]);
}

static void command(char *line)
{
    char *rest = line;
    char *cmd = next_word(&rest);
    if (strcmp(cmd, ".help") == 0) {
        help();
    } else if (strcmp(cmd, ".quit") == 0) {
        IvyStop();
    } else if (strcmp(cmd, ".bind") == 0) {
        while (*rest == ' ')
            rest++;
        if (*rest == '\0')
            printf("-> usage: .bind RE\n");
        else
            do_bind(rest);
    } else if (strcmp(cmd, ".unbind") == 0) {
        char *word = next_word(&rest);
        if (word == NULL) {
            printf("-> usage: .unbind ID\n");
            return;
        }
        int id = atoi(word);
        if (id >= 0 && id < binding_count && bindings[id].handle != NULL) {
            IvyUnbindMsg(bindings[id].handle);
            bindings[id].handle = NULL;
            printf("-> unbound [%d]\n", id);
        } else {
            printf("-> no binding [%d]\n", id);
        }
    } else if (strcmp(cmd, ".direct") == 0) {
        char *name = next_word(&rest);
        char *id = next_word(&rest);
        if (name == NULL || id == NULL) {
            printf("-> usage: .direct APP ID MSG\n");
            return;
        }
        IvyClientPtr app = find_app(name);
        if (app != NULL) {
            IvySendDirectMsg(app, atoi(id), rest);
            printf("-> direct sent to %s\n", name);
        }
    } else if (strcmp(cmd, ".die") == 0 || strcmp(cmd, ".ping") == 0 || strcmp(cmd, ".where") == 0) {
        char *name = next_word(&rest);
        if (name == NULL) {
            printf("-> usage: %s APP\n", cmd);
            return;
        }
        IvyClientPtr app = find_app(name);
        if (app == NULL)
            return;
        if (strcmp(cmd, ".die") == 0) {
            IvySendDieMsg(app);
            printf("-> die sent to %s\n", name);
        } else if (strcmp(cmd, ".ping") == 0) {
            IvySendPing(app);
            printf("-> ping sent to %s\n", name);
        } else {
            printf("-> %s on %s\n", name, IvyGetApplicationHost(app));
        }
    } else if (strcmp(cmd, ".who") == 0) {
        /* names separated by \x1f, the ASCII unit separator */
        char *list = strdup(IvyGetApplicationList("\x1f"));
        int n = 0;
        for (char *p = list; *p; p++)
            if (*p == '\x1f')
                n++;
        printf("-> %d peer(s):", n);
        char *start = list;
        for (char *p = list; *p; p++) {
            if (*p == '\x1f') {
                *p = '\0';
                print_quoted(start);
                start = p + 1;
            }
        }
        printf("\n");
        free(list);
    } else if (strcmp(cmd, ".showbind") == 0) {
        int n = 0;
        for (int i = 0; i < binding_count; i++)
            n += bindings[i].handle != NULL;
        printf("-> %d binding(s)\n", n);
        for (int i = 0; i < binding_count; i++)
            if (bindings[i].handle != NULL)
                printf("-> [%d] '%s'\n", bindings[i].id, bindings[i].regexp);
    } else {
        printf("-> unknown command: %s\n", cmd);
    }
}

static void handle_line(char *line)
{
    if (line[0] == '.' && line[1] != '\0' && line[1] != ' ') {
        command(line);
        return;
    }
    /* "%s": the line is a message, not a format (an empty line included). */
    printf("-> Sent to %d peer(s)\n", IvySendMsg("%s", line));
}

static char input[65536];
static size_t input_len = 0;

static void on_stdin(Channel channel, IVY_HANDLE fd, void *data)
{
    (void)data;
    ssize_t n = read(fd, input + input_len, sizeof input - 1 - input_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        if (input_len > 0) { /* a last line without LF */
            input[input_len] = '\0';
            input_len = 0;
            handle_line(input);
        }
        IvyChannelRemove(channel);
        IvyStop();
        return;
    }
    input_len += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < input_len; i++) {
        if (input[i] == '\n') {
            input[i] = '\0';
            handle_line(input + start);
            start = i + 1;
        }
    }
    memmove(input, input + start, input_len - start);
    input_len -= start;
    if (input_len == sizeof input - 1) { /* an overlong line: send what we have */
        input[input_len] = '\0';
        input_len = 0;
        handle_line(input);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivyprobe [-b BUS] [-n NAME] [-s] [-c WORD,WORD...] [-v] [-h] [REGEXP...]\n"
            "  -b BUS   bus to join (default: $IVYBUS, then 127.255.255.255:2010)\n"
            "  -n NAME  application name (default IVYPROBE)\n"
            "  -s       show the peers' bind and unbind events\n"
            "  -c WORDS filter words, comma separated\n"
            "  -v       print the version\n"
            "  -h       print this help\n");
}

int main(int argc, char **argv)
{
    const char *bus = NULL;
    const char *name = "IVYPROBE";
    char *filters = NULL;
    int first_regexp = argc;
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-b") == 0 || strcmp(a, "-n") == 0 || strcmp(a, "-c") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ivyprobe: option %s needs a value\n", a);
                usage(stderr);
                return 2;
            }
            if (a[1] == 'b')
                bus = argv[++i];
            else if (a[1] == 'n')
                name = argv[++i];
            else
                filters = argv[++i];
        } else if (strcmp(a, "-s") == 0) {
            show_binds = 1;
        } else if (strcmp(a, "-v") == 0) {
            printf("ivyprobe (C, libivy %d.%d)\n", IVYMAJOR_VERSION, IVYMINOR_VERSION);
        } else if (strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--") == 0) {
            first_regexp = i + 1;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "ivyprobe: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            first_regexp = i;
            break;
        }
    }

    char ready[1024];
    snprintf(ready, sizeof ready, "%s Ready", name);
    IvyInit(name, ready, on_app, NULL, on_die, NULL);
    IvySetBindCallback(on_bind, NULL);
    IvyBindDirectMsg(on_direct, NULL);
    IvySetPongCallback(on_pong);
    if (filters != NULL) {
        for (char *w = strtok(filters, ","); w != NULL; w = strtok(NULL, ","))
            IvyAddFilter(w);
    }
    for (int i = first_regexp; i < argc; i++)
        do_bind(argv[i]);
    if (IvyChannelAdd(0, NULL, NULL, on_stdin, NULL) == NULL) {
        fprintf(stderr, "ivyprobe: cannot watch stdin\n");
        return 1;
    }
    IvyStart(bus);
    IvyMainLoop();
    for (int i = 0; i < binding_count; i++)
        free(bindings[i].regexp);
    (void)died;
    return 0;
}
