/* SPDX-License-Identifier: MIT */
/*
 * web_assets.h - the files of the web page (clients/web/), compiled into the
 * daemon: the table tools/embed_files.py generates at build time
 * (web_assets.c in the build directory), sorted by path.  web.c serves it.
 */
#ifndef MF_WEB_ASSETS_H
#define MF_WEB_ASSETS_H

#include <stddef.h>

/** One file of the page. */
typedef struct mf_web_file {
    const char *path;           /* relative to clients/web/: "index.html", "js/views/sample.js" */
    const char *type;           /* the Content-Type it is served with */
    const unsigned char *bytes; /* its content */
    size_t len;
    const char *etag; /* a strong ETag, quotes included: the start of the bytes' SHA-256 */
} mf_web_file;

extern const mf_web_file mf_web_files[];
extern const size_t mf_web_files_count;

#endif /* MF_WEB_ASSETS_H */
