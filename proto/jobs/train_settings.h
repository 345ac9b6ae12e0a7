/* SPDX-License-Identifier: MIT */
/*
 * train_settings.h - the training settings shared by the jobs that train a
 * network (train, finetune.reward): the network and optimiser fields of
 * core/train_params.h with the API's ranges, as a field table whose offsets
 * are in an mf_train_params (the defaults are core's: decode with
 * with_defaults false after mf_train_settings_default).
 *   hidden    array of 1..MF_MLP_MAX_HIDDEN integers 1..MF_MLP_MAX_WIDTH
 *   emb       even integer 2..MF_MLP_MAX_WIDTH
 *   schedule  string of 1..63 bytes that core's parser builds (mf_schedule_init): its
 *             syntax wrong is bad_value (400), its values out of range impossible (422)
 *   steps     integer 1..max_train_steps        batch  integer 1..max_batch
 *   lr        number in (0, 1]                  lr_min number in [0, 1]
 *   warmup    integer 0..1e9                    ema    number in [0, 0.999999]
 *   clip      number in [0, 1e9]
 */
#ifndef MF_TRAIN_SETTINGS_H
#define MF_TRAIN_SETTINGS_H

#include "job_budget.h"
#include "req_decode.h"
#include "train_params.h"

extern const mf_req_field mf_train_settings[];

/**
 * Adds what training net (its parameters named by net_field) with settings p costs to c:
 * the network's copies, a batch's activations (prefix/batch) and the steps' compute
 * (prefix/steps), as core/train.c allocates and runs them.
 */
void mf_train_settings_cost(const mf_train_params *p, const mf_budget_net *net,
                            const char *net_field, const char *prefix, mf_job_cost *c);

/** Core's defaults (mf_train_params_default), steps and batch capped at the server's limits. */
void mf_train_settings_default(mf_train_params *p, const mf_req_limits *lim);

#endif /* MF_TRAIN_SETTINGS_H */
