/* SPDX-License-Identifier: MIT */
/*
 * manifold-train - the offline tool on core/ alone: train a model on a
 * built-in data set into a safetensors file, sample from a model file, and
 * evaluate a model against held-out data.  It produced models/.
 *
 *   manifold-train train  --dataset NAME --out FILE [options]
 *   manifold-train sample --model FILE [options]
 *   manifold-train eval   --model FILE [options]
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bf16_net.h"
#include "cli.h"
#include "cpu.h"
#include "dataset.h"
#include "eval_report.h"
#include "knn.h"
#include "mem.h"
#include "model_dxmi.h"
#include "model_file.h"
#include "par.h"
#include "png.h"
#include "potential.h"
#include "quality.h"
#include "sampler.h"
#include "sw.h"
#include "train.h"
#include "train_params.h"

#define MAX_MODEL_BYTES ((size_t) 512 << 20)

/* ---- shared helpers ------------------------------------------------------------- */

/* A failure of a step ("sampling", "metadata"): "manifold-train: WHAT: MESSAGE (FIELD)". */
static int fail(const char *what, mf_err err, const mf_diag *d)
{
    if (d != NULL && d->msg[0] != '\0') {
        mf_cli_error("%s: %s%s%s%s", what, d->msg, d->field[0] ? " (" : "", d->field,
                     d->field[0] ? ")" : "");
    } else {
        mf_cli_error("%s: %s", what, mf_strerror(err));
    }
    return 1;
}

/*
 * A failure to read or write the file at path, naming it once.  Core's
 * messages about a file leave its name to the caller (diag->field holds the
 * path), except an atomic write's, which names the file by its base name (a
 * daemon's client may read it): there the path takes the base name's place.
 */
static int fail_file(const char *path, mf_err err, const mf_diag *d)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    const char *at = d->msg[0] != '\0' && base[0] != '\0' ? strstr(d->msg, base) : NULL;
    if (at != NULL && (at == d->msg || at[-1] == ' ')) {
        mf_cli_error("%.*s%s%s", (int) (at - d->msg), d->msg, path, at + strlen(base));
        return 1;
    }
    mf_diag other = *d;
    if (strcmp(other.field, path) == 0) {
        other.field[0] = '\0'; /* named in front */
    }
    return fail(path, err, &other);
}

/* The command line with the program named "manifold-train" whatever its path. */
static const char *arg_or_name(char **argv, int i)
{
    return i == 0 ? "manifold-train" : argv[i];
}

static char *join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++) {
        len += strlen(arg_or_name(argv, i)) + 1;
    }
    char *s = malloc(len), *p = s;
    if (s == NULL) {
        return NULL;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = arg_or_name(argv, i);
        size_t n = strlen(a);
        memcpy(p, a, n);
        p += n;
        *p++ = i + 1 < argc ? ' ' : '\0';
    }
    if (argc == 0) {
        *p = '\0';
    }
    return s;
}

/* "256,256,256" -> p's hidden widths (syntax only; core checks the values); 0 on success. */
static int parse_hidden(const char *s, mf_train_params *p)
{
    p->n_hidden = 0;
    const char *c = s;
    while (*c != '\0') {
        char *end;
        unsigned long v = strtoul(c, &end, 10);
        if (end == c || v > UINT32_MAX || p->n_hidden >= MF_MLP_MAX_HIDDEN ||
            (*end != ',' && *end != '\0')) {
            return -1;
        }
        p->hidden[p->n_hidden++] = (uint32_t) v;
        c = *end == ',' ? end + 1 : end;
    }
    return p->n_hidden > 0 ? 0 : -1;
}

/* "256,256,256" from p's hidden widths, into buf (len > 0). */
static void format_hidden(const mf_train_params *p, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n_hidden && used < len; i++) {
        int k = snprintf(buf + used, len - used, "%s%" PRIu32, i ? "," : "", p->hidden[i]);
        used += k > 0 ? (size_t) k : 0;
    }
}

/*
 * The thread team for a command: --threads N (0 = one per core).  The team
 * splits rows across threads and OpenBLAS runs single-threaded inside each
 * (server/par.h says why), so team size x BLAS threads = N.
 */
static mf_par *make_team(size_t threads)
{
    mf_par *team = NULL;
    mf_cpu_set_blas_threads(1);
    if (mf_par_new(threads > 0 ? threads : (size_t) mf_cpu_count(), &team) != MF_OK) {
        mf_cli_error("cannot start %zu threads", threads);
        return NULL;
    }
    return team;
}

/* ---- train ---------------------------------------------------------------------- */

#define HELP_LEN 160

/* A help text with a default filled in, into buf (HELP_LEN bytes). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static const char *
helpf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, HELP_LEN, fmt, ap);
    va_end(ap);
    return buf;
}

/* The flags of train beyond the params. */
typedef struct train_args {
    const char *out;
    size_t threads, eval_every;
} train_args;

/*
 * A parameter core rejects, reported with its flag: a usage error (2), except
 * a schedule that parses to nothing (1, as before core checked it).
 */
static int bad_param(const mf_train_params *p, const char *hidden, mf_err err, const mf_diag *d)
{
    if (strcmp(d->field, "hidden") == 0 || strcmp(d->field, "emb") == 0) {
        mf_cli_error("bad --hidden '%s' or --emb %zu: %s", hidden, p->emb, d->msg);
    } else {
        char flag[sizeof d->field];
        snprintf(flag, sizeof flag, "%s", d->field);
        for (char *c = flag; *c != '\0'; c++) {
            *c = *c == '_' ? '-' : *c;
        }
        mf_cli_error("bad --%s: %s", flag, d->msg);
    }
    return err == MF_EINVAL ? 2 : 1;
}

/*
 * Fills p (from mf_train_params_default) and a from the command line and has
 * core check p.  Returns 0, -1 after --help, or the exit status of an error.
 */
static int train_parse(int argc, char **argv, mf_train_params *p, train_args *a)
{
    mf_train_params_default(p);
    *a = (train_args){.out = NULL, .threads = 0, .eval_every = 1000};
    char hidden_def[MF_MLP_MAX_HIDDEN * 12], schedule_def[sizeof p->schedule];
    format_hidden(p, hidden_def, sizeof hidden_def);
    memcpy(schedule_def, p->schedule, sizeof schedule_def);
    const char *dataset = NULL, *hidden = hidden_def, *schedule = schedule_def;
    const char *arch = "eps", *estimator = "auto";
    size_t probes = p->hjb.probes;
    bool unweighted = false;
    char h[19][HELP_LEN];
    const mf_opt opts[] = {
        {"dataset", MF_OPT_STR, &dataset, 0, 0,
         "built-in data set (required): gaussian, "
         "eight_gaussians, imbalanced_square, two_moons, swiss_roll, checkerboard, pinwheel, "
         "ring, linear_subspace, digits"},
        {"out", MF_OPT_STR, &a->out, 0, 0, "output model file (required), written atomically"},
        {"hidden", MF_OPT_STR, &hidden, 0, 0,
         helpf(h[0], "hidden widths, comma separated (%s)", hidden_def)},
        {"emb", MF_OPT_SIZE, &p->emb, 2, MF_MLP_MAX_WIDTH,
         helpf(h[1], "time-embedding width E, even (%zu)", p->emb)},
        {"schedule", MF_OPT_STR, &schedule, 0, 0, helpf(h[2], "noise schedule (%s)", schedule_def)},
        {"steps", MF_OPT_SIZE, &p->steps, 1, 1e9, helpf(h[3], "optimiser steps (%zu)", p->steps)},
        {"batch", MF_OPT_SIZE, &p->batch, 1, 65536, helpf(h[4], "batch size (%zu)", p->batch)},
        {"lr", MF_OPT_FLOAT, &p->lr, 1e-9, 1, helpf(h[5], "peak learning rate (%g)", p->lr)},
        {"lr-min", MF_OPT_FLOAT, &p->lr_min, 0, 1,
         helpf(h[6], "final learning rate of the cosine decay (%g)", p->lr_min)},
        {"warmup", MF_OPT_SIZE, &p->warmup, 0, 1e9,
         helpf(h[7], "linear warm-up steps (%zu)", p->warmup)},
        {"ema", MF_OPT_FLOAT, &p->ema, 0, 0.999999,
         helpf(h[8], "EMA decay of the saved weights, 0 = off (%g)", p->ema)},
        {"clip", MF_OPT_FLOAT, &p->clip, 0, 1e9,
         helpf(h[9], "gradient-norm clip, 0 = off (%g)", p->clip)},
        {"data-offset", MF_OPT_FLOAT, &p->data_offset, -1e9, 1e9,
         "x_model = (x - offset)/scale "
         "(default: the data set's own)"},
        {"data-scale", MF_OPT_FLOAT, &p->data_scale, 1e-9, 1e9, "see --data-offset"},
        {"seed", MF_OPT_U64, &p->seed, 0, 0,
         helpf(h[10], "seed of initialisation, data and noise (%" PRIu64 ")", p->seed)},
        {"dequantise", MF_OPT_FLAG, &p->dequantise, 0, 0,
         "digits only: train on pixels + U(-1/2, 1/2), so the "
         "model's likelihood bounds bits/dim"},
        {"n-train", MF_OPT_SIZE, &p->n_train, 0, 1e9,
         "a fixed training set of this many points of the set's stream, batches drawn from "
         "it with replacement (0: fresh points every step)"},
        {"architecture", MF_OPT_STR, &arch, 0, 0,
         "eps (the network predicts the noise) or potential (a scalar whose gradient is the "
         "score; docs/hjb.md)"},
        {"hjb", MF_OPT_FLAG, &p->hjb.on, 0, 0,
         "the HJB regulariser (potential only), with the settings below"},
        {"hjb-lambda", MF_OPT_FLOAT, &p->hjb.lambda, 0, 1e6,
         helpf(h[12], "its weight once ramped in (%g)", p->hjb.lambda)},
        {"hjb-ramp", MF_OPT_FLOAT, &p->hjb.ramp, 0, 1,
         helpf(h[13], "fraction of the steps over which lambda rises from 0 (%g)", p->hjb.ramp)},
        {"hjb-frac-points", MF_OPT_FLOAT, &p->hjb.frac_points, 1e-9, 1,
         helpf(h[14], "collocation points per step, as a fraction of the batch (%g)",
               p->hjb.frac_points)},
        {"hjb-estimator", MF_OPT_STR, &estimator, 0, 0,
         "Laplacian: auto (exact up to 8-D), exact or hutchinson"},
        {"hjb-probes", MF_OPT_SIZE, &probes, 1, 2, helpf(h[15], "hutchinson probes (%zu)", probes)},
        {"hjb-h", MF_OPT_FLOAT, &p->hjb.h, 1e-4, 0.5,
         helpf(h[16], "stencil step in x, model units (%g)", p->hjb.h)},
        {"hjb-dt", MF_OPT_FLOAT, &p->hjb.dt, 1e-5, 0.05,
         helpf(h[17], "stencil step in tau (%g)", p->hjb.dt)},
        {"hjb-t-min", MF_OPT_FLOAT, &p->hjb.t_min, 1e-5, 0.9,
         helpf(h[18], "collocation tau ~ U[t_min, 1] (%g)", p->hjb.t_min)},
        {"hjb-unweighted", MF_OPT_FLAG, &unweighted, 0, 0,
         "plain R^2 instead of the weight (sigma^2/beta)^2"},
        {"threads", MF_OPT_SIZE, &a->threads, 0, 256, "threads (0 = one per core)"},
        {"eval-every", MF_OPT_SIZE, &a->eval_every, 0, 1e9,
         helpf(h[11], "held-out loss every N steps, 0 = only at the end (%zu)", a->eval_every)},
    };
    int rc = mf_cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0],
                          "manifold-train train --dataset NAME --out FILE [options]");
    if (rc != 0) {
        return rc == 1 ? -1 : 2;
    }
    if (dataset == NULL || a->out == NULL) {
        mf_cli_error("train needs --dataset and --out (see --help)");
        return 2;
    }
    if (mf_dataset_lookup(dataset, &p->dataset) != MF_OK) {
        mf_cli_error("unknown data set '%s' (see --help)", dataset);
        return 2;
    }
    if (parse_hidden(hidden, p) != 0) {
        mf_cli_error("bad --hidden '%s': comma-separated widths, at most %d", hidden,
                     MF_MLP_MAX_HIDDEN);
        return 2;
    }
    if (strlen(schedule) >= sizeof p->schedule) {
        mf_cli_error("bad --schedule: longer than %zu bytes", sizeof p->schedule - 1);
        return 2;
    }
    memcpy(p->schedule, schedule, strlen(schedule) + 1);
    if (strcmp(arch, "eps") != 0 && strcmp(arch, "potential") != 0) {
        mf_cli_error("bad --architecture '%s': eps or potential", arch);
        return 2;
    }
    p->architecture = strcmp(arch, "potential") == 0 ? MF_TRAIN_POTENTIAL : MF_TRAIN_EPS;
    if (mf_hjb_estimator_lookup(estimator, &p->hjb.estimator) != MF_OK) {
        mf_cli_error("bad --hjb-estimator '%s': auto, exact or hutchinson", estimator);
        return 2;
    }
    p->hjb.probes = probes;
    p->hjb.weight = !unweighted;
    mf_diag d = {0};
    mf_err err = mf_train_params_check(p, &d);
    return err == MF_OK ? 0 : bad_param(p, hidden, err, &d);
}

/* Saves the EMA weights with the provenance that reproduces them. */
static int train_save(const mf_train_params *p, mf_model *m, const mf_trainer *tr, int argc,
                      char **argv, const char *out, double held_loss)
{
    mf_diag d = {0};
    char *prov = join_args(argc, argv);
    if (prov == NULL) {
        return fail("provenance", MF_ENOMEM, NULL);
    }
    mf_err err = mf_train_params_finish(p, m, tr, held_loss, prov, time(NULL), &d);
    free(prov);
    if (err != MF_OK) {
        return fail("metadata", err, &d);
    }
    err = mf_model_save_file(m, out, &d);
    if (err != MF_OK) {
        return fail_file(out, err, &d);
    }
    fprintf(stderr, "wrote %s\n", out);
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    mf_train_params p;
    train_args a;
    int rc = train_parse(argc, argv, &p, &a);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    mf_par *team = make_team(a.threads);
    if (team == NULL) {
        return 1;
    }
    mf_diag d = {0};
    mf_model *model = NULL;
    mf_trainer *tr = NULL;
    mf_mlp_ws *ws = NULL;
    float *x = NULL, *held = NULL;
    size_t n_held = 0;
    int status = 1;
    mf_err err = mf_train_params_begin(&p, &model, &tr, &d);
    if (err != MF_OK) {
        status = fail("model", err, &d);
        goto out;
    }
    size_t D = model->net->cfg.data_dim;
    x = mf_alloc_floats(p.batch * D);
    held = mf_train_params_heldout(&p, model, &n_held);
    if (x == NULL || held == NULL || mf_mlp_ws_new(model->net, 1024, false, &ws) != MF_OK) {
        status = fail("allocation", MF_ENOMEM, NULL);
        goto out;
    }
    char hidden[MF_MLP_MAX_HIDDEN * 12];
    format_hidden(&p, hidden, sizeof hidden);
    fprintf(stderr,
            "training %s: D=%zu hidden=%s E=%zu params=%zu steps=%zu batch=%zu "
            "threads %zu, OpenBLAS %s\n",
            mf_dataset_name(p.dataset), D, hidden, p.emb, model->net->n_params, p.steps, p.batch,
            mf_par_size(team), mf_cpu_blas_corename());
    mf_progress prog;
    mf_progress_start(&prog, "step");
    double loss_avg = NAN, held_loss = NAN;
    for (size_t k = 0; k < p.steps; k++) {
        if (mf_train_params_batch(&p, model, k, x) != MF_OK) {
            status = fail("data", MF_EINTERNAL, NULL);
            goto out;
        }
        double loss;
        mf_par_train_step(team, tr, x, NULL, &loss, NULL);
        if (!isfinite(loss)) {
            mf_progress_finish(&prog);
            mf_cli_error("loss is not finite at step %zu; lower --lr", k);
            goto out;
        }
        loss_avg = isnan(loss_avg) ? loss : 0.98 * loss_avg + 0.02 * loss;
        bool eval_now = (a.eval_every > 0 && (k + 1) % a.eval_every == 0) || k + 1 == p.steps;
        if (eval_now) {
            held_loss = mf_dsm_loss(mf_trainer_ema(tr), ws, &model->sched, held, NULL, n_held,
                                    MF_TRAIN_HELDOUT_SEED);
        }
        char extra[160]; /* held-out: "-" until the first evaluation (--eval-every) */
        int len =
            snprintf(extra, sizeof extra,
                     isfinite(held_loss) ? "loss %.4f  held-out %.4f" : "loss %.4f  held-out -",
                     loss_avg, held_loss);
        if (p.hjb.on) { /* the regulariser's last step: its loss and residual RMS */
            mf_hjb_stats hs;
            double lam;
            mf_trainer_hjb_last(tr, &hs, &lam);
            snprintf(extra + len, sizeof extra - (size_t) len, "  hjb %.3g (lambda %.3g) R %.3g",
                     hs.loss, lam, mf_hjb_stats_rms(&hs, -1));
        }
        mf_progress_update(&prog, k + 1, p.steps, extra);
    }
    mf_progress_finish(&prog);
    double secs = mf_cli_now() - prog.t0;
    fprintf(stderr, "done in %.1fs (%.1f steps/s); final held-out loss %.5f\n", secs,
            (double) p.steps / secs, held_loss);
    status = train_save(&p, model, tr, argc, argv, a.out, held_loss);
out:
    mf_free_aligned(x);
    mf_free_aligned(held);
    mf_mlp_ws_free(ws);
    mf_trainer_free(tr);
    mf_model_free(model);
    mf_par_free(team);
    return status;
}

/* ---- sampling (shared by sample and eval) ---------------------------------------- */

typedef struct sample_args {
    const char *sampler;
    size_t steps;
    double eta;
    uint64_t seed;
    const char *precision; /* "f32" or "bf16" */
} sample_args;

static void sampling_progress(void *ctx, size_t done, size_t total)
{
    mf_progress_update(ctx, done, total, NULL);
}

/* n samples in data space into x (n, D). */
static int draw_samples(mf_par *team, const mf_model *m, const sample_args *a, float *x, size_t n)
{
    mf_sampler_kind kind;
    if (mf_sampler_lookup(a->sampler, &kind) != MF_OK) {
        mf_cli_error("unknown sampler '%s' (ddpm, ddim, ode, var)", a->sampler);
        return 2;
    }
    const mf_model_dxmi *dx = mf_model_get_dxmi(m);
    if (kind == MF_SAMPLER_VAR && (dx == NULL || !dx->has_var)) {
        mf_cli_error("--sampler var needs a DxMI model with a short chain");
        return 2;
    }
    if (a->steps > m->sched.T) {
        mf_cli_error("--steps %zu exceeds the schedule's T = %zu", a->steps, m->sched.T);
        return 2;
    }
    mf_progress prog;
    mf_progress_start(&prog, "sampling: network evaluation");
    mf_precision prec = MF_PRECISION_F32;
    if (strcmp(a->precision, "bf16") == 0) {
        prec = MF_PRECISION_BF16;
    } else if (strcmp(a->precision, "f32") != 0) {
        mf_cli_error("unknown precision '%s' (f32 or bf16)", a->precision);
        return 2;
    }
    const char *why = "";
    prec = mf_precision_effective(m->net, prec, m->net->cfg.cond_dim > 0, &why);
    if (why[0] != '\0') {
        fprintf(stderr, "note: %s\n", why);
    }
    mf_sampler_opts o = {.kind = kind,
                         .precision = prec,
                         .steps = kind == MF_SAMPLER_VAR ? dx->var.T : a->steps,
                         .var = kind == MF_SAMPLER_VAR ? &dx->var : NULL,
                         .eta = (float) a->eta,
                         .seed = a->seed,
                         .progress = sampling_progress,
                         .progress_ctx = &prog};
    mf_err err = mf_par_sample(team, m->net, &m->sched, &o, x, n);
    mf_progress_finish(&prog);
    if (err != MF_OK) {
        return fail("sampling", err, NULL);
    }
    mf_model_to_data(m, x, n * m->net->cfg.data_dim);
    return 0;
}

/* A file the user names: no parameter limit but what MAX_MODEL_BYTES of float32 hold (the
 * loader allocates no more than a file's own tensors anyway); the daemon's is lower. */
static int load_model(const char *path, mf_model **ret)
{
    mf_diag d = {0};
    const mf_model_limits lim = {.max_params = MAX_MODEL_BYTES / sizeof(float)};
    mf_err err = mf_model_load_file_limited(path, MAX_MODEL_BYTES, &lim, ret, &d);
    return err == MF_OK ? 0 : fail_file(path, err, &d);
}

static int cmd_sample(int argc, char **argv)
{
    const char *path = NULL, *format = "csv", *out = NULL, *png = NULL;
    size_t n = 16, threads = 0;
    sample_args a = {.sampler = "ddpm", .steps = 1000, .eta = 0.0, .seed = 0, .precision = "bf16"};
    const mf_opt opts[] = {
        {"model", MF_OPT_STR, &path, 0, 0, "model file (required)"},
        {"n", MF_OPT_SIZE, &n, 1, 1e7, "number of samples (16)"},
        {"precision", MF_OPT_STR, &a.precision, 0, 0,
         "the network's arithmetic: f32 or bf16 (bfloat16, float accumulation; f32 where bf16 "
         "cannot run, with a note) (sample: bf16; eval: f32, the reference figures)"},
        {"sampler", MF_OPT_STR, &a.sampler, 0, 0,
         "ddpm, ddim, ode or var (a DxMI model's short chain, its own steps) (ddpm)"},
        {"steps", MF_OPT_SIZE, &a.steps, 1, MF_SCHEDULE_MAX_T, "grid steps (1000)"},
        {"eta", MF_OPT_FLOAT, &a.eta, 0, 1, "DDIM eta (0)"},
        {"seed", MF_OPT_U64, &a.seed, 0, 0, "seed (0)"},
        {"format", MF_OPT_STR, &format, 0, 0, "csv or json (csv)"},
        {"out", MF_OPT_STR, &out, 0, 0, "output file (default: standard output)"},
        {"png", MF_OPT_STR, &png, 0, 0, "also write a PNG grid (64-D digit models)"},
        {"threads", MF_OPT_SIZE, &threads, 0, 256, "threads (0 = one per core)"},
    };
    int rc = mf_cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0],
                          "manifold-train sample --model FILE [options]");
    if (rc != 0) {
        return rc == 1 ? 0 : 2;
    }
    if (path == NULL || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
        mf_cli_error("sample needs --model FILE; --format is csv or json");
        return 2;
    }
    mf_model *m = NULL;
    if (load_model(path, &m) != 0) {
        return 1;
    }
    size_t D = m->net->cfg.data_dim;
    if (png != NULL && D != 64) {
        /* a usage error, said before any sampling */
        mf_cli_error("--png draws 8x8 digit grids; %s is a %zu-D model (use --out)", path, D);
        mf_model_free(m);
        return 2;
    }
    mf_par *team = make_team(threads);
    float *x = mf_alloc_floats(n * D);
    int status = x == NULL || team == NULL ? fail("allocation", MF_ENOMEM, NULL)
                                           : draw_samples(team, m, &a, x, n);
    FILE *f = stdout;
    if (status == 0 && out != NULL && (f = fopen(out, "w")) == NULL) {
        mf_cli_error("cannot create %s: %s", out, strerror(errno));
        status = 1;
    }
    if (status == 0) {
        bool json = strcmp(format, "json") == 0;
        fputs(json ? "[" : "", f);
        for (size_t i = 0; i < n; i++) {
            fputs(json ? (i ? ",\n[" : "[") : "", f);
            for (size_t j = 0; j < D; j++) {
                fprintf(f, "%s%.6g", j ? "," : "", (double) x[i * D + j]);
            }
            fputs(json ? "]" : "\n", f);
        }
        fputs(json ? "]\n" : "", f);
        if (f != stdout && fclose(f) != 0) {
            mf_cli_error("cannot write %s: %s", out, strerror(errno));
            status = 1;
        }
    }
    if (status == 0 && png != NULL) {
        if (mf_png_write_digits(png, x, n) != 0) {
            mf_cli_error("could not write %s", png);
            status = 1;
        }
    }
    mf_free_aligned(x);
    mf_model_free(m);
    mf_par_free(team);
    return status;
}

/* ---- eval ----------------------------------------------------------------------- */

static int eval_digits(mf_par *team, const mf_model *m, const sample_args *a, size_t n,
                       const eval_report_opts *ro)
{
    size_t n_tr = mf_dataset_digits_count(false), n_he = mf_dataset_digits_count(true);
    float *tr = mf_alloc_floats(n_tr * 64), *he = mf_alloc_floats(n_he * 64);
    float *x = mf_alloc_floats(n * 64);
    int status = 1;
    if (tr == NULL || he == NULL || x == NULL) {
        status = fail("allocation", MF_ENOMEM, NULL);
        goto out;
    }
    mf_dataset_digits_rows(false, tr, NULL);
    mf_dataset_digits_rows(true, he, NULL);
    if ((status = draw_samples(team, m, a, x, n)) != 0) {
        goto out;
    }
    size_t k = n < n_he ? n : n_he;
    double nn_model, nn_held, sw_model, sw_floor;
    mf_err err = mf_nn_mean_dist(x, n, tr, n_tr, 64, &nn_model);
    if (err == MF_OK) {
        err = mf_nn_mean_dist(he, n_he, tr, n_tr, 64, &nn_held);
    }
    if (err != MF_OK) {
        status = fail("nearest-neighbour distance", err, NULL);
        goto out;
    }
    if (mf_sw2(x, k, he, k, 64, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED, &sw_model) != MF_OK ||
        mf_sw2(tr, k, he, k, 64, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED, &sw_floor) != MF_OK) {
        status = fail("sw2", MF_ENOMEM, NULL);
        goto out;
    }
    printf("{\"dataset\":\"digits\",\"n\":%zu,\"sampler\":\"%s\",\"steps\":%zu,\"seed\":%llu,"
           "\"nn_dist_model_to_train\":%.4f,\"nn_dist_heldout_to_train\":%.4f,"
           "\"sw2_model_vs_heldout\":%.4f,\"sw2_train_vs_heldout\":%.4f,\"sw2_n\":%zu",
           n, a->sampler, a->steps, (unsigned long long) a->seed, nn_model, nn_held, sw_model,
           sw_floor, k);
    mf_eval_exec ex = mf_par_eval_exec(team, MF_PRECISION_F32); /* likelihoods: float */
    status = eval_report(stdout, &ex, m, MF_DATASET_DIGITS, x, n, ro);
    printf("}\n");
out:
    mf_free_aligned(tr);
    mf_free_aligned(he);
    mf_free_aligned(x);
    return status;
}

/*
 * A potential model's HJB residual (core/hjb_loss.h) at n held-out points (data space),
 * with the default settings and a fixed seed, printed as ,"hjb":{...}.
 */
static int eval_residual(const mf_model *m, const float *held, size_t n)
{
    size_t D = m->net->cfg.data_dim;
    float *x0 = mf_alloc_floats(n * D);
    if (x0 == NULL) {
        return fail("allocation", MF_ENOMEM, NULL);
    }
    for (size_t j = 0; j < n * D; j++) { /* to model space */
        x0[j] = (float) (((double) held[j] - m->data_offset) / m->data_scale);
    }
    mf_hjb_opts o = mf_hjb_opts_default();
    mf_hjb_stats st;
    mf_err err = mf_hjb_residual_of(m->net, &m->sched, &o, x0, n, MF_TRAIN_HELDOUT_SEED, &st);
    mf_free_aligned(x0);
    if (err != MF_OK) {
        return fail("residual", err, NULL);
    }
    printf(",\"hjb\":{\"residual_rms\":%.6g,\"weighted_loss\":%.6g,\"bins\":[",
           mf_hjb_stats_rms(&st, -1), st.loss);
    for (int b = 0; b < MF_HJB_BINS; b++) {
        printf(b > 0 ? ",%.6g" : "%.6g", mf_hjb_stats_rms(&st, b));
    }
    printf("],\"t_min\":%g,\"points\":%zu}", o.t_min, n);
    return 0;
}

static int eval_toy(mf_par *team, const mf_model *m, mf_dataset_id id, const sample_args *a,
                    size_t n, size_t reps, const eval_report_opts *ro)
{
    size_t D = mf_dataset_dim(id);
    float *held = mf_alloc_floats(2 * reps * n * D), *x = mf_alloc_floats(n * D);
    int status = 1;
    float *first = mf_alloc_floats(n * D); /* the first repetition's samples, for the metrics */
    double sw_m = 0, sw_m2 = 0, sw_f = 0, sw_f2 = 0, inside = 0, inside_m = 0;
    bool has_support = false;
    if (held == NULL || x == NULL || first == NULL) {
        status = fail("allocation", MF_ENOMEM, NULL);
        goto out;
    }
    if (mf_dataset_heldout(id, held, 2 * reps * n) != MF_OK) {
        status = fail("held-out data", MF_EINTERNAL, NULL);
        goto out;
    }
    for (size_t r = 0; r < reps; r++) {
        sample_args ar = *a;
        ar.seed = a->seed + r;
        if ((status = draw_samples(team, m, &ar, x, n)) != 0) {
            goto out;
        }
        if (r == 0) {
            memcpy(first, x, n * D * sizeof(float));
        }
        const float *h0 = held + 2 * r * n * D, *h1 = h0 + n * D;
        double vm, vf;
        if (mf_sw2(x, n, h0, n, D, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED, &vm) != MF_OK ||
            mf_sw2(h1, n, h0, n, D, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED, &vf) != MF_OK) {
            status = fail("sw2", MF_ENOMEM, NULL);
            goto out;
        }
        sw_m += vm;
        sw_m2 += vm * vm;
        sw_f += vf;
        sw_f2 += vf * vf;
        size_t cnt, cnt_m;
        if (mf_dataset_count_in_support(id, x, n, 0.0, &cnt) == MF_OK &&
            mf_dataset_count_in_support(id, x, n, 0.1, &cnt_m) == MF_OK) {
            has_support = true;
            inside += (double) cnt / (double) n;
            inside_m += (double) cnt_m / (double) n;
        }
    }
    double R = (double) reps;
    double mm = sw_m / R, mf = sw_f / R;
    double sdm = sqrt(fmax(sw_m2 / R - mm * mm, 0)), sdf = sqrt(fmax(sw_f2 / R - mf * mf, 0));
    printf("{\"dataset\":\"%s\",\"n\":%zu,\"reps\":%zu,\"sampler\":\"%s\",\"steps\":%zu,"
           "\"seed\":%llu,\"sw2_model\":%.4f,\"sw2_model_sd\":%.4f,\"sw2_floor\":%.4f,"
           "\"sw2_floor_sd\":%.4f,\"sw2_ratio\":%.3f",
           mf_dataset_name(id), n, reps, a->sampler, a->steps, (unsigned long long) a->seed, mm,
           sdm, mf, sdf, mm / mf);
    if (has_support) {
        printf(",\"inside_support\":%.4f,\"inside_support_margin_0.1\":%.4f", inside / R,
               inside_m / R);
    }
    if (mf_pot_is_potential(m->net) && (status = eval_residual(m, held, n)) != 0) {
        goto out;
    }
    mf_eval_exec ex = mf_par_eval_exec(team, MF_PRECISION_F32); /* likelihoods: float */
    status = eval_report(stdout, &ex, m, id, first, n, ro);
    printf("}\n");
out:
    mf_free_aligned(first);
    mf_free_aligned(held);
    mf_free_aligned(x);
    return status;
}

static int cmd_eval(int argc, char **argv)
{
    const char *path = NULL, *kernel = NULL, *div = "auto";
    size_t n = 1000, reps = 5, threads = 0;
    bool q1 = false;
    sample_args a = {
        .sampler = "ddpm", .steps = 1000, .eta = 0.0, .seed = 1000, .precision = "f32"};
    eval_report_opts ro = {.nll_n = 1000, .ode_entropy_n = 0, .ode_steps = 100};
    mf_metrics_opts_default(&ro.metrics, 2);
    const mf_opt opts[] = {
        {"model", MF_OPT_STR, &path, 0, 0, "model file (required)"},
        {"n", MF_OPT_SIZE, &n, 8, 1e6, "samples per repetition (1000)"},
        {"reps", MF_OPT_SIZE, &reps, 1, 100,
         "repetitions with fresh samples and held-out "
         "sets; means are reported (5)"},
        {"precision", MF_OPT_STR, &a.precision, 0, 0,
         "the network's arithmetic: f32 or bf16 (bfloat16, float accumulation; f32 where bf16 "
         "cannot run, with a note) (f32)"},
        {"sampler", MF_OPT_STR, &a.sampler, 0, 0,
         "ddpm, ddim, ode or var (a DxMI model's short chain, its own steps) (ddpm)"},
        {"steps", MF_OPT_SIZE, &a.steps, 1, MF_SCHEDULE_MAX_T, "grid steps (1000)"},
        {"eta", MF_OPT_FLOAT, &a.eta, 0, 1, "DDIM eta (0)"},
        {"seed", MF_OPT_U64, &a.seed, 0, 0, "sampling seed of the first repetition (1000)"},
        {"k", MF_OPT_SIZE, &ro.metrics.knn_k, 1, MF_KNN_MAX_K, "kNN entropy / KL neighbour (5)"},
        {"bins", MF_OPT_SIZE, &ro.metrics.hist_bins, 1, 4096, "2-D histogram bins per axis (32)"},
        {"lo", MF_OPT_FLOAT, &ro.metrics.hist_lo, -1e6, 1e6, "histogram grid low edge (-4)"},
        {"hi", MF_OPT_FLOAT, &ro.metrics.hist_hi, -1e6, 1e6, "histogram grid high edge (4)"},
        {"vendi-kernel", MF_OPT_STR, &kernel, 0, 0, "rbf or cosine (rbf in 2-D, cosine above)"},
        {"vendi-l", MF_OPT_FLOAT, &ro.metrics.vendi_length_scale, 1e-6, 1e6,
         "RBF length scale (1)"},
        {"vendi-q1", MF_OPT_FLAG, &q1, 0, 0, "also Vendi of order 1 (eigenvalues)"},
        {"nll-n", MF_OPT_SIZE, &ro.nll_n, 0, 1e6,
         "held-out points for the PF-ODE NLL, 0 = "
         "skip (1000; digits: all 297)"},
        {"ode-entropy-n", MF_OPT_SIZE, &ro.ode_entropy_n, 0, 1e6,
         "ODE samples for the ODE "
         "model's entropy, 0 = skip (0)"},
        {"ode-steps", MF_OPT_SIZE, &ro.ode_steps, 1, MF_SCHEDULE_MAX_T, "PF-ODE grid steps (100)"},
        {"div", MF_OPT_STR, &div, 0, 0,
         "divergence: auto, exact or hutchinson (auto: exact "
         "up to 8-D)"},
        {"threads", MF_OPT_SIZE, &threads, 0, 256, "threads (0 = one per core)"},
    };
    int rc = mf_cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0],
                          "manifold-train eval --model FILE [options]\n"
                          "  prints one JSON line: SW2 to held-out data next to its two-sample "
                          "floor,\n  support fraction where known; digits: nearest-neighbour "
                          "distances;\n  \"metrics\": kNN / histogram entropy, kNN KL, Vendi, "
                          "modes, each next to\n  held-out data's; \"likelihood\": PF-ODE "
                          "held-out NLL (digits: dequantised, bits/dim)");
    if (rc != 0) {
        return rc == 1 ? 0 : 2;
    }
    if (path == NULL) {
        mf_cli_error("eval needs --model FILE");
        return 2;
    }
    if (mf_div_lookup(div, &ro.div) != MF_OK) {
        mf_cli_error("--div is auto, exact or hutchinson");
        return 2;
    }
    if (!(ro.metrics.hist_lo < ro.metrics.hist_hi)) {
        mf_cli_error("--lo must be below --hi");
        return 2;
    }
    ro.seed = a.seed;
    ro.metrics.vendi_q1 = q1;
    mf_model *m = NULL;
    if (load_model(path, &m) != 0) {
        return 1;
    }
    mf_par *team = make_team(threads);
    const char *ds = mf_model_get_meta(m, "dataset");
    mf_dataset_id id;
    int status;
    if (team == NULL) {
        status = 1;
    } else if (mf_eval_dataset(m, &id) != MF_OK) {
        mf_cli_error("%s names no built-in data set of its dimension (dataset '%s')", path,
                     ds != NULL ? ds : "");
        status = 1;
    } else if (kernel != NULL &&
               mf_vendi_kernel_lookup(kernel, &ro.metrics.vendi_kernel) != MF_OK) {
        mf_cli_error("--vendi-kernel is rbf or cosine");
        status = 2;
    } else {
        if (kernel == NULL) {
            ro.metrics.vendi_kernel = m->net->cfg.data_dim <= 8 ? MF_VENDI_RBF : MF_VENDI_COSINE;
        }
        status = id == MF_DATASET_DIGITS ? eval_digits(team, m, &a, n, &ro)
                                         : eval_toy(team, m, id, &a, n, reps, &ro);
    }
    mf_model_free(m);
    mf_par_free(team);
    return status;
}

/* ---- main ----------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: manifold-train COMMAND [options]\n\n"
               "commands:\n"
               "  train   train a model on a built-in data set into a safetensors file\n"
               "  sample  draw samples from a model file (CSV, JSON, PNG grid for digits)\n"
               "  eval    compare a model's samples with held-out data\n\n"
               "'manifold-train COMMAND --help' lists a command's options.\n");
}

int main(int argc, char **argv)
{
    mf_cli_set_prog("manifold-train");
    mf_cpu_ensure_blas_coretype(argv);
    if (argc < 2) {
        mf_cli_error("missing COMMAND");
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "train") == 0) {
        return cmd_train(argc, argv);
    }
    if (strcmp(argv[1], "sample") == 0) {
        return cmd_sample(argc, argv);
    }
    if (strcmp(argv[1], "eval") == 0) {
        return cmd_eval(argc, argv);
    }
    mf_cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return 2;
}
