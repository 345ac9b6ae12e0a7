/* SPDX-License-Identifier: MIT */
/*
 * event_id.h - the event id a client resumes a job's event stream after
 * (stream.c): the Last-Event-ID header, or the ?after= argument.  On its own,
 * without HTTP, so the fuzzer (tests/fuzz/fuzz_event_id.c) calls it as
 * stream.c does.
 */
#ifndef MF_EVENT_ID_H
#define MF_EVENT_ID_H

#include <stdbool.h>
#include <stdint.h>

/**
 * Parses s, a Last-Event-ID value or ?after= argument, into *ret: a decimal
 * event id as strtoull reads it (leading white space and '+' accepted; a value
 * over 2^64 - 1 reads as 2^64 - 1).  false, *ret untouched, for an empty s,
 * s starting with '-', or anything after the digits.  Reentrant.
 */
bool mf_event_id_parse(const char *s, uint64_t *ret);

#endif /* MF_EVENT_ID_H */
