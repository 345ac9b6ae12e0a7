/* SPDX-License-Identifier: MIT */
/*
 * fuzz_model_file.c - libFuzzer target: the model loader, core/model_file.c's
 * mf_model_load_buffer (a model upload, POST /v1/models; the safetensors
 * container under it, the reward-conditioned and DxMI parts on top).
 *
 * Invariants (model_file.h): a loaded model has a valid architecture
 * (mf_mlp_config_check), finite weights and a finite normalisation with a
 * positive scale, and saves to a file that loads again and saves to the same
 * bytes; an error is MF_EFORMAT (or MF_ENOMEM) with a message.
 *
 * Memory: a header may declare a network far larger than the file; the
 * loader checks every declared size against the tensors the file holds (and
 * --max-model-params) before it allocates (core/model_load.c), so no input
 * of a few KiB may allocate much: run_fuzz.sh's -malloc_limit_mb fails the
 * run on any allocation past it (the 8 x 8192 seed, gen_model_seeds.c, once
 * asked for 2 GiB).
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "model_file.h"

static void check_model(const mf_model *m)
{
    const mf_mlp *net = m->net;
    FUZZ_CHECK(net != NULL && mf_mlp_config_check(&net->cfg) == MF_OK, "architecture");
    FUZZ_CHECK(net->n_params == mf_mlp_config_n_params(&net->cfg), "%zu parameters", net->n_params);
    for (size_t i = 0; i < net->n_params; i++) {
        FUZZ_CHECK(isfinite(net->params[i]), "parameter %zu not finite", i);
    }
    FUZZ_CHECK(isfinite(m->data_offset) && isfinite(m->data_scale) && m->data_scale > 0,
               "normalisation %g, %g", m->data_offset, m->data_scale);
    FUZZ_CHECK(!m->has_cond || (isfinite(m->cond.scale) && m->cond.scale > 0), "cond scale %g",
               m->cond.scale);
}

/* What the loader accepted saves, loads again, and saves to the same bytes. */
static void check_round_trip(const mf_model *m)
{
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    mf_err err = mf_model_to_buffer(m, &a, &na);
    if (err == MF_ENOMEM) {
        return;
    }
    FUZZ_CHECK(err == MF_OK, "a loaded model does not save: %s", mf_err_name(err));
    mf_model *again = NULL;
    mf_diag d = {0};
    err = mf_model_load_buffer(a, na, &again, &d);
    if (err == MF_OK) {
        err = mf_model_to_buffer(again, &b, &nb);
        mf_model_free(again);
    }
    if (err != MF_ENOMEM) {
        FUZZ_CHECK(err == MF_OK, "a saved model does not load: %s (%s)", d.msg, d.field);
        FUZZ_CHECK(na == nb && memcmp(a, b, na) == 0, "saved again to other bytes (%zu, %zu)", na,
                   nb);
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mf_model *m = NULL;
    mf_diag d = {0};
    mf_err err = mf_model_load_buffer(data, size, &m, &d);
    if (err != MF_OK) {
        fuzz_check_diag(err, &d);
        FUZZ_CHECK(err == MF_EFORMAT || err == MF_ENOMEM, "%s: %s", mf_err_name(err), d.msg);
        FUZZ_CHECK(m == NULL, "a model from a failed load");
        return 0;
    }
    check_model(m);
    check_round_trip(m);
    mf_model_free(m);
    return 0;
}
