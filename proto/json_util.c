/* SPDX-License-Identifier: MIT */
/* json_util.c - see json_util.h. */
#include "json_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

json_t *mf_json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *mf_json_u64(uint64_t v)
{
    if (v <= (UINT64_C(1) << 53)) {
        return json_integer((json_int_t) v);
    }
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return json_string(buf);
}

json_t *mf_json_checked(json_t *o, int failures)
{
    if (failures != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
