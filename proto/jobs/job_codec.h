/* SPDX-License-Identifier: MIT */
/*
 * job_codec.h - one codec per job type: the wire form of a job's params.
 *
 * A codec names its type (the "type" of POST /v1/jobs), says whether the type
 * takes a model (the one it samples or fine-tunes: "model" required, optional
 * or forbidden), decodes the params object into the type's C struct with
 * every default filled in and every error named by its JSON pointer under
 * /params, and encodes that struct back as the canonical params JSON the job
 * store keeps (compact, sorted keys, every default written, so decoding it
 * again gives the same struct).  server/jobs/ pairs each codec with the code
 * that runs the job.
 *
 * Adding a job type: its codec in a file of its own here, and one line in the
 * table of job_codecs.c.
 */
#ifndef MF_JOB_CODEC_H
#define MF_JOB_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "req_limits.h"

typedef struct mf_job_codec mf_job_codec;

/* Whether a job type reads a model (the one it samples or fine-tunes), named by "model". */
typedef enum mf_codec_model {
    MF_CODEC_NO_MODEL = 0,  /* "model" forbidden */
    MF_CODEC_MODEL,         /* "model" required */
    MF_CODEC_MODEL_OPTIONAL /* "model" may be given (e.g. a parent to start from) */
} mf_codec_model;

struct mf_job_codec {
    const char *name;       /* "sample", "train", "finetune.smeme", ... */
    mf_codec_model model;   /* whether "model" is required, optional or forbidden */
    const char *model_hint; /* MF_CODEC_NO_MODEL: the sentence after "unknown field \"/model\"; " */
    size_t params_size;     /* bytes of the decoded params struct */
    /**
     * Decodes params (an object, or NULL when the body has none) of a job on
     * model (the top-level "model"; "" for a type without one) into out
     * (params_size bytes, zeroed by the caller).  Errors as request_json.h,
     * with fields under /params.
     */
    mf_err (*decode)(json_t *params, const char *model, const mf_req_limits *lim, void *out,
                     mf_diag *d);
    /** The canonical params JSON of a decoded struct; malloc'd, NULL when out of memory. */
    char *(*encode)(const void *params);
    /** The field tables of params, NULL-terminated (for mf_req_describe). */
    const struct mf_req_field *const *tables;
};

/** Every job type this build runs, NULL-terminated (job_codecs.c). */
extern const mf_job_codec *const mf_job_codecs[];

/** The codec named name, or NULL (NULL name too). */
const mf_job_codec *mf_job_codec_lookup(const char *name);

#endif /* MF_JOB_CODEC_H */
