/* SPDX-License-Identifier: MIT */
/*
 * datasets.h - the data sets the daemon knows, by id: the built-in ones of
 * core/dataset.h, listed read-only and protected (no upload of their names,
 * no delete), and the uploaded ones.
 *
 * An upload is parsed (core/data_file.h) into a table and stored atomically
 * as <dir>/<id>.npy in data_file.h's stored form (float32, the labels as the
 * last column), beside the models (the daemon's dir is <model store>/datasets).
 * At start every <id>.npy of dir is loaded again; a file whose name is not a
 * valid id, that fails validation or that has a built-in's id is skipped with
 * a log line and never stops the daemon.
 *
 * An uploaded set belongs to the API key that uploaded it: its name is kept
 * beside the data in <id>.owner (written before the data, so a crash between
 * the two leaves at worst an owner file no data names, replaced by the next
 * upload of that id); a set without one belongs to no key.
 * Entries are reference-counted like the models (catalog.h): a train job
 * holds its data set while it runs, so a delete removes the id at once (404
 * from then on) and frees the table when the last user lets go.  Tables are
 * immutable.  Thread-safe.
 */
#ifndef MF_DATASETS_H
#define MF_DATASETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "data_file.h"
#include "dataset.h"
#include "err.h"
#include "table.h"

typedef struct mf_datasets mf_datasets;

typedef struct mf_reg_dataset {
    char id[65];
    bool builtin;             /* protected; no table */
    mf_dataset_id builtin_id; /* built-in: which */
    mf_table *table;          /* uploaded: the rows (immutable); NULL for a built-in */
    char path[4096];          /* uploaded: its file */
    uint64_t file_bytes;      /* uploaded: size of the stored file */
    int64_t created;          /* uploaded: Unix seconds the file was written; built-in: -1 */
    char owner[65];           /* uploaded: the API key that owns it, "" for none */
    mf_catalog_stamp stamp;   /* uploaded: its file's, to notice a replacement */
    int refs;                 /* guarded by the catalog's lock */
} mf_reg_dataset;

/**
 * The built-in sets and every stored data set of dir (created when absent),
 * each file read under lim's rows and columns (lim->max_bytes bounds uploads,
 * not the stored files, whose size follows from rows and columns).
 * *ret_loaded / *ret_skipped (may be NULL) count files.  The temporaries of
 * writes a crash cut short are removed first.  Errors: MF_EINVAL, MF_EIO
 * (dir cannot be created or read), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_datasets_open(const char *dir, const mf_data_limits *lim, mf_datasets **ret,
                                      size_t *ret_loaded, size_t *ret_skipped);

/** Frees the data sets; accepts NULL.  No entry may be in use. */
void mf_datasets_free(mf_datasets *ds);

/** The limits uploads are parsed under (those given to open). */
const mf_data_limits *mf_datasets_limits(const mf_datasets *ds);

/**
 * The data set with this id, its reference taken (release it), or NULL.  An
 * id not in memory whose file another process (a replica sharing the store)
 * has written since is loaded then.
 */
mf_reg_dataset *mf_datasets_get(mf_datasets *ds, const char *id);

/** As mf_registry_rescan, for the data sets' directory. */
MF_MUST_CHECK mf_err mf_datasets_rescan(mf_datasets *ds, size_t *ret_added, size_t *ret_removed);

/** Lets go of a reference from get or list. */
void mf_datasets_release(mf_datasets *ds, mf_reg_dataset *e);

/** All data sets, built-in ones too, sorted by id, each referenced: release each, then free(*ret).
 */
MF_MUST_CHECK mf_err mf_datasets_list(mf_datasets *ds, mf_reg_dataset ***ret, size_t *ret_n);

/**
 * Stores t as id (atomic write), owned by owner ("" or NULL: no key), and adds
 * it; takes t on success only.  Errors: MF_EINVAL (bad id or owner, t NULL),
 * MF_EBUSY (the id is a built-in's or an upload's, or is being written),
 * those of mf_data_save (diag), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_datasets_add(mf_datasets *ds, const char *id, mf_table *t,
                                     const char *owner, mf_diag *diag);

/**
 * The data set id as a job of owner may use it (referenced: release it), or
 * NULL: built-in ones and those of no key for anyone; another key's only for
 * a job without an owner (a daemon without keys).
 */
mf_reg_dataset *mf_datasets_get_for(mf_datasets *ds, const char *id, const char *owner);

/**
 * Removes an uploaded data set: the id disappears at once, the file is
 * unlinked and the table freed when unused.  Errors: MF_ENOTFOUND, MF_EBUSY
 * (built-in: protected), MF_EIO (unlink failed; the data set stays).
 */
MF_MUST_CHECK mf_err mf_datasets_delete(mf_datasets *ds, const char *id);

#endif /* MF_DATASETS_H */
