/* SPDX-License-Identifier: MIT */
/*
 * dataset.h - the built-in data sets, generated in code from a seed (digits:
 * a shipped table with a fixed train/held-out split).
 *
 * Determinism.  Point i of a generated set is a pure function of (rng, i): it
 * reads uniform variates 4i..4i+3 of the stream derive(derive(rng, TRAIN), U)
 * and normal variates K i .. K i + K-1 of derive(derive(rng, TRAIN), N) (K = 4
 * in 2-D, 16 for linear_subspace); a digits draw is the train row
 * mf_rng_below(U stream, i, 1500).  So sample(first = 0, n = 1000) equals
 * sample(0, 400) followed by sample(400, 600), whatever the split or thread.
 * The held-out set uses the same construction on a fixed seed
 * (MF_DATASET_HELDOUT_SEED) and a different tag (HELDOUT instead of TRAIN), so
 * it is a different stream from the training stream of every seed, that one
 * included.
 *
 * The sets ("data space" is what mf_dataset_sample returns; g = standard
 * normal, u = uniform on [0,1), each fresh per use):
 *
 *   gaussian           x = s g, s = MF_DATASET_GAUSSIAN_STD = 0.5: N(0, 0.25 I_2).
 *   eight_gaussians    j = floor(8u); x = (4 (cos 45°j, sin 45°j) + 0.5 g) / 1.414
 *                      (DxMI/MPDR's toy; centres at radius 2.829, mode std 0.354,
 *                      entropy 2.829 nats).
 *   imbalanced_square  with probability 0.8 uniform on [-0.25,0.25]^2, else uniform on
 *                      [-1,1]^2 minus that square (drawn exactly: one of the four
 *                      rectangles around it, by area, then uniform inside).  Entropy
 *                      -0.344 nats; the uniform law on the support has log 4.
 *   two_moons          sklearn make_moons with uniform angles: a = pi u, upper moon
 *                      (cos a, sin a) or lower moon (1 - cos a, 0.5 - sin a) with
 *                      probability 1/2 each, plus 0.05 g (sklearn's noise), then
 *                      x = 1.25 (p - (0.5, 0.25)): mean 0, inside about [-2,2]x[-1,1].
 *   swiss_roll         t = 1.5 pi (1 + 2u) in [1.5 pi, 4.5 pi] (sklearn's make_swiss_roll
 *                      parametrisation), x = (t cos t + 0.5 g1, t sin t + 0.5 g2) / 7:
 *                      about [-1.4,1.8] x [-1.6,2.1], noise std 0.071.
 *   checkerboard       FFJORD's checkerboard scaled by 1/2: x1 = 4u1 - 2,
 *                      x2 = u2 - 2 [u3 < 1/2] + (floor(x1) mod 2): uniform on the 8 unit
 *                      squares of [-2,2]^2 with floor(x1) + floor(x2) even (entropy log 8).
 *   pinwheel           FFJORD's pinwheel scaled by 1/2: arm k = floor(5u), f = (1 + 0.3 g1,
 *                      0.1 g2), angle a = 2 pi k / 5 + 0.25 exp(f1),
 *                      x = (f1 cos a + f2 sin a, -f1 sin a + f2 cos a): five arms,
 *                      radius mostly below 2.
 *   ring               phi = 2 pi u, x = 2 (cos phi, sin phi) + 0.02 g
 *                      (reference/other-seeds.md §1.6).
 *   linear_subspace    x = A z in 64-D, z ~ N(0, I_16), A = 16 orthonormal columns
 *                      (mf_dataset_linear_subspace_basis; reference/other-seeds.md §1.5);
 *                      its reward is theta^T x, theta = A beta, |beta| = 1
 *                      (mf_dataset_linear_subspace_theta).
 *   digits             a uniformly drawn row (with replacement) of the 1,500-image
 *                      TRAIN split; data space is the raw pixel value 0..16.
 *
 * Digits split.  perm = identity on 0..1796; for k = 1796 down to 1:
 * j = mf_rng_below(mf_rng_make(MF_DATASET_DIGITS_SPLIT_SEED), k, k + 1), swap perm[k] and
 * perm[j].  Held-out = the images perm[0..296], train = the other 1,500; both listed in
 * increasing original index (the order of sklearn's digits.csv.gz).
 *
 * Thread-safety: every function is reentrant and touches only its arguments.
 */
#ifndef MF_DATASET_H
#define MF_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

typedef enum mf_dataset_id {
    MF_DATASET_GAUSSIAN,
    MF_DATASET_EIGHT_GAUSSIANS,
    MF_DATASET_IMBALANCED_SQUARE,
    MF_DATASET_TWO_MOONS,
    MF_DATASET_SWISS_ROLL,
    MF_DATASET_CHECKERBOARD,
    MF_DATASET_PINWHEEL,
    MF_DATASET_RING,
    MF_DATASET_LINEAR_SUBSPACE,
    MF_DATASET_DIGITS,
} mf_dataset_id;

/* Number of ids: they are 0 .. MF_DATASET_COUNT - 1. */
#define MF_DATASET_COUNT 10

#define MF_DATASET_GAUSSIAN_STD 0.5

/* eight_gaussians (DxMI/MPDR): (RADIUS (cos, sin)(45 deg j) + NOISE g) / DIV. */
#define MF_DATASET_EIGHT_RADIUS 4.0
#define MF_DATASET_EIGHT_NOISE  0.5
#define MF_DATASET_EIGHT_DIV    1.414

/* linear_subspace: ambient and latent dimension. */
#define MF_DATASET_SUBSPACE_D 64
#define MF_DATASET_SUBSPACE_K 16

/* digits: 8x8 images; split sizes. */
#define MF_DATASET_DIGITS_D         64
#define MF_DATASET_DIGITS_N         1797
#define MF_DATASET_DIGITS_N_HELDOUT 297
#define MF_DATASET_DIGITS_N_TRAIN   1500

/* Fixed seeds (documented constants; changing one changes the data). */
#define MF_DATASET_HELDOUT_SEED      UINT64_C(0x6d662d68656c646f) /* held-out streams */
#define MF_DATASET_SUBSPACE_SEED     UINT64_C(20230713)           /* the basis A */
#define MF_DATASET_DIGITS_SPLIT_SEED UINT64_C(1797)               /* the digits split */

/**
 * The id of a data set name ("eight_gaussians", ...: the names of the table
 * above).  Errors: MF_EINVAL (name NULL), MF_ENOTFOUND (unknown name).
 * *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_dataset_lookup(const char *name, mf_dataset_id *ret);

/** The name of an id (static string), or NULL for an invalid id. */
const char *mf_dataset_name(mf_dataset_id id);

/** Dimension D of a point: 2, or 64 for linear_subspace and digits; 0 for an invalid id. */
size_t mf_dataset_dim(mf_dataset_id id);

/**
 * Recommended model normalisation x_model = (x - offset) / scale (scalars): digits
 * (8, 8), which maps pixels 0..16 to [-1, 1]; (0, 1) for every other set (their
 * data space is already of order 1).  Invalid id: (0, 1).
 */
void mf_dataset_norm(mf_dataset_id id, float *ret_offset, float *ret_scale);

/**
 * Training points first_index .. first_index + n - 1 of the stream of rng.
 * out: (n, D) row-major, D = mf_dataset_dim(id).  Point i depends only on
 * (rng, first_index + i) (see the file comment).  n = 0 is allowed and writes
 * nothing.  Errors: MF_EINVAL (invalid id, out NULL with n > 0), MF_ERANGE (index
 * range or n x D overflows).  out is written only on success.
 */
MF_MUST_CHECK mf_err mf_dataset_sample(mf_dataset_id id, mf_rng rng, uint64_t first_index,
                                       float *out, size_t n);

/**
 * The first n points of the held-out set: for the generated sets points 0..n-1
 * of the fixed held-out stream (any n; a prefix of a longer call), for digits the
 * first n rows of the held-out split (n <= 297).  out: (n, D).  Errors: MF_EINVAL
 * (invalid id, out NULL with n > 0), MF_ERANGE (digits n > 297, n x D overflow).
 */
MF_MUST_CHECK mf_err mf_dataset_heldout(mf_dataset_id id, float *out, size_t n);

/**
 * Counts the points of x (n, D) that lie in the known support of the set grown by
 * margin >= 0: imbalanced_square: max_i |x_i| <= 1 + margin; checkerboard: within
 * margin of one of its 8 squares in every coordinate; ring: | |x| - 2 | <= margin;
 * linear_subspace: |(I - A A^T) x| <= margin.  Errors: MF_EINVAL (invalid id, x NULL
 * with n > 0, margin < 0 or NaN), MF_ENOTFOUND (a set without a bounded support or
 * manifold: gaussian, eight_gaussians, two_moons, swiss_roll, pinwheel, digits).
 * *ret_count is written only on success.
 */
MF_MUST_CHECK mf_err mf_dataset_count_in_support(mf_dataset_id id, const float *x, size_t n,
                                                 double margin, size_t *ret_count);

/**
 * The linear_subspace basis A: (64, 16) row-major, orthonormal columns: modified
 * Gram-Schmidt (done twice, in double) on the Gaussian columns
 * g_ij = normal variate 64 j + i of derive(mf_rng_make(MF_DATASET_SUBSPACE_SEED), BASIS).
 */
void mf_dataset_linear_subspace_basis(float *A_out);

/**
 * The linear_subspace reward direction theta = A beta (64), a unit vector in the
 * subspace: beta = g / |g|, g = normal variates 0..15 of
 * derive(mf_rng_make(MF_DATASET_SUBSPACE_SEED), BETA) (computed in double, rounded
 * once).  theta^T x ~ N(0, 1) on the data (reference/other-seeds.md §1.5).
 */
void mf_dataset_linear_subspace_theta(float *theta_out);

/**
 * The off-subspace deviation |(I - A A^T) x_i| of every row of x (n, 64), in
 * double: ret (n).  0 (to float rounding) on the data.
 */
void mf_dataset_linear_subspace_off(const float *x, size_t n, double *ret);

/**
 * The distance of every row of x (n, D) to the set's manifold, ret (n): linear_subspace
 * |(I - A A^T) x|, ring | |x| - 2 |.  Errors: MF_EINVAL (invalid id, x or ret NULL with
 * n > 0), MF_ENOTFOUND (any other set: none, or not a manifold with a simple distance).
 * ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_dataset_off_support(mf_dataset_id id, const float *x, size_t n,
                                            double *ret);

/**
 * The ground-truth reward of every row of x (n, D), ret (n), for the sets that define
 * one (the reward-directed diffusion oracles, reference/other-seeds.md §1.5-1.6):
 * linear_subspace theta^T x (mf_dataset_linear_subspace_theta), ring x_1 (the first
 * coordinate).  Errors: MF_EINVAL (invalid id, x or ret NULL with n > 0),
 * MF_ENOTFOUND (a set without one).  ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_dataset_true_reward(mf_dataset_id id, const float *x, size_t n,
                                            double *ret);

/**
 * Uniform dequantisation of integer-valued data (digits pixels): x[j] += u_j - 1/2,
 * u_j = uniform variate number (offset + j) of rng.  A density model of the
 * dequantised points gives an upper bound on the discrete model's bits per value
 * (Theis et al. 2016); a model trained on the exact integers has no such bound.
 * Point i of a batch uses variates D i .. D i + D - 1, so a batch split into rows is
 * the same as the whole.
 */
void mf_dataset_dequantise(mf_rng rng, uint64_t offset, float *x, size_t n);

/**
 * The training batch of optimiser step `step`, as manifold-train and the
 * daemon's train job both draw it: points step*batch .. step*batch + batch - 1
 * of the data stream derive(mf_rng_make(seed), "data"), dequantised from the
 * stream derive(data, "dq") when asked (variates offset step*batch*D), then
 * normalised x_model = (x - offset) / scale in float.  out: (batch, D).
 * Errors: those of mf_dataset_sample (out is then unspecified).
 */
MF_MUST_CHECK mf_err mf_dataset_train_batch(mf_dataset_id id, uint64_t seed, uint64_t step,
                                            size_t batch, bool dequantise, float offset,
                                            float scale, float *out);

/** Number of digits images in a split: 297 held-out, 1,500 train. */
size_t mf_dataset_digits_count(bool heldout);

/**
 * The images of a split in increasing original index.  out: (count, 64) pixel
 * values 0..16 as floats; labels_or_null: (count) labels 0..9, or NULL.
 */
void mf_dataset_digits_rows(bool heldout, float *out, uint8_t *labels_or_null);

/** The original indices (rows of sklearn's digits.csv.gz) of a split, increasing. out: (count). */
void mf_dataset_digits_indices(bool heldout, size_t *out);

#endif /* MF_DATASET_H */
