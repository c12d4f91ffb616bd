/* klog: the one logger of kllm programs.
 *
 * One line per event: time, level, component, message, then key=value pairs
 * (or one JSON object per line with KLOG_FORMAT_JSON). Never log secrets or
 * prompts. Libraries do not call this directly; programs do, and hand
 * libraries a callback that forwards here.
 *
 * Threads: klog_* may be called from any thread; a line is written with one
 * write() so lines never interleave. klog_setup is called once at start-up.
 */
#ifndef KLOG_H
#define KLOG_H

#include <stdarg.h>

enum klog_level { KLOG_DEBUG = 0, KLOG_INFO = 1, KLOG_WARN = 2, KLOG_ERROR = 3 };
enum klog_format { KLOG_FORMAT_TEXT = 0, KLOG_FORMAT_JSON = 1 };

void klog_setup(enum klog_level min_level, enum klog_format fmt, int fd);
/* Parse "debug|info|warn|error" / "text|json"; 0 on success, -1 if unknown. */
int klog_parse_level(const char *s, enum klog_level *out);
int klog_parse_format(const char *s, enum klog_format *out);
int klog_enabled(enum klog_level lvl);

/* kv is a NULL-terminated list of key, value string pairs. */
void klog_kv(enum klog_level lvl, const char *component, const char *msg, const char *const *kv);
/* printf-style message, no key=value pairs. */
void klogf(enum klog_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
