/* SPDX-License-Identifier: MIT */
/* datasets.c - the built-in and uploaded data sets, in a catalog (see datasets.h). */
#include "datasets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "fileio.h"
#include "log.h"
#include "request_json.h"

#define SUFFIX       ".npy"
#define OWNER_SUFFIX ".owner"

struct mf_datasets {
    mf_catalog cat; /* of mf_reg_dataset */
    char dir[3072];
    mf_data_limits lim;    /* uploads */
    mf_data_limits stored; /* stored files: the same rows and columns, bytes to match */
};

static void entry_free(void *item)
{
    mf_reg_dataset *e = item;
    if (e != NULL) {
        mf_table_free(e->table);
        free(e);
    }
}

static mf_err add_builtins(mf_datasets *ds)
{
    for (int i = 0; i < MF_DATASET_COUNT; i++) {
        mf_reg_dataset *e = calloc(1, sizeof *e);
        if (e == NULL) {
            return MF_ENOMEM;
        }
        snprintf(e->id, sizeof e->id, "%s", mf_dataset_name((mf_dataset_id) i));
        e->builtin = true;
        e->builtin_id = (mf_dataset_id) i;
        e->created = -1;
        mf_err err = mf_catalog_insert(&ds->cat, e);
        if (err != MF_OK) {
            free(e);
            return err;
        }
    }
    return MF_OK;
}

/* <dir>/<id>.owner */
static void owner_path(const char *dir, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s" OWNER_SUFFIX, dir, id);
}

/* e->owner from its owner file; "" when there is none or it holds no valid name. */
static void read_owner(const mf_datasets *ds, mf_reg_dataset *e)
{
    char path[sizeof ds->dir + 96];
    owner_path(ds->dir, e->id, path, sizeof path);
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_diag d = {0};
    e->owner[0] = '\0';
    if (mf_fileio_read(path, sizeof e->owner, &buf, &len, &d) == MF_OK && len < sizeof e->owner) {
        memcpy(e->owner, buf, len);
        e->owner[len] = '\0';
        if (!mf_req_id_valid(e->owner)) {
            e->owner[0] = '\0';
        }
    }
    free(buf);
}

/* One stored data set (mf_catalog_load_fn). */
static mf_err load_file(void *ctx, const char *path, const char *id, const struct stat *st,
                        void **ret_item)
{
    mf_datasets *ds = ctx;
    mf_reg_dataset *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return MF_ENOMEM;
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->path, sizeof e->path, "%s", path);
    e->file_bytes = (uint64_t) st->st_size;
    e->created = (int64_t) st->st_mtime;
    mf_diag diag = {0};
    mf_err err = mf_data_load(path, &ds->stored, &e->table, &diag);
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, NULL, "skipping %s: %s (%s)", path, mf_strerror(err), diag.msg);
        entry_free(e);
        return MF_EFORMAT;
    }
    read_owner(ds, e);
    mf_catalog_stamp_of(&e->stamp, st);
    *ret_item = e;
    return MF_OK;
}

/* x + y, or SIZE_MAX when it overflows. */
static size_t sat_add(size_t x, size_t y)
{
    return x > SIZE_MAX - y ? SIZE_MAX : x + y;
}

/* The largest stored file of lim's rows and columns: a .npy header and the float32 values. */
static size_t stored_bytes(const mf_data_limits *lim)
{
    size_t values, bytes;
    if (mf_size_mul(lim->max_rows, sat_add(lim->max_cols, 1), &values) != MF_OK ||
        mf_size_mul(values, sizeof(float), &bytes) != MF_OK) {
        return SIZE_MAX;
    }
    return sat_add(bytes, 65536 + 16);
}

mf_err mf_datasets_open(const char *dir, const mf_data_limits *lim, mf_datasets **ret,
                        size_t *ret_loaded, size_t *ret_skipped)
{
    if (dir == NULL || lim == NULL || ret == NULL ||
        strlen(dir) >= sizeof((mf_datasets *) 0)->dir) {
        return MF_EINVAL;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot create the dataset store %s: %s", dir,
               strerror(errno));
        return MF_EIO;
    }
    mf_datasets *ds = calloc(1, sizeof *ds);
    if (ds == NULL) {
        return MF_ENOMEM;
    }
    MF_CATALOG_INIT(&ds->cat, mf_reg_dataset, entry_free, "a built-in dataset");
    snprintf(ds->dir, sizeof ds->dir, "%s", dir);
    ds->lim = *lim;
    ds->stored = *lim;
    ds->stored.max_bytes = stored_bytes(lim);
    size_t loaded = 0, skipped = 0;
    mf_err err = add_builtins(ds);
    if (err == MF_OK) {
        err = mf_catalog_scan(&ds->cat, dir, SUFFIX, "dataset", load_file, ds, &loaded, &skipped);
    }
    if (err != MF_OK) {
        mf_datasets_free(ds);
        return err;
    }
    if (ret_loaded != NULL) {
        *ret_loaded = loaded;
    }
    if (ret_skipped != NULL) {
        *ret_skipped = skipped;
    }
    *ret = ds;
    return MF_OK;
}

void mf_datasets_free(mf_datasets *ds)
{
    if (ds != NULL) {
        mf_catalog_deinit(&ds->cat);
        free(ds);
    }
}

const mf_data_limits *mf_datasets_limits(const mf_datasets *ds)
{
    return &ds->lim;
}

mf_reg_dataset *mf_datasets_get(mf_datasets *ds, const char *id)
{
    return mf_catalog_get_or_load(&ds->cat, id, ds->dir, SUFFIX, "dataset", load_file, ds);
}

mf_err mf_datasets_rescan(mf_datasets *ds, size_t *ret_added, size_t *ret_removed)
{
    size_t added = 0, removed = 0;
    mf_err err =
        mf_catalog_rescan(&ds->cat, ds->dir, SUFFIX, "dataset", load_file, ds, &added, &removed);
    if (added > 0 || removed > 0) {
        mf_log(MF_LOG_INFO, NULL, NULL, "dataset store: %zu dataset(s) appeared, %zu went away",
               added, removed);
    }
    if (ret_added != NULL) {
        *ret_added = added;
    }
    if (ret_removed != NULL) {
        *ret_removed = removed;
    }
    return err;
}

void mf_datasets_release(mf_datasets *ds, mf_reg_dataset *e)
{
    mf_catalog_release(&ds->cat, e);
}

mf_err mf_datasets_list(mf_datasets *ds, mf_reg_dataset ***ret, size_t *ret_n)
{
    void **items;
    size_t n;
    mf_err err = mf_catalog_list(&ds->cat, &items, &n);
    if (err != MF_OK) {
        return err;
    }
    mf_reg_dataset **out = malloc((n > 0 ? n : 1) * sizeof *out);
    if (out == NULL) {
        mf_catalog_list_release(&ds->cat, items, n);
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

/* Writes a new entry's owner and table to their files (for mf_catalog_add_written). */
static mf_err write_table(void *item, void *ctx, mf_diag *diag)
{
    const mf_datasets *ds = ctx;
    mf_reg_dataset *e = item;
    char opath[sizeof ds->dir + 96];
    owner_path(ds->dir, e->id, opath, sizeof opath);
    /* the owner first: data never stands without the name of its owner */
    mf_err err = e->owner[0] != '\0' ? mf_fileio_write_atomic(opath, (const uint8_t *) e->owner,
                                                              strlen(e->owner), diag)
                                     : (unlink(opath) == 0 || errno == ENOENT ? MF_OK : MF_EIO);
    if (err == MF_OK) {
        err = mf_data_save(e->table, e->path, diag);
    }
    struct stat st;
    if (err == MF_OK) {
        bool known = stat(e->path, &st) == 0;
        e->file_bytes = known ? (uint64_t) st.st_size : 0;
        e->created = known ? (int64_t) st.st_mtime : -1;
        if (known) {
            mf_catalog_stamp_of(&e->stamp, &st);
        }
    }
    return err;
}

/* The file is written outside the lock, under a reservation of the id (catalog.h). */
mf_err mf_datasets_add(mf_datasets *ds, const char *id, mf_table *t, const char *owner,
                       mf_diag *diag)
{
    owner = owner != NULL ? owner : "";
    if (!mf_req_id_valid(id) || t == NULL || (owner[0] != '\0' && !mf_req_id_valid(owner))) {
        return MF_EINVAL;
    }
    mf_reg_dataset *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return MF_ENOMEM;
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->path, sizeof e->path, "%s/%s%s", ds->dir, id, SUFFIX);
    snprintf(e->owner, sizeof e->owner, "%s", owner);
    e->table = t;
    mf_err err = mf_catalog_add_written(&ds->cat, e, e->path, write_table, ds, diag);
    if (err != MF_OK) {
        free(e); /* not e->table: the caller keeps t */
    }
    return err;
}

/* Under the catalog's lock: a built-in stays; an upload loses its files. */
static mf_err may_remove(void *item, void *ctx)
{
    const mf_datasets *ds = ctx;
    const mf_reg_dataset *e = item;
    if (e->builtin) {
        return MF_EBUSY;
    }
    mf_err err = mf_catalog_unlink(e->path);
    if (err == MF_OK) {
        char opath[sizeof ds->dir + 96];
        owner_path(ds->dir, e->id, opath, sizeof opath);
        (void) unlink(opath); /* without its data an owner file names nothing */
    }
    return err;
}

mf_err mf_datasets_delete(mf_datasets *ds, const char *id)
{
    return mf_catalog_remove(&ds->cat, id, may_remove, ds);
}

mf_reg_dataset *mf_datasets_get_for(mf_datasets *ds, const char *id, const char *owner)
{
    mf_reg_dataset *e = mf_datasets_get(ds, id);
    if (e != NULL && owner != NULL && owner[0] != '\0' && e->owner[0] != '\0' &&
        strcmp(e->owner, owner) != 0) {
        mf_catalog_release(&ds->cat, e);
        e = NULL;
    }
    return e;
}
