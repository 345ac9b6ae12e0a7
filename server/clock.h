/* SPDX-License-Identifier: MIT */
/* clock.h - the two clocks of the daemon, in seconds. */
#ifndef MF_CLOCK_H
#define MF_CLOCK_H

#include <time.h>

/** Monotonic seconds (durations, deadlines, heartbeats). */
static inline double mf_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/** Unix seconds (timestamps stored with jobs). */
static inline double mf_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

#endif /* MF_CLOCK_H */
