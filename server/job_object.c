/* SPDX-License-Identifier: MIT */
/* job_object.c - a job store record as the API's job object (see job_object.h). */
#include "job_object.h"

#include "api_json.h"

json_t *mf_job_object(const mf_job_rec *rec, long queue_position, bool cancel_requested)
{
    mf_job_view v = {.id = rec->id,
                     .type = rec->type,
                     .model = rec->model,
                     .state = mf_job_state_name(rec->state),
                     .params = rec->params,
                     .result = rec->result,
                     .error = rec->error,
                     .metrics = rec->metrics,
                     .done = rec->done,
                     .total = rec->total,
                     .created_at = rec->created_at,
                     .started_at = rec->started_at,
                     .finished_at = rec->finished_at,
                     .attempts = rec->attempts,
                     .queue_position = queue_position,
                     .cancel_requested = cancel_requested};
    return mf_json_job(&v);
}
