/* SPDX-License-Identifier: MIT */
/*
 * gen_model_seeds.c - writes the seed corpus of fuzz_model_file
 * (corpus/model_file/) with core's own writer: small valid model files of
 * every kind the loader reads (plain, reward-conditioned with a ridge and an
 * mlp reward model, DxMI with its short chain, energy and value networks),
 * and one file whose header declares a network far larger than the file
 * (issue 14's OOM, a regression seed).  The shipped models are 0.6 to 2.5 MB:
 * as seeds they would raise libFuzzer's input length to that and slow every
 * run, so none is used.
 *
 * Usage: gen_model_seeds DIR (tools/fuzz.sh seeds runs it).  Deterministic:
 * the same files every time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_dxmi.h"
#include "model_file.h"

static void must(mf_err err, const mf_diag *d, const char *what)
{
    if (err != MF_OK) {
        fprintf(stderr, "gen_model_seeds: %s: %s %s\n", what, mf_err_name(err),
                d != NULL ? d->msg : "");
        exit(1);
    }
}

static void fill(float *p, size_t n, float phase)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = 0.5f * sinf(0.37f * (float) i + phase);
    }
}

static void write_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "gen_model_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void save(const char *dir, const char *name, mf_model *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    must(mf_model_to_buffer(m, &buf, &len), NULL, name);
    write_file(dir, name, buf, len);
    free(buf);
    mf_model_free(m);
}

/* D inputs, hidden widths h (k of them), schedule spec: weights a fixed pattern. */
static mf_model *model(uint32_t D, const uint32_t *h, uint32_t k, const char *sched)
{
    mf_mlp_config cfg = {.data_dim = D, .emb_dim = 4, .n_hidden = k};
    memcpy(cfg.hidden, h, k * sizeof *h);
    mf_model *m = NULL;
    mf_diag d = {0};
    must(mf_model_new(&cfg, sched, &m, &d), &d, "model");
    fill(m->net->params, m->net->n_params, 0.1f);
    return m;
}

static mf_reward_model *net(mf_reward_kind kind, size_t in, const size_t *h, size_t k, float ph)
{
    mf_reward_model *r = NULL;
    must(mf_reward_new(kind, in, h, k, &r), NULL, "reward model");
    fill(r->params, r->n_params, ph);
    return r;
}

/* m made reward-conditioned on C inputs (null kind), with reward model r (taken). */
static mf_model *conditioned(mf_model *parent, mf_cond_null kind, mf_reward_model *r)
{
    mf_model *m = NULL;
    mf_diag d = {0};
    must(mf_model_new_cond_from(parent, (uint32_t) mf_model_cond_width(kind), &m, &d), &d,
         "conditional model");
    mf_model_free(parent);
    mf_model_cond c = {.offset = 0.25, .scale = 1.5, .null_kind = kind};
    must(mf_model_set_cond(m, &c, &d), &d, "condition");
    must(mf_model_set_reward(m, r, &d), &d, "reward");
    mf_reward_free(r);
    return m;
}

/* A safetensors file of the header text alone (no tensor data). */
static void write_header_only(const char *dir, const char *name, const char *header)
{
    size_t n = strlen(header);
    uint8_t *buf = malloc(8 + n);
    if (buf == NULL) {
        exit(1);
    }
    for (int i = 0; i < 8; i++) {
        buf[i] = (uint8_t) ((uint64_t) n >> (8 * i));
    }
    memcpy(buf + 8, header, n);
    write_file(dir, name, buf, 8 + n);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_model_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    mf_diag d = {0};
    const uint32_t h1[] = {4}, h2[] = {3, 3};
    const size_t rh[] = {3};

    mf_model *m = model(2, h1, 1, "linear:0.0001:0.02:10");
    save(dir, "plain_linear.safetensors", m);

    m = model(3, h2, 2, "cosine:0.008:20");
    must(mf_model_set_normalisation(m, 0.5, 2.0), NULL, "normalisation");
    must(mf_model_set_meta(m, "dataset", "two_moons", &d), &d, "meta");
    must(mf_model_set_meta(m, "provenance", "gen_model_seeds", &d), &d, "meta");
    must(mf_model_set_created(m, 1767225600, &d), &d, "created");
    save(dir, "plain_cosine_meta.safetensors", m);

    m = conditioned(model(2, h1, 1, "linear:0.0001:0.02:10"), MF_COND_NULL_NONE,
                    net(MF_REWARD_RIDGE, 2, NULL, 0, 0.2f));
    save(dir, "reward_ridge.safetensors", m);

    m = conditioned(model(2, h1, 1, "linear:0.0001:0.02:10"), MF_COND_NULL_INDICATOR,
                    net(MF_REWARD_MLP, 2, rh, 1, 0.3f));
    must(mf_model_set_meta(m, "guidance", "cfg", &d), &d, "meta");
    must(mf_model_set_meta(m, "guidance_w", "1.5", &d), &d, "meta");
    must(mf_model_set_meta(m, "p_uncond", "0.1", &d), &d, "meta");
    must(mf_model_set_meta(m, "pseudo_label_noise", "0.5", &d), &d, "meta");
    save(dir, "reward_mlp_cfg.safetensors", m);

    /* DxMI: a 3-step chain, an energy D -> 3 -> 1 and a value D + 4 -> 3 -> 1 */
    m = model(2, h1, 1, "linear:0.0001:0.02:10");
    mf_var_sched v;
    must(mf_var_sched_init(&m->sched, 3, MF_VAR_SCHED_MATCHED, &v), NULL, "chain");
    must(mf_model_set_var(m, &v, MF_VAR_SCHED_MATCHED, &d), &d, "chain");
    mf_reward_model *e = net(MF_REWARD_MLP, 2, rh, 1, 0.4f);
    mf_reward_model *val = net(MF_REWARD_MLP, 2 + 4, rh, 1, 0.5f);
    double q[MF_ENERGY_N_QUANTILES];
    for (int k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        q[k] = 0.1 * k;
    }
    must(mf_model_set_energy(m, e, val, 4, q, &d), &d, "energy");
    mf_reward_free(e);
    mf_reward_free(val);
    save(dir, "dxmi.safetensors", m);

    /* issue 14: 8 hidden layers of 8192 declared in a file of no tensor data */
    write_header_only(dir, "declares_8x8192.safetensors",
                      "{\"__metadata__\":{\"format\":\"manifold.mlp-ddpm.v1\",\"data_dim\":\"2\","
                      "\"cond_dim\":\"0\",\"hidden\":\"8192,8192,8192,8192,8192,8192,8192,8192\","
                      "\"activation\":\"silu\",\"time_embedding\":\"sinusoidal:8192\","
                      "\"prediction\":\"eps\",\"schedule\":\"linear:0.0001:0.02:1000\","
                      "\"data_offset\":\"0\",\"data_scale\":\"1\"}}");
    return 0;
}
