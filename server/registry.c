/* SPDX-License-Identifier: MIT */
/* registry.c - the in-memory models (see registry.h). */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "request_json.h"

#define SUFFIX ".safetensors"

/* An id whose file is being written (mf_registry_add): reserved, not yet listed. */
typedef struct reserved_id {
    const char *id;
    struct reserved_id *next;
} reserved_id;

struct mf_registry {
    pthread_mutex_t lock;
    reserved_id *writing; /* ids being written, outside the lock */
    mf_reg_model **items; /* sorted by id */
    size_t n, cap;
    char store_dir[3072];
    size_t max_file_bytes;
};

static void entry_free(mf_reg_model *e)
{
    if (e != NULL) {
        mf_model_free(e->model);
        free(e);
    }
}

/* Index of id, or of where it would go (*found false).  Caller holds the lock. */
static size_t find(const mf_registry *r, const char *id, bool *found)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->items[mid]->id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

/* Inserts e (refs = 1, the registry's own).  Caller holds the lock. */
static mf_err insert(mf_registry *r, mf_reg_model *e)
{
    bool found;
    size_t at = find(r, e->id, &found);
    if (found) {
        return MF_EBUSY;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap == 0 ? 16 : 2 * r->cap;
        mf_reg_model **items = realloc(r->items, cap * sizeof *items);
        if (items == NULL) {
            return MF_ENOMEM;
        }
        r->items = items;
        r->cap = cap;
    }
    memmove(r->items + at + 1, r->items + at, (r->n - at) * sizeof *r->items);
    r->items[at] = e;
    r->n++;
    e->refs = 1;
    return MF_OK;
}

/* The id of a file name "ID.safetensors", or false. */
static bool id_of(const char *name, char id[65])
{
    size_t len = strlen(name), sl = strlen(SUFFIX);
    if (len <= sl || len - sl > 64 || strcmp(name + len - sl, SUFFIX) != 0) {
        return false;
    }
    memcpy(id, name, len - sl);
    id[len - sl] = '\0';
    return mf_req_id_valid(id);
}

static mf_err load_dir(mf_registry *r, const char *dir, bool shipped, size_t *loaded,
                       size_t *skipped)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot read model directory %s: %s", dir,
               strerror(errno));
        return MF_EIO;
    }
    struct dirent *de;
    mf_err err = MF_OK;
    while ((de = readdir(d)) != NULL && err == MF_OK) {
        char id[65];
        size_t nl = strlen(de->d_name);
        if (nl <= strlen(SUFFIX) || strcmp(de->d_name + nl - strlen(SUFFIX), SUFFIX) != 0) {
            continue; /* not a model file (README, PNGs, temporaries) */
        }
        if (!id_of(de->d_name, id)) {
            mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s/%s: the name is not a valid model id", dir,
                   de->d_name);
            (*skipped)++;
            continue;
        }
        mf_reg_model *e = calloc(1, sizeof *e);
        if (e == NULL) {
            err = MF_ENOMEM;
            break;
        }
        memcpy(e->id, id, sizeof e->id);
        e->shipped = shipped;
        snprintf(e->path, sizeof e->path, "%s/%s", dir, de->d_name);
        struct stat st;
        mf_diag diag = {0};
        mf_err le = stat(e->path, &st) == 0 && S_ISREG(st.st_mode)
                        ? mf_model_load_file(e->path, r->max_file_bytes, &e->model, &diag)
                        : MF_EIO;
        if (le != MF_OK) {
            mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s: %s (%s%s%s)", e->path, mf_strerror(le),
                   diag.msg, diag.field[0] != '\0' ? " at " : "", diag.field);
            entry_free(e);
            (*skipped)++;
            continue;
        }
        e->file_bytes = (uint64_t) st.st_size;
        mf_err ie = insert(r, e);
        if (ie == MF_EBUSY) {
            mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s: a shipped model has the id %s", e->path,
                   id);
            entry_free(e);
            (*skipped)++;
        } else if (ie != MF_OK) {
            entry_free(e);
            err = ie;
        } else {
            (*loaded)++;
        }
    }
    closedir(d);
    return err;
}

mf_err mf_registry_open(const char *shipped_dir, const char *store_dir, size_t max_file_bytes,
                        mf_registry **ret, size_t *ret_loaded, size_t *ret_skipped)
{
    if (store_dir == NULL || ret == NULL || strlen(store_dir) >= sizeof((mf_registry *) 0)->store_dir) {
        return MF_EINVAL;
    }
    if (mkdir(store_dir, 0755) != 0 && errno != EEXIST) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot create model store %s: %s", store_dir,
               strerror(errno));
        return MF_EIO;
    }
    mf_registry *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return MF_ENOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    snprintf(r->store_dir, sizeof r->store_dir, "%s", store_dir);
    r->max_file_bytes = max_file_bytes;
    size_t loaded = 0, skipped = 0;
    mf_err err = shipped_dir != NULL ? load_dir(r, shipped_dir, true, &loaded, &skipped) : MF_OK;
    if (err == MF_OK) {
        err = load_dir(r, store_dir, false, &loaded, &skipped);
    }
    if (err != MF_OK) {
        mf_registry_free(r);
        return err;
    }
    if (ret_loaded != NULL) {
        *ret_loaded = loaded;
    }
    if (ret_skipped != NULL) {
        *ret_skipped = skipped;
    }
    *ret = r;
    return MF_OK;
}

void mf_registry_free(mf_registry *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        entry_free(r->items[i]);
    }
    free(r->items);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

mf_reg_model *mf_registry_get(mf_registry *r, const char *id)
{
    if (id == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&r->lock);
    bool found;
    size_t at = find(r, id, &found);
    mf_reg_model *e = found ? r->items[at] : NULL;
    if (e != NULL) {
        e->refs++;
    }
    pthread_mutex_unlock(&r->lock);
    return e;
}

void mf_registry_release(mf_registry *r, mf_reg_model *e)
{
    if (e == NULL) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    bool last = --e->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (last) {
        entry_free(e);
    }
}

mf_err mf_registry_list(mf_registry *r, mf_reg_model ***ret, size_t *ret_n)
{
    pthread_mutex_lock(&r->lock);
    mf_reg_model **items = malloc((r->n > 0 ? r->n : 1) * sizeof *items);
    if (items == NULL) {
        pthread_mutex_unlock(&r->lock);
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < r->n; i++) {
        items[i] = r->items[i];
        items[i]->refs++;
    }
    *ret_n = r->n;
    pthread_mutex_unlock(&r->lock);
    *ret = items;
    return MF_OK;
}

/* Lock held: is id being written by another add? */
static bool is_reserved(const mf_registry *r, const char *id)
{
    for (const reserved_id *w = r->writing; w != NULL; w = w->next) {
        if (strcmp(w->id, id) == 0) {
            return true;
        }
    }
    return false;
}

/* Lock held: drops a reservation. */
static void unreserve(mf_registry *r, const reserved_id *me)
{
    for (reserved_id **pp = &r->writing; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == me) {
            *pp = me->next;
            return;
        }
    }
}

/*
 * The id is reserved under the lock, the file written without it (an fsync'd
 * write of up to --max-upload bytes must not stall every model lookup), and
 * the entry inserted under the lock again.  The reservation makes a second
 * add of the same id fail with MF_EBUSY instead of overwriting (or, on its
 * failure, unlinking) the first one's file.
 */
mf_err mf_registry_add(mf_registry *r, const char *id, mf_model *m, mf_diag *diag)
{
    if (!mf_req_id_valid(id) || m == NULL) {
        return MF_EINVAL;
    }
    mf_reg_model *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return MF_ENOMEM;
    }
    memcpy(e->id, id, strlen(id) + 1);
    snprintf(e->path, sizeof e->path, "%s/%s%s", r->store_dir, id, SUFFIX);
    reserved_id me = {.id = e->id, .next = NULL};
    pthread_mutex_lock(&r->lock);
    bool found;
    (void) find(r, id, &found);
    bool busy = found || is_reserved(r, id);
    if (!busy) {
        me.next = r->writing;
        r->writing = &me;
    }
    pthread_mutex_unlock(&r->lock);
    if (busy) {
        free(e);
        return MF_EBUSY;
    }
    mf_err err = mf_model_save_file(m, e->path, diag);
    struct stat st;
    if (err == MF_OK) {
        e->file_bytes = stat(e->path, &st) == 0 ? (uint64_t) st.st_size : 0;
    }
    pthread_mutex_lock(&r->lock);
    unreserve(r, &me);
    if (err == MF_OK) {
        e->model = m;
        err = insert(r, e);
        if (err != MF_OK) {
            e->model = NULL;
            (void) unlink(e->path);
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (err != MF_OK) {
        free(e);
    }
    return err;
}

mf_err mf_registry_delete(mf_registry *r, const char *id)
{
    pthread_mutex_lock(&r->lock);
    bool found;
    size_t at = find(r, id, &found);
    mf_err err = MF_OK;
    mf_reg_model *e = found ? r->items[at] : NULL;
    if (e == NULL) {
        err = MF_ENOTFOUND;
    } else if (e->shipped) {
        err = MF_EBUSY;
    } else if (unlink(e->path) != 0 && errno != ENOENT) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot delete %s: %s", e->path, strerror(errno));
        err = MF_EIO;
    } else {
        memmove(r->items + at, r->items + at + 1, (r->n - at - 1) * sizeof *r->items);
        r->n--;
    }
    bool last = err == MF_OK && --e->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (last) {
        entry_free(e);
    }
    return err;
}

const char *mf_registry_store_dir(const mf_registry *r)
{
    return r->store_dir; /* set at open, never changed */
}

void mf_registry_stats(mf_registry *r, size_t *ret_n, uint64_t *ret_param_bytes)
{
    pthread_mutex_lock(&r->lock);
    uint64_t bytes = 0;
    for (size_t i = 0; i < r->n; i++) {
        bytes += (uint64_t) r->items[i]->model->net->n_params * sizeof(float);
    }
    *ret_n = r->n;
    *ret_param_bytes = bytes;
    pthread_mutex_unlock(&r->lock);
}
