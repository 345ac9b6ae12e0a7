/* SPDX-License-Identifier: MIT */
/*
 * http_guard.h - the checks a request passes before any route runs: its Host
 * (DNS rebinding), its Origin on requests that change state (cross-site
 * POSTs), and the decoding of %XX in its path (no control characters).
 * Pure functions of strings, so they are unit-tested and fuzzed without MHD.
 */
#ifndef MF_HTTP_GUARD_H
#define MF_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/**
 * true when a request with this Host header (NULL: none) may be answered: its
 * host part (port dropped) is localhost, 127.0.0.1, [::1], listen_host (the
 * listen address, unless 0.0.0.0), or on the comma-separated allowed list
 * ("*" = any; NULL or "" = none more).  Names compare case-insensitively.
 */
bool mf_guard_host_ok(const char *host, const char *listen_host, const char *allowed);

/**
 * true when a request that changes state may come from origin (the Origin
 * header; NULL: none, as from curl): the comma-separated CORS allow-list
 * holds it ("*" = any), or it is the daemon's own origin, http(s)://host.
 */
bool mf_guard_origin_ok(const char *origin, const char *host, const char *cors);

/**
 * Decodes %XX escapes of s in place, as libmicrohttpd's default does, except
 * that an escape that would give a control character (0x00-0x1f, 0x7f) stays
 * as it is, so "%00" can never cut a path short.  Returns the new length.
 */
size_t mf_guard_unescape(char *s);

/** true when s starts with an escape mf_guard_unescape keeps: %XX of a control character. */
bool mf_guard_control_escape(const char *s);

#endif /* MF_HTTP_GUARD_H */
