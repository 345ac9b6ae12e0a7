/* SPDX-License-Identifier: MIT */
/*
 * view.h - what `manifold watch` prints for the metrics events of the job
 * types that have lines of their own, on stdout as they arrive:
 *
 *   finetune.smeme   (explore) a table with a row per iteration, 0 being the
 *                    parent: alpha, the Adjoint Matching loss, kNN and
 *                    histogram entropy (nats), Vendi, the fraction inside the
 *                    support, SW2 to the parent, the mean log-density under
 *                    the parent (nats); its header printed with the first row;
 *   finetune.reward  (steer) one line for the reward model, then a table with
 *                    a row per target, its header printed with the first row;
 *                    the training events add their loss to the progress bar's
 *                    phase instead of printing;
 *   finetune.dxmi    (distill) one line per evaluation, 0 being the un-tuned
 *                    few-step sampler: SW2, its floor and their ratio, the
 *                    energy AUC, kNN entropy, modes covered, the CD gap.
 *
 * Other metrics events are the watcher's to print as key: value lines.
 * Numbers print with 4 significant digits; a missing or null one as "-".
 */
#ifndef MF_VIEW_H
#define MF_VIEW_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/* What the view of one job's stream remembers between events. */
typedef struct mf_view {
    bool iter_table; /* the iteration table's header is printed */
    bool table;      /* the target table's header is printed */
    bool knn;        /* its columns are the kNN distances (no distance to the manifold) */
    char phase[64];  /* "training, loss 0.123": the phase with the last training loss */
    char loss[32];   /* "loss 0.123", or "" */
} mf_view;

/**
 * Handles data, the object of a metrics event: prints its line or table row
 * on f (flushed), or for a training event only remembers the loss.  Returns
 * false, printing nothing, when the event is none of those (no "iteration",
 * no known "stage").
 */
bool mf_view_metrics(mf_view *v, FILE *f, const json_t *data);

/**
 * The phase of a progress event as the bar should show it: "training" with
 * the last training loss when there is one, else phase itself (may be NULL).
 * The result is phase or v's buffer, valid until the next call.
 */
const char *mf_view_phase(mf_view *v, const char *phase);

#endif /* MF_VIEW_H */
