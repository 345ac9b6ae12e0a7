/* SPDX-License-Identifier: MIT */
/*
 * job_object.h - the job object of the API (GET /v1/jobs/{id}, the list, the
 * answer to a submit, and the final status event) from a job store record,
 * made in one place so that every one of them reads the same.
 */
#ifndef MF_JOB_OBJECT_H
#define MF_JOB_OBJECT_H

#include <stdbool.h>

#include <jansson.h>

#include "store.h"

/**
 * The job object of rec (proto/api_json.h mf_json_job): queue_position < 0
 * when not queued, cancel_requested for a running job asked to stop.  A new
 * reference, NULL when out of memory.
 */
json_t *mf_job_object(const mf_job_rec *rec, long queue_position, bool cancel_requested);

#endif /* MF_JOB_OBJECT_H */
