/* SPDX-License-Identifier: MIT */
/*
 * rcgd.c - the reward-directed conditional diffusion pipeline (rcgd.h).
 *
 * Training rows: the unlabelled rows with their pseudo-labels y~ = f(x) + nu xi,
 * drawn once at fit (RCGDM's step 2; ../shared/bench/reward_torch/reward.py
 * does the same), plus the labelled rows with their own labels when asked.  The
 * batch of step k takes rows mf_rng_below(BATCH stream, k B + j, n_rows), so a
 * step is a pure function of (seed, k) and a resumed run could redraw it.  Its
 * condition is [ (y - mean y) / std y, 1 ] (the indicator convention of
 * core/guidance.h), replaced by the null [0, 0] when the uniform variate k B + j
 * of the DROP stream is below p_uncond.
 *
 * Normalisation: x_model = (x - offset) / scale with, by default, the mean and
 * the standard deviation of all unlabelled values (linear_subspace: 0 and 0.5,
 * which is reward.py's x / 0.5: unit variance per coordinate).
 */
#include "rcgd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entropy.h"
#include "knn.h"
#include "mem.h"
#include "numfmt.h"
#include "quality.h"
#include "rng.h"
#include "utf8.h"

/* Stream tags under the seed. */
enum {
    TAG_PSEUDO = 0x70736575, /* "pseu" */
    TAG_BATCH = 0x62617463,  /* "batc" */
    TAG_DROP = 0x64726f70,   /* "drop" */
};

#define KNN_REF_MAX 10000 /* training rows the kNN distances are measured against */
#define COND_C      2     /* the indicator convention */

struct mf_rcgd {
    mf_rcgd_opts o;
    size_t D;
    float *x_unl, *x_lab, *y_lab, *x_held; /* data space copies */
    size_t n_unl, n_lab, n_held;
    bool has_truth;
    mf_dataset_id truth;
    mf_model *parent; /* a copy, until fit */
    /* from fit on */
    bool fitted, finished;
    mf_model *model;
    mf_trainer *tr;
    float *x_train; /* (n_rows, D) model space */
    float *y_train; /* (n_rows) labels */
    size_t n_rows;
    double label_mean, label_std, knn_heldout;
    float *xb, *cb; /* one batch */
    mf_par_for_fn fn;
    void *exec;
    size_t n_parts;
};

mf_rcgd_opts mf_rcgd_opts_default(void)
{
    mf_rcgd_opts o = {
        .reward = mf_reward_opts_default(),
        .nu = 0.3,
        .conditional = true,
        .guidance = MF_GUIDE_COND,
        .sampler = MF_SAMPLER_DDPM,
        .sample_steps = 200,
        .knn_k = 5,
    };
    mf_train_params_default(&o.train);
    o.train.batch = 256;
    return o;
}

/* A sub-check's diag with its field prefixed ("reward.lambda", "train.lr"). */
static mf_err prefixed(mf_err err, const char *prefix, const mf_diag *sub, mf_diag *diag)
{
    char field[sizeof sub->field + 8];
    snprintf(field, sizeof field, "%s.%s", prefix, sub->field);
    return mf_diag_set(diag, err, field, "%s", sub->msg);
}

mf_err mf_rcgd_opts_check(const mf_rcgd_opts *o, mf_diag *diag)
{
    if (o == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "no options");
    }
    mf_diag sub = {0};
    mf_err err = mf_reward_opts_check(&o->reward, &sub);
    if (err != MF_OK) {
        return prefixed(err, "reward", &sub, diag);
    }
    err = mf_train_params_check(&o->train, &sub);
    if (err != MF_OK) {
        return prefixed(err, "train", &sub, diag);
    }

    const struct {
        bool ok;
        const char *field, *msg;
    } rules[] = {
        {o->nu >= 0.0 && o->nu <= 100.0, "nu", "nu must be in [0, 100]"},
        {isfinite(o->w), "w", "w must be finite"},
        {o->p_uncond >= 0.0 && o->p_uncond < 1.0, "p_uncond", "p_uncond must be in [0, 1)"},
        {o->guidance == MF_GUIDE_COND || o->guidance == MF_GUIDE_CFG ||
             o->guidance == MF_GUIDE_REWARD,
         "guidance", "guidance must be cond, cfg or reward"},
        {o->guidance != MF_GUIDE_CFG || (o->conditional && o->p_uncond > 0.0), "guidance",
         "cfg needs a conditional network trained with p_uncond > 0"},
        {o->sampler == MF_SAMPLER_DDPM || o->sampler == MF_SAMPLER_DDIM ||
             o->sampler == MF_SAMPLER_ODE,
         "sampler", "sampler must be ddpm, ddim or ode"},
        {o->sample_steps >= 1, "sample_steps", "sample_steps must be >= 1"},
        {o->eta >= 0.0f && o->eta <= 1.0f, "eta", "eta must be in [0, 1]"},
        {o->knn_k >= 1 && o->knn_k <= MF_KNN_MAX_K, "knn_k", "knn_k must be in 1..64"},
    };

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (!rules[i].ok) {
            return mf_diag_set(diag, MF_EINVAL, rules[i].field, "%s", rules[i].msg);
        }
    }
    return MF_OK;
}

/* ---- lifecycle -------------------------------------------------------------------- */

void mf_rcgd_free(mf_rcgd *r)
{
    if (r == NULL) {
        return;
    }
    mf_trainer_free(r->tr);
    mf_model_free(r->model);
    mf_model_free(r->parent);
    mf_free_aligned(r->x_unl);
    mf_free_aligned(r->x_lab);
    mf_free_aligned(r->y_lab);
    mf_free_aligned(r->x_held);
    mf_free_aligned(r->x_train);
    mf_free_aligned(r->y_train);
    mf_free_aligned(r->xb);
    mf_free_aligned(r->cb);
    free(r);
}

/* A copy of n rows of D finite floats into *ret (NULL for none). */
static mf_err copy_rows(const float *src, size_t n, size_t D, float **ret)
{
    size_t nd;
    if (n == 0) {
        return MF_OK;
    }
    if (src == NULL || mf_size_mul(n, D, &nd) != MF_OK) {
        return src == NULL ? MF_EINVAL : MF_ERANGE;
    }
    if (!mf_floats_finite(src, nd)) {
        return MF_ERANGE;
    }
    if ((*ret = mf_alloc_floats(nd)) == NULL) {
        return MF_ENOMEM;
    }
    memcpy(*ret, src, nd * sizeof(float));
    return MF_OK;
}

mf_err mf_rcgd_new(const mf_rcgd_opts *o, const mf_rcgd_data *data, mf_rcgd **ret, mf_diag *diag)
{
    mf_err err = mf_rcgd_opts_check(o, diag);
    if (err != MF_OK) {
        return err;
    }
    if (data == NULL || ret == NULL || data->D == 0 || data->n_unl == 0 || data->n_lab == 0 ||
        data->n_unl + data->n_lab > UINT32_MAX) {
        return mf_diag_set(diag, MF_EINVAL, "data", "a run needs unlabelled and labelled rows");
    }
    if (o->parent != NULL &&
        (o->parent->net->cfg.data_dim != data->D || o->parent->net->cfg.cond_dim != 0)) {
        return mf_diag_set(diag, MF_EINVAL, "parent",
                           "the parent must be unconditional with the data's dimension %zu",
                           data->D);
    }
    if (data->has_truth && mf_dataset_dim(data->truth) != data->D) {
        return mf_diag_set(diag, MF_EINVAL, "data",
                           "the ground-truth data set has another "
                           "dimension");
    }
    mf_rcgd *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    r->o = *o;
    r->o.parent = NULL;
    r->D = data->D;
    r->n_unl = data->n_unl;
    r->n_lab = data->n_lab;
    r->n_held = data->x_heldout != NULL ? data->n_heldout : 0;
    r->has_truth = data->has_truth;
    r->truth = data->truth;
    err = copy_rows(data->x_unl, r->n_unl, r->D, &r->x_unl);
    if (err == MF_OK) {
        err = copy_rows(data->x_lab, r->n_lab, r->D, &r->x_lab);
    }
    if (err == MF_OK) {
        err = copy_rows(data->y_lab, r->n_lab, 1, &r->y_lab);
    }
    if (err == MF_OK) {
        err = copy_rows(data->x_heldout, r->n_held, r->D, &r->x_held);
    }
    if (err == MF_OK && o->parent != NULL) {
        err = mf_model_clone(o->parent, &r->parent);
    }
    if (err != MF_OK) {
        mf_rcgd_free(r);
        return mf_diag_set(diag, err, "data", "cannot copy the rows: %s",
                           err == MF_ERANGE ? "a value is not finite" : mf_strerror(err));
    }
    r->fn = NULL;
    r->n_parts = 1;
    *ret = r;
    return MF_OK;
}

void mf_rcgd_set_executor(mf_rcgd *r, mf_par_for_fn fn, void *exec, size_t n_parts)
{
    r->fn = fn;
    r->exec = exec;
    r->n_parts = n_parts >= 1 ? n_parts : 1;
}

/* ---- phase 1: fit ------------------------------------------------------------------- */

/* Mean and standard deviation of n floats, in double. */
static void mean_std(const float *v, size_t n, double *ret_mean, double *ret_std)
{
    double m = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        m += (double) v[i];
    }
    m /= (double) n;
    for (size_t i = 0; i < n; i++) {
        s += ((double) v[i] - m) * ((double) v[i] - m);
    }
    *ret_mean = m;
    *ret_std = sqrt(s / (double) n);
}

/* The training rows (model space) and labels: pseudo-labelled unlabelled rows, then labelled. */
static mf_err training_rows(mf_rcgd *r, const mf_reward_model *f, mf_diag *diag)
{
    size_t D = r->D;
    r->n_rows = r->n_unl + (r->o.train_on_labels ? r->n_lab : 0);
    r->x_train = mf_alloc_floats(r->n_rows * D); /* n_unl + n_lab rows were copied: no overflow */
    r->y_train = mf_alloc_floats(r->n_rows);
    if (r->x_train == NULL || r->y_train == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory for the training rows");
    }
    mf_err err = mf_reward_pseudo_labels(f, r->x_unl, r->n_unl, r->o.nu,
                                         r->o.train.seed ^ (uint64_t) TAG_PSEUDO, r->y_train);
    if (err != MF_OK) {
        return mf_diag_set(diag, err, NULL, "pseudo-labels: %s", mf_strerror(err));
    }
    memcpy(r->x_train, r->x_unl, r->n_unl * D * sizeof(float));
    if (r->o.train_on_labels) {
        memcpy(r->x_train + r->n_unl * D, r->x_lab, r->n_lab * D * sizeof(float));
        memcpy(r->y_train + r->n_unl, r->y_lab, r->n_lab * sizeof(float));
    }
    mean_std(r->y_train, r->n_rows, &r->label_mean, &r->label_std);
    if (!(r->label_std > 1e-12) || !isfinite(r->label_std)) {
        return mf_diag_set(diag, MF_ERANGE, "nu",
                           "the training labels do not vary: no condition "
                           "scale (raise nu or use other labels)");
    }
    return MF_OK;
}

/* The model: grown from the parent or fresh, normalised, conditioned, with the reward model. */
static mf_err build_model(mf_rcgd *r, const mf_reward_model *f, mf_diag *diag)
{
    const mf_rcgd_opts *o = &r->o;
    mf_err err;
    if (r->parent != NULL) {
        err = o->conditional ? mf_model_new_cond_from(r->parent, COND_C, &r->model, diag)
                             : mf_model_derive(r->parent, &r->model);
    } else {
        const mf_train_params *t = &o->train;
        mf_mlp_config cfg = {.data_dim = (uint32_t) r->D,
                             .cond_dim = o->conditional ? COND_C : 0,
                             .emb_dim = (uint32_t) t->emb,
                             .n_hidden = (uint32_t) t->n_hidden};
        memcpy(cfg.hidden, t->hidden, t->n_hidden * sizeof cfg.hidden[0]);
        err = mf_model_new(&cfg, t->schedule, &r->model, diag);
        /* By default one offset and scale over all values (see the file comment). */
        double off, scale;
        mean_std(r->x_unl, r->n_unl * r->D, &off, &scale);
        off = isnan(t->data_offset) ? off : t->data_offset;
        scale = isnan(t->data_scale) ? scale : t->data_scale;
        if (err == MF_OK) {
            mf_mlp_init_params(r->model->net, t->seed);
            err = mf_model_set_normalisation(r->model, off, scale);
        }
    }
    if (err == MF_OK && o->conditional) {
        mf_model_cond c = {
            .offset = r->label_mean, .scale = r->label_std, .null_kind = MF_COND_NULL_INDICATOR};
        err = mf_model_set_cond(r->model, &c, diag);
    }
    if (err == MF_OK) {
        err = mf_model_set_reward(r->model, f, diag);
    }
    if (err != MF_OK) {
        return diag != NULL && diag->msg[0] != '\0'
                   ? err
                   : mf_diag_set(diag, err, NULL, "cannot build the model: %s", mf_strerror(err));
    }
    mf_model_from_data(r->model, r->x_train, r->n_rows * r->D);
    return MF_OK;
}

static mf_err build_trainer(mf_rcgd *r, mf_diag *diag)
{
    size_t B = r->o.train.batch;
    mf_train_opts to = mf_train_params_trainer_opts(&r->o.train);
    mf_err err = mf_trainer_new(r->model->net, &r->model->sched, &to, &r->tr);
    size_t bd;
    if (err == MF_OK && mf_size_mul(B, r->D, &bd) != MF_OK) {
        err = MF_ERANGE;
    }
    if (err == MF_OK) {
        r->xb = mf_alloc_floats(bd);
        r->cb = mf_alloc_floats(B * COND_C);
        err = r->xb == NULL || r->cb == NULL ? MF_ENOMEM : MF_OK;
    }
    return err == MF_OK
               ? MF_OK
               : mf_diag_set(diag, err, NULL, "cannot build the trainer: %s", mf_strerror(err));
}

/* The training rows the kNN distances use: the first KNN_REF_MAX unlabelled rows. */
static size_t knn_ref_rows(const mf_rcgd *r)
{
    return r->n_unl < KNN_REF_MAX ? r->n_unl : KNN_REF_MAX;
}

mf_err mf_rcgd_fit(mf_rcgd *r, mf_rcgd_fit_stats *ret, mf_diag *diag)
{
    if (r == NULL || r->fitted) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "the run is already fitted");
    }
    mf_reward_model *f = NULL;
    mf_reward_stats rs;
    mf_err err = mf_reward_fit(&r->o.reward, r->x_lab, r->y_lab, r->n_lab, r->D, &f, &rs, diag);
    if (err == MF_OK) {
        err = training_rows(r, f, diag);
    }
    if (err == MF_OK) {
        err = build_model(r, f, diag);
    }
    if (err == MF_OK) {
        err = build_trainer(r, diag);
    }
    r->knn_heldout = NAN;
    if (err == MF_OK && r->n_held > 0) {
        err =
            mf_nn_mean_dist(r->x_held, r->n_held, r->x_unl, knn_ref_rows(r), r->D, &r->knn_heldout);
        if (err != MF_OK) {
            (void) mf_diag_set(diag, err, "x_heldout", "held-out distances: %s", mf_strerror(err));
        }
    }
    mf_reward_free(f);
    if (err != MF_OK) { /* back to the state before fit */
        mf_trainer_free(r->tr);
        mf_model_free(r->model);
        mf_free_aligned(r->x_train);
        mf_free_aligned(r->y_train);
        mf_free_aligned(r->xb);
        mf_free_aligned(r->cb);
        r->tr = NULL;
        r->model = NULL;
        r->x_train = r->y_train = r->xb = r->cb = NULL;
        return err;
    }
    mf_model_free(r->parent);
    r->parent = NULL;
    r->fitted = true;
    if (ret != NULL) {
        *ret = (mf_rcgd_fit_stats){.reward = rs,
                                   .label_mean = r->label_mean,
                                   .label_std = r->label_std,
                                   .n_rows = r->n_rows,
                                   .knn_heldout = r->knn_heldout};
    }
    return MF_OK;
}

/* ---- phase 2: training steps ---------------------------------------------------------- */

mf_err mf_rcgd_batch(const mf_rcgd *r, size_t k, float *x0, float *c)
{
    if (r == NULL || !r->fitted || r->finished) {
        return MF_EINVAL;
    }
    size_t D = r->D, B = r->o.train.batch;
    bool cond = r->model->net->cfg.cond_dim > 0;
    mf_rng root = mf_rng_make(r->o.train.seed);
    mf_rng rb = mf_rng_derive(root, TAG_BATCH), rd = mf_rng_derive(root, TAG_DROP);
    for (size_t j = 0; j < B; j++) {
        uint64_t idx = (uint64_t) k * B + j;
        size_t row = mf_rng_below(rb, idx, (uint32_t) r->n_rows);
        memcpy(x0 + j * D, r->x_train + row * D, D * sizeof(float));
        if (!cond) {
            continue;
        }
        bool drop = r->o.p_uncond > 0.0 && mf_rng_uniform_f64(rd, idx) < r->o.p_uncond;
        c[j * COND_C] =
            drop ? 0.0f : (float) (((double) r->y_train[row] - r->label_mean) / r->label_std);
        c[j * COND_C + 1] = drop ? 0.0f : 1.0f;
    }
    return MF_OK;
}

mf_err mf_rcgd_step(mf_rcgd *r, double *ret_loss)
{
    if (r == NULL || !r->fitted || r->finished || mf_trainer_n_done(r->tr) >= r->o.train.steps) {
        return MF_EINVAL;
    }
    mf_err err = mf_rcgd_batch(r, mf_trainer_n_done(r->tr), r->xb, r->cb);
    if (err != MF_OK) {
        return err;
    }
    bool cond = r->model->net->cfg.cond_dim > 0;
    mf_trainer_step_exec(r->tr, r->fn, r->exec, r->n_parts, r->xb, cond ? r->cb : NULL, ret_loss,
                         NULL);
    return MF_OK;
}

size_t mf_rcgd_steps_done(const mf_rcgd *r)
{
    return r->tr != NULL ? mf_trainer_n_done(r->tr) : (r->finished ? r->o.train.steps : 0);
}

size_t mf_rcgd_steps_total(const mf_rcgd *r)
{
    return r->o.train.steps;
}

mf_trainer *mf_rcgd_trainer(mf_rcgd *r)
{
    return r->tr;
}

/* ---- phase 3: the model ------------------------------------------------------------- */

static mf_err set_real(mf_model *m, const char *key, double v, mf_diag *diag)
{
    char text[MF_NUMFMT_CAP];
    mf_numfmt_double(text, v);
    return mf_model_set_meta(m, key, text, diag);
}

mf_err mf_rcgd_finish(mf_rcgd *r, const char *provenance, time_t created, mf_diag *diag)
{
    if (r == NULL || !r->fitted || r->finished || provenance == NULL ||
        !mf_utf8_valid(provenance, strlen(provenance))) {
        return mf_diag_set(diag, MF_EINVAL, "provenance",
                           "finish needs a fitted, unfinished run and a UTF-8 provenance");
    }
    mf_model *m = r->model;
    const mf_mlp *ema = mf_trainer_ema(r->tr);
    if (ema != m->net) {
        memcpy(m->net->params, ema->params, m->net->n_params * sizeof(float));
    }
    const char *ids[][2] = {{"dataset", r->o.dataset},
                            {"label_dataset", r->o.label_dataset},
                            {"parent", r->o.parent_id != NULL ? r->o.parent_id : ""},
                            {"provenance", provenance},
                            {"guidance", mf_guide_mode_name(r->o.guidance)}};
    mf_err err = MF_OK;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0] && err == MF_OK; i++) {
        if (ids[i][1] != NULL) {
            err = mf_model_set_meta(m, ids[i][0], ids[i][1], diag);
        }
    }
    if (err == MF_OK) {
        err = set_real(m, "pseudo_label_noise", r->o.nu, diag);
    }
    if (err == MF_OK) {
        err = set_real(m, "guidance_w", (double) r->o.w, diag);
    }
    if (err == MF_OK && r->o.conditional) {
        err = set_real(m, "p_uncond", r->o.p_uncond, diag);
    }
    if (err == MF_OK) {
        err = mf_model_set_created(m, created, diag);
    }
    if (err != MF_OK) {
        return err;
    }
    mf_trainer_free(r->tr);
    r->tr = NULL;
    r->finished = true;
    return MF_OK;
}

const mf_model *mf_rcgd_model(const mf_rcgd *r)
{
    return r->model;
}

/* ---- phase 4: sampling and evaluation ----------------------------------------------------- */

mf_err mf_rcgd_sample(const mf_rcgd *r, const mf_guide_exec *ex, double a, size_t n, uint64_t seed,
                      const atomic_int *cancel, float *x)
{
    if (r == NULL || !r->fitted || n == 0 || x == NULL || !isfinite(a)) {
        return MF_EINVAL;
    }
    const mf_model *m = r->model;
    const mf_mlp *net = r->finished ? m->net : mf_trainer_ema(r->tr);
    size_t C = net->cfg.cond_dim, nc;
    if (mf_size_mul(n, C > 0 ? C : 1, &nc) != MF_OK) {
        return MF_ERANGE;
    }
    float *cond = mf_alloc_floats(nc), *target = mf_alloc_floats(n);
    double *av = mf_alloc_doubles(n);
    mf_err err = cond == NULL || target == NULL || av == NULL ? MF_ENOMEM : MF_OK;
    for (size_t i = 0; err == MF_OK && i < n; i++) {
        av[i] = a;
        target[i] = (float) a;
    }
    if (err == MF_OK && C > 0) {
        err = mf_guide_fill_cond(m, av, n, cond);
    }
    if (err == MF_OK) {
        mf_guide g = {.mode = r->o.guidance,
                      .w = r->o.w,
                      .C = C,
                      .cond = C > 0 ? cond : NULL,
                      .target = target,
                      .reward = m->reward,
                      .data_offset = m->data_offset,
                      .data_scale = m->data_scale};
        mf_sampler_opts so = {.kind = r->o.sampler,
                              .steps = r->o.sample_steps,
                              .eta = r->o.eta,
                              .seed = seed,
                              .cancel = cancel};
        err = mf_guide_exec_sample(ex, net, &m->sched, &so, &g, x, n);
    }
    if (err == MF_OK) {
        mf_model_to_data(m, x, n * r->D);
    }
    mf_free_aligned(cond);
    mf_free_aligned(target);
    mf_free_aligned(av);
    return err;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* Mean and std of v (n), and its 90th percentile (v is sorted in place) when p90 != NULL. */
static void summarise(double *v, size_t n, double *mean, double *std, double *p90)
{
    double m = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        m += v[i];
    }
    m /= (double) n;
    for (size_t i = 0; i < n; i++) {
        s += (v[i] - m) * (v[i] - m);
    }
    *mean = m;
    *std = sqrt(s / (double) n);
    if (p90 != NULL) {
        qsort(v, n, sizeof *v, cmp_double);
        *p90 = v[(size_t) floor(0.9 * (double) (n - 1))];
    }
}

/* The statistics of samples x (n, D), data space, at target a (see mf_rcgd_eval). */
static mf_err sample_stats(const mf_rcgd *r, double a, const float *x, size_t n, mf_rcgd_eval *e)
{
    size_t D = r->D;
    *e = (mf_rcgd_eval){.a = a,
                        .n = n,
                        .knn_k = r->o.knn_k,
                        .ratio = NAN,
                        .entropy = NAN,
                        .knn_dist = NAN,
                        .knn_heldout = r->knn_heldout};
    e->target_z = (a - r->label_mean) / r->label_std;
    e->ideal = a / (1.0 + r->o.nu * r->o.nu);
    double *v = mf_alloc_doubles(n), unused;
    float *f = mf_alloc_floats(n);
    mf_reward_ws *ws = NULL;
    mf_err err = v == NULL || f == NULL ? MF_ENOMEM : mf_reward_ws_new(r->model->reward, 256, &ws);
    if (err != MF_OK) {
        goto out;
    }
    mf_reward_predict(r->model->reward, ws, x, n, f);
    for (size_t i = 0; i < n; i++) {
        v[i] = (double) f[i];
    }
    summarise(v, n, &e->pred_mean, &e->pred_std, NULL);
    if (r->has_truth && mf_dataset_true_reward(r->truth, x, n, v) == MF_OK) {
        e->has_truth = true;
        summarise(v, n, &e->true_mean, &e->true_std, NULL);
        e->ratio = a != 0.0 ? e->true_mean / e->ideal : (double) NAN;
        e->overopt = e->pred_mean - e->true_mean;
    }
    if (r->has_truth && mf_dataset_off_support(r->truth, x, n, v) == MF_OK) {
        e->has_off = true;
        summarise(v, n, &e->off_mean, &unused, &e->off_p90);
    }
    if (r->n_held > 0) {
        err = mf_nn_mean_dist(x, n, r->x_unl, knn_ref_rows(r), D, &e->knn_dist);
        e->has_knn = err == MF_OK;
    }
    mf_knn_entropy ke;
    if (err == MF_OK && n > r->o.knn_k) {
        err = mf_entropy_knn(x, n, D, r->o.knn_k, &ke);
        e->entropy = ke.entropy;
    }
out:
    mf_reward_ws_free(ws);
    mf_free_aligned(v);
    mf_free_aligned(f);
    return err;
}

mf_err mf_rcgd_evaluate(const mf_rcgd *r, const mf_guide_exec *ex, double a, size_t n,
                        uint64_t seed, const atomic_int *cancel, float *x, mf_rcgd_eval *ret)
{
    if (r == NULL || ret == NULL || n == 0) {
        return MF_EINVAL;
    }
    float *own = NULL;
    if (x == NULL) {
        size_t nd;
        if (mf_size_mul(n, r->D, &nd) != MF_OK) {
            return MF_ERANGE;
        }
        if ((own = mf_alloc_floats(nd)) == NULL) {
            return MF_ENOMEM;
        }
        x = own;
    }
    mf_rcgd_eval e;
    mf_err err = mf_rcgd_sample(r, ex, a, n, seed, cancel, x);
    if (err == MF_OK) {
        err = sample_stats(r, a, x, n, &e);
    }
    mf_free_aligned(own);
    if (err == MF_OK) {
        *ret = e;
    }
    return err;
}
