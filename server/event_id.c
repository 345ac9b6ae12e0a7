/* SPDX-License-Identifier: MIT */
/* event_id.c - the resume point of an event stream (see event_id.h). */
#include "event_id.h"

#include <stdlib.h>

bool mf_event_id_parse(const char *s, uint64_t *ret)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || *s == '-') {
        return false;
    }
    *ret = v;
    return true;
}
