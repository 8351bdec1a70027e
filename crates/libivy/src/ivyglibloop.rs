//! `Ivy/ivyglibloop.h`: empty, as in ivy-c (GLib programs run their own loop).
//! No GLib back-end is built yet; the header exists for source compatibility.
