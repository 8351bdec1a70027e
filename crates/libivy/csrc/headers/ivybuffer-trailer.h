#ifdef __cplusplus
extern "C" {
#endif

/* Formats fmt with ap at buffer->data + buffer->offset, growing the malloc'd
 * data as needed (a zeroed IvyBuffer starts empty), and advances offset.
 * Returns the number of characters written, or -1 on error. */
extern int make_message(IvyBuffer *buffer, const char *fmt, va_list ap);

/* make_message with printf-style arguments. */
extern int make_message_var(IvyBuffer *buffer, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
