/* SPDX-License-Identifier: MIT */
/*
 * guidance.h - guided noise prediction for reward-conditioned models
 * (reference/other-seeds.md §1.2 step 4).
 */
#ifndef MF_GUIDANCE_H
#define MF_GUIDANCE_H

#include <stddef.h>

#include "err.h"

typedef enum mf_guide_mode {
    MF_GUIDE_COND = 0,   /* plain conditioning: eps(x, t, c) */
    MF_GUIDE_CFG = 1,    /* classifier-free: (1 + w) eps(x, t, c) - w eps(x, t, null) */
    MF_GUIDE_REWARD = 2, /* reward-gradient guidance with the model's reward */
} mf_guide_mode;

/** "cond", "cfg", "reward"; "unknown" for other values. */
const char *mf_guide_mode_name(mf_guide_mode mode);

/** Parses a mode name.  Errors: MF_ENOTFOUND (anything else, NULL).  *ret only on success. */
MF_MUST_CHECK mf_err mf_guide_mode_lookup(const char *name, mf_guide_mode *ret);

#endif /* MF_GUIDANCE_H */
