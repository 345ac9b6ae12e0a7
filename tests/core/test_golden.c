/* SPDX-License-Identifier: MIT */
/*
 * Golden test: the C forward and backward against PyTorch.
 * tests/golden/gen_golden.py built the networks with ../shared/bench/ref_torch.py
 * (the reference architecture), exported them as Manifold model files and
 * recorded eps(x, t), eps(x, 500) and the gradients of sum(g * eps) w.r.t. x
 * and every parameter.  The C forward must reproduce the outputs within 1e-5
 * (absolute, on outputs of order 1) and the gradients within 1e-4 relative to
 * their scale.  Fixtures live in $MF_TEST_DATA/golden.
 */
#include "mlp.h"
#include "model_file.h"
#include "safetensors.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t) n);
    ck_assert_uint_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
    fclose(f);
    *len = (size_t) n;
    return buf;
}

static float *tensor(const mf_safetensors *st, const char *name, size_t expect_elems)
{
    const mf_safetensors_tensor *t = mf_safetensors_find(st, name);
    ck_assert_msg(t != NULL, "fixture lacks %s", name);
    ck_assert_uint_eq(t->n_elems, expect_elems);
    float *out = malloc(expect_elems * sizeof(float));
    mf_safetensors_tensor_read(t, out);
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n, double *scale)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs((double) a[i] - (double) b[i]));
        s = fmax(s, fabs((double) b[i]));
    }
    *scale = s;
    return m;
}

static const char *cases[] = {"ref_d2_h32", "ref_d64_h16"};

START_TEST(test_matches_pytorch)
{
    const char *dir = getenv("MF_TEST_DATA");
    char path[1024];
    mf_diag d = {0};
    mf_model *m = NULL;
    snprintf(path, sizeof path, "%s/golden/%s.model.safetensors", dir ? dir : "tests", cases[_i]);
    mf_err err = mf_model_load_file(path, 1 << 26, &m, &d);
    ck_assert_msg(err == MF_OK, "%s: %s", path, d.msg);
    snprintf(path, sizeof path, "%s/golden/%s.fixture.safetensors", dir ? dir : "tests", cases[_i]);
    size_t len;
    uint8_t *buf = read_all(path, &len);
    mf_safetensors *st = NULL;
    ck_assert_int_eq(mf_safetensors_parse(buf, len, &st, &d), MF_OK);

    const mf_mlp *net = m->net;
    size_t D = net->cfg.data_dim, n = mf_safetensors_find(st, "t")->n_elems;
    float *x = tensor(st, "x", n * D), *t = tensor(st, "t", n), *g = tensor(st, "g", n * D);
    float *want = tensor(st, "out", n * D), *want_shared = tensor(st, "out_shared", n * D);
    float *want_gx = tensor(st, "grad_x", n * D);
    float *out = calloc(n * D, sizeof(float)), *gx = calloc(n * D, sizeof(float));
    float *gp = calloc(net->n_params, sizeof(float));
    mf_mlp_ws *ws;
    ck_assert_int_eq(mf_mlp_ws_new(net, n, true, &ws), MF_OK);

    double scale, e;
    mf_mlp_forward_shared_t(net, ws, x, 500.0f, NULL, n, out);
    e = max_abs_diff(out, want_shared, n * D, &scale);
    ck_assert_msg(e <= 1e-5, "%s shared-t forward: max |diff| %g", cases[_i], e);

    mf_mlp_forward(net, ws, x, t, NULL, n, out);
    e = max_abs_diff(out, want, n * D, &scale);
    ck_assert_msg(scale > 0.3, "fixture outputs too small to mean anything");
    ck_assert_msg(e <= 1e-5, "%s forward: max |diff| %g (outputs up to %g)", cases[_i], e, scale);

    mf_mlp_backward(net, ws, g, n, gp, gx);
    e = max_abs_diff(gx, want_gx, n * D, &scale);
    ck_assert_msg(e <= 1e-4 * scale, "%s grad_x: max |diff| %g scale %g", cases[_i], e, scale);
    for (size_t i = 0; i < net->n_layers; i++) {
        char name[64];
        size_t nw = net->in_dim[i] * net->out_dim[i], nb = net->out_dim[i];
        snprintf(name, sizeof name, "grad.layers.%zu.weight", i);
        float *w = tensor(st, name, nw);
        e = max_abs_diff(gp + net->w_off[i], w, nw, &scale);
        ck_assert_msg(e <= 1e-4 * scale, "%s %s: max |diff| %g scale %g", cases[_i], name, e, scale);
        free(w);
        snprintf(name, sizeof name, "grad.layers.%zu.bias", i);
        float *b = tensor(st, name, nb);
        e = max_abs_diff(gp + net->b_off[i], b, nb, &scale);
        ck_assert_msg(e <= 1e-4 * scale, "%s %s: max |diff| %g scale %g", cases[_i], name, e, scale);
        free(b);
    }
    mf_mlp_ws_free(ws);
    free(x);
    free(t);
    free(g);
    free(want);
    free(want_shared);
    free(want_gx);
    free(out);
    free(gx);
    free(gp);
    mf_safetensors_free(st);
    free(buf);
    mf_model_free(m);
}
END_TEST

static Suite *golden_suite(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("pytorch");
    tcase_add_loop_test(tc, test_matches_pytorch, 0, (int) (sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(golden_suite)
