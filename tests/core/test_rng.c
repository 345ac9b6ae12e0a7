/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/rng.c: Philox4x32-10 known-answer vectors (Random123's
 * kat_vectors), counter-based split invariance, and moments of the variates.
 */
#include "rng.h"

#include "test_util.h"

#include <math.h>
#include <string.h>

START_TEST(test_known_answers)
{
    /* Random123 kat_vectors, philox4x32 10 rounds: (ctr, key) -> out. Our counter
     * is (block lo, block hi, stream lo, stream hi) and the key is the seed. */
    static const struct {
        uint32_t ctr[4];
        uint32_t key[2];
        uint32_t out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        mf_rng r = {.seed = (uint64_t) kat[i].key[1] << 32 | kat[i].key[0],
                    .stream = (uint64_t) kat[i].ctr[3] << 32 | kat[i].ctr[2]};
        uint32_t out[4];
        mf_rng_block(r, (uint64_t) kat[i].ctr[1] << 32 | kat[i].ctr[0], out);
        for (int j = 0; j < 4; j++) {
            ck_assert_msg(out[j] == kat[i].out[j], "kat %zu word %d: %08x != %08x", i, j, out[j],
                          kat[i].out[j]);
        }
    }
}
END_TEST

START_TEST(test_split_invariance)
{
    mf_rng r = mf_rng_derive(mf_rng_make(1234), 7);
    float whole[103], part[103];
    mf_rng_normal(r, 5, whole, 103);
    mf_rng_normal(r, 5, part, 1);
    mf_rng_normal(r, 6, part + 1, 40);
    mf_rng_normal(r, 46, part + 41, 62);
    ck_assert_mem_eq(whole, part, sizeof whole);
    mf_rng_uniform(r, 3, whole, 103);
    mf_rng_uniform(r, 3, part, 50);
    mf_rng_uniform(r, 53, part + 50, 53);
    ck_assert_mem_eq(whole, part, sizeof whole);
}
END_TEST

START_TEST(test_streams_differ)
{
    float a[16], b[16], c[16];
    mf_rng_normal(mf_rng_make(1), 0, a, 16);
    mf_rng_normal(mf_rng_make(2), 0, b, 16);
    mf_rng_normal(mf_rng_derive(mf_rng_make(1), 1), 0, c, 16);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert(memcmp(a, c, sizeof a) != 0);
    /* derive is not commutative */
    mf_rng x = mf_rng_derive(mf_rng_derive(mf_rng_make(9), 1), 2);
    mf_rng y = mf_rng_derive(mf_rng_derive(mf_rng_make(9), 2), 1);
    ck_assert(x.stream != y.stream);
}
END_TEST

START_TEST(test_moments)
{
    enum { N = 400000 };
    static float z[N];
    mf_rng r = mf_rng_make(42);
    mf_rng_normal(r, 0, z, N);
    double m1 = 0, m2 = 0, m4 = 0;
    for (size_t i = 0; i < N; i++) {
        double v = z[i];
        m1 += v;
        m2 += v * v;
        m4 += v * v * v * v;
    }
    m1 /= N;
    m2 /= N;
    m4 /= N;
    /* standard errors: mean 1/sqrt(N) = 0.0016, var sqrt(2/N) = 0.0022, 4th moment sqrt(96/N) = 0.015 */
    ck_assert_double_eq_tol(m1, 0.0, 0.008);
    ck_assert_double_eq_tol(m2, 1.0, 0.011);
    ck_assert_double_eq_tol(m4, 3.0, 0.08);

    mf_rng_uniform(r, 0, z, N);
    double s = 0, lo = 1, hi = 0;
    for (size_t i = 0; i < N; i++) {
        s += z[i];
        lo = fmin(lo, z[i]);
        hi = fmax(hi, z[i]);
    }
    ck_assert_double_eq_tol(s / N, 0.5, 0.003); /* se 0.00046 */
    ck_assert(lo >= 0.0 && hi < 1.0);

    double su = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        double u = mf_rng_uniform_f64(r, i);
        ck_assert(u >= 0.0 && u < 1.0);
        su += u;
    }
    ck_assert_double_eq_tol(su / 100000, 0.5, 0.005);
}
END_TEST

START_TEST(test_below)
{
    /* Uniform on 0..6: chi-square over 70000 draws with 6 dof stays < 22.5 (p = 0.001). */
    enum { B = 7, N = 70000 };
    size_t count[B] = {0};
    mf_rng r = mf_rng_make(5);
    for (uint64_t i = 0; i < N; i++) {
        uint32_t v = mf_rng_below(r, i, B);
        ck_assert_uint_lt(v, B);
        count[v]++;
    }
    double chi2 = 0, expect = (double) N / B;
    for (int b = 0; b < B; b++) {
        chi2 += ((double) count[b] - expect) * ((double) count[b] - expect) / expect;
    }
    ck_assert_double_lt(chi2, 22.5);
    ck_assert_uint_eq(mf_rng_below(r, 3, 1), 0);
}
END_TEST

static Suite *rng_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("philox");
    tcase_add_test(tc, test_known_answers);
    tcase_add_test(tc, test_split_invariance);
    tcase_add_test(tc, test_streams_differ);
    tcase_add_test(tc, test_moments);
    tcase_add_test(tc, test_below);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(rng_suite)
