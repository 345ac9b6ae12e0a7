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

static bool failed_has(const mf_catalog *c, const char *name, const mf_catalog_stamp *st);

static mf_catalog_stamp *stamp_of(const mf_catalog *c, void *item)
{
    return (mf_catalog_stamp *) (void *) ((char *) item + c->stamp_off);
}

void mf_catalog_init(mf_catalog *c, size_t id_off, size_t refs_off, size_t stamp_off,
                     void (*free_item)(void *item), const char *taken)
{
    *c = (mf_catalog){.id_off = id_off,
                      .refs_off = refs_off,
                      .stamp_off = stamp_off,
                      .free_item = free_item,
                      .taken = taken};
    pthread_mutex_init(&c->lock, NULL);
}

void mf_catalog_stamp_of(mf_catalog_stamp *s, const struct stat *st)
{
    *s = (mf_catalog_stamp){.dev = (uint64_t) st->st_dev,
                            .ino = (uint64_t) st->st_ino,
                            .size = (uint64_t) st->st_size,
                            .mtime_ns = (int64_t) st->st_mtim.tv_sec * 1000000000 +
                                        (int64_t) st->st_mtim.tv_nsec,
                            .set = true};
}

void mf_catalog_deinit(mf_catalog *c)
{
    for (size_t i = 0; i < c->n; i++) {
        c->free_item(c->items[i]);
    }
    free(c->items);
    free(c->failed);
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
    /* another process sharing the directory wrote the id since our last look: it is taken */
    struct stat st;
    if (stat(path, &st) == 0) {
        mf_catalog_stamp now;
        mf_catalog_stamp_of(&now, &st);
        const char *slash = strrchr(path, '/');
        pthread_mutex_lock(&c->lock);
        bool failed = failed_has(c, slash != NULL ? slash + 1 : path, &now);
        pthread_mutex_unlock(&c->lock);
        if (!failed) {
            mf_catalog_unreserve(c, &me);
            return MF_EBUSY;
        }
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

/* A file of a directory as a scan sees it. */
typedef struct seen_file {
    char name[256];
    char id[MF_REQ_ID_MAX + 1]; /* "" when the name is no valid id */
    struct stat st;
    mf_catalog_stamp stamp;
    bool regular;
    bool todo; /* to load */
} seen_file;

static bool stamp_eq(const mf_catalog_stamp *a, const mf_catalog_stamp *b)
{
    return a->set && b->set && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns;
}

static int cmp_seen(const void *a, const void *b)
{
    return strcmp(((const seen_file *) a)->id, ((const seen_file *) b)->id);
}

/* Lock held: did the file name, as it is (stamp), fail to load? */
static bool failed_has(const mf_catalog *c, const char *name, const mf_catalog_stamp *st)
{
    for (size_t i = 0; i < c->n_failed; i++) {
        if (strcmp(c->failed[i].name, name) == 0 && stamp_eq(&c->failed[i].stamp, st)) {
            return true;
        }
    }
    return false;
}

/* Lock held: remembers a failed file (forgetting it when memory is short: it is retried). */
static void failed_add(mf_catalog *c, const char *name, const mf_catalog_stamp *st)
{
    if (c->n_failed == c->cap_failed) {
        size_t cap = c->cap_failed == 0 ? 8 : 2 * c->cap_failed;
        mf_catalog_failed *f = realloc(c->failed, cap * sizeof *f);
        if (f == NULL) {
            return;
        }
        c->failed = f;
        c->cap_failed = cap;
    }
    mf_catalog_failed *f = &c->failed[c->n_failed++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->stamp = *st;
}

/* Lock held: forgets the failures whose file is gone or changed (seen: what dir holds now). */
static void failed_prune(mf_catalog *c, const seen_file *seen, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->n_failed; i++) {
        bool there = false;
        for (size_t j = 0; j < n && !there; j++) {
            there = strcmp(seen[j].name, c->failed[i].name) == 0 &&
                    stamp_eq(&seen[j].stamp, &c->failed[i].stamp);
        }
        if (there) {
            c->failed[kept++] = c->failed[i];
        }
    }
    c->n_failed = kept;
}

/* The files <name><suffix> of dir but hidden ones (temporaries), sorted by id.  Errors: MF_EIO. */
static mf_err list_dir(const char *dir, const char *suffix, seen_file **ret, size_t *ret_n)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return MF_EIO;
    }
    seen_file *seen = NULL;
    size_t n = 0, cap = 0, sl = strlen(suffix);
    mf_err err = MF_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (de->d_name[0] == '.' || nl <= sl || nl >= sizeof seen->name ||
            strcmp(de->d_name + nl - sl, suffix) != 0) {
            continue; /* not such a file (READMEs, temporaries) */
        }
        if (n == cap) {
            cap = cap == 0 ? 32 : 2 * cap;
            seen_file *s = realloc(seen, cap * sizeof *s);
            if (s == NULL) {
                err = MF_ENOMEM;
                break;
            }
            seen = s;
        }
        seen_file *f = &seen[n];
        *f = (seen_file){0};
        memcpy(f->name, de->d_name, nl + 1);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, f->name);
        if (stat(path, &f->st) != 0) {
            continue; /* gone since */
        }
        mf_catalog_stamp_of(&f->stamp, &f->st);
        f->regular = S_ISREG(f->st.st_mode);
        if (!id_of_name(f->name, suffix, f->id)) {
            f->id[0] = '\0';
        }
        n++;
    }
    closedir(d);
    if (err != MF_OK) {
        free(seen);
        return err;
    }
    if (n > 0) {
        qsort(seen, n, sizeof *seen, cmp_seen);
    }
    *ret = seen;
    *ret_n = n;
    return MF_OK;
}

/* What load_one did. */
enum {
    LOAD_ADDED,
    LOAD_THERE,
    LOAD_FAILED,
    LOAD_NOMEM
};

/* Loads f of dir and inserts it; a failure is remembered (the load function logged it). */
static int load_one(mf_catalog *c, const char *dir, seen_file *f, mf_catalog_load_fn load,
                    void *ctx)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, f->name);
    void *item = NULL;
    mf_err err = load(ctx, path, f->id, &f->st, &item);
    if (err == MF_ENOMEM) {
        return LOAD_NOMEM;
    }
    bool mine = false; /* the id is a protected entry's */
    pthread_mutex_lock(&c->lock);
    /*
     * The file as it was loaded must still be there: a delete unlinks under
     * the lock, so one that came first is not undone by putting back its entry.
     */
    struct stat now;
    mf_catalog_stamp st = {0};
    if (stat(path, &now) == 0) {
        mf_catalog_stamp_of(&st, &now);
    }
    if (!stamp_eq(&st, &f->stamp)) {
        pthread_mutex_unlock(&c->lock);
        if (item != NULL) {
            c->free_item(item);
        }
        return LOAD_THERE; /* changed or gone since: the next look sees it as it is */
    }
    if (err == MF_OK && (err = insert_locked(c, item)) == MF_EBUSY) {
        bool found;
        size_t at = find(c, f->id, &found);
        mine = found && !stamp_of(c, c->items[at])->set;
    }
    if (err != MF_OK && err != MF_ENOMEM && (err != MF_EBUSY || mine)) {
        failed_add(c, f->name, &f->stamp);
    }
    pthread_mutex_unlock(&c->lock);
    if (err == MF_OK) {
        return LOAD_ADDED;
    }
    if (item != NULL) {
        c->free_item(item);
    }
    if (err == MF_EBUSY && mine) {
        mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s: %s has the id %s", path, c->taken, f->id);
    }
    return err == MF_ENOMEM ? LOAD_NOMEM : err == MF_EBUSY && !mine ? LOAD_THERE : LOAD_FAILED;
}

/*
 * Lock held: drops the stamped entries whose file is not in seen as stamped,
 * putting those no one else holds in *dead (to free without the lock).
 */
static void drop_gone(mf_catalog *c, const seen_file *seen, size_t n, void ***dead, size_t *n_dead,
                      size_t *removed)
{
    for (size_t i = c->n; i-- > 0;) {
        void *item = c->items[i];
        const mf_catalog_stamp *st = stamp_of(c, item);
        seen_file key;
        snprintf(key.id, sizeof key.id, "%s", id_of(c, item));
        const seen_file *f = n > 0 ? bsearch(&key, seen, n, sizeof *seen, cmp_seen) : NULL;
        if (!st->set || (f != NULL && f->regular && stamp_eq(&f->stamp, st))) {
            continue;
        }
        void **d = realloc(*dead, (*n_dead + 1) * sizeof *d);
        if (d == NULL) {
            return; /* the next rescan drops it */
        }
        *dead = d;
        memmove(c->items + i, c->items + i + 1, (c->n - i - 1) * sizeof *c->items);
        c->n--;
        (*removed)++;
        if (--*refs_of(c, item) == 0) {
            d[(*n_dead)++] = item;
        }
    }
}

/* The scan of dir: as mf_catalog_rescan; *skipped counts files not loaded, each logged once. */
static mf_err sync_dir(mf_catalog *c, const char *dir, const char *suffix, const char *what,
                       mf_catalog_load_fn load, void *ctx, size_t *added, size_t *removed,
                       size_t *skipped)
{
    seen_file *seen = NULL;
    size_t n = 0, n_dead = 0;
    mf_err err = list_dir(dir, suffix, &seen, &n);
    if (err != MF_OK) {
        return err;
    }
    void **dead = NULL;
    pthread_mutex_lock(&c->lock);
    failed_prune(c, seen, n);
    drop_gone(c, seen, n, &dead, &n_dead, removed);
    for (size_t i = 0; i < n; i++) {
        seen_file *f = &seen[i];
        bool found = false;
        if (failed_has(c, f->name, &f->stamp)) {
            continue;
        }
        if (f->id[0] == '\0' || !f->regular) {
            mf_log(MF_LOG_WARN, NULL, NULL,
                   f->regular ? "skipping %s/%s: the name is not a valid %s id"
                              : "skipping %s/%s: not a regular file",
                   dir, f->name, what);
            failed_add(c, f->name, &f->stamp);
            (*skipped)++;
            continue;
        }
        size_t at = find(c, f->id, &found);
        if (found && !stamp_of(c, c->items[at])->set) {
            mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s/%s: %s has the id %s", dir, f->name,
                   c->taken, f->id);
            failed_add(c, f->name, &f->stamp);
            (*skipped)++;
            continue;
        }
        f->todo = !found && !is_reserved(c, f->id);
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n_dead; i++) {
        c->free_item(dead[i]);
    }
    free(dead);
    for (size_t i = 0; i < n && err == MF_OK; i++) {
        int r = seen[i].todo ? load_one(c, dir, &seen[i], load, ctx) : LOAD_THERE;
        *added += r == LOAD_ADDED;
        *skipped += r == LOAD_FAILED;
        err = r == LOAD_NOMEM ? MF_ENOMEM : MF_OK;
    }
    free(seen);
    return err;
}

mf_err mf_catalog_scan(mf_catalog *c, const char *dir, const char *suffix, const char *what,
                       mf_catalog_load_fn load, void *ctx, size_t *loaded, size_t *skipped)
{
    mf_catalog_remove_temps(dir, suffix, what);
    size_t removed = 0;
    mf_err err = sync_dir(c, dir, suffix, what, load, ctx, loaded, &removed, skipped);
    if (err == MF_EIO) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot read %s directory %s: %s", what, dir,
               strerror(errno));
    }
    return err;
}

mf_err mf_catalog_rescan(mf_catalog *c, const char *dir, const char *suffix, const char *what,
                         mf_catalog_load_fn load, void *ctx, size_t *added, size_t *removed)
{
    size_t a = 0, r = 0, skipped = 0;
    mf_err err = sync_dir(c, dir, suffix, what, load, ctx, &a, &r, &skipped);
    if (added != NULL) {
        *added = a;
    }
    if (removed != NULL) {
        *removed = r;
    }
    return err;
}

void *mf_catalog_get_or_load(mf_catalog *c, const char *id, const char *dir, const char *suffix,
                             const char *what, mf_catalog_load_fn load, void *ctx)
{
    (void) what;
    void *item = mf_catalog_get(c, id);
    if (item != NULL || dir == NULL || !mf_req_id_valid(id)) {
        return item;
    }
    seen_file f = {0};
    snprintf(f.name, sizeof f.name, "%s%s", id, suffix);
    snprintf(f.id, sizeof f.id, "%s", id);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, f.name);
    if (stat(path, &f.st) != 0 || !S_ISREG(f.st.st_mode)) {
        return NULL;
    }
    mf_catalog_stamp_of(&f.stamp, &f.st);
    pthread_mutex_lock(&c->lock);
    bool skip = failed_has(c, f.name, &f.stamp) || is_reserved(c, id);
    pthread_mutex_unlock(&c->lock);
    if (skip || load_one(c, dir, &f, load, ctx) == LOAD_NOMEM) {
        return NULL;
    }
    return mf_catalog_get(c, id);
}
