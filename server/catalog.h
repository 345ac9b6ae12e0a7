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
 * named <id><suffix>: mf_catalog_scan walks such a directory.  Replicas of
 * the daemon may share the directory: mf_catalog_rescan makes the entries
 * follow the files other processes added, replaced or removed, and
 * mf_catalog_get_or_load loads the file of an id not in memory.  An entry
 * from such a file carries its stamp (device, inode, mtime, size), to tell
 * a replaced file; a file that failed to load is remembered by name and
 * stamp, so it is logged once and not loaded again until it changes.
 *
 * Thread-safe: one mutex guards the map and the reference counts.
 */
#ifndef MF_CATALOG_H
#define MF_CATALOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err.h"

/* An id being written: reserved, not yet listed.  Lives in the writer's frame until commit. */
typedef struct mf_catalog_reservation {
    const char *id;
    struct mf_catalog_reservation *next;
} mf_catalog_reservation;

/* Which file an entry was loaded from or written to; set false: none (protected entries). */
typedef struct mf_catalog_stamp {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    bool set;
} mf_catalog_stamp;

/* A file that failed to load, as it was then. */
typedef struct mf_catalog_failed {
    char name[256];
    mf_catalog_stamp stamp;
} mf_catalog_failed;

typedef struct mf_catalog {
    pthread_mutex_t lock;
    void **items; /* sorted by id */
    size_t n, cap;
    mf_catalog_reservation *writing;
    size_t id_off, refs_off, stamp_off; /* where an entry keeps its id, count and stamp */
    void (*free_item)(void *item);      /* frees an entry no one uses any more */
    const char *taken;                  /* who may hold a loaded file's id: "a shipped model" */
    mf_catalog_failed *failed;          /* files that failed to load */
    size_t n_failed, cap_failed;
} mf_catalog;

/**
 * Initialises c for entries of type (a struct with members id, refs and an
 * mf_catalog_stamp stamp) freed by free_fn; taken names the protected entries
 * a file's id may clash with, for the log ("a shipped model").
 */
#define MF_CATALOG_INIT(c, type, free_fn, taken)                                          \
    mf_catalog_init((c), offsetof(type, id), offsetof(type, refs), offsetof(type, stamp), \
                    (free_fn), (taken))

void mf_catalog_init(mf_catalog *c, size_t id_off, size_t refs_off, size_t stamp_off,
                     void (*free_item)(void *item), const char *taken);

/** The stamp of a file from its stat. */
void mf_catalog_stamp_of(mf_catalog_stamp *s, const struct stat *st);

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
 * its time) and is taken on success only.  A file at path that is no
 * remembered failure (another process sharing the directory wrote it) makes
 * the id taken too.  Errors: MF_EBUSY (the id is there or being written),
 * write's, MF_ENOMEM.
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
 * Loads the entry of one file (mf_catalog_scan): path, its id and its stat,
 * into *ret_item (not yet in the catalog: the caller inserts it).  Returns
 * MF_OK, MF_ENOMEM (the scan stops), or another error (the file is skipped;
 * the function has logged why).
 */
typedef mf_err (*mf_catalog_load_fn)(void *ctx, const char *path, const char *id,
                                     const struct stat *st, void **ret_item);

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
MF_MUST_CHECK mf_err mf_catalog_scan(mf_catalog *c, const char *dir, const char *suffix,
                                     const char *what, mf_catalog_load_fn load, void *ctx,
                                     size_t *loaded, size_t *skipped);

/**
 * Makes the stamped entries follow dir, which other processes may change:
 * loads the files <id><suffix> that no entry, reservation or remembered
 * failure has; drops the stamped entries whose file is gone (their users
 * keep them until they release them) and reloads those whose file was
 * replaced.  Hidden names (temporaries) are passed over; nothing is removed
 * from dir.  *added / *removed (may be NULL) count entries.  Errors: MF_EIO
 * (dir cannot be read; not logged), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_catalog_rescan(mf_catalog *c, const char *dir, const char *suffix,
                                       const char *what, mf_catalog_load_fn load, void *ctx,
                                       size_t *added, size_t *removed);

/**
 * mf_catalog_get, and when no entry has id: loads dir/<id><suffix> if it is
 * a regular file no reservation or remembered failure has, then gets it.
 */
void *mf_catalog_get_or_load(mf_catalog *c, const char *id, const char *dir, const char *suffix,
                             const char *what, mf_catalog_load_fn load, void *ctx);

#endif /* MF_CATALOG_H */
