/* log.c -- see log.h. Lines look like: 2026-11-28T10:00:00.123Z INFO message */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "base/err.h"

enum log_level log_min_level = LOG_INFO;

int log_level_parse(const char *s, enum log_level *out)
{
    static const struct { const char *name; enum log_level lvl; } names[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO},   {"warning", LOG_WARN},
        {"warn", LOG_WARN},   {"error", LOG_ERROR}, {"critical", LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].lvl;
            return E_OK;
        }
    }
    return E_PROTO;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *tag[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (lvl < log_min_level)
        return;
    struct timeval tv;
    struct tm tm;
    char line[2048];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), tag[lvl]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
