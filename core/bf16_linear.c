/* SPDX-License-Identifier: MIT */
/*
 * bf16_linear.c - a linear layer in bf16 on oneDNN's matmul (bf16_linear.h).
 *
 * oneDNN's matmul computes dst (M, N) = src (M, K) weights (K, N) + bias (1, N): our
 * W (out, in) row-major is weights in "ba" order (K = in, N = out), which the one
 * reorder at creation turns into the primitive's blocked bf16 layout ("any").
 */
#include "bf16_linear.h"

#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* libgomp (oneDNN's runtime here): the calling thread's next parallel regions. */
void omp_set_num_threads(int n);

#define MAX_SHAPES 8 /* primitives per layer: one per row count seen */

typedef struct shape {
    size_t rows;
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst; /* handles set per call */
} shape;

struct mf_bf16_linear {
    size_t out, in, max_rows;
    mf_bf16_linear_opts o;
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_memory_t w, b; /* reordered weights (owned by oneDNN), float bias */
    dnnl_memory_desc_t w_md;
    shape shapes[MAX_SHAPES];
    size_t n_shapes;
    mf_bf16 *xin; /* (max_rows, in) the float input rounded to bf16 */
    bool native;  /* the CPU converts to bf16 itself (mf_bf16_supported) */
    float *bias;  /* (out) */
};

mf_bf16 mf_bf16_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0) {
        return (mf_bf16) ((u >> 16) | 0x40u); /* NaN stays a (quiet) NaN */
    }
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even */
    return (mf_bf16) (u >> 16);
}

float mf_bf16_to_float(mf_bf16 h)
{
    uint32_t u = (uint32_t) h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/*
 * n floats to bf16, 16 at a time with AVX-512 BF16's vcvtneps2bf16 (round to nearest
 * even, as mf_bf16_from_float; it reads denormals as zero, which no network value here
 * is near: the smallest normal float is 1e-38).  Only called where mf_bf16_supported.
 */
__attribute__((target("avx512f,avx512bf16"))) static void convert_avx512(const float *x, size_t n,
                                                                         mf_bf16 *y)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
        _mm256_storeu_si256((__m256i *) (y + i), (__m256i) h);
    }
    for (; i < n; i++) {
        y[i] = mf_bf16_from_float(x[i]);
    }
}

/*
 * exp(v) for the SiLU below, to about 3e-6 relative: exp(v) = 2^n 2^f, n = round(v log2 e),
 * |f| <= 1/2, 2^f = e^g (g = f ln 2, |g| <= 0.35) by its Taylor series to g^5 (the
 * remainder g^6/720 <= 2.5e-6), 2^n by scalef (which saturates to 0 and inf).
 */
__attribute__((target("avx512f"))) static inline __m512 exp_avx512(__m512 v)
{
    __m512 t = _mm512_mul_ps(v, _mm512_set1_ps(1.44269504f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 g = _mm512_mul_ps(_mm512_sub_ps(t, n), _mm512_set1_ps(0.693147181f));
    __m512 p = _mm512_set1_ps(1.0f / 120);
    p = _mm512_fmadd_ps(p, g, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, g, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, g, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, g, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, g, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void
mf_bf16_thin_in_silu(mf_bf16 *out, const float *x, size_t d, const float *wt, const float *u,
                     size_t n, size_t h)
{
    for (size_t j = 0; j < h; j += 16) {
        size_t lanes = h - j < 16 ? h - j : 16;
        __mmask16 m = (__mmask16) ((1u << lanes) - 1u);
        __m512 wk[MF_BF16_THIN_MAX_D];
        for (size_t k = 0; k < d; k++) {
            wk[k] = _mm512_maskz_loadu_ps(m, wt + k * h + j);
        }
        __m512 uj = _mm512_maskz_loadu_ps(m, u + j);
        for (size_t r = 0; r < n; r++) {
            __m512 z = uj;
            for (size_t k = 0; k < d; k++) {
                z = _mm512_fmadd_ps(_mm512_set1_ps(x[r * d + k]), wk[k], z);
            }
            /* silu(z) = z / (1 + exp(-z)); the reciprocal to 2^-14, far below bf16's 2^-8 */
            __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), z));
            __m512 y = _mm512_mul_ps(z, _mm512_rcp14_ps(_mm512_add_ps(e, _mm512_set1_ps(1.0f))));
            __m256i yb = (__m256i) _mm512_cvtneps_pbh(y);
            if (lanes == 16) {
                _mm256_storeu_si256((__m256i *) (out + r * h + j), yb);
            } else {
                _mm256_mask_storeu_epi16(out + r * h + j, m, yb);
            }
        }
    }
}

bool mf_bf16_supported(void)
{
    /* MF_NO_BF16 set: as on a CPU without bf16 (tests of that path, float comparisons) */
    return __builtin_cpu_supports("avx512bf16") != 0 && getenv("MF_NO_BF16") == NULL;
}

static bool ok(dnnl_status_t s)
{
    return s == dnnl_success;
}

void mf_bf16_linear_free(mf_bf16_linear *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->n_shapes; i++) {
        dnnl_primitive_destroy(l->shapes[i].prim);
        dnnl_memory_destroy(l->shapes[i].src);
        dnnl_memory_destroy(l->shapes[i].dst);
    }
    dnnl_memory_destroy(l->w);
    dnnl_memory_destroy(l->b);
    if (l->stream != NULL) {
        dnnl_stream_destroy(l->stream);
    }
    if (l->eng != NULL) {
        dnnl_engine_destroy(l->eng);
    }
    mf_free_aligned(l->xin);
    mf_free_aligned(l->bias);
    free(l);
}

/* The primitive descriptor for `rows` rows (weights "any": oneDNN picks the layout). */
static dnnl_status_t make_pd(const mf_bf16_linear *l, size_t rows, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t src, w, b, dst;
    dnnl_dims_t sd = {(dnnl_dim_t) rows, (dnnl_dim_t) l->in};
    dnnl_dims_t wd = {(dnnl_dim_t) l->in, (dnnl_dim_t) l->out};
    dnnl_dims_t bd = {1, (dnnl_dim_t) l->out};
    dnnl_dims_t dd = {(dnnl_dim_t) rows, (dnnl_dim_t) l->out};
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab);
    if (ok(s)) {
        s = dnnl_memory_desc_init_by_tag(&w, 2, wd, dnnl_bf16, dnnl_format_tag_any);
    }
    if (ok(s)) {
        s = dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_f32, dnnl_ab);
    }
    if (ok(s)) {
        s = dnnl_memory_desc_init_by_tag(&dst, 2, dd, l->o.f32_output ? dnnl_f32 : dnnl_bf16,
                                         dnnl_ab);
    }
    dnnl_matmul_desc_t md;
    if (ok(s)) {
        s = dnnl_matmul_desc_init(&md, &src, &w, &b, &dst);
    }
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (ok(s)) {
        s = dnnl_primitive_attr_create(&attr);
    }
    if (ok(s) && l->o.silu) { /* swish with alpha 1: x sigmoid(x) */
        s = dnnl_post_ops_create(&po);
        if (ok(s)) {
            s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_swish, 1.0f, 0.0f);
        }
        if (ok(s)) {
            s = dnnl_primitive_attr_set_post_ops(attr, po);
        }
    }
    if (ok(s)) {
        s = dnnl_primitive_desc_create(pd, &md, attr, l->eng, NULL);
    }
    if (po != NULL) {
        dnnl_post_ops_destroy(po);
    }
    if (attr != NULL) {
        dnnl_primitive_attr_destroy(attr);
    }
    return s;
}

/* The primitive of `rows` rows, made on first use. */
static shape *shape_for(mf_bf16_linear *l, size_t rows, mf_err *err)
{
    for (size_t i = 0; i < l->n_shapes; i++) {
        if (l->shapes[i].rows == rows) {
            return &l->shapes[i];
        }
    }
    if (l->n_shapes == MAX_SHAPES) { /* evict the last made (the first is max_rows') */
        shape *v = &l->shapes[--l->n_shapes];
        dnnl_primitive_destroy(v->prim);
        dnnl_memory_destroy(v->src);
        dnnl_memory_destroy(v->dst);
    }
    shape *sh = &l->shapes[l->n_shapes];
    memset(sh, 0, sizeof *sh);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = make_pd(l, rows, &pd);
    if (ok(s)) {
        const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        /* the weights were reordered for max_rows' primitive; another count must agree */
        s = dnnl_memory_desc_equal(w, &l->w_md) ? dnnl_success : dnnl_unimplemented;
    }
    if (ok(s)) {
        s = dnnl_primitive_create(&sh->prim, pd);
    }
    if (ok(s)) {
        s = dnnl_memory_create(&sh->src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                               l->eng, DNNL_MEMORY_NONE);
    }
    if (ok(s)) {
        s = dnnl_memory_create(&sh->dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
                               l->eng, DNNL_MEMORY_NONE);
    }
    if (pd != NULL) {
        dnnl_primitive_desc_destroy(pd);
    }
    if (!ok(s)) {
        dnnl_primitive_destroy(sh->prim);
        dnnl_memory_destroy(sh->src);
        dnnl_memory_destroy(sh->dst);
        *err = s == dnnl_out_of_memory ? MF_ENOMEM : MF_EINTERNAL;
        return NULL;
    }
    sh->rows = rows;
    l->n_shapes++;
    return sh;
}

/* The weights in the layout max_rows' primitive chose: one reorder from float "ba". */
static dnnl_status_t load_weights(mf_bf16_linear *l, const float *w, size_t ld_w)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = make_pd(l, l->max_rows, &pd);
    if (!ok(s)) {
        return s;
    }
    l->w_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    /* W (out, in) with row stride ld_w is weights (in, out) with strides (1, ld_w) */
    dnnl_memory_desc_t user;
    dnnl_dims_t dims = {(dnnl_dim_t) l->in, (dnnl_dim_t) l->out};
    dnnl_dims_t strides = {1, (dnnl_dim_t) ld_w};
    s = dnnl_memory_desc_init_by_strides(&user, 2, dims, dnnl_f32, strides);
    dnnl_memory_t um = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    if (ok(s)) {
        s = dnnl_memory_create(&um, &user, l->eng, (void *) w);
    }
    if (ok(s)) {
        s = dnnl_memory_create(&l->w, &l->w_md, l->eng, DNNL_MEMORY_ALLOCATE);
    }
    if (ok(s)) {
        s = dnnl_reorder_primitive_desc_create(&rpd, &user, l->eng, &l->w_md, l->eng, NULL);
    }
    if (ok(s)) {
        s = dnnl_primitive_create(&reorder, rpd);
    }
    if (ok(s)) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, l->w}};
        s = dnnl_primitive_execute(reorder, l->stream, 2, args);
    }
    if (ok(s)) {
        s = dnnl_stream_wait(l->stream);
    }
    dnnl_primitive_destroy(reorder);
    if (rpd != NULL) {
        dnnl_primitive_desc_destroy(rpd);
    }
    dnnl_memory_destroy(um);
    return s;
}

/* Everything but the weights: engine, stream, bias, scratch (the weights are next). */
static mf_err layer_init(mf_bf16_linear *l, const float *b, size_t out, size_t in, size_t max_rows,
                         const mf_bf16_linear_opts *o)
{
    l->out = out;
    l->in = in;
    l->max_rows = max_rows;
    l->o = *o;
    l->native = mf_bf16_supported();
    if (!ok(dnnl_engine_create(&l->eng, dnnl_cpu, 0)) ||
        !ok(dnnl_stream_create(&l->stream, l->eng, dnnl_stream_default_flags))) {
        return MF_EINTERNAL;
    }
    if ((l->bias = mf_alloc_floats(out)) == NULL ||
        (o->f32_input && (l->xin = (mf_bf16 *) mf_alloc_floats((max_rows * in + 1) / 2)) == NULL)) {
        return MF_ENOMEM;
    }
    for (size_t j = 0; j < out; j++) {
        l->bias[j] = b != NULL ? b[j] : 0.0f;
    }
    dnnl_memory_desc_t bmd;
    dnnl_dims_t bd = {1, (dnnl_dim_t) out};
    if (!ok(dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab)) ||
        !ok(dnnl_memory_create(&l->b, &bmd, l->eng, l->bias))) {
        return MF_EINTERNAL;
    }
    return MF_OK;
}

/* The layer's own primitive for max_rows rows, then *ret; or the layer freed. */
static mf_err layer_finish(mf_bf16_linear *l, mf_err err, mf_bf16_linear **ret)
{
    if (err == MF_OK && shape_for(l, l->max_rows, &err) == NULL) {
        err = err != MF_OK ? err : MF_EINTERNAL;
    }
    if (err != MF_OK) {
        mf_bf16_linear_free(l);
        return err;
    }
    *ret = l;
    return MF_OK;
}

mf_err mf_bf16_linear_new(const float *w, size_t ld_w, const float *b, size_t out, size_t in,
                          size_t max_rows, const mf_bf16_linear_opts *o, mf_bf16_linear **ret)
{
    if (w == NULL || out == 0 || in == 0 || max_rows == 0 || ld_w < in || o == NULL ||
        ret == NULL) {
        return MF_EINVAL;
    }
    mf_bf16_linear *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return MF_ENOMEM;
    }
    /* oneDNN plans a primitive for the threads it has when it is made: the call's */
    omp_set_num_threads(o->threads > 0 ? o->threads : 1);
    mf_err err = layer_init(l, b, out, in, max_rows, o);
    if (err == MF_OK && !ok(load_weights(l, w, ld_w))) {
        err = MF_EINTERNAL;
    }
    return layer_finish(l, err, ret);
}

mf_err mf_bf16_linear_new_like(const mf_bf16_linear *proto, size_t max_rows, mf_bf16_linear **ret)
{
    if (proto == NULL || max_rows == 0 || ret == NULL) {
        return MF_EINVAL;
    }
    mf_bf16_linear *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return MF_ENOMEM;
    }
    omp_set_num_threads(proto->o.threads > 0 ? proto->o.threads : 1);
    mf_err err = layer_init(l, proto->bias, proto->out, proto->in, max_rows, &proto->o);
    void *wp = NULL;
    if (err == MF_OK) { /* a memory of our own over proto's reordered weights (not copied) */
        l->w_md = proto->w_md;
        if (!ok(dnnl_memory_get_data_handle(proto->w, &wp)) ||
            !ok(dnnl_memory_create(&l->w, &l->w_md, l->eng, wp))) {
            err = MF_EINTERNAL;
        }
    }
    return layer_finish(l, err, ret);
}

mf_err mf_bf16_warm_up(void)
{
    if (!mf_bf16_supported()) {
        return MF_OK;
    }
    float w[64 * 64] = {0}, x[16 * 64] = {0}, y[16 * 64];
    mf_bf16_linear_opts o = {.silu = true, .f32_input = true, .f32_output = true};
    mf_bf16_linear *l = NULL;
    mf_err err = mf_bf16_linear_new(w, 64, NULL, 64, 64, 16, &o, &l);
    if (err == MF_OK) {
        err = mf_bf16_linear_run(l, x, 16, y);
    }
    mf_bf16_linear_free(l);
    return err;
}

void mf_bf16_linear_set_bias(mf_bf16_linear *l, const float *b)
{
    memcpy(l->bias, b, l->out * sizeof(float)); /* the bias memory reads this buffer */
}

mf_err mf_bf16_linear_run(mf_bf16_linear *l, const void *x, size_t rows, void *y)
{
    if (rows == 0 || rows > l->max_rows || x == NULL || y == NULL) {
        return MF_EINVAL;
    }
    /* this thread alone: the caller's team splits the rows (unless asked otherwise); set
     * before a new row count's primitive is made, which oneDNN plans for these threads */
    omp_set_num_threads(l->o.threads > 0 ? l->o.threads : 1);
    mf_err err = MF_OK;
    shape *sh = shape_for(l, rows, &err);
    if (sh == NULL) {
        return err;
    }
    const void *src = x;
    if (l->o.f32_input) { /* round the float input to bf16 */
        if (l->native) {
            convert_avx512(x, rows * l->in, l->xin);
        } else { /* oneDNN emulates bf16 on this CPU: tests and benchmarks only */
            for (size_t i = 0; i < rows * l->in; i++) {
                l->xin[i] = mf_bf16_from_float(((const float *) x)[i]);
            }
        }
        src = l->xin;
    }
    dnnl_status_t s = dnnl_memory_set_data_handle(sh->src, (void *) src);
    if (ok(s)) {
        s = dnnl_memory_set_data_handle(sh->dst, y);
    }
    if (ok(s)) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, sh->src},
                                   {DNNL_ARG_WEIGHTS, l->w},
                                   {DNNL_ARG_BIAS, l->b},
                                   {DNNL_ARG_DST, sh->dst}};
        s = dnnl_primitive_execute(sh->prim, l->stream, 4, args);
    }
    if (ok(s)) {
        s = dnnl_stream_wait(l->stream);
    }
    return ok(s) ? MF_OK : MF_EINTERNAL;
}
