/* SPDX-License-Identifier: MIT */
/*
 * registry.h - the models the daemon holds in memory, by id.
 *
 * Two directories: the shipped (pre-trained) models, read-only and protected
 * from deletion, and the model store, where uploads and models produced by
 * jobs are written atomically (core/model_file.h) and from which they are
 * loaded again at start.  A model's id is its file name without
 * ".safetensors"; a file whose name is not a valid id, or that fails
 * validation, is skipped with a log line and never stops the daemon.
 *
 * Entries are reference-counted: a job holds its model while it runs, so a
 * delete removes the id at once (404 from then on) and frees the weights
 * when the last user lets go.  Loaded models are immutable.  Thread-safe.
 */
#ifndef MF_REGISTRY_H
#define MF_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "err.h"
#include "model_file.h"

typedef struct mf_registry mf_registry;
typedef struct mf_datasets mf_datasets; /* datasets.h */

/*
 * The metadata key of a stored model that names the API key owning it: set
 * by the upload route and by the job that makes a model, read at load.  A
 * shipped model has no owner, whatever its file says.
 */
#define MF_REGISTRY_OWNER_KEY "owner"

/* How often the daemon rescans its model store (mf_registry_watch), in ms. */
#define MF_STORE_RESCAN_MS 500

typedef struct mf_reg_model {
    char id[65];
    mf_model *model;        /* immutable */
    bool shipped;           /* protected */
    char owner[65];         /* its owner's key name, "" for none (MF_REGISTRY_OWNER_KEY) */
    char path[4096];        /* its file */
    uint64_t file_bytes;    /* size of the file */
    mf_catalog_stamp stamp; /* the stored file's, to notice its replacement; unset when shipped */
    int refs;               /* guarded by the registry's lock (catalog.h) */
} mf_reg_model;

/**
 * Loads every *.safetensors of shipped_dir (may be NULL) and store_dir (created
 * when absent) up to max_file_bytes each, within limits (NULL: core's defaults;
 * a file over them is skipped like any invalid one).  *ret_loaded / *ret_skipped (may be
 * NULL) count files.  Errors: MF_EIO (store_dir cannot be created or a
 * directory cannot be read), MF_ENOMEM.  A shipped and a stored file with the
 * same id: the shipped one wins and the other is skipped.  The temporaries of
 * writes a crash cut short (in store_dir and its checkpoints/) are removed
 * first, with a log line counting them.
 */
MF_MUST_CHECK mf_err mf_registry_open(const char *shipped_dir, const char *store_dir,
                                      size_t max_file_bytes, const mf_model_limits *limits,
                                      mf_registry **ret, size_t *ret_loaded, size_t *ret_skipped);

/**
 * Starts a thread that rescans the store (mf_registry_rescan) and the
 * attached data sets (mf_datasets_rescan) every interval_ms, so that models
 * and data sets other replicas add or delete are seen; mf_registry_free stops
 * it.  Call it once, after mf_registry_set_datasets.  Errors: MF_EINVAL
 * (already watching, interval 0), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_registry_watch(mf_registry *r, unsigned interval_ms);

/**
 * Makes the watch thread rescan now rather than at its next interval (a
 * replica announced a change: mf_store_watch); nothing without the thread.
 * Any thread.
 */
void mf_registry_poke(mf_registry *r);

/**
 * fn(ctx, id) is called after this process added (mf_registry_add) or
 * deleted (mf_registry_delete) model id, on the thread that did it: how the
 * daemon tells the other replicas (mf_store_announce_model).  Call once at
 * start, before other threads use the registry.
 */
void mf_registry_set_change_hook(mf_registry *r, void (*fn)(void *ctx, const char *id), void *ctx);

/** The limits every model file is loaded within (uploads and checkpoints too). */
const mf_model_limits *mf_registry_model_limits(const mf_registry *r);

/** Frees the registry and every model no longer used; accepts NULL. */
void mf_registry_free(mf_registry *r);

/**
 * The model with this id, its reference taken (release it), or NULL.  An id
 * not in memory whose file another process (a replica sharing the store) has
 * written since is loaded then, with the checks of open.
 */
mf_reg_model *mf_registry_get(mf_registry *r, const char *id);

/**
 * Makes the stored models follow the store directory, which replicas of the
 * daemon may share: loads the files written by others, drops the models
 * whose files are gone (a job holding one keeps it until it lets go) and
 * reloads replaced ones; temporaries are passed over, a file that fails is
 * logged once and skipped until it changes.  *ret_added / *ret_removed may
 * be NULL.  Errors: MF_EIO (the store cannot be read), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_registry_rescan(mf_registry *r, size_t *ret_added, size_t *ret_removed);

/** Lets go of a reference from get or list. */
void mf_registry_release(mf_registry *r, mf_reg_model *e);

/** All models, sorted by id, each referenced: release each, then free(*ret). */
MF_MUST_CHECK mf_err mf_registry_list(mf_registry *r, mf_reg_model ***ret, size_t *ret_n);

/**
 * Saves m to the store as id (atomic write) and adds it; the registry takes m
 * on success only.  Errors: MF_EBUSY (id exists, here or as a file another
 * replica wrote), MF_EINVAL (bad id), those of
 * mf_model_save_file (diag; MF_ENOSPC: the disk is full), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_registry_add(mf_registry *r, const char *id, mf_model *m, mf_diag *diag);

/**
 * Removes a stored model: the id disappears at once, the file is unlinked and
 * the weights freed when unused.  Errors: MF_ENOTFOUND, MF_EBUSY (shipped:
 * protected), MF_EIO (unlink failed; the model stays).
 */
MF_MUST_CHECK mf_err mf_registry_delete(mf_registry *r, const char *id);

/** The model store directory (jobs keep their checkpoints below it). */
const char *mf_registry_store_dir(const mf_registry *r);

/** Number of models and their total parameter bytes (for /metrics). */
void mf_registry_stats(mf_registry *r, size_t *ret_n, uint64_t *ret_param_bytes);

/**
 * Attaches the data sets (borrowed: they outlive the registry's users), so
 * that whoever holds the registry (route handlers, job types) finds them.
 * Call it once at start, before any thread reads the registry.
 */
void mf_registry_set_datasets(mf_registry *r, mf_datasets *ds);

/** The data sets attached at start, or NULL. */
mf_datasets *mf_registry_datasets(const mf_registry *r);

#endif /* MF_REGISTRY_H */
