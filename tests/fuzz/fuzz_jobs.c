/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jobs.c - libFuzzer target: the POST /v1/jobs body,
 * proto/request_json.c's mf_req_decode_job, and so every job type's codec
 * (proto/jobs/: sample, train, finetune.smeme, finetune.reward,
 * finetune.dxmi), at the daemon's default limits.  The seed corpus has a
 * valid body of every type; the dictionary has every type and key.
 *
 * Invariants: a decoded job's canonical params JSON (what the job store
 * keeps, once the type's prepare has filled the defaults the daemon picks by
 * the model) decodes again, as after a restart, to the same params and the
 * same JSON; a sample job's params are within sample_codec.h's limits, and
 * the limits of the other types that a server setting bounds hold; an error
 * is request_json.h's.
 */
#include <string.h>

#include "dxmi_codec.h"
#include "fuzz.h"
#include "reward_codec.h"
#include "smeme_codec.h"
#include "train_codec.h"

/* What each type's header says its params hold, where a server limit bounds them. */
static void check_params(const mf_job_req *j, const mf_req_limits *lim)
{
    const void *p = j->params;
    if (j->codec == &mf_sample_codec) {
        fuzz_check_sample_req(p, lim);
    } else if (j->codec == &mf_train_codec) {
        const mf_train_req *t = p;
        FUZZ_CHECK(mf_req_id_valid(t->dataset), "train dataset '%s'", t->dataset);
        FUZZ_CHECK(t->p.steps >= 1 && t->p.steps <= lim->max_train_steps, "train steps %zu",
                   t->p.steps);
        FUZZ_CHECK(t->p.batch >= 1 && t->p.batch <= lim->max_batch, "train batch %zu", t->p.batch);
    } else if (j->codec == &mf_smeme_codec) {
        const mf_smeme_req *s = p;
        FUZZ_CHECK(s->K >= 1 && s->K <= MF_SMEME_REQ_MAX_K, "smeme K %zu", s->K);
        FUZZ_CHECK(s->steps >= 2 && s->steps <= lim->max_steps, "smeme steps %zu", s->steps);
        FUZZ_CHECK(s->n_metric_samples >= 100 && s->n_metric_samples <= lim->max_n,
                   "smeme n_metric_samples %zu", s->n_metric_samples);
        for (size_t i = 0; i < s->K; i++) {
            FUZZ_CHECK(s->alpha[i] > 1 && s->alpha[i] <= 100, "smeme alpha %g", s->alpha[i]);
        }
    } else if (j->codec == &mf_reward_codec) {
        const mf_reward_req *r = p;
        FUZZ_CHECK(r->n_targets >= 1 && r->n_targets <= MF_REWARD_REQ_MAX_TARGETS,
                   "reward %zu targets", r->n_targets);
        FUZZ_CHECK(r->n_per_target >= 10 && r->n_per_target <= lim->max_n,
                   "reward n_per_target %zu", r->n_per_target);
        FUZZ_CHECK(r->steps <= lim->max_steps, "reward steps %zu", r->steps);
    } else if (j->codec == &mf_dxmi_codec) {
        const mf_dxmi_req *x = p;
        FUZZ_CHECK(x->iters <= lim->max_train_steps, "dxmi iters %zu", x->iters);
        FUZZ_CHECK(x->n_eval >= 100 && x->n_eval <= lim->max_n, "dxmi n_eval %zu", x->n_eval);
    }
}

/*
 * What the type's prepare does to the params before the job store keeps them
 * (server/job.c encodes them again after it): finetune.dxmi's "by the model's
 * dimension" (-1, which its codec writes but does not read back) becomes the
 * recipe's value, here for a 2-D model.  false when out of memory.
 */
static bool resolve_like_prepare(mf_job_req *j)
{
    if (j->codec != &mf_dxmi_codec) {
        return true;
    }
    mf_dxmi_req *x = j->params;
    const mf_dxmi_opts rec = mf_dxmi_opts_for_dim(2);
    x->o.tau_entropy = x->o.tau_entropy >= 0 ? x->o.tau_entropy : rec.tau_entropy;
    x->o.lr_sampler = x->o.lr_sampler >= 0 ? x->o.lr_sampler : rec.lr_sampler;
    x->o.lr_energy = x->o.lr_energy >= 0 ? x->o.lr_energy : rec.lr_energy;
    free(j->params_json);
    j->params_json = j->codec->encode(j->params);
    return j->params_json != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mf_req_limits lim = mf_req_limits_default();
    mf_job_req j;
    mf_diag d = {0};
    mf_err err = mf_req_decode_job((const char *) data, size, &lim, &j, &d);
    if (err != MF_OK) {
        fuzz_check_req_error(err, &d);
        FUZZ_CHECK(j.params == NULL && j.params_json == NULL, "a failed decode holds params");
        return 0;
    }
    switch (j.codec->model) {
    case MF_CODEC_NO_MODEL:
        FUZZ_CHECK(j.model[0] == '\0', "%s with model '%s'", j.codec->name, j.model);
        break;
    case MF_CODEC_MODEL:
        FUZZ_CHECK(mf_req_id_valid(j.model), "%s model '%s'", j.codec->name, j.model);
        break;
    case MF_CODEC_MODEL_OPTIONAL:
        FUZZ_CHECK(j.model[0] == '\0' || mf_req_id_valid(j.model), "%s model '%s'", j.codec->name,
                   j.model);
        break;
    }
    check_params(&j, &lim);
    if (resolve_like_prepare(&j)) {
        fuzz_check_job_round_trip(&j, &lim);
    }
    mf_job_req_done(&j);
    return 0;
}
