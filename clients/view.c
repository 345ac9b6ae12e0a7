/* SPDX-License-Identifier: MIT */
/*
 * view.c - the lines of finetune.smeme, finetune.reward and finetune.dxmi
 * metrics events (see view.h).
 *
 * The tables (explore's iterations, steer's targets) are printed a row at a
 * time, as each event arrives, so their columns have fixed widths (numbers
 * right-aligned, as in a samples table, "-" for a missing one) rather than
 * the widths of their widest cell; the header, the names with their units,
 * comes with the first row.  Which columns the target table has is settled
 * by that first row: the distance to the manifold when the data set has a
 * known one (a built-in set), else the kNN distance of the samples to the
 * data next to that of the held-out rows.
 */
#include "view.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "output.h"

#define COL          12 /* characters of a table column ... */
#define COL_ACHIEVED 20 /* ... and of "mean±std" */
#define MAX_COLS     8
#define CELL         48         /* bytes of a cell */
#define PLUS_MINUS   "\xc2\xb1" /* "±" in UTF-8: two bytes, one column */

#define MAX_PATH 3 /* keys of a number's path */

/* The number at path (MAX_PATH keys at most, NULL after the last), or NAN. */
static double num_path(const json_t *o, const char *const *path)
{
    for (size_t k = 0; k < MAX_PATH && path[k] != NULL && o != NULL; k++) {
        o = json_object_get(o, path[k]);
    }
    return json_is_number(o) ? json_number_value(o) : (double) NAN;
}

/* A number at a path of JSON objects ("a", "b", NULL), or NAN. */
static double num_at(const json_t *o, ...)
{
    va_list ap;
    va_start(ap, o);
    for (const char *k = va_arg(ap, const char *); k != NULL && o != NULL;
         k = va_arg(ap, const char *)) {
        o = json_object_get(o, k);
    }
    va_end(ap);
    return json_is_number(o) ? json_number_value(o) : (double) NAN;
}

static void put_num(FILE *f, const char *name, double v)
{
    if (isfinite(v)) {
        fprintf(f, "  %s %.4g", name, v);
    } else {
        fprintf(f, "  %s -", name);
    }
}

/* A count in full (%.4g would write 16384 as 1.638e+04). */
static void put_count(FILE *f, const char *name, double v)
{
    if (isfinite(v)) {
        fprintf(f, "  %s %.0f", name, v);
    } else {
        fprintf(f, "  %s -", name);
    }
}

/* One cell: v with 4 digits, "-" when not finite. */
static void cell(char *buf, size_t cap, double v)
{
    if (isfinite(v)) {
        snprintf(buf, cap, "%.4g", v);
    } else {
        snprintf(buf, cap, "-");
    }
}

/* A row of n cells, each right-aligned in its width, two spaces apart. */
static void put_row(FILE *f, char (*cells)[CELL], const int *widths, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        /* printf pads by bytes: "±" takes two for one column */
        int width = widths[k] + (strstr(cells[k], PLUS_MINUS) != NULL);
        fprintf(f, "%s%*s", k > 0 ? "  " : "", width, cells[k]);
    }
    fputc('\n', f);
}

/* The columns of explore's table after "iter": a header with its unit, the number's path. */
static const struct {
    const char *name;
    const char *path[MAX_PATH];
} iter_cols[] = {
    {"alpha", {"alpha"}},
    {"loss", {"loss"}},
    {"knn_entropy[nats]", {"metrics", "entropy_knn", "value"}},
    {"hist_entropy[nats]", {"metrics", "entropy_hist", "value"}},
    {"vendi", {"metrics", "vendi", "q2"}},
    {"inside[frac]", {"metrics", "support", "inside"}},
    {"sw2_parent", {"metrics", "sw2", "value"}},
    {"log_p_parent[nats]", {"log_density_parent", "mean"}},
};

#define N_ITER_COLS (1 + sizeof iter_cols / sizeof iter_cols[0])
#define NUM_WIDTH   10 /* "-1.234e-05": the widest %.4g */

static void iter_widths(int *w)
{
    w[0] = 4; /* "iter" */
    for (size_t k = 1; k < N_ITER_COLS; k++) {
        int len = (int) strlen(iter_cols[k - 1].name);
        w[k] = len > NUM_WIDTH ? len : NUM_WIDTH;
    }
}

/*
 * A finetune.smeme iteration (its metrics event has "iteration"): a row of
 * the iteration table, iteration 0 being the parent (no alpha, loss or
 * distance to itself), so the columns read as a trend; the header first.
 */
static void print_iteration(mf_view *v, FILE *f, const json_t *data)
{
    char c[N_ITER_COLS][CELL];
    int w[N_ITER_COLS];
    iter_widths(w);
    if (!v->iter_table) {
        snprintf(c[0], sizeof c[0], "iter");
        for (size_t k = 1; k < N_ITER_COLS; k++) {
            snprintf(c[k], sizeof c[k], "%s", iter_cols[k - 1].name);
        }
        put_row(f, c, w, N_ITER_COLS);
        v->iter_table = true;
    }
    snprintf(c[0], sizeof c[0], "%lld",
             (long long) json_integer_value(json_object_get(data, "iteration")));
    for (size_t k = 1; k < N_ITER_COLS; k++) {
        cell(c[k], sizeof c[k], num_path(data, iter_cols[k - 1].path));
    }
    put_row(f, c, w, N_ITER_COLS);
}

/*
 * A finetune.dxmi evaluation (its metrics event has "iteration" and "eval"):
 * one line, iteration 0 being the un-tuned few-step sampler; SW2 beside its
 * two-sample floor and their ratio, the energy AUC, the CD gap.
 */
static void print_dxmi(FILE *f, const json_t *data)
{
    const json_t *e = json_object_get(data, "eval");
    json_int_t k = json_integer_value(json_object_get(data, "iteration"));
    fprintf(f, "iteration %lld%s", (long long) k, k == 0 ? " (un-tuned)" : "");
    put_num(f, "sw2", num_at(e, "sw2", NULL));
    put_num(f, "floor", num_at(e, "sw2_floor", NULL));
    put_num(f, "ratio", num_at(e, "sw2_ratio", NULL));
    put_num(f, "energy_auc", num_at(e, "energy_auc", NULL));
    put_num(f, "entropy_knn", num_at(e, "entropy_knn", "value", NULL));
    put_count(f, "modes", num_at(e, "modes", "covered", NULL));
    put_num(f, "cd_gap", num_at(data, "ebm", "cd_gap", NULL));
    fputc('\n', f);
}

/* The reward model's fit, the pseudo-labels and the rows, on one line. */
static void print_reward_model(FILE *f, const json_t *data)
{
    static const char *const rows[] = {"unlabelled", "labelled", "heldout", "train"};
    const json_t *rm = json_object_get(data, "reward_model");
    const char *kind = json_string_value(json_object_get(rm, "kind"));
    fputs("reward model ", f);
    mf_out_clean(f, kind != NULL ? kind : "-", 32);
    put_num(f, "val_r2", num_at(rm, "val_r2", NULL));
    put_num(f, "train_mse", num_at(rm, "train_mse", NULL));
    put_num(f, "pseudo_mean", num_at(data, "pseudo_labels", "mean", NULL));
    put_num(f, "pseudo_std", num_at(data, "pseudo_labels", "std", NULL));
    put_num(f, "nu", num_at(data, "pseudo_labels", "noise", NULL));
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        put_count(f, rows[k], num_at(data, "rows", rows[k], NULL));
    }
    put_num(f, "knn_heldout", num_at(data, "knn_heldout", NULL));
    fputc('\n', f);
}

/* The target table's widths: "achieved" holds "mean±std". */
static const int target_widths[MAX_COLS] = {COL, COL_ACHIEVED, COL, COL, COL, COL, COL, COL};

static void print_header(mf_view *v, FILE *f, const json_t *m)
{
    static const char *const support[] = {"target",    "achieved",     "ideal",      "ratio",
                                          "predicted", "off_manifold", "entropy_knn"};
    static const char *const knn[] = {"target",    "achieved", "ideal",       "ratio",
                                      "predicted", "knn_dist", "knn_heldout", "entropy_knn"};
    v->knn = !json_is_object(json_object_get(m, "support"));
    const char *const *names = v->knn ? knn : support;
    size_t n = v->knn ? sizeof knn / sizeof knn[0] : sizeof support / sizeof support[0];
    char cells[MAX_COLS][CELL];
    for (size_t k = 0; k < n; k++) {
        snprintf(cells[k], sizeof cells[k], "%s", names[k]);
    }
    put_row(f, cells, target_widths, n);
    v->table = true;
}

/*
 * A target's row: the achieved (true) mean reward ± its std, the ideal
 * a / (1 + nu^2) and their ratio (all "-" without a known reward), the
 * reward model's mean prediction, where the samples lie, their kNN entropy.
 */
static void print_target(mf_view *v, FILE *f, const json_t *data)
{
    const json_t *m = json_object_get(data, "metrics");
    if (!v->table) {
        print_header(v, f, m);
    }
    char c[MAX_COLS][CELL], sd[16];
    size_t n = 0;
    cell(c[n++], sizeof c[0], num_at(data, "target", NULL));
    double mean = num_at(m, "reward", "true_mean", NULL);
    cell(sd, sizeof sd, num_at(m, "reward", "true_std", NULL));
    if (isfinite(mean)) {
        snprintf(c[n++], sizeof c[0], "%.4g" PLUS_MINUS "%s", mean, sd);
    } else {
        snprintf(c[n++], sizeof c[0], "-");
    }
    cell(c[n++], sizeof c[0], num_at(m, "reward", "ideal", NULL));
    cell(c[n++], sizeof c[0], num_at(m, "reward", "ratio", NULL));
    cell(c[n++], sizeof c[0], num_at(m, "reward", "pred_mean", NULL));
    if (v->knn) {
        cell(c[n++], sizeof c[0], num_at(m, "knn", "dist", NULL));
        cell(c[n++], sizeof c[0], num_at(m, "knn", "heldout_dist", NULL));
    } else {
        cell(c[n++], sizeof c[0], num_at(m, "support", "off_mean", NULL));
    }
    cell(c[n++], sizeof c[0], num_at(m, "entropy_knn", "value", NULL));
    put_row(f, c, target_widths, n);
}

static bool is_stage(const char *stage, const char *name)
{
    return stage != NULL && strcmp(stage, name) == 0;
}

bool mf_view_metrics(mf_view *v, FILE *f, const json_t *data)
{
    const char *stage = json_string_value(json_object_get(data, "stage"));
    if (json_is_integer(json_object_get(data, "iteration")) &&
        json_is_object(json_object_get(data, "eval"))) {
        print_dxmi(f, data);
    } else if (json_is_integer(json_object_get(data, "iteration"))) {
        print_iteration(v, f, data);
    } else if (is_stage(stage, "reward_model")) {
        print_reward_model(f, data);
    } else if (is_stage(stage, "target")) {
        v->loss[0] = '\0'; /* training is over */
        print_target(v, f, data);
    } else if (is_stage(stage, "training")) {
        double loss = num_at(data, "loss", NULL);
        v->loss[0] = '\0';
        if (isfinite(loss)) {
            snprintf(v->loss, sizeof v->loss, "loss %.4g", loss);
        }
        return true;
    } else {
        return false;
    }
    fflush(f);
    return true;
}

const char *mf_view_phase(mf_view *v, const char *phase)
{
    if (phase == NULL || v->loss[0] == '\0' || strcmp(phase, "training") != 0) {
        return phase;
    }
    snprintf(v->phase, sizeof v->phase, "%s, %s", phase, v->loss);
    return v->phase;
}
