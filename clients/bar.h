/* SPDX-License-Identifier: MIT */
/*
 * bar.h - the progress bar of `manifold watch`, on stderr.
 *
 * On a terminal the bar is one line redrawn in place ('\r'), at most ten
 * times a second.  Anywhere else (a log file, a CI job, a pipe) carriage
 * returns make a mess, so it prints one plain line each time the job passes
 * another tenth of its total, and the log stays readable.
 */
#ifndef MF_BAR_H
#define MF_BAR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct mf_bar {
    FILE *f;
    bool tty;
    const char *label; /* borrowed: the job id */
    int tenths;        /* non-TTY: the last tenth printed (-1: none) */
    double t0, drawn_at;
    bool on_line; /* TTY: the bar occupies the current line */
} mf_bar;

/** Starts a bar for label on f; tty: redraw in place. */
void mf_bar_init(mf_bar *b, FILE *f, bool tty, const char *label);

/** done of total (total 0: unknown, nothing shown); phase may be NULL. */
void mf_bar_update(mf_bar *b, uint64_t done, uint64_t total, const char *phase);

/** Prints a line of text without mixing it into the bar (clears it first on a TTY). */
void mf_bar_note(mf_bar *b, const char *text);

/** Clears the bar's line on a TTY (before other output to the terminal); redrawn at the next
 * update. */
void mf_bar_clear(mf_bar *b);

/** Ends the bar's line, if one is open. */
void mf_bar_end(mf_bar *b);

#endif /* MF_BAR_H */
