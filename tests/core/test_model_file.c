/* SPDX-License-Identifier: MIT */
/*
 * test_model_file.c - core/model_file.c: creation and metadata rules, buffer
 * and file round trips (atomic save, no temporary left behind; the shipped
 * models save back to their own bytes), a table of
 * invalid model files (each row checks the error code and that the message
 * names the problem; rows for reward-conditioned and DxMI models too), and a
 * deterministic mutation loop over valid files of each kind.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "../server/test_files.h" /* read_all, test_data, count_entries */
#include "dxmi_fixture.h"
#include "model_file.h"
#include "safetensors.h"

#define SCHED "linear:0.0001:0.02:1000"

/* D = 2, E = 4, hidden 8,8: 146 parameters, small enough for 20k loads. */
static mf_mlp_config small_cfg(void)
{
    mf_mlp_config cfg = {.data_dim = 2, .cond_dim = 0, .emb_dim = 4, .n_hidden = 2};
    cfg.hidden[0] = 8;
    cfg.hidden[1] = 8;
    return cfg;
}

static void fill_params(mf_model *m)
{
    for (size_t i = 0; i < m->net->n_params; i++) {
        m->net->params[i] = sinf(0.37f * (float) i) * 0.5f + 1e-3f * (float) i;
    }
}

static mf_model *make_model(void)
{
    mf_mlp_config cfg = small_cfg();
    mf_model *m = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_model_new(&cfg, SCHED, &m, &d) == MF_OK, "%s", d.msg);
    fill_params(m);
    return m;
}

/*
 * The small model made reward-conditioned: C = 2 (indicator), an mlp reward model
 * 2 -> 3 -> 1 with nonzero weights, and the optional keys of a trained model.
 */
static mf_model *make_reward_model(void)
{
    mf_model *parent = make_model(), *m = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_model_new_cond_from(parent, 2, &m, &d) == MF_OK, "%s", d.msg);
    mf_model_free(parent);
    mf_model_cond c = {.offset = 0.25, .scale = 1.5, .null_kind = MF_COND_NULL_INDICATOR};
    ck_assert_msg(mf_model_set_cond(m, &c, &d) == MF_OK, "%s", d.msg);
    size_t hidden[1] = {3};
    mf_reward_model *r = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, 2, hidden, 1, &r), MF_OK);
    for (size_t i = 0; i < r->n_params; i++) {
        r->params[i] = 0.1f * (float) i - 0.3f;
    }
    ck_assert_msg(mf_model_set_reward(m, r, &d) == MF_OK, "%s", d.msg);
    mf_reward_free(r);
    static const char *const kv[][2] = {
        {"pseudo_label_noise", "0.5"}, {"guidance", "cfg"}, {"guidance_w", "1.5"},
        {"p_uncond", "0.1"},           {"dataset", "ring"}, {"label_dataset", "ring"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        ck_assert_msg(mf_model_set_meta(m, kv[i][0], kv[i][1], &d) == MF_OK, "%s", d.msg);
    }
    return m;
}

/* The small model with a DxMI result's parts (dxmi_fixture.h). */
static mf_model *make_dxmi_model(void)
{
    mf_model *m = make_model();
    dxmi_fixture_attach(m);
    return m;
}

static void assert_same_model(const mf_model *a, const mf_model *b)
{
    ck_assert_uint_eq(a->net->n_params, b->net->n_params);
    ck_assert_int_eq(memcmp(a->net->params, b->net->params, a->net->n_params * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(&a->net->cfg, &b->net->cfg, sizeof a->net->cfg), 0);
    ck_assert_uint_eq(a->n_meta, b->n_meta);
    for (size_t i = 0; i < a->n_meta; i++) {
        ck_assert_str_eq(a->meta_keys[i], b->meta_keys[i]);
        ck_assert_str_eq(a->meta_vals[i], b->meta_vals[i]);
    }
    ck_assert(a->data_offset == b->data_offset);
    ck_assert(a->data_scale == b->data_scale);
    ck_assert_uint_eq(a->sched.T, b->sched.T);
    ck_assert_str_eq(a->sched.spec, b->sched.spec);
}

/* ---- creation and metadata -------------------------------------------------------- */

START_TEST(test_new)
{
    mf_mlp_config cfg = {.data_dim = 64, .cond_dim = 3, .emb_dim = 64, .n_hidden = 3};
    cfg.hidden[0] = cfg.hidden[1] = cfg.hidden[2] = 256;
    mf_model *m = NULL;
    ck_assert_int_eq(mf_model_new(&cfg, "cosine:0.008:1000", &m, NULL), MF_OK);
    static const char *const want[][2] = {
        {"format", "manifold.mlp-ddpm.v1"},
        {"data_dim", "64"},
        {"cond_dim", "3"},
        {"hidden", "256,256,256"},
        {"activation", "silu"},
        {"time_embedding", "sinusoidal:64"},
        {"prediction", "eps"},
        {"schedule", "cosine:0.008:1000"},
        {"data_offset", "0"},
        {"data_scale", "1"},
    };
    ck_assert_uint_eq(m->n_meta, 10);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_str_eq(m->meta_keys[i], want[i][0]);
        ck_assert_str_eq(mf_model_get_meta(m, want[i][0]), want[i][1]);
    }
    ck_assert_ptr_null(mf_model_get_meta(m, "dataset"));
    ck_assert_uint_eq(m->sched.T, 1000);
    ck_assert(m->data_offset == 0.0 && m->data_scale == 1.0);
    for (size_t i = 0; i < m->net->n_params; i++) {
        ck_assert(m->net->params[i] == 0.0f);
    }
    mf_model_free(m);
    mf_model_free(NULL);
}

END_TEST

START_TEST(test_new_errors)
{
    mf_mlp_config cfg = small_cfg();
    mf_model *m = (mf_model *) 0x1;
    mf_diag d = {0};
    ck_assert_int_eq(mf_model_new(&cfg, "bogus:1", &m, &d), MF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(d.msg, "schedule"));
    ck_assert_int_eq(mf_model_new(&cfg, "linear:0.5:0.1:1000", &m, &d), MF_ERANGE);
    ck_assert_int_eq(mf_model_new(&cfg, NULL, &m, &d), MF_EINVAL);
    cfg.emb_dim = 5;
    ck_assert_int_eq(mf_model_new(&cfg, SCHED, &m, &d), MF_EINVAL);
    cfg = small_cfg();
    cfg.n_hidden = 0;
    ck_assert_int_eq(mf_model_new(&cfg, SCHED, &m, &d), MF_EINVAL);
    ck_assert_ptr_eq(m, (mf_model *) 0x1);
}

END_TEST

START_TEST(test_set_meta)
{
    mf_model *m = make_model();
    mf_diag d = {0};
    ck_assert_int_eq(mf_model_set_meta(m, "dataset", "eight_gaussians", &d), MF_OK);
    ck_assert_int_eq(mf_model_set_meta(m, "dataset", "two_moons", &d), MF_OK);
    ck_assert_str_eq(mf_model_get_meta(m, "dataset"), "two_moons");
    ck_assert_int_eq(mf_model_set_meta(m, "x-custom", "caf\xc3\xa9", &d), MF_OK);

    /* Architecture keys are fixed; re-setting the same value is fine. */
    ck_assert_int_eq(mf_model_set_meta(m, "hidden", "8,8", &d), MF_OK);
    ck_assert_int_eq(mf_model_set_meta(m, "hidden", "16,16", &d), MF_EINVAL);
    ck_assert_ptr_nonnull(strstr(d.msg, "cannot change"));
    ck_assert_str_eq(d.field, "__metadata__/hidden");
    ck_assert_int_eq(mf_model_set_meta(m, "format", "other", &d), MF_EINVAL);
    ck_assert_str_eq(mf_model_get_meta(m, "hidden"), "8,8");

    /* Normalisation keys stay in sync with the doubles. */
    ck_assert_int_eq(mf_model_set_meta(m, "data_offset", "-1.5", &d), MF_OK);
    ck_assert(m->data_offset == -1.5);
    ck_assert_int_eq(mf_model_set_meta(m, "data_scale", "2.5e-1", &d), MF_OK);
    ck_assert(m->data_scale == 0.25);
    const char *bad_scale[] = {"0", "-1", "nan", "inf", "1e999", "", " 1", "1x", "0x10", "+1"};
    for (size_t i = 0; i < sizeof bad_scale / sizeof bad_scale[0]; i++) {
        ck_assert_msg(mf_model_set_meta(m, "data_scale", bad_scale[i], &d) == MF_EINVAL, "%s",
                      bad_scale[i]);
    }
    ck_assert_int_eq(mf_model_set_meta(m, "data_offset", "nan", &d), MF_EINVAL);
    ck_assert(m->data_scale == 0.25);
    ck_assert_str_eq(mf_model_get_meta(m, "data_scale"), "2.5e-1");

    /* The schedule can change; m->sched follows, and a bad one leaves it alone. */
    ck_assert_int_eq(mf_model_set_meta(m, "schedule", "cosine:0.008:500", &d), MF_OK);
    ck_assert_uint_eq(m->sched.T, 500);
    ck_assert_int_eq(mf_model_set_meta(m, "schedule", "linear:1", &d), MF_EFORMAT);
    ck_assert_uint_eq(m->sched.T, 500);
    ck_assert_str_eq(mf_model_get_meta(m, "schedule"), "cosine:0.008:500");

    ck_assert_int_eq(mf_model_set_meta(m, "", "x", &d), MF_EINVAL);
    ck_assert_int_eq(mf_model_set_meta(m, "k", "\xff", &d), MF_EINVAL);
    ck_assert_int_eq(mf_model_set_meta(m, "k", NULL, &d), MF_EINVAL);

    ck_assert_int_eq(mf_model_set_normalisation(m, 0.1, 3.7e-5), MF_OK);
    ck_assert_str_eq(mf_model_get_meta(m, "data_offset"), "0.1"); /* shortest round-trip */
    ck_assert(strtod(mf_model_get_meta(m, "data_scale"), NULL) == 3.7e-5);
    ck_assert_int_eq(mf_model_set_normalisation(m, NAN, 1), MF_EINVAL);
    ck_assert_int_eq(mf_model_set_normalisation(m, 0, 0), MF_EINVAL);
    ck_assert_int_eq(mf_model_set_normalisation(m, 0, -INFINITY), MF_EINVAL);
    ck_assert(m->data_offset == 0.1 && m->data_scale == 3.7e-5);

    /* data space <-> model space: digits' (8, 8) maps pixels 0, 8, 16 to -1, 0, 1 */
    ck_assert_int_eq(mf_model_set_normalisation(m, 8, 8), MF_OK);
    float x[3] = {0.0f, 8.0f, 16.0f};
    mf_model_from_data(m, x, 3);
    ck_assert(x[0] == -1.0f && x[1] == 0.0f && x[2] == 1.0f);
    mf_model_to_data(m, x, 3);
    ck_assert(x[0] == 0.0f && x[1] == 8.0f && x[2] == 16.0f);
    mf_model_free(m);
}

END_TEST

/* "created" is ISO 8601 UTC; 1795000000 s after the epoch, checked with Python's datetime. */
START_TEST(test_set_created)
{
    mf_model *m = make_model();
    mf_diag d = {0};
    ck_assert_int_eq(mf_model_set_created(m, (time_t) 0, &d), MF_OK);
    ck_assert_str_eq(mf_model_get_meta(m, "created"), "1970-01-01T00:00:00Z");
    ck_assert_int_eq(mf_model_set_created(m, (time_t) 1795000000, &d), MF_OK);
    ck_assert_str_eq(mf_model_get_meta(m, "created"), "2026-11-18T11:06:40Z");
    mf_model_free(m);
}

END_TEST

/* A fine-tuned child keeps what it runs with and none of the parent's own figures. */
START_TEST(test_derive)
{
    mf_model *m = make_model();
    ck_assert_int_eq(mf_model_set_normalisation(m, -0.3, 1.7), MF_OK);
    static const char *const kept[][2] = {{"dataset", "two_moons"},
                                          {"dequantised", "false"},
                                          {"created", "2026-11-22T09:47:55Z"},
                                          {"provenance", "manifold-train train"},
                                          {"zz-unknown", "x"}};
    static const char *const dropped[][2] = {
        {"heldout_dsm_loss", "0.198428"}, {"smeme", "{\"K\":2}"},
        {"smeme_iterations", "2"},        {"dxmi", "{}"},
        {"dxmi_iterations", "4000"},      {"dxmi_s2", "0.5,0.25"},
        {"finetune_reward", "{}"}};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        ck_assert_int_eq(mf_model_set_meta(m, kept[i][0], kept[i][1], NULL), MF_OK);
    }
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        ck_assert_int_eq(mf_model_set_meta(m, dropped[i][0], dropped[i][1], NULL), MF_OK);
    }
    mf_model *c = NULL;
    ck_assert_int_eq(mf_model_derive(m, &c), MF_OK);
    ck_assert_ptr_ne(c->net->params, m->net->params);
    ck_assert_mem_eq(c->net->params, m->net->params, m->net->n_params * sizeof(float));
    ck_assert(c->data_offset == -0.3 && c->data_scale == 1.7);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        ck_assert_str_eq(mf_model_get_meta(c, kept[i][0]), kept[i][1]);
    }
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        ck_assert_msg(mf_model_get_meta(c, dropped[i][0]) == NULL, "%s inherited", dropped[i][0]);
        ck_assert_str_eq(mf_model_get_meta(m, dropped[i][0]), dropped[i][1]); /* the parent's */
    }
    ck_assert_uint_eq(c->n_meta, m->n_meta - sizeof dropped / sizeof dropped[0]);
    ck_assert_int_eq(mf_model_derive(NULL, &c), MF_EINVAL);
    mf_model_free(c);
    mf_model_free(m);
}

END_TEST

/* ---- round trips ------------------------------------------------------------------ */

START_TEST(test_buffer_round_trip)
{
    mf_model *m = make_model();
    ck_assert_int_eq(mf_model_set_normalisation(m, -0.3, 1.7), MF_OK);
    ck_assert_int_eq(mf_model_set_meta(m, "dataset", "eight_gaussians", NULL), MF_OK);
    ck_assert_int_eq(mf_model_set_meta(m, "provenance", "manifold-train --seed 1 \"q\"\n", NULL),
                     MF_OK);
    ck_assert_int_eq(mf_model_set_meta(m, "zz-unknown", "\xe2\x82\xac", NULL), MF_OK);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mf_model_to_buffer(m, &buf, &len), MF_OK);

    /* Tensors are written in layer order. */
    mf_safetensors *st = NULL;
    ck_assert_int_eq(mf_safetensors_parse(buf, len, &st, NULL), MF_OK);
    const char *order[] = {"layers.0.weight", "layers.0.bias",   "layers.1.weight",
                           "layers.1.bias",   "layers.2.weight", "layers.2.bias"};
    ck_assert_uint_eq(st->n_tensors, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_str_eq(st->tensors[i].name, order[i]);
    }
    ck_assert_uint_eq(st->tensors[0].shape[0], 8);
    ck_assert_uint_eq(st->tensors[0].shape[1], 6);
    ck_assert_uint_eq(st->tensors[5].shape[0], 2);
    mf_safetensors_free(st);

    mf_model *r = (mf_model *) 0x1;
    mf_diag d = {0};
    ck_assert_msg(mf_model_load_buffer(buf, len, &r, &d) == MF_OK, "%s", d.msg);
    assert_same_model(m, r);
    ck_assert(r->data_offset == -0.3 && r->data_scale == 1.7);

    /* Re-serialising the loaded model gives the same bytes. */
    uint8_t *buf2 = NULL;
    size_t len2 = 0;
    ck_assert_int_eq(mf_model_to_buffer(r, &buf2, &len2), MF_OK);
    ck_assert_uint_eq(len2, len);
    ck_assert_int_eq(memcmp(buf, buf2, len), 0);

    mf_model *c = NULL;
    ck_assert_int_eq(mf_model_clone(r, &c), MF_OK);
    assert_same_model(r, c);
    ck_assert_ptr_ne(c->net->params, r->net->params);

    free(buf);
    free(buf2);
    mf_model_free(c);
    mf_model_free(r);
    mf_model_free(m);
}

END_TEST

/* A file written by another tool: other tensor order, metadata last, no padding. */
START_TEST(test_foreign_layout)
{
    mf_model *m = make_model();
    const mf_mlp *net = m->net;
    mf_safetensors_entry e[6];
    char names[6][48];
    for (size_t i = 0; i < 3; i++) {
        size_t k = 2 - i; /* last layer first, bias before weight */
        snprintf(names[2 * i], sizeof names[0], "layers.%zu.bias", k);
        snprintf(names[2 * i + 1], sizeof names[0], "layers.%zu.weight", k);
        e[2 * i] = (mf_safetensors_entry){.name = names[2 * i],
                                          .n_dims = 1,
                                          .shape = {net->out_dim[k]},
                                          .data = net->params + net->b_off[k]};
        e[2 * i + 1] = (mf_safetensors_entry){.name = names[2 * i + 1],
                                              .n_dims = 2,
                                              .shape = {net->out_dim[k], net->in_dim[k]},
                                              .data = net->params + net->w_off[k]};
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mf_safetensors_write(e, 6, (const char *const *) m->meta_keys,
                                          (const char *const *) m->meta_vals, m->n_meta, &buf, &len,
                                          NULL),
                     MF_OK);
    mf_model *r = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_model_load_buffer(buf, len, &r, &d) == MF_OK, "%s", d.msg);
    assert_same_model(m, r);
    mf_model_free(r);
    free(buf);
    mf_model_free(m);
}

END_TEST

/*
 * The shipped models were saved by manifold-train: loading and saving one
 * again must give back the file byte for byte, so a change to the header
 * writer (key order, spacing, escaping, padding) cannot slip through unseen.
 */
START_TEST(test_shipped_bytes)
{
    static const char *const names[] = {"gaussian",  "eight_gaussians", "imbalanced_square",
                                        "two_moons", "swiss_roll",      "digits"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/../models/%s.safetensors", test_data(), names[i]);
        size_t n = 0;
        uint8_t *want = read_all(path, &n);

        mf_model *m = NULL;
        mf_diag d = {0};
        ck_assert_msg(mf_model_load_buffer(want, n, &m, &d) == MF_OK, "%s: %s", path, d.msg);
        uint8_t *got = NULL;
        size_t len = 0;
        ck_assert_int_eq(mf_model_to_buffer(m, &got, &len), MF_OK);
        ck_assert_msg(len == n && memcmp(got, want, len) == 0,
                      "%s: saving it again changes its bytes", path);
        free(got);
        free(want);
        mf_model_free(m);
    }
}

END_TEST

START_TEST(test_file_round_trip)
{
    char dir[] = "/tmp/mf_model_file_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], missing[256], nodir[256];
    snprintf(path, sizeof path, "%s/toy.safetensors", dir);
    snprintf(missing, sizeof missing, "%s/absent.safetensors", dir);
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.safetensors", dir);

    mf_model *m = make_model();
    ck_assert_int_eq(mf_model_set_meta(m, "parent", "eight_gaussians", NULL), MF_OK);
    mf_diag d = {0};
    ck_assert_msg(mf_model_save_file(m, path, &d) == MF_OK, "%s", d.msg);
    ck_assert_uint_eq(count_entries(dir), 1); /* no temporary left behind */
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);

    mf_model *r = NULL;
    ck_assert_msg(mf_model_load_file(path, 1 << 20, &r, &d) == MF_OK, "%s", d.msg);
    assert_same_model(m, r);
    mf_model_free(r);

    /* Overwrite in place with different weights: still one file, new content. */
    m->net->params[3] = 123.0f;
    ck_assert_int_eq(mf_model_save_file(m, path, &d), MF_OK);
    ck_assert_uint_eq(count_entries(dir), 1);
    ck_assert_int_eq(mf_model_load_file(path, 1 << 20, &r, &d), MF_OK);
    ck_assert(r->net->params[3] == 123.0f);
    mf_model_free(r);

    /* Size limit, missing file, directory, unwritable target. */
    r = (mf_model *) 0x1;
    ck_assert_int_eq(mf_model_load_file(path, (size_t) sb.st_size - 1, &r, &d), MF_ERANGE);
    ck_assert_ptr_nonnull(strstr(d.msg, "limit"));
    ck_assert_int_eq(mf_model_load_file(missing, 1 << 20, &r, &d), MF_EIO);
    ck_assert_ptr_nonnull(strstr(d.msg, "No such file"));
    ck_assert_int_eq(mf_model_load_file(dir, 1 << 20, &r, &d), MF_EIO);
    ck_assert_ptr_nonnull(strstr(d.msg, "directory"));
    ck_assert_ptr_eq(r, (mf_model *) 0x1);
    ck_assert_int_eq(mf_model_save_file(m, nodir, &d), MF_EIO);
    ck_assert_ptr_nonnull(strstr(d.msg, "No such file"));
    char slash[300];
    snprintf(slash, sizeof slash, "%s/", dir);
    ck_assert_int_eq(mf_model_save_file(m, slash, &d), MF_EINVAL);

    /* A model the loader would refuse is not written either. */
    m->net->params[0] = NAN;
    ck_assert_int_eq(mf_model_save_file(m, path, &d), MF_EINVAL);
    ck_assert_uint_eq(count_entries(dir), 1);

    /* A relative path (no directory part) works from the current directory. */
    char cwd[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    m->net->params[0] = 1.0f;
    ck_assert_int_eq(mf_model_save_file(m, "rel.safetensors", &d), MF_OK);
    ck_assert_int_eq(mf_model_load_file("rel.safetensors", 1 << 20, &r, &d), MF_OK);
    mf_model_free(r);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_uint_eq(count_entries(dir), 2);

    char rel[300];
    snprintf(rel, sizeof rel, "%s/rel.safetensors", dir);
    unlink(rel);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);
    mf_model_free(m);
}

END_TEST

/*
 * A reward-conditioned model: grown from an unconditional parent (same eps for any
 * condition), its condition and reward model survive save and load, clone, and a
 * second save gives the same bytes; ridge and mlp reward models both.
 */
START_TEST(test_reward_model_round_trip)
{
    mf_model *m = make_reward_model();
    ck_assert_uint_eq(m->net->cfg.cond_dim, 2);
    ck_assert(m->has_cond && m->cond.offset == 0.25 && m->cond.scale == 1.5);
    ck_assert_str_eq(mf_model_get_meta(m, "cond_null"), "indicator");
    ck_assert_str_eq(mf_model_get_meta(m, "reward_hidden"), "3");
    ck_assert_str_eq(mf_model_get_meta(m, "dataset"), "ring");
    for (int kind = 0; kind < 2; kind++) {
        if (kind == 1) { /* replace the mlp by a ridge model: reward_hidden goes */
            mf_reward_model *r = NULL;
            ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, 2, NULL, 0, &r), MF_OK);
            r->params[0] = 1.5f;
            r->params[2] = -0.5f;
            ck_assert_int_eq(mf_model_set_reward(m, r, NULL), MF_OK);
            mf_reward_free(r);
            ck_assert_ptr_null(mf_model_get_meta(m, "reward_hidden"));
            ck_assert_str_eq(mf_model_get_meta(m, "reward_model"), "ridge");
        }
        uint8_t *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        ck_assert_int_eq(mf_model_to_buffer(m, &buf, &len), MF_OK);
        mf_model *r = NULL;
        mf_diag d = {0};
        ck_assert_msg(mf_model_load_buffer(buf, len, &r, &d) == MF_OK, "%s", d.msg);
        assert_same_model(m, r);
        ck_assert(r->has_cond && r->cond.offset == 0.25 && r->cond.scale == 1.5 &&
                  r->cond.null_kind == MF_COND_NULL_INDICATOR);
        ck_assert_ptr_nonnull(r->reward);
        ck_assert_int_eq(r->reward->kind, m->reward->kind);
        ck_assert_uint_eq(r->reward->n_params, m->reward->n_params);
        ck_assert_mem_eq(r->reward->params, m->reward->params, m->reward->n_params * sizeof(float));
        ck_assert_int_eq(mf_model_to_buffer(r, &buf2, &len2), MF_OK);
        ck_assert(len2 == len && memcmp(buf, buf2, len) == 0);
        mf_model *c = NULL;
        ck_assert_int_eq(mf_model_clone(r, &c), MF_OK);
        ck_assert(c->has_cond && c->reward != NULL && c->reward != r->reward);
        ck_assert_mem_eq(c->reward->params, r->reward->params, r->reward->n_params * sizeof(float));
        mf_model_free(c);
        mf_model_free(r);
        free(buf);
        free(buf2);
    }
    mf_model_free(m);
}

END_TEST

START_TEST(test_cond_and_reward_setters)
{
    mf_model *plain = make_model();
    mf_diag d = {0};
    mf_model_cond c = {.offset = 0, .scale = 1, .null_kind = MF_COND_NULL_INDICATOR};
    /* An unconditional network has no condition width. */
    ck_assert_int_eq(mf_model_set_cond(plain, &c, &d), MF_EINVAL);
    ck_assert_ptr_nonnull(strstr(d.msg, "needs cond_dim 2, not 0"));
    ck_assert(!plain->has_cond);
    ck_assert_ptr_null(mf_model_get_meta(plain, "condition"));

    mf_model *m = NULL;
    ck_assert_int_eq(mf_model_new_cond_from(plain, 1, &m, &d), MF_OK);
    ck_assert_str_eq(mf_model_get_meta(m, "cond_dim"), "1");
    ck_assert_str_eq(mf_model_get_meta(m, "schedule"), SCHED);
    c.scale = 0;
    ck_assert_int_eq(mf_model_set_cond(m, &c, &d), MF_EINVAL);
    c.scale = 2;
    ck_assert_int_eq(mf_model_set_cond(m, &c, &d), MF_EINVAL); /* indicator needs 2 */
    c.null_kind = MF_COND_NULL_NONE;
    ck_assert_int_eq(mf_model_set_cond(m, &c, &d), MF_OK);
    ck_assert_str_eq(mf_model_get_meta(m, "cond_scale"), "2");
    /* Managed keys change only through the setters; cfg needs the indicator. */
    ck_assert_int_eq(mf_model_set_meta(m, "cond_scale", "3", &d), MF_EINVAL);
    ck_assert_ptr_nonnull(strstr(d.msg, "is set with the condition or the reward model"));
    ck_assert_int_eq(mf_model_set_meta(m, "cond_scale", "2", &d), MF_OK); /* same value */
    ck_assert_int_eq(mf_model_set_meta(m, "reward_model", "ridge", &d), MF_EINVAL);
    ck_assert_int_eq(mf_model_set_meta(m, "guidance", "cfg", &d), MF_EINVAL);
    ck_assert_ptr_nonnull(strstr(d.msg, "needs cond_null indicator"));
    ck_assert_int_eq(mf_model_set_meta(m, "guidance", "reward", &d), MF_OK);
    ck_assert_int_eq(mf_model_set_meta(m, "guidance", "best", &d), MF_EINVAL);
    ck_assert_int_eq(mf_model_set_meta(m, "p_uncond", "-0.5", &d), MF_EINVAL);
    ck_assert_int_eq(mf_model_set_meta(m, "pseudo_label_noise", "0.3", &d), MF_OK);

    mf_reward_model *r = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, 3, NULL, 0, &r), MF_OK);
    ck_assert_int_eq(mf_model_set_reward(m, r, &d), MF_EINVAL); /* D 3 on a D = 2 model */
    mf_reward_free(r);
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, 2, NULL, 0, &r), MF_OK);
    r->params[1] = NAN;
    ck_assert_int_eq(mf_model_set_reward(m, r, &d), MF_EINVAL);
    ck_assert_ptr_null(m->reward);
    mf_reward_free(r);

    mf_model *bad = (mf_model *) 0x1;
    ck_assert_int_eq(mf_model_new_cond_from(m, 2, &bad, &d), MF_EINVAL); /* conditional parent */
    ck_assert_int_eq(mf_model_new_cond_from(plain, 0, &bad, &d), MF_EINVAL);
    ck_assert_ptr_eq(bad, (mf_model *) 0x1);
    mf_model_free(m);
    mf_model_free(plain);
}

END_TEST

/* ---- invalid model files ---------------------------------------------------------- */

typedef enum {
    OP_NONE,
    OP_DROP,
    OP_ADD,
    OP_RESHAPE,
    OP_POISON
} tensor_op;

typedef struct model_case model_case;

struct model_case {
    const char *name;
    uint8_t *(*build)(const model_case *c, size_t *ret_len); /* NULL: build_variant */
    bool reward_base; /* start from the reward-conditioned model (make_reward_model) */
    bool dxmi_base;   /* start from the DxMI model (make_dxmi_model) */
    /* build_variant: metadata change (val NULL: key removed) ... */
    const char *key;
    const char *val;
    const char *const *drop; /* more keys removed (NULL-terminated), or NULL */
    bool no_metadata;
    /* ... and one tensor change */
    tensor_op op;
    const char *tensor;
    size_t n_dims;
    size_t shape[2];
    size_t index;
    float poison;
    mf_err err;
    const char *msg_has;
    const char *field; /* checked when not NULL */
};

/* Whether key is among the row's drop list. */
static bool dropped(const model_case *c, const char *key)
{
    for (size_t i = 0; c->drop != NULL && c->drop[i] != NULL; i++) {
        if (strcmp(c->drop[i], key) == 0) {
            return true;
        }
    }
    return false;
}

#define MAX_TENSORS 32

/* The valid small model (or the reward-conditioned or DxMI one), serialised with the row's
 * changes. */
static uint8_t *build_variant(const model_case *c, size_t *ret_len)
{
    mf_model *m =
        c->reward_base ? make_reward_model() : (c->dxmi_base ? make_dxmi_model() : make_model());
    uint8_t *orig = NULL;
    size_t orig_len = 0;
    ck_assert_int_eq(mf_model_to_buffer(m, &orig, &orig_len), MF_OK);
    mf_safetensors *st = NULL;
    ck_assert_int_eq(mf_safetensors_parse(orig, orig_len, &st, NULL), MF_OK);
    mf_safetensors_entry e[MAX_TENSORS];
    float *data[MAX_TENSORS] = {NULL};
    size_t n = st->n_tensors;
    ck_assert_uint_lt(n, MAX_TENSORS);
    for (size_t i = 0; i < n; i++) {
        const mf_safetensors_tensor *t = &st->tensors[i];
        /* Room for a reshape to more elements (a row's OP_RESHAPE): zeros after the data. */
        data[i] = calloc(t->n_elems + 64, sizeof(float));
        mf_safetensors_tensor_read(t, data[i]);
        e[i] = (mf_safetensors_entry){.name = t->name, .n_dims = t->n_dims, .data = data[i]};
        memcpy(e[i].shape, t->shape, sizeof e[i].shape);
    }
    if (c->op == OP_ADD) {
        e[n++] = (mf_safetensors_entry){
            .name = c->tensor, .n_dims = 1, .shape = {2}, .data = m->net->params};
    }
    for (size_t i = 0; i < n && c->op != OP_NONE && c->op != OP_ADD; i++) {
        if (strcmp(e[i].name, c->tensor) != 0) {
            continue;
        }
        if (c->op == OP_DROP) {
            e[i] = e[--n];
        } else if (c->op == OP_RESHAPE) {
            e[i].n_dims = c->n_dims;
            memcpy(e[i].shape, c->shape, sizeof c->shape);
        } else {
            data[i][c->index] = c->poison;
        }
        break;
    }
    const char *keys[32], *vals[32];
    size_t n_meta = 0;
    bool replaced = false;
    for (size_t i = 0; i < m->n_meta && !c->no_metadata; i++) {
        if (dropped(c, m->meta_keys[i])) {
            continue;
        }
        if (c->key != NULL && strcmp(m->meta_keys[i], c->key) == 0) {
            replaced = true;
            if (c->val == NULL) {
                continue;
            }
            keys[n_meta] = c->key;
            vals[n_meta++] = c->val;
        } else {
            keys[n_meta] = m->meta_keys[i];
            vals[n_meta++] = m->meta_vals[i];
        }
    }
    if (c->key != NULL && c->val != NULL && !replaced) {
        keys[n_meta] = c->key;
        vals[n_meta++] = c->val;
    }
    uint8_t *buf = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_safetensors_write(e, n, keys, vals, n_meta, &buf, ret_len, &d) == MF_OK, "%s",
                  d.msg);
    for (size_t i = 0; i < MAX_TENSORS; i++) {
        free(data[i]);
    }
    mf_safetensors_free(st);
    free(orig);
    mf_model_free(m);
    return buf;
}

/* The valid file with the first "F32" of the header changed to "F16". */
static uint8_t *build_f16(const model_case *c, size_t *ret_len)
{
    model_case plain = {.name = c->name};
    uint8_t *buf = build_variant(&plain, ret_len);
    for (size_t i = 8; i + 3 <= *ret_len; i++) {
        if (memcmp(buf + i, "F32", 3) == 0) {
            buf[i + 2] = '6';
            buf[i + 1] = '1';
            break;
        }
    }
    return buf;
}

#define MISSING(k)                                                              \
    {                                                                           \
        .name = "missing " k, .key = k, .val = NULL, .err = MF_EFORMAT,         \
        .msg_has = "missing metadata key \"" k "\"", .field = "__metadata__/" k \
    }
#define META(label, k, v, has)                                                \
    {                                                                         \
        .name = label, .key = k, .val = v, .err = MF_EFORMAT, .msg_has = has, \
        .field = "__metadata__/" k                                            \
    }

#define DMETA(label, k, v, has)                                                                  \
    {                                                                                            \
        .name = label, .dxmi_base = true, .key = k, .val = v, .err = MF_EFORMAT, .msg_has = has, \
        .field = "__metadata__/" k                                                               \
    }
#define DTENSOR(label, o, t, has)                                                              \
    .name = label, .dxmi_base = true, .op = o, .tensor = t, .err = MF_EFORMAT, .msg_has = has, \
    .field = t

static const char *const energy_keys[] = {"energy_hidden", "value_hidden", "value_emb",
                                          "energy_quantiles", NULL};
static const char *const sampler_keys[] = {"sampler", "var_schedule", NULL};

#define RMETA(label, k, v, has)                                                                    \
    {                                                                                              \
        .name = label, .reward_base = true, .key = k, .val = v, .err = MF_EFORMAT, .msg_has = has, \
        .field = "__metadata__/" k                                                                 \
    }

static const model_case model_cases[] = {
    MISSING("format"),
    MISSING("data_dim"),
    MISSING("cond_dim"),
    MISSING("hidden"),
    MISSING("activation"),
    MISSING("time_embedding"),
    MISSING("prediction"),
    MISSING("schedule"),
    MISSING("data_offset"),
    MISSING("data_scale"),
    {.name = "no metadata at all",
     .no_metadata = true,
     .err = MF_EFORMAT,
     .msg_has = "missing metadata key \"format\""},
    META("wrong format", "format", "manifold.mlp-ddpm.v2", "unsupported format"),
    META("empty format", "format", "", "unsupported format"),
    META("data_dim 0", "data_dim", "0", "data_dim 0 is out of range"),
    META("data_dim huge", "data_dim", "99999999999999999999", "out of range"),
    META("data_dim text", "data_dim", "two", "is not a plain decimal integer"),
    META("data_dim signed", "data_dim", "+2", "is not a plain decimal integer"),
    META("data_dim leading zero", "data_dim", "02", "is not a plain decimal integer"),
    META("data_dim trailing space", "data_dim", "2 ", "is not a plain decimal integer"),
    META("data_dim fraction", "data_dim", "2.0", "is not a plain decimal integer"),
    META("data_dim empty", "data_dim", "", "is not a plain decimal integer"),
    META("cond_dim too wide", "cond_dim", "8193", "out of range"),
    META("cond_dim negative", "cond_dim", "-1", "is not a plain decimal integer"),
    META("hidden empty entry", "hidden", "256,,256", "empty entry"),
    META("hidden trailing comma", "hidden", "8,8,", "empty entry"),
    META("hidden empty", "hidden", "", "empty entry"),
    META("hidden zero", "hidden", "0", "out of range"),
    META("hidden huge", "hidden", "99999999", "out of range"),
    META("hidden too many layers", "hidden", "8,8,8,8,8,8,8,8,8", "more than 8 layers"),
    META("hidden separator", "hidden", "8;8", "not a plain decimal integer"),
    META("hidden spaces", "hidden", "8, 8", "not a plain decimal integer"),
    META("activation relu", "activation", "relu", "unsupported activation \"relu\""),
    META("time_embedding odd", "time_embedding", "sinusoidal:5", "even integer"),
    META("time_embedding zero", "time_embedding", "sinusoidal:0", "even integer"),
    META("time_embedding no E", "time_embedding", "sinusoidal:", "even integer"),
    META("time_embedding learned", "time_embedding", "learned:4", "expected sinusoidal:E"),
    META("prediction v", "prediction", "v", "unsupported prediction \"v\""),
    META("schedule unknown", "schedule", "quadratic:1", "bad schedule"),
    META("schedule short", "schedule", "linear:0.0001:0.02", "bad schedule"),
    META("schedule range", "schedule", "linear:0.5:0.1:1000", "bad schedule"),
    META("schedule T too big", "schedule", "linear:0.0001:0.02:999999999", "bad schedule"),
    META("data_scale 0", "data_scale", "0", "must be > 0"),
    META("data_scale negative", "data_scale", "-2", "must be > 0"),
    META("data_scale nan", "data_scale", "nan", "is not a finite number"),
    META("data_scale inf", "data_scale", "inf", "is not a finite number"),
    META("data_scale overflow", "data_scale", "1e999", "is not a finite number"),
    META("data_scale junk", "data_scale", "1.0x", "is not a finite number"),
    META("data_offset text", "data_offset", "zero", "is not a finite number"),
    /* consistent metadata, but the tensors no longer match it */
    {.name = "data_dim changes shapes",
     .key = "data_dim",
     .val = "3",
     .err = MF_EFORMAT,
     .msg_has = "layers.0.weight has shape [8,6], expected [8,7]",
     .field = "layers.0.weight"},
    {.name = "missing tensor",
     .op = OP_DROP,
     .tensor = "layers.1.bias",
     .err = MF_EFORMAT,
     .msg_has = "missing tensor layers.1.bias",
     .field = "layers.1.bias"},
    {.name = "missing weight",
     .op = OP_DROP,
     .tensor = "layers.2.weight",
     .err = MF_EFORMAT,
     .msg_has = "missing tensor layers.2.weight",
     .field = "layers.2.weight"},
    {.name = "extra tensor",
     .op = OP_ADD,
     .tensor = "extra.weight",
     .err = MF_EFORMAT,
     .msg_has = "unexpected tensor \"extra.weight\"",
     .field = "extra.weight"},
    {.name = "extra layer",
     .op = OP_ADD,
     .tensor = "layers.3.bias",
     .err = MF_EFORMAT,
     .msg_has = "unexpected tensor \"layers.3.bias\""},
    {.name = "wrong weight shape",
     .op = OP_RESHAPE,
     .tensor = "layers.1.weight",
     .n_dims = 2,
     .shape = {4, 16},
     .err = MF_EFORMAT,
     .msg_has = "layers.1.weight has shape [4,16], expected [8,8]",
     .field = "layers.1.weight"},
    {.name = "transposed weight",
     .op = OP_RESHAPE,
     .tensor = "layers.0.weight",
     .n_dims = 2,
     .shape = {6, 8},
     .err = MF_EFORMAT,
     .msg_has = "has shape [6,8], expected [8,6]"},
    {.name = "bias as matrix",
     .op = OP_RESHAPE,
     .tensor = "layers.0.bias",
     .n_dims = 2,
     .shape = {8, 1},
     .err = MF_EFORMAT,
     .msg_has = "layers.0.bias has shape [8,1], expected [8]"},
    {.name = "NaN weight",
     .op = OP_POISON,
     .tensor = "layers.1.weight",
     .index = 17,
     .poison = NAN,
     .err = MF_EFORMAT,
     .msg_has = "non-finite value (NaN) at index 17",
     .field = "layers.1.weight"},
    {.name = "Inf bias",
     .op = OP_POISON,
     .tensor = "layers.2.bias",
     .index = 1,
     .poison = -INFINITY,
     .err = MF_EFORMAT,
     .msg_has = "non-finite value (Inf)",
     .field = "layers.2.bias"},
    {.name = "dtype F16",
     .build = build_f16,
     .err = MF_EFORMAT,
     .msg_has = "dtype F16 not supported, only F32"},
    /* reward-conditioned models: the condition's metadata and the reward tensors */
    RMETA("condition unknown", "condition", "class", "unsupported condition \"class\""),
    RMETA("cond_null unknown", "cond_null", "zero", "unsupported cond_null \"zero\""),
    RMETA("cond_null width", "cond_null", "none", "cond_null none needs cond_dim 1, not 2"),
    RMETA("cond_scale 0", "cond_scale", "0", "cond_scale 0 must be > 0"),
    RMETA("cond_offset text", "cond_offset", "a", "cond_offset \"a\" is not a finite number"),
    RMETA("guidance unknown", "guidance", "classifier", "unsupported guidance \"classifier\""),
    RMETA("pseudo_label_noise negative", "pseudo_label_noise", "-0.1", "must be >= 0"),
    RMETA("p_uncond 1", "p_uncond", "1", "p_uncond 1 must be in [0, 1)"),
    RMETA("guidance_w nan", "guidance_w", "nan", "is not a finite number"),
    RMETA("reward_model unknown", "reward_model", "gp", "unsupported reward_model \"gp\""),
    RMETA("reward_hidden bad", "reward_hidden", "3,", "reward_hidden \"3,\" has an empty entry"),
    RMETA("reward_hidden too wide", "reward_hidden", "5000", "out of range 1..4096"),
    RMETA("reward_hidden too deep", "reward_hidden", "3,3,3,3,3", "more than 4 layers"),
    {.name = "missing cond_scale",
     .reward_base = true,
     .key = "cond_scale",
     .err = MF_EFORMAT,
     .msg_has = "missing metadata key \"cond_scale\"",
     .field = "__metadata__/cond_scale"},
    {.name = "missing reward_hidden",
     .reward_base = true,
     .key = "reward_hidden",
     .err = MF_EFORMAT,
     .msg_has = "missing metadata key \"reward_hidden\""},
    {.name = "reward tensors without reward_model",
     .reward_base = true,
     .key = "reward_model",
     .err = MF_EFORMAT,
     .msg_has = "(no reward_model metadata)",
     .field = "reward.layers.0.weight"},
    {.name = "reward_hidden disagrees with the tensors",
     .reward_base = true,
     .key = "reward_hidden",
     .val = "4",
     .err = MF_EFORMAT,
     .msg_has = "reward.layers.0.weight has shape [3,2], expected [4,2]",
     .field = "reward.layers.0.weight"},
    {.name = "ridge metadata on mlp tensors",
     .reward_base = true,
     .key = "reward_model",
     .val = "ridge",
     .err = MF_EFORMAT,
     .msg_has = "missing tensor reward.weight",
     .field = "reward.weight"},
    {.name = "missing reward bias",
     .reward_base = true,
     .op = OP_DROP,
     .tensor = "reward.layers.1.bias",
     .err = MF_EFORMAT,
     .msg_has = "missing tensor reward.layers.1.bias",
     .field = "reward.layers.1.bias"},
    {.name = "reward output not scalar",
     .reward_base = true,
     .op = OP_RESHAPE,
     .tensor = "reward.layers.1.weight",
     .n_dims = 2,
     .shape = {2, 3},
     .err = MF_EFORMAT,
     .msg_has = "reward.layers.1.weight has shape [2,3], expected [1,3]"},
    {.name = "extra reward layer",
     .reward_base = true,
     .op = OP_ADD,
     .tensor = "reward.layers.2.bias",
     .err = MF_EFORMAT,
     .msg_has = "unexpected tensor \"reward.layers.2.bias\" (the mlp reward model has 2 layers)",
     .field = "reward.layers.2.bias"},
    {.name = "NaN reward weight",
     .reward_base = true,
     .op = OP_POISON,
     .tensor = "reward.layers.0.weight",
     .index = 4,
     .poison = NAN,
     .err = MF_EFORMAT,
     .msg_has = "reward.layers.0.weight has a non-finite value (NaN) at index 4",
     .field = "reward.layers.0.weight"},
    {.name = "condition on an unconditional network",
     .key = "condition",
     .val = "reward",
     .err = MF_EFORMAT,
     .msg_has = "missing metadata key \"cond_null\""},
    /* DxMI results: the short chain, the energy and value networks, their metadata */
    DMETA("sampler ddim", "sampler", "ddim", "unsupported sampler \"ddim\" (expected var:T"),
    DMETA("sampler var:1", "sampler", "var:1", "unsupported sampler \"var:1\""),
    DMETA("sampler var:65", "sampler", "var:65", "T in 2..64"),
    DMETA("sampler var:05", "sampler", "var:05", "unsupported sampler"),
    DMETA("sampler var:", "sampler", "var:", "unsupported sampler"),
    DMETA("var_schedule unknown", "var_schedule", "exact",
          "unsupported var_schedule \"exact\" (expected code or matched)"),
    DMETA("var_schedule missing", "var_schedule", NULL, "missing metadata key \"var_schedule\""),
    {.name = "var_schedule without sampler",
     .dxmi_base = true,
     .key = "sampler",
     .err = MF_EFORMAT,
     .msg_has = "var_schedule without a sampler key",
     .field = "__metadata__/var_schedule"},
    {.name = "sampler var:4 on 5 steps",
     .dxmi_base = true,
     .key = "sampler",
     .val = "var:4",
     .err = MF_EFORMAT,
     .msg_has = "var.beta has shape [5], expected [4]",
     .field = "var.beta"},
    {.name = "var tensors without sampler metadata",
     .dxmi_base = true,
     .drop = sampler_keys,
     .err = MF_EFORMAT,
     .msg_has = "unexpected tensor \"var.beta\" (no sampler metadata)",
     .field = "var.beta"},
    {DTENSOR("var.beta 0", OP_POISON, "var.beta", "var.beta[2] = 0 is not in (0, 1)"), .index = 2},
    {DTENSOR("var.beta 1", OP_POISON, "var.beta", "var.beta[0] = 1 is not in (0, 1)"),
     .poison = 1.0f},
    {DTENSOR("var.tau negative", OP_POISON, "var.tau", "var.tau[1] = -1 is not a timestep"),
     .index = 1, .poison = -1.0f},
    {DTENSOR("var.tau past T", OP_POISON, "var.tau",
             "var.tau[4] = 1000 is not a timestep of the "
             "schedule (0..999)"),
     .index = 4, .poison = 1000.0f},
    {DTENSOR("var.sigma 0", OP_POISON, "var.sigma", "var.sigma[3] = 0 is not a finite number > 0"),
     .index = 3},
    {DTENSOR("var.sigma negative", OP_POISON, "var.sigma", "var.sigma[0] = -0.5 is not"),
     .poison = -0.5f},
    {DTENSOR("var.sigma NaN", OP_POISON, "var.sigma", "var.sigma has a non-finite value (NaN)"),
     .poison = NAN},
    {DTENSOR("var.tau missing", OP_DROP, "var.tau", "missing tensor var.tau")},
    {DTENSOR("var.sigma as matrix", OP_RESHAPE, "var.sigma",
             "var.sigma has shape [5,1], expected [5]"),
     .n_dims = 2, .shape = {5, 1}},
    {DTENSOR(
        "extra var tensor", OP_ADD, "var.gamma",
        "unexpected tensor \"var.gamma\" (the short chain is var.beta, var.tau and var.sigma)")},
    DMETA("value_emb missing", "value_emb", NULL, "missing metadata key \"value_emb\""),
    DMETA("energy_quantiles missing", "energy_quantiles", NULL,
          "missing metadata key \"energy_quantiles\""),
    DMETA("energy_hidden missing", "energy_hidden", NULL, "missing metadata key \"energy_hidden\""),
    DMETA("energy_hidden empty entry", "energy_hidden", "4,", "has an empty entry"),
    DMETA("energy_hidden too wide", "energy_hidden", "5000", "out of range 1..4096"),
    DMETA("energy_hidden too deep", "energy_hidden", "4,4,4,4,4", "more than 4 layers"),
    DMETA("value_hidden text", "value_hidden", "five", "not a plain decimal integer"),
    DMETA("value_emb odd", "value_emb", "3", "value_emb \"3\" must be an even integer in 2..256"),
    DMETA("value_emb 0", "value_emb", "0", "must be an even integer"),
    DMETA("value_emb 258", "value_emb", "258", "must be an even integer"),
    DMETA("energy_quantiles text", "energy_quantiles", "low",
          "entry 1 \"low\" is not a finite number"),
    DMETA("energy_quantiles short", "energy_quantiles", "0,1,2", "entry 4 is empty or missing"),
    {.name = "energy_hidden disagrees with the tensors",
     .dxmi_base = true,
     .key = "energy_hidden",
     .val = "5",
     .err = MF_EFORMAT,
     .msg_has = "energy.layers.0.weight has shape [4,2], expected [5,2]",
     .field = "energy.layers.0.weight"},
    {.name = "value_emb disagrees with the tensors",
     .dxmi_base = true,
     .key = "value_emb",
     .val = "6",
     .err = MF_EFORMAT,
     .msg_has = "value.layers.0.weight has shape [5,6], expected [5,8]",
     .field = "value.layers.0.weight"},
    {.name = "energy tensors without energy metadata",
     .dxmi_base = true,
     .drop = energy_keys,
     .err = MF_EFORMAT,
     .msg_has = "unexpected tensor \"energy.layers.0.weight\" (no energy_hidden metadata)",
     .field = "energy.layers.0.weight"},
    {DTENSOR("extra energy layer", OP_ADD, "energy.layers.2.bias",
             "unexpected tensor \"energy.layers.2.bias\" (the energy network has 2 layers, the "
             "value network 3)")},
    {DTENSOR("extra value tensor", OP_ADD, "value.scale", "unexpected tensor \"value.scale\"")},
    {DTENSOR("missing value bias", OP_DROP, "value.layers.2.bias",
             "missing tensor value.layers.2.bias")},
    {DTENSOR("energy output not scalar", OP_RESHAPE, "energy.layers.1.weight",
             "energy.layers.1.weight has shape [2,4], expected [1,4]"),
     .n_dims = 2, .shape = {2, 4}},
    {DTENSOR("NaN energy weight", OP_POISON, "energy.layers.0.weight",
             "energy.layers.0.weight has a non-finite value (NaN) at index 3"),
     .index = 3, .poison = NAN},
    {DTENSOR("Inf value bias", OP_POISON, "value.layers.1.bias",
             "value.layers.1.bias has a non-finite value (Inf)"),
     .poison = INFINITY},
};

START_TEST(test_invalid_model)
{
    const model_case *c = &model_cases[_i];
    size_t len = 0;
    uint8_t *buf = c->build != NULL ? c->build(c, &len) : build_variant(c, &len);
    mf_model *m = (mf_model *) 0x1;
    mf_diag d = {0};
    mf_err rc = mf_model_load_buffer(buf, len, &m, &d);
    ck_assert_msg(rc == c->err, "%s: got %s (\"%s\"), want %s", c->name, mf_err_name(rc), d.msg,
                  mf_err_name(c->err));
    ck_assert_msg(strstr(d.msg, c->msg_has) != NULL, "%s: message \"%s\" lacks \"%s\"", c->name,
                  d.msg, c->msg_has);
    if (c->field != NULL) {
        ck_assert_msg(strcmp(d.field, c->field) == 0, "%s: field \"%s\", want \"%s\"", c->name,
                      d.field, c->field);
    }
    ck_assert_msg(m == (mf_model *) 0x1, "%s: ret written on error", c->name);
    free(buf);
}

END_TEST

/*
 * energy_quantiles texts of 101 numbers made wrong one way each: too few, too many, one
 * that decreases, one not finite, an empty entry; and the valid text loads.
 */
START_TEST(test_quantile_texts)
{
    static const struct {
        const char *name;
        int count, bad_at; /* entries written; the entry made wrong (-1: none) */
        const char *bad, *msg_has;
    } rows[] = {
        {"valid", 101, -1, NULL, NULL},
        {"100 entries", 100, -1, NULL, "entry 101 is empty or missing"},
        {"102 entries", 102, -1, NULL, "has more than 101 entries"},
        {"decreasing", 101, 51, "3", "entry 52 (3) is below entry 51 (50)"},
        {"nan", 101, 7, "nan", "entry 8 \"nan\" is not a finite number"},
        {"overflow", 101, 100, "1e999", "entry 101 \"1e999\" is not a finite number"},
        {"empty entry", 101, 0, "", "entry 1 is empty or missing"},
    };

    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        char text[2048];
        size_t o = 0;
        for (int k = 0; k < rows[r].count; k++) {
            o += (size_t) snprintf(text + o, sizeof text - o, k > 0 ? ",%s" : "%s",
                                   k == rows[r].bad_at ? rows[r].bad : "");
            if (k != rows[r].bad_at) {
                o += (size_t) snprintf(text + o, sizeof text - o, "%d", k);
            }
        }
        model_case c = {
            .name = rows[r].name, .dxmi_base = true, .key = "energy_quantiles", .val = text};
        size_t len = 0;
        uint8_t *buf = build_variant(&c, &len);
        mf_model *m = NULL;
        mf_diag d = {0};
        mf_err rc = mf_model_load_buffer(buf, len, &m, &d);
        if (rows[r].msg_has == NULL) {
            ck_assert_msg(rc == MF_OK, "%s: %s", c.name, d.msg);
            ck_assert(m->dxmi->energy_q[37] == 37.0 && m->dxmi->energy_q[100] == 100.0);
            mf_model_free(m);
        } else {
            ck_assert_msg(rc == MF_EFORMAT && strstr(d.msg, rows[r].msg_has) != NULL,
                          "%s: %s \"%s\"", c.name, mf_err_name(rc), d.msg);
            ck_assert_str_eq(d.field, "__metadata__/energy_quantiles");
        }
        free(buf);
    }
}

END_TEST

/* Variants that must load: optional keys absent or present, odd but valid numbers. */
START_TEST(test_valid_variants)
{
    static const model_case ok[] = {
        {.name = "unknown key kept", .key = "x-note", .val = "hello"},
        {.name = "offset exponent", .key = "data_offset", .val = "-1.25e-3"},
        {.name = "scale tiny", .key = "data_scale", .val = "1e-300"},
        {.name = "cosine schedule", .key = "schedule", .val = "cosine:0.008:1000"},
        {.name = "dataset", .key = "dataset", .val = "eight_gaussians"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t len = 0;
        uint8_t *buf = build_variant(&ok[i], &len);
        mf_model *m = NULL;
        mf_diag d = {0};
        ck_assert_msg(mf_model_load_buffer(buf, len, &m, &d) == MF_OK, "%s: %s", ok[i].name, d.msg);
        ck_assert_str_eq(mf_model_get_meta(m, ok[i].key), ok[i].val);
        mf_model_free(m);
        free(buf);
    }
}

END_TEST

/* ---- mutation loop ---------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Over the small model (_i = 0), the reward-conditioned one (_i = 1) and the DxMI one (_i = 2). */
START_TEST(test_mutations_never_crash)
{
    mf_model *m = _i == 0 ? make_model() : (_i == 1 ? make_reward_model() : make_dxmi_model());
    uint8_t *orig = NULL;
    size_t orig_len = 0;
    ck_assert_int_eq(mf_model_to_buffer(m, &orig, &orig_len), MF_OK);
    size_t header_end = 8;
    for (int i = 7; i >= 0; i--) {
        header_end += (size_t) orig[i] << (8 * i);
    }
    uint64_t seed = 0x1234abcd9876ull;
    size_t n_ok = 0, n_err = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint64_t r = rng_next(&seed);
        uint8_t *buf = malloc(orig_len);
        memcpy(buf, orig, orig_len);
        size_t len = orig_len;
        switch (r % 4) {
        case 0: /* one byte of the header */
            buf[8 + (r >> 8) % (header_end - 8)] = (uint8_t) (r >> 40);
            break;
        case 1: /* one byte anywhere (data bytes may make NaN or Inf) */
            buf[(r >> 8) % orig_len] = (uint8_t) (r >> 40);
            break;
        case 2: /* truncation */
            len = (r >> 8) % orig_len;
            break;
        default: /* a digit of the header changed to another digit */
            for (size_t k = 0; k < header_end; k++) {
                size_t at = 8 + ((r >> 8) + k) % (header_end - 8);
                if (buf[at] >= '0' && buf[at] <= '9') {
                    buf[at] = (uint8_t) ('0' + (r >> 40) % 10);
                    break;
                }
            }
            break;
        }
        uint8_t *exact = malloc(len > 0 ? len : 1); /* exact size: ASan sees any over-read */
        memcpy(exact, buf, len);
        mf_model *out = NULL;
        mf_diag d = {0};
        mf_err rc = mf_model_load_buffer(exact, len, &out, &d);
        if (rc == MF_OK) {
            ck_assert_ptr_nonnull(out);
            mf_model_free(out);
            n_ok++;
        } else {
            ck_assert_msg(rc == MF_EFORMAT, "iteration %d: %s (%s)", iter, mf_err_name(rc), d.msg);
            ck_assert(d.msg[0] != '\0');
            n_err++;
        }
        free(exact);
        free(buf);
    }
    ck_assert_uint_gt(n_ok, 1000);
    ck_assert_uint_gt(n_err, 1000);
    free(orig);
    mf_model_free(m);
}

END_TEST

static Suite *model_file_suite(void)
{
    Suite *s = suite_create("model_file");

    TCase *tc = tcase_create("meta");
    tcase_add_test(tc, test_new);
    tcase_add_test(tc, test_new_errors);
    tcase_add_test(tc, test_set_meta);
    tcase_add_test(tc, test_set_created);
    tcase_add_test(tc, test_derive);
    suite_add_tcase(s, tc);

    tc = tcase_create("round_trip");
    tcase_add_test(tc, test_buffer_round_trip);
    tcase_add_test(tc, test_foreign_layout);
    tcase_add_test(tc, test_file_round_trip);
    tcase_add_test(tc, test_shipped_bytes);
    tcase_add_test(tc, test_reward_model_round_trip);
    tcase_add_test(tc, test_cond_and_reward_setters);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_loop_test(tc, test_invalid_model, 0,
                        (int) (sizeof model_cases / sizeof model_cases[0]));
    tcase_add_test(tc, test_valid_variants);
    tcase_add_test(tc, test_quantile_texts);
    suite_add_tcase(s, tc);

    tc = tcase_create("fuzz");
    tcase_add_loop_test(tc, test_mutations_never_crash, 0, 3);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(model_file_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
