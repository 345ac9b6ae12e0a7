/* SPDX-License-Identifier: MIT */
/* bar.c - the watch progress bar (see bar.h). */
#include "bar.h"

#include "cli.h"
#include "output.h"

#define BAR_WIDTH 30
#define REDRAW_S  0.1
#define MAX_PHASE 40

void mf_bar_init(mf_bar *b, FILE *f, bool tty, const char *label)
{
    *b = (mf_bar){.f = f, .tty = tty, .label = label, .tenths = -1, .t0 = mf_cli_now()};
    b->drawn_at = b->t0 - 1.0;
}

void mf_bar_update(mf_bar *b, uint64_t done, uint64_t total, const char *phase)
{
    if (total == 0) {
        return;
    }
    if (done > total) {
        done = total;
    }
    double frac = (double) done / (double) total;
    double now = mf_cli_now();
    if (!b->tty) {
        int tenths = (int) (frac * 10.0);
        if (tenths <= b->tenths) {
            return;
        }
        b->tenths = tenths;
        fprintf(b->f, "%s: %3d%% (%llu/%llu", b->label, tenths * 10, (unsigned long long) done,
                (unsigned long long) total);
        if (phase != NULL) {
            fputs(", ", b->f);
            mf_out_clean(b->f, phase, MAX_PHASE);
        }
        fprintf(b->f, ", %.1f s)\n", now - b->t0);
        fflush(b->f);
        return;
    }
    if (now - b->drawn_at < REDRAW_S && done < total) {
        return;
    }
    b->drawn_at = now;
    int filled = (int) (frac * BAR_WIDTH);
    fprintf(b->f, "\r%s [", b->label);
    for (int i = 0; i < BAR_WIDTH; i++) {
        fputc(i < filled ? '#' : '.', b->f);
    }
    fprintf(b->f, "] %3.0f%% %llu/%llu ", 100.0 * frac, (unsigned long long) done,
            (unsigned long long) total);
    if (phase != NULL) {
        mf_out_clean(b->f, phase, MAX_PHASE);
    }
    fprintf(b->f, " %.1fs\033[K", now - b->t0);
    fflush(b->f);
    b->on_line = true;
}

void mf_bar_clear(mf_bar *b)
{
    if (b->tty && b->on_line) {
        fputs("\r\033[K", b->f);
        fflush(b->f);
        b->on_line = false;
        b->drawn_at = 0; /* redraw at the next update */
    }
}

void mf_bar_note(mf_bar *b, const char *text)
{
    mf_bar_clear(b);
    fputs(text, b->f);
    fputc('\n', b->f);
    fflush(b->f);
}

void mf_bar_end(mf_bar *b)
{
    if (b->tty && b->on_line) {
        fputc('\n', b->f);
        b->on_line = false;
    }
}
