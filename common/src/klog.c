/* klog: leveled, structured, single-line logging (see klog.h). */
#include "klog.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum klog_level min_lvl = KLOG_INFO;
static enum klog_format out_fmt = KLOG_FORMAT_TEXT;
static int out_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void klog_setup(enum klog_level min_level, enum klog_format fmt, int fd)
{
    min_lvl = min_level;
    out_fmt = fmt;
    out_fd = fd;
}

int klog_parse_level(const char *s, enum klog_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum klog_level)i;
            return 0;
        }
    }
    return -1;
}

int klog_parse_format(const char *s, enum klog_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = KLOG_FORMAT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = KLOG_FORMAT_JSON;
    else
        return -1;
    return 0;
}

int klog_enabled(enum klog_level lvl)
{
    return lvl >= min_lvl;
}

/* Appends s to buf at *pos, escaped for JSON (json != 0) or quoted for text
 * when it contains spaces or quotes. Truncates silently at cap. */
static void put_str(char *buf, size_t cap, size_t *pos, const char *s, int json)
{
    int quote = json || s[0] == '\0' || strpbrk(s, " \"=\t\n") != NULL;
    if (quote && *pos < cap) buf[(*pos)++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && *pos + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)*p;
        } else if (*p < 0x20) {
            *pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\u%04x", *p);
        } else {
            buf[(*pos)++] = (char)*p;
        }
    }
    if (quote && *pos < cap) buf[(*pos)++] = '"';
}

static void put_raw(char *buf, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - *pos) n = cap - *pos;
    memcpy(buf + *pos, s, n);
    *pos += n;
}

void klog_kv(enum klog_level lvl, const char *component, const char *msg, const char *const *kv)
{
    if (!klog_enabled(lvl)) return;
    char line[4096];
    size_t cap = sizeof line - 2, pos = 0;
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t tn = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tn, sizeof ts - tn, ".%03ldZ", now.tv_nsec / 1000000);
    int json = out_fmt == KLOG_FORMAT_JSON;
    if (json) {
        put_raw(line, cap, &pos, "{\"ts\":\"");
        put_raw(line, cap, &pos, ts);
        put_raw(line, cap, &pos, "\",\"level\":\"");
        put_raw(line, cap, &pos, level_names[lvl]);
        put_raw(line, cap, &pos, "\",\"component\":");
        put_str(line, cap, &pos, component, 1);
        put_raw(line, cap, &pos, ",\"msg\":");
        put_str(line, cap, &pos, msg, 1);
        for (int i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
            put_raw(line, cap, &pos, ",");
            put_str(line, cap, &pos, kv[i], 1);
            put_raw(line, cap, &pos, ":");
            put_str(line, cap, &pos, kv[i + 1], 1);
        }
        put_raw(line, cap, &pos, "}");
    } else {
        put_raw(line, cap, &pos, ts);
        put_raw(line, cap, &pos, " ");
        put_raw(line, cap, &pos, level_names[lvl]);
        put_raw(line, cap, &pos, " ");
        put_raw(line, cap, &pos, component);
        put_raw(line, cap, &pos, ": ");
        put_raw(line, cap, &pos, msg);
        for (int i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
            put_raw(line, cap, &pos, " ");
            put_raw(line, cap, &pos, kv[i]);
            put_raw(line, cap, &pos, "=");
            put_str(line, cap, &pos, kv[i + 1], 0);
        }
    }
    line[pos++] = '\n';
    ssize_t w = write(out_fd, line, pos);
    (void)w;
}

void klogf(enum klog_level lvl, const char *component, const char *fmt, ...)
{
    if (!klog_enabled(lvl)) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    klog_kv(lvl, component, msg, NULL);
}
