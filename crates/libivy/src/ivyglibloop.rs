//! `Ivy/ivyglibloop.h`: empty, as in ivy-c. With libglibivy the program runs
//! GLib's main loop, where `csrc/ivy_glib_channel.c` implements ivychannel.h.
//! The header is written by hand (`include/Ivy/ivyglibloop.h`).
