/* SPDX-License-Identifier: MIT */
/* cli.c - option parsing, error lines and progress lines of the programs (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "error";

void mf_cli_set_prog(const char *name)
{
    prog = name;
}

const char *mf_cli_prog(void)
{
    return prog;
}

void mf_cli_error_begin(void)
{
    fprintf(stderr, "%s: ", prog);
}

void mf_cli_verror(const char *fmt, va_list ap)
{
    mf_cli_error_begin();
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void mf_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mf_cli_verror(fmt, ap);
    va_end(ap);
}

double mf_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

void mf_cli_usage(FILE *f, const mf_opt *opts, size_t n_opts, const char *usage_line)
{
    fprintf(f, "usage: %s\n\noptions:\n", usage_line);
    for (size_t i = 0; i < n_opts; i++) {
        const char *arg = opts[i].kind == MF_OPT_FLAG ? "" : " VALUE";
        fprintf(f, "  --%s%s\n      %s\n", opts[i].name, arg, opts[i].help);
    }
    fprintf(f, "  --help\n      this text\n");
}

static int parse_value(const mf_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case MF_OPT_STR:
        *(const char **) o->target = v;
        return 0;
    case MF_OPT_SIZE:
    case MF_OPT_U64: {
        if (v[0] == '-' || v[0] == '\0') {
            break;
        }
        unsigned long long x = strtoull(v, &end, 10);
        bool in_range = o->kind == MF_OPT_U64 || ((double) x >= o->min && (double) x <= o->max);
        if (errno != 0 || *end != '\0' || !in_range) {
            break;
        }
        if (o->kind == MF_OPT_SIZE) {
            *(size_t *) o->target = (size_t) x;
        } else {
            *(uint64_t *) o->target = (uint64_t) x;
        }
        return 0;
    }
    case MF_OPT_FLOAT: {
        double x = strtod(v, &end);
        if (errno != 0 || end == v || *end != '\0' || !isfinite(x) || x < o->min || x > o->max) {
            break;
        }
        *(double *) o->target = x;
        return 0;
    }
    case MF_OPT_FLAG:
        break;
    }
    if (o->kind == MF_OPT_U64) {
        mf_cli_error("--%s needs a non-negative integer, got '%s'", o->name, v);
    } else {
        mf_cli_error("--%s needs a number in [%g, %g], got '%s'", o->name, o->min, o->max, v);
    }
    return -1;
}

int mf_cli_parse(int argc, char **argv, int first, const mf_opt *opts, size_t n_opts,
                 const char *usage_line)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            mf_cli_usage(stdout, opts, n_opts, usage_line);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            mf_cli_error("unexpected argument '%s' (see --help)", a);
            return 2;
        }
        const mf_opt *o = NULL;
        for (size_t k = 0; k < n_opts; k++) {
            if (strcmp(a + 2, opts[k].name) == 0) {
                o = &opts[k];
            }
        }
        if (o == NULL) {
            mf_cli_error("unknown option '%s' (see --help)", a);
            return 2;
        }
        if (o->kind == MF_OPT_FLAG) {
            *(bool *) o->target = true;
            continue;
        }
        if (i + 1 >= argc) {
            mf_cli_error("option '%s' needs a value", a);
            return 2;
        }
        if (parse_value(o, argv[++i]) != 0) {
            return 2;
        }
    }
    return 0;
}

void mf_progress_start(mf_progress *p, const char *what)
{
    p->t0 = mf_cli_now();
    p->last = p->t0;
    p->what = what;
    p->shown = false;
    p->lines = isatty(STDERR_FILENO) != 1;
    p->tenths = 0;
}

void mf_progress_update(mf_progress *p, size_t done, size_t total, const char *extra)
{
    double now = mf_cli_now();
    bool last = done >= total;
    int tenths = total > 0 ? (int) (10 * (done < total ? done : total) / total) : 10;
    if (p->lines ? tenths <= p->tenths : now - p->t0 < 2.0 || (now - p->last < 0.5 && !last)) {
        return;
    }
    p->last = now;
    p->tenths = tenths;
    double rate = (double) done / fmax(now - p->t0, 1e-9);
    double eta = rate > 0 ? (double) (total - done) / rate : 0;
    fprintf(stderr, "%s%s %zu/%zu (%.0f%%)  %.1f/s  ETA %.0fs%s%s%s", p->lines ? "" : "\r", p->what,
            done, total, 100.0 * (double) done / (double) (total ? total : 1), rate, eta,
            extra != NULL ? "  " : "", extra != NULL ? extra : "", p->lines ? "\n" : "   ");
    p->shown = true;
}

void mf_progress_finish(mf_progress *p)
{
    if (p->shown && !p->lines) {
        fputc('\n', stderr);
    }
    p->shown = false;
}
