/* SPDX-License-Identifier: MIT */
/*
 * api_json.h - the wire form of the daemon's responses and events: error
 * bodies, model descriptions, job objects, sample results, stream events.
 * With request_json.h and metrics_json.h, the only place JSON field names
 * live.  Every function returns a new reference (NULL when out of memory) or a
 * malloc'd string the caller frees.
 *
 * Numbers are written in their shortest round-trip form (json_util.h): a
 * double as the shortest text that reads back as it, a float32 sample as
 * the shortest that reads back as the float.
 */
#ifndef MF_API_JSON_H
#define MF_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "json_util.h"
#include "model_file.h"
#include "sample_codec.h"

#define MF_JSON_DUMP_FLAGS JSON_COMPACT

/** mf_json_dumps with MF_JSON_DUMP_FLAGS, then json_decref(j); NULL stays NULL. */
char *mf_json_take_dump(json_t *j);

/** {"error":{"code","message","field"}}; field NULL is written as null. */
char *mf_json_error_body(const char *code, const char *message, const char *field);

/** A job's error: {"code", "message"} (malloc'd text). */
char *mf_json_job_error(const char *code, const char *message);

/**
 * A log line's words for a final job (out[cap]): "made model ID" from a
 * result that names one, "CODE: MESSAGE" from an error; "" otherwise.
 */
void mf_json_job_summary(const char *result, const char *error, char *out, size_t cap);

/**
 * A train job's metrics event while it runs: {"job", "step", "steps", "loss" (the
 * training loss, an exponential average), "heldout_loss" (the DSM loss on the data
 * set's held-out points, null for an upload)}.  Non-finite numbers are null.
 */
json_t *mf_json_event_train_metrics(const char *job_id, uint64_t step, uint64_t steps, double loss,
                                    double heldout_loss);

/**
 * A train job's result: {"model": id, "steps", "loss"} (loss null when not finite), and
 * "evaluation" (stolen) when not NULL (jobs/train_events.h); malloc'd.
 */
char *mf_json_train_result(const char *model, uint64_t steps, double loss, json_t *evaluation);

/*
 * A model: {"id", "dataset", "data_dim", "cond_dim", "hidden": [..], "emb_dim",
 * "params", "schedule", "prediction", "data_offset", "data_scale", "parent" (null
 * for none), "created" (the metadata's time as json_util.h writes times, null when
 * it has none in RFC 3339), "provenance", "protected", "file_bytes", "metadata": {all}}.
 */
json_t *mf_json_model(const char *id, const mf_model *m, bool protected_model, uint64_t file_bytes);

/* What the server knows of a job, as strings it owns (JSON texts parsed here). */
typedef struct mf_job_view {
    const char *id, *type, *model, *state;
    const char *params;  /* JSON object text or NULL */
    const char *result;  /* JSON object text or NULL */
    const char *error;   /* JSON object text or NULL */
    const char *metrics; /* JSON object text or NULL */
    uint64_t done, total;
    double created_at, started_at, finished_at; /* 0 = not yet */
    uint32_t attempts;
    long queue_position;   /* < 0: not queued */
    bool cancel_requested; /* a running job asked to stop (at its next step boundary) */
} mf_job_view;

/* A result up to this many bytes (a model-producing job's) is part of the job object. */
#define MF_JSON_RESULT_INLINE_MAX 16384

/*
 * {"id", "type", "model" (null for none), "state", "params", "progress": {"done",
 * "total"}, "queue_position"? (queued only), "metrics"?, "result"? (small ones), "error"?,
 * "cancel_requested"?, "attempts", "created_at", "started_at", "finished_at" (RFC 3339
 * times, json_util.h; null when not yet), "links": {"self", "events", "result", "cancel"}}.
 */
json_t *mf_json_job(const mf_job_view *v);

/** [[x_00, ..., x_0(D-1)], ...]: n rows of D floats. */
json_t *mf_json_samples(const float *x, size_t n, size_t D);

/* The result of a sampling request or job. */
typedef struct mf_sample_view {
    const mf_sample_req *req; /* the request, resolved (steps, seed, guidance) */
    const float *x;           /* (n, D), data space */
    size_t D;
    json_t *metrics;             /* borrowed; NULL: "metrics": null */
    const char *metrics_skipped; /* reason when metrics is NULL, or NULL */
} mf_sample_view;

/**
 * {"model", "sampler", "n", "steps", "eta", "seed", "target"?, "condition"?,
 * "guidance"?: {"mode", "w"}, "samples", "metrics", "metrics_skipped"?}; no
 * "samples" when x is NULL (the summary that ends a sample stream, whose rows
 * went out as samples events).
 */
json_t *mf_json_sample_result(const mf_sample_view *v);

/*
 * Event payloads.  Every event of a job's stream also carries "job": id; a
 * streamed POST /v1/samples has no job (job_id NULL: no "job" field).
 */

/** status: {"job", "state", "job_object"?: the job (final events carry it)}. */
json_t *mf_json_event_status(const char *job_id, const char *state, json_t *job_object);

/**
 * The final status of a streamed POST /v1/samples: {"state", "result"?: the
 * sample result without its rows (succeeded), "error"?: {"code", "message"}}.
 * Takes result.
 */
json_t *mf_json_event_sample_status(const char *state, json_t *result, const char *code,
                                    const char *message);
/**
 * progress: {"job", "done", "total", "phase"}: done of total in the job type's
 * unit, phase what runs.  Sampling (a sample job, a streamed POST /v1/samples)
 * counts rows: done = the rows finished plus the running rows' share of their
 * sampler steps (rounded down), total = n, in phase MF_PHASE_SAMPLING, then
 * n of n in MF_PHASE_METRICS while the metrics are computed.
 */
#define MF_PHASE_SAMPLING "sampling"
#define MF_PHASE_METRICS  "metrics"
json_t *mf_json_event_progress(const char *job_id, uint64_t done, uint64_t total,
                               const char *phase);
/** samples: {"job", "offset", "samples"}: rows offset .. offset + n - 1 of the result. */
json_t *mf_json_event_samples(const char *job_id, size_t offset, const float *x, size_t n,
                              size_t D);

/**
 * A finetune.smeme iteration's metrics event (iteration 0 = the parent):
 * {"job", "iteration", "alpha" (null for 0), "loss" (the last round's, null
 * for 0 or not finite), "metrics": metrics (taken), "log_density_parent":
 * {"mean", "n"} (mean log-density of n of the samples under the parent, data
 * space; null when n = 0), "model"?: the id of the model kept for this
 * iteration (keep_iterations; model not NULL)}.
 */
json_t *mf_json_event_iteration_metrics(const char *job_id, size_t iteration, double alpha,
                                        double loss, json_t *metrics, double mean_logp,
                                        size_t n_logp, const char *model);
/** The "iteration" of a stored iteration metrics text, or -1 (NULL, not JSON, none). */
long mf_json_metrics_iteration(const char *metrics_json);

/** A finetune.smeme iteration's samples event: {"job", "iteration", "offset": 0, "samples"}. */
json_t *mf_json_event_iteration_samples(const char *job_id, size_t iteration, const float *x,
                                        size_t n, size_t D);

/** true when an event (name, data) is a job's final status event. */
bool mf_json_event_is_final(const char *name, const char *data);

/** One NDJSON line (with '\n'): {"id": seq, "event": name, "data": data}; malloc'd. */
char *mf_json_ndjson_line(uint64_t seq, const char *name, const char *data);

/** The GET /v1/models body: {"models": [...]}, taking the array. */
json_t *mf_json_model_list(json_t *models);

/** The GET /v1/jobs body: {"jobs": [...], "next_before": id or null}, taking the array. */
json_t *mf_json_job_list(json_t *jobs, const char *next_before);

/** {"status": status} plus, when not NULL, "reason" (health and readiness). */
json_t *mf_json_health(const char *status, const char *reason);

#endif /* MF_API_JSON_H */
