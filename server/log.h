/* SPDX-License-Identifier: MIT */
/*
 * log.h - structured logs of the daemon, one logfmt line per event on stderr:
 *   ts=2026-11-22T10:00:00.123Z level=info req=r-1f2e job=j-9a msg="job finished" ...
 * Request and job ids are fields, so a log search by either finds the whole
 * story.  Thread-safe (one write(2) per line).  Never given API keys.
 */
#ifndef MF_LOG_H
#define MF_LOG_H

typedef enum mf_log_level { MF_LOG_DEBUG = 0, MF_LOG_INFO = 1, MF_LOG_WARN = 2, MF_LOG_ERROR = 3 } mf_log_level;

/** Lines below this level are dropped (set once at start). */
void mf_log_set_level(mf_log_level min);

/** One line; req and job may be NULL; fmt is the message (quoted and escaped). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void mf_log(mf_log_level level, const char *req, const char *job, const char *fmt, ...);

#endif /* MF_LOG_H */
