/* SPDX-License-Identifier: MIT */
/* log.c - logfmt lines on stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

static atomic_int min_level = MF_LOG_INFO;

void mf_log_set_level(mf_log_level min)
{
    atomic_store(&min_level, (int) min);
}

void mf_log(mf_log_level level, const char *req, const char *job, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if ((int) level < atomic_load(&min_level)) {
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a client's bytes (a path, a header) may be no UTF-8: a log line always is */
    (void) mf_utf8_repair(msg);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1024];
    size_t n = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t) snprintf(line + n, sizeof line - n, ".%03ldZ level=%s", ts.tv_nsec / 1000000,
                           names[level]);
    if (req != NULL && n < sizeof line) {
        n += (size_t) snprintf(line + n, sizeof line - n, " req=%s", req);
    }
    if (job != NULL && n < sizeof line) {
        n += (size_t) snprintf(line + n, sizeof line - n, " job=%s", job);
    }
    /* msg="...": quotes and backslashes escaped, control characters dropped, bytes that are
     * no UTF-8 replaced by '?' (above). */
    if (n + 7 < sizeof line) {
        memcpy(line + n, " msg=\"", 6);
        n += 6;
        for (const char *p = msg; *p != '\0' && n + 3 < sizeof line; p++) {
            if (*p == '"' || *p == '\\') {
                line[n++] = '\\';
            }
            if ((unsigned char) *p >= 0x20) {
                line[n++] = *p;
            }
        }
        line[n++] = '"';
    }
    if (n >= sizeof line) {
        n = sizeof line - 1;
    }
    line[n++] = '\n';
    (void) !write(STDERR_FILENO, line, n);
}
