/* SPDX-License-Identifier: MIT */
/*
 * Golden test: the C forward and backward against PyTorch.
 * tests/golden/gen_golden.py built the networks with ../shared/bench/ref_torch.py
 * (the reference architecture), exported them as Manifold model files and
 * recorded eps(x, t), eps(x, 500) and the gradients of sum(g * eps) w.r.t. x
 * and every parameter.  The C forward must reproduce the outputs within 1e-5
 * (absolute, on outputs of order 1) and the gradients within 1e-4 relative to
 * their scale.  Fixtures live in $MF_TEST_DATA/golden.
 *
 * bf16 (core/bf16_net.c) against the same fixture, with a tolerance derived per output,
 * not guessed.  bf16 keeps 8 significant bits: rounding a value v to bf16 moves it by
 * delta v, |delta| <= u = 2^-8; the worst case (all errors aligned) allows bounds of
 * 0.85 and 7.2 on outputs of order 1 here, too loose to test anything.  The standard
 * probabilistic model instead (Higham, "Accuracy and Stability", ch. 2: independent
 * roundings, delta uniform on [-u, u], variance u^2 / 3): a bf16 layer rounds each input
 * and each weight, so its pre-activation errs by a variance of
 *     sum_i w_i^2 var(e_i) + (2 u^2 / 3) sum_i w_i^2 a_i^2
 * (the first term: errors it received), the activation multiplies the error by
 * SiLU'(z), and float layers (the first and last up to 8-D; layer 0's embedding part)
 * add no rounding.  Walking the network in double gives each output's sigma; every
 * output must lie within 6 sigma + 1e-5 (the fixture's own tolerance), and the largest
 * error must exceed 1 % of that (else bf16 did not run).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_net.h"
#include "mlp.h"
#include "model_file.h"
#include "safetensors.h"
#include "test_util.h"

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

/* Case i's model, and its fixture's tensors in *st over the file's bytes *buf. */
static mf_model *load_case(int i, uint8_t **buf, mf_safetensors **st)
{
    const char *dir = getenv("MF_TEST_DATA");
    char path[1024];
    mf_diag d = {0};
    mf_model *m = NULL;
    snprintf(path, sizeof path, "%s/golden/%s.model.safetensors", dir ? dir : "tests", cases[i]);
    mf_err err = mf_model_load_file(path, 1 << 26, &m, &d);
    ck_assert_msg(err == MF_OK, "%s: %s", path, d.msg);
    snprintf(path, sizeof path, "%s/golden/%s.fixture.safetensors", dir ? dir : "tests", cases[i]);
    size_t len;
    *buf = read_all(path, &len);
    ck_assert_int_eq(mf_safetensors_parse(*buf, len, st, &d), MF_OK);
    return m;
}

START_TEST(test_matches_pytorch)
{
    uint8_t *buf = NULL;
    mf_safetensors *st = NULL;
    mf_model *m = load_case(_i, &buf, &st);

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
        ck_assert_msg(e <= 1e-4 * scale, "%s %s: max |diff| %g scale %g", cases[_i], name, e,
                      scale);
        free(w);
        snprintf(name, sizeof name, "grad.layers.%zu.bias", i);
        float *b = tensor(st, name, nb);
        e = max_abs_diff(gp + net->b_off[i], b, nb, &scale);
        ck_assert_msg(e <= 1e-4 * scale, "%s %s: max |diff| %g scale %g", cases[_i], name, e,
                      scale);
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

/* The 6-sigma tolerance of the header for each of n rows at the shared t. */
static void bf16_bounds(const mf_mlp *net, const float *x, float t, size_t n, double *bound)
{
    size_t D = net->cfg.data_dim, k = net->cfg.n_hidden;
    bool thin = D <= 8;
    const double u2 = (1.0 / 256.0) * (1.0 / 256.0) / 3.0; /* variance of one rounding */
    float emb[256];
    mf_mlp_embed(net, t, emb);
    for (size_t r = 0; r < n; r++) {
        double a[1024], v[1024], z[1024], vz[1024];
        size_t width = net->in_dim[0];
        for (size_t i = 0; i < width; i++) {
            a[i] = i < D ? x[r * D + i] : emb[i - D];
            v[i] = 0;
        }
        for (size_t l = 0; l <= k; l++) {
            const float *W = net->params + net->w_off[l], *b = net->params + net->b_off[l];
            size_t in = net->in_dim[l], out = net->out_dim[l];
            bool bf16 = !(thin && (l == 0 || l == k));
            for (size_t o = 0; o < out; o++) {
                double acc = b[o], prop = 0, mag = 0;
                for (size_t i = 0; i < in; i++) {
                    double w = W[o * in + i];
                    acc += w * a[i];
                    prop += w * w * v[i];
                    /* layer 0's embedding part is float (hoisted): only x is rounded */
                    mag += (l == 0 && i >= D) ? 0 : w * w * a[i] * a[i];
                }
                z[o] = acc;
                vz[o] = prop + (bf16 ? 2.0 * u2 * mag : 0);
            }
            for (size_t o = 0; o < out; o++) {
                double s = 1.0 / (1.0 + exp(-z[o])), slope = s * (1.0 + z[o] * (1.0 - s));
                a[o] = l < k ? z[o] * s : z[o];
                v[o] = l < k ? slope * slope * vz[o] : vz[o];
            }
            width = out;
        }
        for (size_t o = 0; o < D; o++) {
            bound[r * D + o] = 6.0 * sqrt(v[o]) + 1e-5;
        }
    }
}

START_TEST(test_bf16_within_derived_bound)
{
    if (!mf_bf16_supported()) {
        return;
    }
    uint8_t *buf = NULL;
    mf_safetensors *st = NULL;
    mf_model *m = load_case(_i, &buf, &st);
    const mf_mlp *net = m->net;
    size_t D = net->cfg.data_dim, n = mf_safetensors_find(st, "t")->n_elems;
    float *x = tensor(st, "x", n * D), *want = tensor(st, "out_shared", n * D);
    float *out = calloc(n * D, sizeof(float));
    double *bound = calloc(n * D, sizeof(double));
    mf_bf16_net *b = NULL;
    ck_assert_int_eq(mf_bf16_net_new(net, n, &b), MF_OK);
    ck_assert_int_eq(mf_bf16_net_forward_shared_t(b, x, 500.0f, n, out), MF_OK);
    bf16_bounds(net, x, 500.0f, n, bound);
    double worst = 0, max_bound = 0;
    for (size_t j = 0; j < n * D; j++) {
        double err = fabs((double) out[j] - want[j]);
        ck_assert_msg(err <= bound[j], "%s output %zu: bf16 %g, PyTorch %g, bound %g", cases[_i], j,
                      out[j], want[j], bound[j]);
        worst = fmax(worst, err / bound[j]);
        max_bound = fmax(max_bound, bound[j]);
    }
    printf("%s bf16: largest error %.3f of its 6-sigma tolerance (tolerances up to %.3g)\n",
           cases[_i], worst, max_bound);
    ck_assert_msg(worst >= 0.01, "%s: bf16 errors are %g of the tolerance", cases[_i], worst);
    mf_bf16_net_free(b);
    free(x);
    free(want);
    free(out);
    free(bound);
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
    tcase_add_loop_test(tc, test_bf16_within_derived_bound, 0,
                        (int) (sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(golden_suite)
