/* SPDX-License-Identifier: MIT */
/* catalog.c - the id map under the registries (see catalog.h). */
#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "request_json.h"

static const char *id_of(const mf_catalog *c, const void *item)
{
    return (const char *) item + c->id_off;
}

static int *refs_of(const mf_catalog *c, void *item)
{
    return (int *) (void *) ((char *) item + c->refs_off);
}

void mf_catalog_init(mf_catalog *c, size_t id_off, size_t refs_off, void (*free_item)(void *item))
{
    *c = (mf_catalog){.id_off = id_off, .refs_off = refs_off, .free_item = free_item};
    pthread_mutex_init(&c->lock, NULL);
}

void mf_catalog_deinit(mf_catalog *c)
{
    for (size_t i = 0; i < c->n; i++) {
        c->free_item(c->items[i]);
    }
    free(c->items);
    pthread_mutex_destroy(&c->lock);
}

/* Index of id, or of where it would go (*found false).  Caller holds the lock. */
static size_t find(const mf_catalog *c, const char *id, bool *found)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int k = strcmp(id_of(c, c->items[mid]), id);
        if (k == 0) {
            *found = true;
            return mid;
        }
        if (k < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

/* Inserts item (refs = 1).  Caller holds the lock. */
static mf_err insert_locked(mf_catalog *c, void *item)
{
    bool found;
    size_t at = find(c, id_of(c, item), &found);
    if (found) {
        return MF_EBUSY;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap == 0 ? 16 : 2 * c->cap;
        void **items = realloc(c->items, cap * sizeof *items);
        if (items == NULL) {
            return MF_ENOMEM;
        }
        c->items = items;
        c->cap = cap;
    }
    memmove(c->items + at + 1, c->items + at, (c->n - at) * sizeof *c->items);
    c->items[at] = item;
    c->n++;
    *refs_of(c, item) = 1;
    return MF_OK;
}

mf_err mf_catalog_insert(mf_catalog *c, void *item)
{
    pthread_mutex_lock(&c->lock);
    mf_err err = insert_locked(c, item);
    pthread_mutex_unlock(&c->lock);
    return err;
}

void *mf_catalog_get(mf_catalog *c, const char *id)
{
    if (id == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    bool found;
    size_t at = find(c, id, &found);
    void *item = found ? c->items[at] : NULL;
    if (item != NULL) {
        (*refs_of(c, item))++;
    }
    pthread_mutex_unlock(&c->lock);
    return item;
}

void mf_catalog_release(mf_catalog *c, void *item)
{
    if (item == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    bool last = --*refs_of(c, item) == 0;
    pthread_mutex_unlock(&c->lock);
    if (last) {
        c->free_item(item);
    }
}

mf_err mf_catalog_list(mf_catalog *c, void ***ret, size_t *ret_n)
{
    pthread_mutex_lock(&c->lock);
    void **items = malloc((c->n > 0 ? c->n : 1) * sizeof *items);
    if (items == NULL) {
        pthread_mutex_unlock(&c->lock);
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < c->n; i++) {
        items[i] = c->items[i];
        (*refs_of(c, items[i]))++;
    }
    *ret_n = c->n;
    pthread_mutex_unlock(&c->lock);
    *ret = items;
    return MF_OK;
}

void mf_catalog_list_release(mf_catalog *c, void **items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mf_catalog_release(c, items[i]);
    }
    free(items);
}

/* Lock held: is id being written by another writer? */
static bool is_reserved(const mf_catalog *c, const char *id)
{
    for (const mf_catalog_reservation *w = c->writing; w != NULL; w = w->next) {
        if (strcmp(w->id, id) == 0) {
            return true;
        }
    }
    return false;
}

/* Lock held: drops a reservation. */
static void unreserve_locked(mf_catalog *c, const mf_catalog_reservation *r)
{
    for (mf_catalog_reservation **pp = &c->writing; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

mf_err mf_catalog_reserve(mf_catalog *c, mf_catalog_reservation *r, const char *id)
{
    pthread_mutex_lock(&c->lock);
    bool found;
    (void) find(c, id, &found);
    bool busy = found || is_reserved(c, id);
    if (!busy) {
        *r = (mf_catalog_reservation){.id = id, .next = c->writing};
        c->writing = r;
    }
    pthread_mutex_unlock(&c->lock);
    return busy ? MF_EBUSY : MF_OK;
}

mf_err mf_catalog_commit(mf_catalog *c, mf_catalog_reservation *r, void *item)
{
    pthread_mutex_lock(&c->lock);
    mf_err err = insert_locked(c, item);
    if (err == MF_OK) {
        unreserve_locked(c, r);
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

void mf_catalog_unreserve(mf_catalog *c, mf_catalog_reservation *r)
{
    pthread_mutex_lock(&c->lock);
    unreserve_locked(c, r);
    pthread_mutex_unlock(&c->lock);
}

mf_err mf_catalog_remove(mf_catalog *c, const char *id, mf_err (*may_remove)(void *item, void *ctx),
                         void *ctx)
{
    pthread_mutex_lock(&c->lock);
    bool found;
    size_t at = find(c, id, &found);
    void *item = found ? c->items[at] : NULL;
    mf_err err = item == NULL ? MF_ENOTFOUND : may_remove(item, ctx);
    bool last = false;
    if (err == MF_OK) {
        memmove(c->items + at, c->items + at + 1, (c->n - at - 1) * sizeof *c->items);
        c->n--;
        last = --*refs_of(c, item) == 0;
    }
    pthread_mutex_unlock(&c->lock);
    if (last) {
        c->free_item(item);
    }
    return err;
}

mf_err mf_catalog_add_written(mf_catalog *c, void *item, const char *path,
                              mf_err (*write)(void *item, void *ctx, mf_diag *diag), void *ctx,
                              mf_diag *diag)
{
    mf_catalog_reservation me;
    mf_err err = mf_catalog_reserve(c, &me, id_of(c, item));
    if (err != MF_OK) {
        return err;
    }
    err = write(item, ctx, diag);
    if (err == MF_OK && (err = mf_catalog_commit(c, &me, item)) != MF_OK) {
        (void) unlink(path);
    }
    if (err != MF_OK) {
        mf_catalog_unreserve(c, &me);
    }
    return err;
}

mf_err mf_catalog_unlink(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot delete %s: %s", path, strerror(errno));
        return MF_EIO;
    }
    return MF_OK;
}

void mf_catalog_each(mf_catalog *c, void (*fn)(const void *item, void *ctx), void *ctx)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n; i++) {
        fn(c->items[i], ctx);
    }
    pthread_mutex_unlock(&c->lock);
}

/* The id of a file name "<id><suffix>", or false. */
static bool id_of_name(const char *name, const char *suffix, char id[MF_REQ_ID_MAX + 1])
{
    size_t len = strlen(name), sl = strlen(suffix);
    if (len <= sl || len - sl > MF_REQ_ID_MAX || strcmp(name + len - sl, suffix) != 0) {
        return false;
    }
    memcpy(id, name, len - sl);
    id[len - sl] = '\0';
    return mf_req_id_valid(id);
}

void mf_catalog_remove_temps(const char *dir, const char *suffix, const char *what)
{
    size_t n = 0;
    mf_diag d = {0};
    if (mf_fileio_remove_temps(dir, suffix, &n, &d) != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, NULL, "cannot look for temporary %s files in %s: %s", what, dir,
               d.msg);
    } else if (n > 0) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "removed %zu temporary %s file(s) that an interrupted write left in %s", n, what,
               dir);
    }
}

mf_err mf_catalog_scan(const char *dir, const char *suffix, const char *what,
                       mf_catalog_load_fn load, void *ctx, size_t *loaded, size_t *skipped)
{
    mf_catalog_remove_temps(dir, suffix, what);
    DIR *d = opendir(dir);
    if (d == NULL) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot read %s directory %s: %s", what, dir,
               strerror(errno));
        return MF_EIO;
    }
    struct dirent *de;
    mf_err err = MF_OK;
    size_t sl = strlen(suffix);
    while ((de = readdir(d)) != NULL && err == MF_OK) {
        size_t nl = strlen(de->d_name);
        if (nl <= sl || strcmp(de->d_name + nl - sl, suffix) != 0) {
            continue; /* not such a file (READMEs, temporaries) */
        }
        char id[MF_REQ_ID_MAX + 1], path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!id_of_name(de->d_name, suffix, id)) {
            mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s: the name is not a valid %s id", path,
                   what);
            (*skipped)++;
        } else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s: not a regular file", path);
            (*skipped)++;
        } else {
            mf_err le = load(ctx, path, id, &st);
            if (le == MF_OK) {
                (*loaded)++;
            } else if (le == MF_ENOMEM) {
                err = le;
            } else {
                (*skipped)++;
            }
        }
    }
    closedir(d);
    return err;
}
