#ifdef __cplusplus
extern "C" {
#endif

/* With a GLib build, the program runs its own GLib main loop: nothing to declare. */

#ifdef __cplusplus
}
#endif
