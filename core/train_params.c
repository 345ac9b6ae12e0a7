/* SPDX-License-Identifier: MIT */
/*
 * train_params.c - training parameters to model, trainer, batches and
 * metadata (see train_params.h).
 *
 * The data is a built-in set or a table; data_dim, norm_of and
 * mf_train_params_batch are the places that choose between them.
 *
 * The normalisation is resolved once, in begin, and kept in the model: the
 * batches read it back from there (as floats, which is how
 * mf_dataset_train_batch applies it), so the model file records exactly the
 * map its training data went through.
 */
#include "train_params.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "rng.h"
#include "schedule.h"
#include "utf8.h"

const char *const mf_train_arch_names[] = {"eps", "potential", NULL};

void mf_train_params_default(mf_train_params *p)
{
    *p = (mf_train_params){
        .dataset = MF_DATASET_GAUSSIAN,
        .table = NULL,
        .table_name = NULL,
        .hidden = {256, 256, 256},
        .n_hidden = 3,
        .emb = 64,
        .schedule = "linear:0.0001:0.02:1000",
        .steps = 20000,
        .batch = 512,
        .warmup = 500,
        .lr = 1e-3,
        .lr_min = 1e-5,
        .ema = 0.999,
        .clip = 1.0,
        .seed = 0,
        .dequantise = false,
        .data_offset = (double) NAN,
        .data_scale = (double) NAN,
        .n_train = 0,
        .architecture = MF_TRAIN_EPS,
        .hjb = mf_hjb_opts_default(),
    };
}

/* D: the table's columns, or the built-in set's dimension. */
static size_t data_dim(const mf_train_params *p)
{
    return p->table != NULL ? p->table->n_dims : mf_dataset_dim(p->dataset);
}

/* The network of p (valid only after the field checks). */
static mf_mlp_config config_of(const mf_train_params *p)
{
    mf_mlp_config cfg = {.data_dim = (uint32_t) data_dim(p),
                         .emb_dim = (uint32_t) p->emb,
                         .n_hidden = (uint32_t) p->n_hidden,
                         .out_dim = p->architecture == MF_TRAIN_POTENTIAL ? 1 : 0};
    memcpy(cfg.hidden, p->hidden, p->n_hidden * sizeof cfg.hidden[0]);
    return cfg;
}

static mf_err check_network(const mf_train_params *p, mf_diag *d)
{
    if (p->n_hidden < 1 || p->n_hidden > MF_MLP_MAX_HIDDEN) {
        return mf_diag_set(d, MF_EINVAL, "hidden", "hidden must list 1 to %d widths (got %zu)",
                           MF_MLP_MAX_HIDDEN, p->n_hidden);
    }
    for (size_t i = 0; i < p->n_hidden; i++) {
        if (p->hidden[i] < 1 || p->hidden[i] > MF_MLP_MAX_WIDTH) {
            return mf_diag_set(d, MF_EINVAL, "hidden",
                               "hidden[%zu] must be between 1 and %d (got %" PRIu32 ")", i,
                               MF_MLP_MAX_WIDTH, p->hidden[i]);
        }
    }
    if (p->emb < 2 || p->emb > MF_MLP_MAX_WIDTH || p->emb % 2 != 0) {
        return mf_diag_set(d, MF_EINVAL, "emb",
                           "emb must be an even number between 2 and %d (got %zu)",
                           MF_MLP_MAX_WIDTH, p->emb);
    }
    mf_mlp_config cfg = config_of(p);
    if (mf_mlp_config_check(&cfg) != MF_OK) {
        return mf_diag_set(d, MF_EINVAL, "hidden", "not a valid network configuration");
    }
    return MF_OK;
}

/* lo <= v <= hi, v finite (NaN fails every comparison). */
static bool in_range(double v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

static mf_err check_optimiser(const mf_train_params *p, mf_diag *d)
{
    if (p->steps < 1) {
        return mf_diag_set(d, MF_EINVAL, "steps", "steps must be at least 1");
    }
    if (p->batch < 1) {
        return mf_diag_set(d, MF_EINVAL, "batch", "batch must be at least 1");
    }
    size_t bd;
    if (mf_size_mul(p->batch, data_dim(p), &bd) != MF_OK) {
        return mf_diag_set(d, MF_EINVAL, "batch", "batch %zu is too large", p->batch);
    }
    /* The trainer keeps lr in float: a positive double may round to 0. */
    if (!in_range(p->lr, 0.0, 1.0) || !((float) p->lr > 0.0f)) {
        return mf_diag_set(d, MF_EINVAL, "lr", "lr must be greater than 0 and at most 1 (got %g)",
                           p->lr);
    }
    if (!in_range(p->lr_min, 0.0, 1.0)) {
        return mf_diag_set(d, MF_EINVAL, "lr_min", "lr_min must be between 0 and 1 (got %g)",
                           p->lr_min);
    }
    if (!in_range(p->ema, 0.0, 0.999999)) {
        return mf_diag_set(d, MF_EINVAL, "ema", "ema must be between 0 and 0.999999 (got %g)",
                           p->ema);
    }
    if (!in_range(p->clip, 0.0, 1e9)) {
        return mf_diag_set(d, MF_EINVAL, "clip", "clip must be between 0 and 1e9 (got %g)",
                           p->clip);
    }
    return MF_OK;
}

/* A table: a name for the metadata, columns a network can take, no dequantisation. */
static mf_err check_table(const mf_train_params *p, mf_diag *d)
{
    if (p->table_name == NULL || p->table_name[0] == '\0' ||
        !mf_utf8_valid(p->table_name, strlen(p->table_name))) {
        return mf_diag_set(d, MF_EINVAL, "dataset",
                           "a dataset table needs a name (UTF-8, not empty)");
    }
    if (p->table->n_dims < 1 || p->table->n_dims > MF_MLP_MAX_WIDTH) {
        return mf_diag_set(d, MF_EINVAL, "dataset",
                           "the table has %zu columns; a model takes 1 to %d", p->table->n_dims,
                           MF_MLP_MAX_WIDTH);
    }
    if (p->dequantise) {
        return mf_diag_set(d, MF_EINVAL, "dequantise",
                           "dequantise is for the built-in integer-valued data (digits), not a "
                           "table");
    }
    return MF_OK;
}

static mf_err check_data(const mf_train_params *p, mf_diag *d)
{
    mf_err err = p->table != NULL ? check_table(p, d) : MF_OK;
    if (err != MF_OK) {
        return err;
    }
    if (p->table == NULL && mf_dataset_name(p->dataset) == NULL) {
        return mf_diag_set(d, MF_EINVAL, "dataset", "dataset %d is not a built-in data set",
                           (int) p->dataset);
    }
    if (p->table == NULL && p->dequantise && p->dataset != MF_DATASET_DIGITS) {
        return mf_diag_set(d, MF_EINVAL, "dequantise",
                           "dequantise is for integer-valued data (digits), not %s",
                           mf_dataset_name(p->dataset));
    }
    /* Both are applied as floats (mf_dataset_train_batch). */
    if (!isnan(p->data_offset) && !isfinite((float) p->data_offset)) {
        return mf_diag_set(d, MF_EINVAL, "data_offset", "data_offset must be finite (got %g)",
                           p->data_offset);
    }
    if (!isnan(p->data_scale) &&
        !(isfinite((float) p->data_scale) && (float) p->data_scale > 0.0f)) {
        return mf_diag_set(d, MF_EINVAL, "data_scale", "data_scale must be finite and > 0 (got %g)",
                           p->data_scale);
    }
    return MF_OK;
}

static mf_err check_schedule(const mf_train_params *p, mf_diag *d)
{
    if (memchr(p->schedule, '\0', sizeof p->schedule) == NULL) {
        return mf_diag_set(d, MF_EINVAL, "schedule", "schedule is longer than %zu bytes",
                           sizeof p->schedule - 1);
    }
    mf_schedule s;
    mf_diag sd = {0};
    mf_err err = mf_schedule_init(&s, p->schedule, &sd);
    if (err != MF_OK) {
        return mf_diag_set(d, err, "schedule", "schedule '%s': %s", p->schedule,
                           sd.msg[0] != '\0' ? sd.msg : mf_strerror(err));
    }
    mf_schedule_deinit(&s);
    return MF_OK;
}

/* The regulariser: only on a potential network, every setting in range. */
static mf_err check_hjb(const mf_train_params *p, mf_diag *d)
{
    if (!p->hjb.on) {
        return MF_OK;
    }
    if (p->architecture != MF_TRAIN_POTENTIAL) {
        return mf_diag_set(d, MF_EINVAL, "hjb",
                           "the HJB regulariser needs architecture potential (a scalar "
                           "network whose gradient is the score)");
    }
    const char *field = NULL;
    if (mf_hjb_opts_check(&p->hjb, &field) != MF_OK) {
        static const char *const ranges[][2] = {{"lambda", "between 0 and 1000000"},
                                                {"ramp", "between 0 and 1"},
                                                {"frac_points", "greater than 0 and at most 1"},
                                                {"estimator", "auto, exact or hutchinson"},
                                                {"probes", "1 or 2"},
                                                {"h", "between 0.0001 and 0.5"},
                                                {"dt", "between 0.00001 and 0.05"},
                                                {"t_min", "at least dt and below 0.9"}};
        const char *range = "in range";
        for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
            range = strcmp(ranges[i][0], field) == 0 ? ranges[i][1] : range;
        }
        return mf_diag_set(d, MF_EINVAL, "hjb", "hjb.%s must be %s", field, range);
    }
    return MF_OK;
}

mf_err mf_train_params_check(const mf_train_params *p, mf_diag *diag)
{
    if (p == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "no parameters");
    }
    mf_err err = check_data(p, diag);
    if (err == MF_OK) {
        err = check_network(p, diag);
    }
    if (err == MF_OK) {
        err = check_optimiser(p, diag);
    }
    if (err == MF_OK) {
        err = check_schedule(p, diag);
    }
    if (err == MF_OK) {
        err = check_hjb(p, diag);
    }
    if (err == MF_OK && p->n_train > 0 &&
        (p->table != NULL || p->dataset == MF_DATASET_DIGITS || p->n_train > 1000000000)) {
        err = mf_diag_set(diag, MF_EINVAL, "n_train",
                          "n_train (a fixed training set) is for the generated built-in sets, "
                          "at most 1000000000 points");
    }
    return err;
}

/* The normalisation of p, or the data set's or table's, as floats (the batches' arithmetic). */
static void norm_of(const mf_train_params *p, float *offset, float *scale)
{
    if (p->table != NULL) {
        mf_table_norm(p->table, offset, scale);
    } else {
        mf_dataset_norm(p->dataset, offset, scale);
    }
    if (!isnan(p->data_offset)) {
        *offset = (float) p->data_offset;
    }
    if (!isnan(p->data_scale)) {
        *scale = (float) p->data_scale;
    }
}

/* The trainer's options: THE mapping from the params. */
mf_train_opts mf_train_params_trainer_opts(const mf_train_params *p)
{
    mf_train_opts to = mf_train_opts_default();
    to.batch = p->batch;
    to.n_steps = p->steps;
    to.lr = (float) p->lr;
    to.lr_min = (float) p->lr_min;
    to.warmup = p->warmup;
    to.ema_decay = (float) p->ema;
    to.clip_grad = p->clip;
    to.seed = p->seed;
    to.n_shards = MF_TRAIN_SHARDS < p->batch ? MF_TRAIN_SHARDS : p->batch;
    to.hjb = p->hjb;
    return to;
}

mf_err mf_train_params_begin(const mf_train_params *p, mf_model **ret_model, mf_trainer **ret_tr,
                             mf_diag *diag)
{
    mf_err err = mf_train_params_check(p, diag);
    if (err != MF_OK) {
        return err;
    }
    mf_mlp_config cfg = config_of(p);
    mf_model *m = NULL;
    mf_trainer *tr = NULL;
    err = mf_model_new(&cfg, p->schedule, &m, diag);
    if (err != MF_OK) {
        return err;
    }
    mf_mlp_init_params(m->net, p->seed);
    float offset, scale;
    norm_of(p, &offset, &scale);
    err = mf_model_set_normalisation(m, offset, scale);
    if (err == MF_OK) {
        mf_train_opts to = mf_train_params_trainer_opts(p);
        err = mf_trainer_new(m->net, &m->sched, &to, &tr);
    }
    if (err != MF_OK) {
        mf_model_free(m);
        return mf_diag_set(diag, err, NULL, "cannot set up the training: %s", mf_strerror(err));
    }
    *ret_model = m;
    *ret_tr = tr;
    return MF_OK;
}

/*
 * A batch from a fixed training set of n_train points: row r of step k is point
 * mf_rng_below(pick, k batch + r, n_train) of the data stream that fresh batches
 * read (mf_dataset_train_batch), pick = derive(data, "pick").
 */
static mf_err fixed_set_batch(const mf_train_params *p, const mf_model *m, size_t step, float *x)
{
    mf_rng data = mf_rng_derive(mf_rng_make(p->seed), 0x64617461 /* "data" */);
    mf_rng pick = mf_rng_derive(data, 0x7069636b /* "pick" */);
    size_t D = mf_dataset_dim(p->dataset);
    for (size_t r = 0; r < p->batch; r++) {
        uint32_t idx = mf_rng_below(pick, (uint64_t) step * p->batch + r, (uint32_t) p->n_train);
        mf_err err = mf_dataset_sample(p->dataset, data, idx, x + r * D, 1);
        if (err != MF_OK) {
            return err;
        }
    }
    for (size_t j = 0; j < p->batch * D; j++) {
        x[j] = (x[j] - (float) m->data_offset) / (float) m->data_scale;
    }
    return MF_OK;
}

mf_err mf_train_params_batch(const mf_train_params *p, const mf_model *m, size_t step, float *x)
{
    if (p->table == NULL && p->n_train > 0) {
        return fixed_set_batch(p, m, step, x);
    }
    if (p->table != NULL) {
        return mf_table_train_batch(p->table, p->seed, step, p->batch, (float) m->data_offset,
                                    (float) m->data_scale, x);
    }
    return mf_dataset_train_batch(p->dataset, p->seed, step, p->batch, p->dequantise,
                                  (float) m->data_offset, (float) m->data_scale, x);
}

mf_err mf_train_params_finish(const mf_train_params *p, mf_model *m, const mf_trainer *tr,
                              double heldout_loss, const char *provenance, time_t created,
                              mf_diag *diag)
{
    if (provenance == NULL) {
        return mf_diag_set(diag, MF_EINVAL, "provenance", "no provenance");
    }
    const mf_mlp *ema = mf_trainer_ema(tr);
    if (ema != m->net) {
        memcpy(m->net->params, ema->params, m->net->n_params * sizeof(float));
    }
    const char *name = p->table != NULL ? p->table_name : mf_dataset_name(p->dataset);
    mf_err err = mf_model_set_meta(m, "dataset", name, diag);
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "parent", "", diag);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "dequantised", p->dequantise ? "true" : "false", diag);
    }
    if (err == MF_OK) {
        err = mf_model_set_created(m, created, diag);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "provenance", provenance, diag);
    }
    if (err == MF_OK && isfinite(heldout_loss)) {
        char held[32]; /* a figure, not a setting: 6 digits are all it means */
        snprintf(held, sizeof held, "%.6g", heldout_loss);
        err = mf_model_set_meta(m, MF_MODEL_HELDOUT_LOSS_KEY, held, diag);
    }
    return err;
}

float *mf_train_params_heldout(const mf_train_params *p, const mf_model *m, size_t *ret_n)
{
    *ret_n = 0;
    if (p->table != NULL) {
        return NULL;
    }
    size_t D = m->net->cfg.data_dim;
    size_t n = p->dataset == MF_DATASET_DIGITS ? mf_dataset_digits_count(true) : MF_TRAIN_HELDOUT_N;
    float *held = mf_alloc_floats(n * D);
    if (held == NULL || mf_dataset_heldout(p->dataset, held, n) != MF_OK) {
        mf_free_aligned(held);
        return NULL;
    }
    /* into model space, as the training batches are */
    float offset = (float) m->data_offset, scale = (float) m->data_scale;
    for (size_t j = 0; j < n * D; j++) {
        held[j] = (held[j] - offset) / scale;
    }
    *ret_n = n;
    return held;
}
