/* SPDX-License-Identifier: MIT */
/* args.c - positional arguments, aliases and repeats around mf_cli_parse (see args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const aliases[][2] = {{"-n", "--n"}, {"-o", "--out"}};

static const char *expand_alias(const char *a)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(a, aliases[i][0]) == 0) {
            return aliases[i][1];
        }
    }
    return a;
}

/* true when --name takes a value (an unknown name does not: mf_cli_parse reports it). */
static bool takes_value(const char *name, const mf_opt *opts, size_t n_opts)
{
    for (size_t k = 0; k < n_opts; k++) {
        if (strcmp(name, opts[k].name) == 0) {
            return opts[k].kind != MF_OPT_FLAG;
        }
    }
    return false;
}

/* The index in spec->repeat of option arg ("--name"), or -1 when it is not repeatable. */
static int repeat_index(const char *arg, const mf_args_spec *spec)
{
    for (int k = 0; k < MF_ARGS_MAX_REPEAT && strncmp(arg, "--", 2) == 0; k++) {
        if (spec->repeat[k] != NULL && strcmp(arg + 2, spec->repeat[k]) == 0) {
            return k;
        }
    }
    return -1;
}

static void free_repeated(mf_args *a)
{
    for (int k = 0; k < MF_ARGS_MAX_REPEAT; k++) {
        free(a->repeated[k]);
        a->repeated[k] = NULL;
        a->n_repeated[k] = 0;
    }
}

int mf_args_parse(int argc, char **argv, int first, const mf_opt *opts, size_t n_opts,
                  const mf_args_spec *spec, mf_args *ret)
{
    size_t n = argc > first ? (size_t) (argc - first) : 0;
    /* rest: the options for mf_cli_parse; at most every argument, plus a NULL. */
    char **rest = calloc(n + 1, sizeof *rest);
    mf_args a = {.n_pos = 0};
    bool ok = rest != NULL;
    for (int k = 0; k < MF_ARGS_MAX_REPEAT; k++) {
        a.repeated[k] = calloc(n + 1, sizeof *a.repeated[k]);
        ok = ok && a.repeated[k] != NULL;
    }
    int n_rest = 0, status = 2;
    if (!ok) {
        mf_cli_error("out of memory");
        goto done;
    }
    bool options = true;
    for (int i = first; i < argc; i++) {
        const char *arg = options ? expand_alias(argv[i]) : argv[i];
        if (options && strcmp(arg, "--") == 0) {
            options = false;
        } else if (options && arg[0] == '-' && arg[1] != '\0') {
            int k = repeat_index(arg, spec);
            if (k >= 0) {
                if (i + 1 >= argc) {
                    mf_cli_error("option '%s' needs a value", arg);
                    goto done;
                }
                a.repeated[k][a.n_repeated[k]++] = argv[++i];
                continue;
            }
            /* mf_cli_parse only reads the strings; the cast drops const for its signature. */
            rest[n_rest++] = (char *) arg;
            if (strncmp(arg, "--", 2) == 0 && takes_value(arg + 2, opts, n_opts) && i + 1 < argc) {
                rest[n_rest++] = argv[++i];
            }
        } else if (a.n_pos < spec->max_pos) {
            a.pos[a.n_pos++] = argv[i];
        } else {
            mf_cli_error("unexpected argument '%s' (see --help)", argv[i]);
            goto done;
        }
    }
    status = mf_cli_parse(n_rest, rest, 0, opts, n_opts, spec->usage);
    if (status == 0 && a.n_pos < spec->min_pos) {
        /* the usage's first line: "manifold sample MODEL [options]" */
        int len = (int) strcspn(spec->usage, "\n");
        mf_cli_error("missing argument; usage: %.*s", len, spec->usage);
        status = 2;
    }
done:
    free(rest);
    if (status == 0) {
        *ret = a;
    } else {
        free_repeated(&a);
    }
    return status;
}

void mf_args_done(mf_args *a)
{
    free_repeated(a);
}

bool mf_args_number(const char *s, double *ret)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) {
        return false;
    }
    *ret = v;
    return true;
}
