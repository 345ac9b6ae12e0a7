/* SPDX-License-Identifier: MIT */
/*
 * http_spool.h - upload bodies spooled to an unlinked temporary file in
 * cfg.spool_dir instead of memory, then mapped read-only (http_spool.c).
 */
#ifndef MF_HTTP_SPOOL_H
#define MF_HTTP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "http_req.h"

/*
 * The name a spool file has for the instant before it is unlinked: the shape
 * of an atomic write's temporary in the model store (core/fileio.h,
 * ".<name>.safetensors.XXXXXX"), which the registry removes at start.
 */
#define MF_SPOOL_PREFIX ".upload.safetensors."

/** Appends n bytes of r's body to its spool file (made on the first call).  false: failed
 * (r->spool_err holds errno; later calls fail too). */
bool mf_spool_append(req *r, const char *data, size_t n);

/** The whole body is in: maps it as r->body (NUL-terminated, r->len bytes).  0 or errno. */
int mf_spool_finish(req *r);

/** Unmaps and closes what r spooled; accepts a request that spooled nothing. */
void mf_spool_release(req *r);

#endif /* MF_HTTP_SPOOL_H */
