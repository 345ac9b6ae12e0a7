/* SPDX-License-Identifier: MIT */
/*
 * args.h - a command's arguments: positional arguments anywhere among the
 * options, one-letter aliases (-n, -o) and one repeatable option (--param),
 * around tools/cli.c's option table, so the client's flags are typed and
 * range-checked, and their errors worded, the same way as manifold-train's.
 *
 * mf_cli_parse takes "--name value" options only; mf_args_parse first moves
 * the positional arguments and the repeatable option's values aside, then
 * hands the rest to it.
 */
#ifndef MF_ARGS_H
#define MF_ARGS_H

#include <stddef.h>

#include "cli.h"

#define MF_ARGS_MAX_POS 4

/* What a command accepts besides its option table. */
typedef struct mf_args_spec {
    const char *usage;  /* "manifold sample MODEL [options]\n  description..." */
    size_t min_pos;     /* positional arguments required ... */
    size_t max_pos;     /* ... and allowed (<= MF_ARGS_MAX_POS) */
    const char *repeat; /* name of the repeatable option (no "--"), or NULL */
} mf_args_spec;

typedef struct mf_args {
    const char *pos[MF_ARGS_MAX_POS]; /* borrowed from argv */
    size_t n_pos;
    const char **repeated; /* the repeatable option's values, in order (malloc'd) */
    size_t n_repeated;
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

#endif /* MF_ARGS_H */
