/* SPDX-License-Identifier: MIT */
/*
 * backoff.h - when to try again after a failure: a delay that starts at min,
 * doubles with every failure up to max, and starts over at min once failures
 * have stopped for a while (reset_after seconds since the last one).
 *
 * The scheduler waits this way for a job store that cannot write (disk full):
 * it tries again (mf_store_probe) at 0.1, 0.2, 0.4, ... 5, 5, 5 s, so a disk
 * that stays full costs one small write every 5 s, and one that is freed is
 * noticed within 5 s.  A success ends the wait but keeps the delay, so a
 * store that takes a small write and refuses the next big one goes on
 * doubling instead of being hammered at min.
 *
 * Plain data without a clock of its own: callers pass monotonic seconds.  Not
 * thread-safe (the scheduler holds its lock).
 */
#ifndef MF_BACKOFF_H
#define MF_BACKOFF_H

#include <stdbool.h>

typedef struct mf_backoff {
    double min, max;    /* the first delay, the cap (seconds) */
    double reset_after; /* quiet seconds after which the delay starts over at min */
    double delay;       /* of the last failure; 0 before any */
    double last_fail;   /* when the last failure was */
    double until;       /* no attempt before this */
    bool waiting;       /* a failure not yet followed by a success */
} mf_backoff;

/** A back-off from min doubling to max, starting over after 2 x max quiet seconds. */
mf_backoff mf_backoff_make(double min, double max);

/**
 * A failure at now: waiting from now on, until now + the next delay (min, or
 * twice the last one up to max).  A failure reported while already waiting
 * (of an attempt begun before the wait) changes nothing.  Returns until.
 */
double mf_backoff_fail(mf_backoff *b, double now);

/** A success: no more waiting (the delay is kept for a failure soon after). */
void mf_backoff_ok(mf_backoff *b);

/** Waiting, and the time to try again has come. */
bool mf_backoff_due(const mf_backoff *b, double now);

#endif /* MF_BACKOFF_H */
