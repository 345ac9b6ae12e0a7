/* SPDX-License-Identifier: MIT */
/* guidance.c - guided noise prediction (see guidance.h). */
#include "guidance.h"

#include <string.h>

const char *mf_guide_mode_name(mf_guide_mode mode)
{
    switch (mode) {
    case MF_GUIDE_COND:
        return "cond";
    case MF_GUIDE_CFG:
        return "cfg";
    case MF_GUIDE_REWARD:
        return "reward";
    }
    return "unknown";
}

mf_err mf_guide_mode_lookup(const char *name, mf_guide_mode *ret)
{
    for (int k = MF_GUIDE_COND; k <= MF_GUIDE_REWARD; k++) {
        if (name != NULL && strcmp(name, mf_guide_mode_name((mf_guide_mode) k)) == 0) {
            *ret = (mf_guide_mode) k;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}
