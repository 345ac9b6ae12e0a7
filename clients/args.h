/* SPDX-License-Identifier: MIT */
/*
 * args.h - a command's arguments: positional arguments anywhere among the
 * options, one-letter aliases (-n, -o) and repeatable options (--param, --target),
 * around tools/cli.c's option table, so the client's flags are typed and
 * range-checked, and their errors worded, the same way as manifold-train's.
 *
 * mf_cli_parse takes "--name value" options only; mf_args_parse first moves
 * the positional arguments and the repeatable options' values aside, then
 * hands the rest to it.
 */
#ifndef MF_ARGS_H
#define MF_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

#define MF_ARGS_MAX_POS    4
#define MF_ARGS_MAX_REPEAT 2

/* What a command accepts besides its option table. */
typedef struct mf_args_spec {
    const char *usage; /* "manifold sample MODEL [options]\n  description..." */
    size_t min_pos;    /* positional arguments required ... */
    size_t max_pos;    /* ... and allowed (<= MF_ARGS_MAX_POS) */
    /* names of the repeatable options (no "--"); unused entries NULL */
    const char *repeat[MF_ARGS_MAX_REPEAT];
} mf_args_spec;

typedef struct mf_args {
    const char *pos[MF_ARGS_MAX_POS]; /* borrowed from argv */
    size_t n_pos;
    /* repeated[k]: the values of repeatable option spec->repeat[k], in order (malloc'd) */
    const char **repeated[MF_ARGS_MAX_REPEAT];
    size_t n_repeated[MF_ARGS_MAX_REPEAT];
} mf_args;

/**
 * Parses argv[first..argc) against opts and spec.  "-n" and "-o" stand for
 * "--n" and "--out"; "--" ends the options.  Returns 0 (*ret filled; release
 * it with mf_args_done), 1 when --help printed the usage on stdout, 2 after
 * reporting a usage error on stderr (then *ret holds nothing to release).
 */
int mf_args_parse(int argc, char **argv, int first, const mf_opt *opts, size_t n_opts,
                  const mf_args_spec *spec, mf_args *ret);

/** Releases what mf_args_parse allocated. */
void mf_args_done(mf_args *a);

/** s as a finite number (all of it: strtod with nothing after); false when it is not one. */
bool mf_args_number(const char *s, double *ret);

#endif /* MF_ARGS_H */
