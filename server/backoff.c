/* SPDX-License-Identifier: MIT */
/* backoff.c - capped doubling delays between attempts (see backoff.h). */
#include "backoff.h"

mf_backoff mf_backoff_make(double min, double max)
{
    return (mf_backoff){.min = min, .max = max, .reset_after = 2.0 * max};
}

double mf_backoff_fail(mf_backoff *b, double now)
{
    if (b->waiting && now < b->until) {
        return b->until;
    }
    bool fresh = b->delay <= 0.0 || now - b->last_fail > b->reset_after;
    double d = fresh ? b->min : 2.0 * b->delay;
    b->delay = d < b->max ? d : b->max;
    b->last_fail = now;
    b->until = now + b->delay;
    b->waiting = true;
    return b->until;
}

void mf_backoff_ok(mf_backoff *b)
{
    b->waiting = false;
}

bool mf_backoff_due(const mf_backoff *b, double now)
{
    return b->waiting && now >= b->until;
}
