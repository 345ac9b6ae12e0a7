/* SPDX-License-Identifier: MIT */
/* registry.c - the in-memory models (see registry.h), in a catalog (catalog.h). */
#include "registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "catalog.h"
#include "datasets.h"
#include "log.h"
#include "request_json.h"

#define SUFFIX ".safetensors"

struct mf_registry {
    mf_catalog cat; /* of mf_reg_model */
    char store_dir[3072];
    size_t max_file_bytes;
    mf_model_limits limits; /* of every model file it loads or takes */
    mf_datasets *datasets;  /* set once at start, before any other thread (NULL: none) */
    /* the rescan thread (mf_registry_watch) */
    pthread_t watcher;
    bool watching, stop, poked;
    unsigned interval_ms;
    pthread_mutex_t watch_lock;
    pthread_cond_t wake;
    /* set once at start (mf_registry_set_change_hook) */
    void (*on_change)(void *ctx, const char *id);
    void *on_change_ctx;
};

static void entry_free(void *item)
{
    mf_reg_model *e = item;
    if (e != NULL) {
        mf_model_free(e->model);
        free(e);
    }
}

/* e->owner from its model's metadata; "" when absent or not a valid name. */
static void set_owner(mf_reg_model *e)
{
    const char *o = mf_model_get_meta(e->model, MF_REGISTRY_OWNER_KEY);
    snprintf(e->owner, sizeof e->owner, "%s", o != NULL && mf_req_id_valid(o) ? o : "");
}

/* What load_file needs besides the file. */
typedef struct load_ctx {
    mf_registry *r;
    bool shipped;
} load_ctx;

/*
 * The model's bf16 layers, made once here for every sampling call (they read the weights,
 * which no longer change); without them bf16 calls convert the weights per call.
 */
static void make_bf16(mf_reg_model *e)
{
    mf_err err = mf_model_make_bf16(e->model);
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, NULL, "model %s: no bf16 layers (%s): bf16 calls convert it",
               e->id, mf_strerror(err));
    }
}

/* One model file of a directory (mf_catalog_load_fn). */
static mf_err load_file(void *ctx, const char *path, const char *id, const struct stat *st,
                        void **ret_item)
{
    const load_ctx *c = ctx;
    mf_reg_model *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return MF_ENOMEM;
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->path, sizeof e->path, "%s", path);
    e->shipped = c->shipped;
    e->file_bytes = (uint64_t) st->st_size;
    mf_diag diag = {0};
    mf_err err =
        mf_model_load_file_limited(path, c->r->max_file_bytes, &c->r->limits, &e->model, &diag);
    if (err != MF_OK) {
        /* the path once: a read's field is the path itself, a parser's the place in the file */
        bool at = diag.field[0] != '\0' && strcmp(diag.field, path) != 0;
        mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s: %s (%s%s%s)", path, mf_strerror(err),
               diag.msg, at ? " at " : "", at ? diag.field : "");
        entry_free(e);
        return MF_EFORMAT;
    }
    make_bf16(e);
    if (!c->shipped) {
        set_owner(e);
        mf_catalog_stamp_of(&e->stamp, st); /* the store's files follow other replicas' changes */
    }
    *ret_item = e;
    return MF_OK;
}

static mf_err load_dir(mf_registry *r, const char *dir, bool shipped, size_t *loaded,
                       size_t *skipped)
{
    load_ctx c = {.r = r, .shipped = shipped};
    return mf_catalog_scan(&r->cat, dir, SUFFIX, "model", load_file, &c, loaded, skipped);
}

mf_err mf_registry_open(const char *shipped_dir, const char *store_dir, size_t max_file_bytes,
                        const mf_model_limits *limits, mf_registry **ret, size_t *ret_loaded,
                        size_t *ret_skipped)
{
    if (store_dir == NULL || ret == NULL ||
        strlen(store_dir) >= sizeof((mf_registry *) 0)->store_dir) {
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
    MF_CATALOG_INIT(&r->cat, mf_reg_model, entry_free, "a shipped model");
    snprintf(r->store_dir, sizeof r->store_dir, "%s", store_dir);
    r->max_file_bytes = max_file_bytes;
    r->limits = limits != NULL ? *limits : mf_model_limits_default();
    size_t loaded = 0, skipped = 0;
    mf_err err = shipped_dir != NULL ? load_dir(r, shipped_dir, true, &loaded, &skipped) : MF_OK;
    if (err == MF_OK) {
        err = load_dir(r, store_dir, false, &loaded, &skipped);
    }
    if (err == MF_OK) {
        /* the jobs' checkpoints (jobs/finetune_kit.h), written atomically too */
        char dir[sizeof r->store_dir + 16];
        snprintf(dir, sizeof dir, "%s/checkpoints", store_dir);
        mf_catalog_remove_temps(dir, SUFFIX, "checkpoint");
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

const mf_model_limits *mf_registry_model_limits(const mf_registry *r)
{
    return &r->limits;
}

void mf_registry_free(mf_registry *r)
{
    if (r == NULL) {
        return;
    }
    if (r->watching) {
        pthread_mutex_lock(&r->watch_lock);
        r->stop = true;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->watch_lock);
        pthread_join(r->watcher, NULL);
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->watch_lock);
    }
    mf_catalog_deinit(&r->cat);
    free(r);
}

/* The rescan thread: the models, then the data sets, every interval until stopped. */
static void *watch_main(void *arg)
{
    mf_registry *r = arg;
    pthread_mutex_lock(&r->watch_lock);
    while (!r->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long ns = ts.tv_nsec + (long) (r->interval_ms % 1000) * 1000000L;
        ts.tv_sec += (time_t) (r->interval_ms / 1000) + ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        while (!r->stop && !r->poked &&
               pthread_cond_timedwait(&r->wake, &r->watch_lock, &ts) == 0) {
        }
        if (r->stop) {
            break;
        }
        r->poked = false;
        pthread_mutex_unlock(&r->watch_lock);
        /* errors are passing (a store on a network volume may blink): the next round retries */
        mf_err err = mf_registry_rescan(r, NULL, NULL);
        if (r->datasets != NULL) {
            err = mf_datasets_rescan(r->datasets, NULL, NULL);
        }
        (void) err;
        pthread_mutex_lock(&r->watch_lock);
    }
    pthread_mutex_unlock(&r->watch_lock);
    return NULL;
}

mf_err mf_registry_watch(mf_registry *r, unsigned interval_ms)
{
    if (r->watching || interval_ms == 0) {
        return MF_EINVAL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->watch_lock, NULL);
    r->interval_ms = interval_ms;
    r->stop = false;
    if (pthread_create(&r->watcher, NULL, watch_main, r) != 0) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->watch_lock);
        return MF_ENOMEM;
    }
    r->watching = true;
    return MF_OK;
}

void mf_registry_poke(mf_registry *r)
{
    if (r == NULL || !r->watching) {
        return;
    }
    pthread_mutex_lock(&r->watch_lock);
    r->poked = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->watch_lock);
}

void mf_registry_set_change_hook(mf_registry *r, void (*fn)(void *ctx, const char *id), void *ctx)
{
    r->on_change = fn;
    r->on_change_ctx = ctx;
}

/* This process added or removed id: tell the hook (the other replicas). */
static void changed(mf_registry *r, const char *id)
{
    if (r->on_change != NULL) {
        r->on_change(r->on_change_ctx, id);
    }
}

mf_reg_model *mf_registry_get(mf_registry *r, const char *id)
{
    load_ctx c = {.r = r, .shipped = false};
    return mf_catalog_get_or_load(&r->cat, id, r->store_dir, SUFFIX, "model", load_file, &c);
}

mf_err mf_registry_rescan(mf_registry *r, size_t *ret_added, size_t *ret_removed)
{
    load_ctx c = {.r = r, .shipped = false};
    size_t added = 0, removed = 0;
    mf_err err =
        mf_catalog_rescan(&r->cat, r->store_dir, SUFFIX, "model", load_file, &c, &added, &removed);
    if (added > 0 || removed > 0) {
        mf_log(MF_LOG_INFO, NULL, NULL, "model store: %zu model(s) appeared, %zu went away", added,
               removed);
    }
    if (ret_added != NULL) {
        *ret_added = added;
    }
    if (ret_removed != NULL) {
        *ret_removed = removed;
    }
    return err;
}

void mf_registry_release(mf_registry *r, mf_reg_model *e)
{
    mf_catalog_release(&r->cat, e);
}

mf_err mf_registry_list(mf_registry *r, mf_reg_model ***ret, size_t *ret_n)
{
    void **items;
    size_t n;
    mf_err err = mf_catalog_list(&r->cat, &items, &n);
    if (err != MF_OK) {
        return err;
    }
    mf_reg_model **out = malloc((n > 0 ? n : 1) * sizeof *out);
    if (out == NULL) {
        mf_catalog_list_release(&r->cat, items, n);
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = items[i]; /* from void *, typed: the list is the catalog's */
    }
    free(items);
    *ret = out;
    *ret_n = n;
    return MF_OK;
}

/* Writes a new entry's model to its file (for mf_catalog_add_written). */
static mf_err write_model(void *item, void *ctx, mf_diag *diag)
{
    (void) ctx;
    mf_reg_model *e = item;
    mf_err err = mf_model_save_file(e->model, e->path, diag);
    struct stat st;
    if (err == MF_OK) {
        bool known = stat(e->path, &st) == 0;
        e->file_bytes = known ? (uint64_t) st.st_size : 0;
        if (known) {
            mf_catalog_stamp_of(&e->stamp, &st);
        }
    }
    return err;
}

/*
 * The file is written outside the registry's lock (an fsync'd write of up to
 * --max-upload bytes must not stall every model lookup), under a reservation
 * of the id (catalog.h), which makes a second add of the same id fail with
 * MF_EBUSY instead of overwriting (or, on its failure, unlinking) the first
 * one's file.
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
    e->model = m;
    make_bf16(e); /* before the entry is published: the layers are only read after */
    set_owner(e);
    mf_err err = mf_catalog_add_written(&r->cat, e, e->path, write_model, NULL, diag);
    if (err != MF_OK) {
        free(e); /* not e->model: the caller keeps m */
        return err;
    }
    changed(r, id);
    return MF_OK;
}

/* Under the catalog's lock: a shipped model stays; a stored one loses its file. */
static mf_err may_remove(void *item, void *ctx)
{
    (void) ctx;
    const mf_reg_model *e = item;
    return e->shipped ? MF_EBUSY : mf_catalog_unlink(e->path);
}

mf_err mf_registry_delete(mf_registry *r, const char *id)
{
    mf_err err = mf_catalog_remove(&r->cat, id, may_remove, NULL);
    if (err == MF_OK) {
        changed(r, id);
    }
    return err;
}

const char *mf_registry_store_dir(const mf_registry *r)
{
    return r->store_dir; /* set at open, never changed */
}

typedef struct model_stats {
    size_t n;
    uint64_t param_bytes;
} model_stats;

/* Counts an entry and its parameter bytes into ctx (under the catalog's lock). */
static void count_model(const void *item, void *ctx)
{
    const mf_reg_model *e = item;
    model_stats *st = ctx;
    st->n++;
    st->param_bytes += (uint64_t) e->model->net->n_params * sizeof(float);
}

void mf_registry_stats(mf_registry *r, size_t *ret_n, uint64_t *ret_param_bytes)
{
    model_stats st = {0};
    mf_catalog_each(&r->cat, count_model, &st);
    *ret_n = st.n;
    *ret_param_bytes = st.param_bytes;
}

void mf_registry_set_datasets(mf_registry *r, mf_datasets *ds)
{
    r->datasets = ds;
}

mf_datasets *mf_registry_datasets(const mf_registry *r)
{
    return r->datasets;
}
