/* SPDX-License-Identifier: MIT */
/*
 * store.h - the job store: jobs, their event logs and their results, durable
 * across restarts and kill -9.
 *
 * An interface with backends chosen by URI: "sqlite:PATH" (store_sqlite.c) and
 * "postgres://..." (store_pg.c) behind the same functions, so the scheduler, the
 * routes and the streaming code never know which one runs.  Events are
 * appended here and streamed from here, so a client can resume a stream
 * (Last-Event-ID) from any replica and after any restart.
 *
 * Payloads (params, result, error, metrics, event data) are opaque JSON text
 * made by proto/; the store never parses them.
 *
 * Threading: every function may be called from any thread; a store serialises
 * its own access.  Durability: a function that returned MF_OK has committed
 * (SQLite: WAL, synchronous=NORMAL: survives a process crash).
 *
 * Storage errors: a write may fail with MF_ENOSPC (the disk is full: nothing
 * of it was written, and the same write succeeds once space is freed) or
 * MF_EIO (other storage trouble); either leaves the store as it was.
 */
#ifndef MF_STORE_H
#define MF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum mf_job_state {
    MF_JOB_QUEUED = 0,
    MF_JOB_RUNNING = 1,
    MF_JOB_SUCCEEDED = 2,
    MF_JOB_FAILED = 3,
    MF_JOB_CANCELLED = 4,
} mf_job_state;

/** "queued", "running", "succeeded", "failed", "cancelled"; NULL for others. */
const char *mf_job_state_name(mf_job_state s);
/** Parses a state name; MF_ENOTFOUND for anything else. */
MF_MUST_CHECK mf_err mf_job_state_lookup(const char *name, mf_job_state *ret);
/** succeeded, failed or cancelled. */
bool mf_job_state_final(mf_job_state s);

#define MF_ID_MAX 64 /* ids are [a-z0-9][a-z0-9._-]{0,63} */

/* One job.  Strings are owned (NUL-terminated, heap) unless NULL. */
typedef struct mf_job_rec {
    char id[MF_ID_MAX + 1];
    char type[32];             /* "sample", "train", "finetune.smeme", ... */
    char model[MF_ID_MAX + 1]; /* the model it reads; "" for none */
    char owner[MF_ID_MAX + 1]; /* the API key that submitted it; "" for none (no keys) */
    mf_job_state state;
    char *params;         /* JSON object: the validated params */
    char *result;         /* JSON object once succeeded, else NULL */
    char *error;          /* JSON {"code","message"} once failed or cancelled, else NULL */
    char *metrics;        /* JSON object: the latest metrics, or NULL */
    uint64_t done, total; /* progress */
    double created_at;    /* Unix seconds */
    double started_at;    /* 0 until running */
    double finished_at;   /* 0 until final */
    uint32_t attempts;    /* times it has been started */
    uint64_t last_seq;    /* sequence number of its last event, 0 = none */
} mf_job_rec;

/** Frees the strings of r (not r) and NULLs them; accepts NULL. */
void mf_job_rec_done(mf_job_rec *r);

/* One event of a job's log.  seq is 1, 2, 3, ... per job, without gaps. */
typedef struct mf_event_rec {
    uint64_t seq;
    char name[16]; /* "status", "progress", "metrics", "samples" */
    char *data;    /* owned JSON text */
} mf_event_rec;

/** Frees the data of events[0..n) and the array; accepts NULL. */
void mf_event_recs_free(mf_event_rec *events, size_t n);

typedef struct mf_store mf_store;

/**
 * Opens (creating when absent) the store named by uri: "sqlite:PATH" (PATH a
 * file; ":memory:" for tests), or a PostgreSQL database: "postgres://...",
 * "postgresql://..." (libpq's URI) or "postgres:KEY=VALUE ..." (its keyword
 * form); the schema is created in it when absent (docs/postgres.md).  Errors: MF_EINVAL (unknown
 * scheme), MF_EIO (cannot open or create; diag says why), MF_EFORMAT (a file that is not a Manifold
 * store or of a newer schema version), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_store_open(const char *uri, mf_store **ret, mf_diag *diag);

/**
 * uri fit for a log line: postgres:// + "***@" + host/db, without the user, password
 * or query of a URI; a keyword connection string ("host=... password=...")
 * is not quoted at all.  out gets at most cap bytes, NUL-terminated.
 */
void mf_store_uri_redacted(const char *uri, char *out, size_t cap);

/** Whether several daemons may share the store (PostgreSQL): leases are renewed and
 *  reclaimed only then; an SQLite file is one daemon's. */
bool mf_store_shared(const mf_store *s);

/* What a watch reports (mf_store_watch). */
typedef enum mf_store_note {
    MF_NOTE_EVENT = 0,  /* id: a job whose log grew (an event appended, or the job finished) */
    MF_NOTE_MODEL = 1,  /* id: a model uploaded, produced or deleted (mf_store_announce_model) */
    MF_NOTE_RESYNC = 2, /* id "": the watch was cut off and notes may be lost: look again at all */
} mf_store_note;

typedef void (*mf_store_watch_fn)(void *ctx, mf_store_note note, const char *id);

/**
 * Watches what other handles on the same database (other replicas) do:
 * fn(ctx, note, id) is called on a thread of the store's own (so it must be
 * quick and thread-safe) for every event appended and every model
 * announced, by any handle, this one included; after the watch lost its
 * connection and got it back, once with MF_NOTE_RESYNC.  A note is sent when
 * the transaction that made its change commits, so whoever it wakes finds
 * the change.  PostgreSQL: LISTEN/NOTIFY on a connection of its own, until
 * mf_store_close.  SQLite: the file is one daemon's, whose own hooks already
 * see everything, so nothing is watched and fn is never called.  At most one
 * watch per store.  Errors: MF_EBUSY (watched already), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_store_watch(mf_store *s, mf_store_watch_fn fn, void *ctx);

/** Stops the watch (fn is not called once this returns); accepts a store without one. */
void mf_store_unwatch(mf_store *s);

/**
 * Tells every watch (mf_store_watch) that model id changed: uploaded,
 * produced or deleted by this replica.  SQLite: nothing to tell (MF_OK).
 * Errors: MF_EINVAL (not an id), MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_announce_model(mf_store *s, const char *id);

/** Closes the store; accepts NULL. */
void mf_store_close(mf_store *s);

/** Cheap check that the store answers (for /readyz). */
MF_MUST_CHECK mf_err mf_store_ping(mf_store *s);

/**
 * Whether writes go through: MF_OK, or the error of the last write that
 * failed for a storage reason, MF_ENOSPC (the disk is full) or MF_EIO, until
 * a later write (or probe) succeeds.  Cheap (no I/O): for /readyz.
 */
MF_MUST_CHECK mf_err mf_store_writable(mf_store *s);

/**
 * The smallest write that needs space (SQLite: the schema version written
 * again, one page): how a waiting writer learns that space is back.  Errors:
 * MF_ENOSPC, MF_EIO; counts as a write for mf_store_writable.
 */
MF_MUST_CHECK mf_err mf_store_probe(mf_store *s);

/**
 * Inserts a new queued job: id, type, model, owner, params and created_at from r (other
 * fields ignored) and appends its first event, status {"state":"queued"} (given
 * as first_event_data so the store stays JSON-free).  Errors: MF_EBUSY (id
 * exists), MF_EINVAL, MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_job_insert(mf_store *s, const mf_job_rec *r,
                                         const char *first_event_data);

/** Reads job id into *ret (caller: mf_job_rec_done).  Errors: MF_ENOTFOUND, MF_EIO. */
MF_MUST_CHECK mf_err mf_store_job_get(mf_store *s, const char *id, mf_job_rec *ret);

typedef struct mf_job_filter {
    int state;          /* an mf_job_state, or -1 for any */
    const char *model;  /* NULL for any */
    const char *type;   /* NULL for any */
    const char *before; /* NULL, or list only jobs created before this job id (paging) */
    const char *owner;  /* NULL for any; else only this owner's jobs and those without one */
    size_t limit;       /* 1..1000 */
} mf_job_filter;

/**
 * Jobs matching f, newest first (created_at, then id), at most f->limit.  The
 * records carry no params, result or metrics (NULL): listings stay small.
 * *ret is malloc'd (free each with mf_job_rec_done, then free()).
 */
MF_MUST_CHECK mf_err mf_store_job_list(mf_store *s, const mf_job_filter *f, mf_job_rec **ret,
                                       size_t *ret_n);

/** Ids of all queued jobs, oldest first (restart: re-enqueue). *ret: n x (MF_ID_MAX+1). */
MF_MUST_CHECK mf_err mf_store_jobs_queued(mf_store *s, char (**ret)[MF_ID_MAX + 1], size_t *ret_n);

/**
 * Leases (several replicas on one database).  A store handle acts for one
 * replica, named by replica (1..64 bytes, no control characters; "" until
 * set), and holds the jobs it claims for lease_s seconds (> 0; 30 until set),
 * renewed with mf_store_job_renew.  A running job whose lease expired is
 * taken back by any replica's mf_store_reclaim_expired.  While a replica
 * holds a job's lease, only it may report the job's progress, events and
 * final state: another one gets MF_EBUSY (fencing), except for a cancel,
 * which any replica may store.  Call once, before the handle is used by
 * other threads.  Times are the replicas' wall clocks: they must agree to
 * well within a lease.  Errors: MF_EINVAL.
 */
MF_MUST_CHECK mf_err mf_store_set_lease(mf_store *s, const char *replica, double lease_s);

/**
 * queued -> running: sets started_at, attempts + 1, and the job's lease
 * (this replica, until now + lease_s).  Atomic, so two replicas can never
 * both start one job.  Errors: MF_ENOTFOUND, MF_EBUSY (not queued: cancelled
 * meanwhile, or claimed by another), MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_job_claim(mf_store *s, const char *id, double now);

/**
 * mf_store_job_claim of the oldest queued job (created_at, then id), which
 * ret_id gets: how a replica takes work from a shared store, whichever
 * replica stored the job.  Atomic: two handles never claim one job
 * (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent claims take different
 * jobs without waiting).  Errors: MF_ENOTFOUND (no queued job: ret_id ""),
 * MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_job_claim_next(mf_store *s, double now, char ret_id[MF_ID_MAX + 1]);

/**
 * Renews the lease of every running job this replica holds, to now +
 * lease_s, in one statement; *ret (may be NULL; else n x (MF_ID_MAX+1),
 * malloc'd, NULL when none) gets their ids: a job this replica runs that is
 * not among them was taken from it (its lease expired and another replica
 * reclaimed it).  *ret_n (may be NULL) counts them.  Errors: MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_job_renew(mf_store *s, double now, char (**ret)[MF_ID_MAX + 1],
                                        size_t *ret_n);

/** Progress of a running job (no event; the caller appends one when it wants). */
MF_MUST_CHECK mf_err mf_store_job_progress(mf_store *s, const char *id, uint64_t done,
                                           uint64_t total);

/** Replaces the job's latest metrics (JSON text). */
MF_MUST_CHECK mf_err mf_store_job_metrics(mf_store *s, const char *id, const char *metrics);

/**
 * Moves a job to a final state (succeeded with result, failed or cancelled
 * with error; the other NULL), sets finished_at, and appends the final event
 * (name "status", final_event_data) in the same transaction, so a stream never
 * sees a final job without its final event.  Allowed from queued (cancel) or
 * running.  Errors: MF_ENOTFOUND, MF_EBUSY (already final: nothing changed),
 * MF_EINVAL, MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_job_finish(mf_store *s, const char *id, mf_job_state final,
                                         const char *result, const char *error,
                                         const char *final_event_data, double now);

/**
 * Appends an event to a running or queued job's log; *ret_seq (may be NULL)
 * gets its sequence number.  Errors: MF_ENOTFOUND, MF_EBUSY (job already
 * final: its log is closed), MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_event_append(mf_store *s, const char *id, const char *name,
                                           const char *data, uint64_t *ret_seq);

/**
 * Events of job id with seq > after, in order, at most max (>= 1).  *ret is
 * malloc'd (mf_event_recs_free); *ret_n may be 0.  Errors: MF_ENOTFOUND (no
 * such job), MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_events_after(mf_store *s, const char *id, uint64_t after, size_t max,
                                           mf_event_rec **ret, size_t *ret_n);

/**
 * The data of the status event a recovery appends to a job: job is the job
 * as the recovery leaves it (state queued, or failed with its error and
 * finished_at).  Malloc'd; NULL when out of memory.
 */
typedef char *(*mf_recover_event_fn)(void *ctx, const mf_job_rec *job);

/**
 * After a restart: every job left running by a dead replica is either put
 * back to queued (when attempts < max_attempts) or finished as failed with
 * fail_error; either way a status event made by event_data(ctx, job) is
 * appended.  Which jobs: on SQLite, every running job (a store file belongs
 * to one daemon, so whatever runs there was left by its previous process);
 * on PostgreSQL, those whose lease expired before now or that this replica
 * (mf_store_set_lease) holds; the others are other replicas' and are left to
 * mf_store_reclaim_expired.  *ret_requeued and *ret_failed (may be NULL)
 * count them.  Errors: MF_EINVAL, MF_ENOMEM (event_data gave NULL: nothing
 * changes), MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_recover(mf_store *s, uint32_t max_attempts,
                                      mf_recover_event_fn event_data, void *ctx,
                                      const char *fail_error, double now, size_t *ret_requeued,
                                      size_t *ret_failed);

/**
 * mf_store_recover for the running jobs whose lease expired before now, on
 * any backend (a replica died or lost the database for longer than a lease):
 * *ret (may be NULL; else malloc'd, NULL when none) gets the ids put back to
 * queued, for the caller to run; *ret_n and *ret_failed (may be NULL) count
 * the requeued and the failed.  Errors: as mf_store_recover.
 */
MF_MUST_CHECK mf_err mf_store_reclaim_expired(mf_store *s, uint32_t max_attempts,
                                              mf_recover_event_fn event_data, void *ctx,
                                              const char *fail_error, double now,
                                              char (**ret)[MF_ID_MAX + 1], size_t *ret_n,
                                              size_t *ret_failed);

/**
 * Deletes final jobs (and their events) that finished before `before`;
 * *ret_n (may be NULL) counts them.
 */
MF_MUST_CHECK mf_err mf_store_expire(mf_store *s, double before, size_t *ret_n);

/**
 * Per-key limits kept in the store, so that they hold across the replicas
 * sharing it (quota.h).  Only a shared store (PostgreSQL) keeps them: on
 * SQLite both answer MF_ENOTFOUND ("not kept here") and the daemon counts in
 * memory, which is exact for its one process.  Times are Unix seconds (the
 * replicas' wall clocks, as leases).  Each is one atomic statement, so two
 * replicas never both take the last token or the last FLOPs.  Neither counts
 * as a write for mf_store_writable: they are not jobs.
 */

/**
 * Takes one request from key_name's token bucket (1..64 bytes): burst tokens
 * (>= 1) at most, refilled at rate (> 0) per second since the last take; a
 * key seen for the first time starts full.  *ret_ok: whether a token was
 * taken; when not, *ret_retry_s is the time until the next one.  Errors:
 * MF_EINVAL, MF_ENOTFOUND (not kept here), MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_quota_take(mf_store *s, const char *key_name, double rate,
                                         double burst, double now, bool *ret_ok,
                                         double *ret_retry_s);

/**
 * Charges flops (>= 0) to key_name's compute of UTC day number day
 * (floor(unix seconds / 86400)) when the day's total stays within limit
 * (> 0); a key's first charge of a day starts from 0 (only the latest day is
 * kept).  *ret_ok: whether it was charged (else nothing was); *ret_used:
 * the day's total after it.  Errors: MF_EINVAL, MF_ENOTFOUND (not kept here),
 * MF_EIO.
 */
MF_MUST_CHECK mf_err mf_store_quota_charge(mf_store *s, const char *key_name, double flops,
                                           double limit, int64_t day, bool *ret_ok,
                                           double *ret_used);

/** Number of jobs in each state: counts[MF_JOB_QUEUED .. MF_JOB_CANCELLED]. */
MF_MUST_CHECK mf_err mf_store_count_states(mf_store *s, uint64_t counts[5]);

/** mf_store_count_states for the jobs of one owner (per-key job limits). */
MF_MUST_CHECK mf_err mf_store_count_owner(mf_store *s, const char *owner, uint64_t counts[5]);

#endif /* MF_STORE_H */
