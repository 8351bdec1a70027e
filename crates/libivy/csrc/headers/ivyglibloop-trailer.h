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
