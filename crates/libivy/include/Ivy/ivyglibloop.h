/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVYGLIBLOOP_H
#define IVYGLIBLOOP_H

#ifdef __cplusplus
extern "C" {
#endif

/* Nothing to declare. Linked with libglibivy (-lglibivy, pkg-config ivy-glib),
 * the bus lives on GLib's default main context: the program runs
 * g_main_loop_run (not IvyMainLoop); IvyStop leaves the bus and leaves the
 * GLib loop to the program; TimerRepeatAfter works as g_timeout_add does. */

#ifdef __cplusplus
}
#endif

#endif /* IVYGLIBLOOP_H */
