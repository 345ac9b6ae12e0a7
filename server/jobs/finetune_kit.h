/* SPDX-License-Identifier: MIT */
/*
 * finetune_kit.h - what jobs that make a model share: the new model's name,
 * publishing it with its parent link and provenance, and checkpoints that let
 * a job interrupted by a crash resume.  (The evaluation of a model's samples
 * is numerics: core/evaluate.h.)
 *
 * Checkpoints live in <model store>/checkpoints/<job id>.safetensors, written
 * atomically (core/model_file.h), one per job, replaced as the job goes on
 * and removed when it ends.
 */
#ifndef MF_FINETUNE_KIT_H
#define MF_FINETUNE_KIT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "job_type.h"
#include "model_file.h"

/**
 * The id of the model job j makes: requested when not "" (the client's
 * out_model), else "<base>-<job id>" (tag NULL) or "<base>-<tag>-<job id
 * without "job-">", and when that is longer than an id allows less room
 * characters (kept for a suffix the job adds), the job id (tag NULL) or
 * "<tag>-<job id>".  room is at most 32.
 */
void mf_ft_model_name(const mf_job *j, const char *requested, const char *base, const char *tag,
                      size_t room, char out[MF_REQ_ID_MAX + 1]);

/**
 * Records m's lineage (metadata parent = parent, "" for none; provenance =
 * "manifoldd <job type> job <id>", then ", " detail when detail is not NULL;
 * created = now) and adds it to the registry as name; the registry takes m on
 * success only.  Errors: the registry's (MF_EBUSY: name exists), the
 * metadata's; d filled.
 */
MF_MUST_CHECK mf_err mf_ft_publish(mf_job *j, mf_model *m, const char *name, const char *parent,
                                   const char *detail, mf_diag *d);

/** Saves m as j's checkpoint (atomic); a failure is logged and returned. */
mf_err mf_ft_checkpoint_save(mf_job *j, const mf_model *m);

/**
 * j's checkpoint, when one was saved and loads (max_bytes at most); else
 * MF_ENOTFOUND (none) or the loader's error.  *ret written on success.
 */
MF_MUST_CHECK mf_err mf_ft_checkpoint_load(mf_job *j, size_t max_bytes, mf_model **ret);

/** Removes j's checkpoint (none: nothing to do). */
void mf_ft_checkpoint_remove(mf_job *j);

#endif /* MF_FINETUNE_KIT_H */
