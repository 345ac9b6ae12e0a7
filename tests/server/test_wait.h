/* SPDX-License-Identifier: MIT */
/*
 * test_wait.h - bounded waiting for the server/ tests that run threads: a
 * condition polled every 10 ms for at most 30 s, then a Check failure naming
 * it, so no test can hang.
 */
#ifndef MF_TEST_WAIT_H
#define MF_TEST_WAIT_H

#include <time.h>

#include <check.h>

#define WAIT_TRIES 3000 /* x 10 ms = 30 s */

static inline void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls cond every 10 ms for at most 30 s; fails the test when it never holds. */
#define WAIT_UNTIL(cond)                                                 \
    do {                                                                 \
        for (int tries_ = 0; !(cond) && tries_ < WAIT_TRIES; tries_++) { \
            sleep_ms(10);                                                \
        }                                                                \
        ck_assert_msg((cond), "timed out waiting for %s", #cond);        \
    } while (0)

#endif /* MF_TEST_WAIT_H */
