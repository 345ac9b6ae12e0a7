/* SPDX-License-Identifier: MIT */
/*
 * catalog.h - the id map under the daemon's registries: the models
 * (registry.c) and the data sets (datasets.c).
 *
 * A catalog holds entries sorted by id.  An entry is any struct with a
 * `char id[...]` and an `int refs` member; the catalog is told where they
 * are (MF_CATALOG_INIT) and touches nothing else of it.  Entries are
 * reference-counted: the catalog holds one reference, every get or list
 * takes one more, and the entry is freed (free_item) when the last is
 * released, so removing an id takes effect at once while its users finish
 * with the entry.
 *
 * Adding an entry whose file must be written first goes in three steps:
 * reserve the id under the lock (a second writer of the same id is refused
 * at once), write without the lock (an fsync'd write of megabytes must not
 * stall every lookup), then commit the entry under the lock again.
 *
 * Both registries load their entries at start from directories of files
 * named <id><suffix>: mf_catalog_scan walks such a directory.
 *
 * Thread-safe: one mutex guards the map and the reference counts.
 */
#ifndef MF_CATALOG_H
#define MF_CATALOG_H

#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>

#include "err.h"

/* An id being written: reserved, not yet listed.  Lives in the writer's frame until commit. */
typedef struct mf_catalog_reservation {
    const char *id;
    struct mf_catalog_reservation *next;
} mf_catalog_reservation;

typedef struct mf_catalog {
    pthread_mutex_t lock;
    void **items; /* sorted by id */
    size_t n, cap;
    mf_catalog_reservation *writing;
    size_t id_off, refs_off;       /* where an entry keeps its id and its count */
    void (*free_item)(void *item); /* frees an entry no one uses any more */
} mf_catalog;

/** Initialises c for entries of type (a struct with members id and refs) freed by free_fn. */
#define MF_CATALOG_INIT(c, type, free_fn) \
    mf_catalog_init((c), offsetof(type, id), offsetof(type, refs), (free_fn))

void mf_catalog_init(mf_catalog *c, size_t id_off, size_t refs_off, void (*free_item)(void *item));

/** Frees every entry (whatever its references: call it when no user is left) and the map. */
void mf_catalog_deinit(mf_catalog *c);

/** Adds item (its refs set to 1, the catalog's).  Errors: MF_EBUSY (the id is there), MF_ENOMEM. */
MF_MUST_CHECK mf_err mf_catalog_insert(mf_catalog *c, void *item);

/** The entry with this id, its reference taken (release it), or NULL (id NULL too). */
void *mf_catalog_get(mf_catalog *c, const char *id);

/** Lets go of a reference from get or list; frees the entry after its last. */
void mf_catalog_release(mf_catalog *c, void *item);

/** Every entry, sorted by id, each referenced: release each, then free(*ret).  Errors: MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_catalog_list(mf_catalog *c, void ***ret, size_t *ret_n);

/** Releases every entry of a list and frees it (when a caller cannot use it). */
void mf_catalog_list_release(mf_catalog *c, void **items, size_t n);

/**
 * Reserves id (borrowed until commit or unreserve) in r, which must stay
 * where it is until then.  Errors: MF_EBUSY (an entry has the id, or
 * another writer reserved it).
 */
MF_MUST_CHECK mf_err mf_catalog_reserve(mf_catalog *c, mf_catalog_reservation *r, const char *id);

/**
 * Adds item under r's id and drops the reservation.  On error the
 * reservation stays (undo what was written, then mf_catalog_unreserve) and
 * item is not taken.  Errors: those of mf_catalog_insert.
 */
MF_MUST_CHECK mf_err mf_catalog_commit(mf_catalog *c, mf_catalog_reservation *r, void *item);

/** Drops a reservation without adding anything. */
void mf_catalog_unreserve(mf_catalog *c, mf_catalog_reservation *r);

/**
 * Adds item, whose file write(item, ctx, diag) writes, in the three steps
 * above: reserve the item's id, write, commit; when the commit fails the file
 * is unlinked.  item must be complete but for what write fills (its size,
 * its time) and is taken on success only.  Errors: MF_EBUSY (the id is
 * there or being written), write's, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_catalog_add_written(mf_catalog *c, void *item, const char *path,
                                            mf_err (*write)(void *item, void *ctx, mf_diag *diag),
                                            void *ctx, mf_diag *diag);

/** Unlinks the file of an entry being removed: MF_OK (also when it is gone) or MF_EIO, logged. */
MF_MUST_CHECK mf_err mf_catalog_unlink(const char *path);

/**
 * Removes the entry of id when may_remove(item, ctx), called under the lock,
 * returns MF_OK (it may undo the entry's file there); the catalog's reference
 * is released.  Errors: MF_ENOTFOUND, or may_remove's (the entry stays).
 */
MF_MUST_CHECK mf_err mf_catalog_remove(mf_catalog *c, const char *id,
                                       mf_err (*may_remove)(void *item, void *ctx), void *ctx);

/** Calls fn on every entry in id order, under the lock (fn must not call the catalog). */
void mf_catalog_each(mf_catalog *c, void (*fn)(const void *item, void *ctx), void *ctx);

/**
 * Loads the entry of one file (mf_catalog_scan): path, its id and its stat.
 * Returns MF_OK (loaded), MF_ENOMEM (the scan stops), or another error (the
 * file is skipped; the function has logged why).
 */
typedef mf_err (*mf_catalog_load_fn)(void *ctx, const char *path, const char *id,
                                     const struct stat *st);

/**
 * Removes the temporary files of atomic writes (core/fileio.h) that a crash
 * left in dir, for targets named *suffix, and logs how many there were
 * ("model", "dataset", "checkpoint": what).  A missing dir has none.
 */
void mf_catalog_remove_temps(const char *dir, const char *suffix, const char *what);

/**
 * Removes the temporaries of dir (mf_catalog_remove_temps), then
 * calls load for every regular file dir/<id><suffix>; a file with the suffix
 * whose name is no valid id, or that is no regular file, is skipped with a
 * log line naming what ("model", "dataset"); other names (READMEs,
 * temporaries) are passed over.  *loaded and *skipped are incremented.
 * Errors: MF_EIO (dir cannot be read; logged), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_catalog_scan(const char *dir, const char *suffix, const char *what,
                                     mf_catalog_load_fn load, void *ctx, size_t *loaded,
                                     size_t *skipped);

#endif /* MF_CATALOG_H */
