/*
 * Starting a program with its stdin and stdout on pipes: the probes the C
 * tests drive (probe_io.h), the roles of the C benchmark (bench/ivy_bench.c).
 * Needs _POSIX_C_SOURCE 200809L (or _DEFAULT_SOURCE).
 */
#ifndef IVY_EXAMPLES_SPAWN_H
#define IVY_EXAMPLES_SPAWN_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

/* Runs argv[0] with `argv`: we write its stdin on *to_stdin and read its
 * stdout on *from_stdout. Our ends are close-on-exec, so that programs started
 * later do not hold them (the child sees the end of its input when we close
 * ours). Its pid, or -1. */
static inline pid_t spawn_piped(char *const argv[], int *to_stdin, int *from_stdout)
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    const int ends[] = {in[0], in[1], out[0], out[1]};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        fcntl(ends[i], F_SETFD, FD_CLOEXEC); /* dup2 below clears it on stdin and stdout */
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execv(argv[0], argv);
        perror("execv");
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    *to_stdin = in[1];
    *from_stdout = out[0];
    return pid;
}

#endif
