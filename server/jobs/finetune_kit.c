/* SPDX-License-Identifier: MIT */
/* finetune_kit.c - model names, publishing and checkpoints for model-making jobs (see
 * finetune_kit.h). */
#include "finetune_kit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define DIR_CAP  4200
#define FILE_CAP (DIR_CAP + MF_REQ_ID_MAX + 16) /* dir "/" id ".safetensors" */

void mf_ft_model_name(const mf_job *j, const char *requested, const char *base, const char *tag,
                      size_t room, char out[MF_REQ_ID_MAX + 1])
{
    const char *id = mf_job_id(j);
    char buf[2 * MF_REQ_ID_MAX + 40];
    int n, max = MF_REQ_ID_MAX - (int) room;
    if (requested != NULL && requested[0] != '\0') {
        n = snprintf(buf, sizeof buf, "%s", requested);
    } else if (tag == NULL) {
        n = snprintf(buf, sizeof buf, "%s-%s", base, id);
        if (n < 0 || n > max) {
            n = snprintf(buf, sizeof buf, "%s", id);
        }
    } else {
        /* the job id's hex part: "job-" is the same for every job */
        const char *hex = strncmp(id, "job-", 4) == 0 ? id + 4 : id;
        n = snprintf(buf, sizeof buf, "%s-%s-%s", base, tag, hex);
        if (n < 0 || n > max) {
            n = snprintf(buf, sizeof buf, "%s-%s", tag, id);
        }
    }
    /* every case is a valid id of at most MF_REQ_ID_MAX characters */
    memcpy(out, buf, (size_t) n + 1);
}

mf_err mf_ft_publish(mf_job *j, mf_model *m, const char *name, const char *parent,
                     const char *detail, mf_diag *d)
{
    char prov[256];
    int n = mf_job_provenance(j, prov, sizeof prov);
    if (detail != NULL && n > 0 && (size_t) n < sizeof prov) {
        snprintf(prov + n, sizeof prov - (size_t) n, ", %s", detail);
    }
    mf_err err = mf_model_set_meta(m, "parent", parent, d);
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "provenance", prov, d);
    }
    if (err == MF_OK) {
        err = mf_model_set_created(m, time(NULL), d);
    }
    if (err == MF_OK) {
        /* the key that submitted the job owns the model (registry.h) */
        err = mf_model_set_meta(m, MF_REGISTRY_OWNER_KEY, mf_job_owner(j), d);
    }
    if (err == MF_OK && mf_job_made_model(j, name)) {
        /* An earlier attempt of this job published it and stopped before the job's end was
         * stored (its process died, or its replica lost the job to another): the model of
         * this attempt, the one the job's result names, replaces it. */
        mf_err de = mf_registry_delete(mf_job_registry(j), name);
        if (de != MF_OK && de != MF_ENOTFOUND) {
            return mf_diag_set(d, de, NULL, "cannot replace model %s of an earlier attempt", name);
        }
        mf_log(MF_LOG_INFO, NULL, mf_job_id(j), "model %s of an earlier attempt replaced", name);
    }
    if (err == MF_OK) {
        err = mf_registry_add(mf_job_registry(j), name, m, d);
    }
    return err;
}

/* <store>/checkpoints, and the checkpoint of j in it. */
static void paths(mf_job *j, char dir[DIR_CAP], char file[FILE_CAP])
{
    snprintf(dir, DIR_CAP, "%s/checkpoints", mf_registry_store_dir(mf_job_registry(j)));
    snprintf(file, FILE_CAP, "%s/%s.safetensors", dir, mf_job_id(j));
}

mf_err mf_ft_checkpoint_save(mf_job *j, const mf_model *m)
{
    char dir[DIR_CAP], file[FILE_CAP];
    paths(j, dir, file);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        mf_log(MF_LOG_WARN, NULL, mf_job_id(j), "cannot create %s: %s", dir, strerror(errno));
        return MF_EIO;
    }
    mf_diag d = {0};
    mf_err err = mf_model_save_file(m, file, &d);
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, mf_job_id(j), "cannot save the checkpoint: %s", mf_strerror(err));
    }
    return err;
}

mf_err mf_ft_checkpoint_load(mf_job *j, size_t max_bytes, mf_model **ret)
{
    char dir[DIR_CAP], file[FILE_CAP];
    paths(j, dir, file);
    if (access(file, F_OK) != 0) {
        return MF_ENOTFOUND;
    }
    mf_diag d = {0};
    return mf_model_load_file_limited(file, max_bytes, mf_registry_model_limits(mf_job_registry(j)),
                                      ret, &d);
}

void mf_ft_checkpoint_remove(mf_job *j)
{
    char dir[DIR_CAP], file[FILE_CAP];
    paths(j, dir, file);
    (void) unlink(file);
}
