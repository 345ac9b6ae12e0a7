/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the small command-line helpers the programs share (manifold-train,
 * the manifold client, manifoldd): a table driven "--name value" parser with
 * typed, range-checked values, error lines, a progress line with rate and
 * ETA, and a monotonic clock.
 *
 * Every error line a program prints on stderr starts with its name and a
 * colon ("manifold-train: unknown option '--stepz' (see --help)"): main()
 * names the program once (mf_cli_set_prog) and every error goes through
 * mf_cli_error, the parser's own included.
 */
#ifndef MF_CLI_H
#define MF_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum mf_opt_kind {
    MF_OPT_STR,
    MF_OPT_SIZE, /* size_t in [min, max] */
    MF_OPT_U64,
    MF_OPT_FLOAT, /* double in [min, max] */
    MF_OPT_FLAG,  /* no value */
} mf_opt_kind;

typedef struct mf_opt {
    const char *name; /* without the leading "--" */
    mf_opt_kind kind;
    void *target;    /* const char **, size_t *, uint64_t *, double *, bool * */
    double min, max; /* numeric range, inclusive */
    const char *help;
} mf_opt;

#if defined(__GNUC__)
#    define MF_CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#    define MF_CLI_PRINTF(f, a)
#endif

/** Names the program for error lines (a string that outlives the process's use of it). */
void mf_cli_set_prog(const char *name);

/** The name set by mf_cli_set_prog ("manifold-train"); "error" before any was set. */
const char *mf_cli_prog(void);

/** Prints "<prog>: " and the message, then a newline, on stderr. */
MF_CLI_PRINTF(1, 2) void mf_cli_error(const char *fmt, ...);

/** Prints "<prog>: " on stderr: the start of an error line the caller completes. */
void mf_cli_error_begin(void);

/** mf_cli_error with a va_list. */
void mf_cli_verror(const char *fmt, va_list ap);

/**
 * Parses argv[first..argc) against opts.  Unknown options, missing values,
 * junk after a number and out-of-range values are reported on stderr naming
 * the option; returns 0 on success, 2 on a usage error, 1 when --help was given
 * (the usage was then printed to stdout).
 */
int mf_cli_parse(int argc, char **argv, int first, const mf_opt *opts, size_t n_opts,
                 const char *usage_line);

/** Prints the usage line and one line per option. */
void mf_cli_usage(FILE *f, const mf_opt *opts, size_t n_opts, const char *usage_line);

/** Seconds from an arbitrary fixed point (CLOCK_MONOTONIC). */
double mf_cli_now(void);

/**
 * Progress on stderr: on a terminal one line redrawn in place, at most every
 * 0.5 s after the first 2 s; elsewhere (a log) a line of its own each time
 * the work passes another tenth, so that a log stays readable.
 */
typedef struct mf_progress {
    double t0, last;
    const char *what;
    bool shown;
    bool lines; /* stderr is not a terminal: a line per tenth */
    int tenths; /* the tenths passed, in that mode */
} mf_progress;

void mf_progress_start(mf_progress *p, const char *what);
/** done of total units; extra is appended (may be NULL). */
void mf_progress_update(mf_progress *p, size_t done, size_t total, const char *extra);
void mf_progress_finish(mf_progress *p);

#endif /* MF_CLI_H */
