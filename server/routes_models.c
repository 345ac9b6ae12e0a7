/* SPDX-License-Identifier: MIT */
/* routes_models.c - /v1/models: list, describe, upload, download, delete. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_json.h"
#include "http_req.h"
#include "log.h"
#include "request_json.h"
#include "routes.h"

enum MHD_Result mf_route_models_list(req *r)
{
    mf_reg_model **items = NULL;
    size_t n = 0;
    if (mf_registry_list(r->srv->reg, &items, &n) != MF_OK) {
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    json_t *a = json_array();
    int f = a == NULL;
    for (size_t i = 0; i < n; i++) {
        if (!f && mf_req_may_see(r, items[i]->owner)) {
            f |= json_array_append_new(a, mf_json_model(items[i]->id, items[i]->model,
                                                        items[i]->shipped, items[i]->file_bytes));
        }
        mf_registry_release(r->srv->reg, items[i]);
    }
    free(items);
    if (f) {
        json_decref(a);
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    return mf_http_json(r, 200, mf_json_take_dump(mf_json_model_list(a)));
}

static enum MHD_Result describe(req *r, mf_reg_model *e)
{
    return mf_http_json(r, 200,
                        mf_json_take_dump(mf_json_model(e->id, e->model, e->shipped, e->file_bytes)));
}

static enum MHD_Result weights(req *r, mf_reg_model *e)
{
    int fd = open(e->path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return mf_http_error(r, "internal", NULL, "cannot read the weights of %s", e->id);
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t) st.st_size, fd);
    r->resp_bytes = (long long) st.st_size;
    if (resp == NULL) {
        close(fd);
        return MHD_NO;
    }
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.safetensors\"", e->id);
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    MHD_add_response_header(resp, "Content-Disposition", disp);
    return mf_http_queue(r, 200, resp);
}

enum MHD_Result mf_route_models_upload(req *r)
{
    const char *id = mf_http_arg(r, "id");
    if (id == NULL) {
        return mf_http_error(r, "missing_field", "id",
                             "upload needs the model id as a query argument: POST /v1/models?id=NAME");
    }
    if (!mf_req_id_valid(id)) {
        return mf_http_error(r, "bad_value", "id",
                             "the model id must match [a-z0-9][a-z0-9._-]{0,63}");
    }
    if (!mf_http_content_type_is(r, "application/octet-stream")) {
        const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
        return mf_http_error(r, "unsupported_media_type", NULL,
                             "upload the raw safetensors file as application/octet-stream, not %.60s",
                             ct != NULL ? ct : "without a Content-Type");
    }
    if (r->len == 0) {
        return mf_http_error(r, "empty_body", NULL, "the body must be a safetensors file");
    }
    enum MHD_Result refused;
    if (!mf_http_storage(r, r->len, &refused)) {
        return refused;
    }
    mf_model *m = NULL;
    mf_diag d = {0};
    mf_err err = mf_model_load_buffer_limited((const uint8_t *) r->body, r->len,
                                              mf_registry_model_limits(r->srv->reg), &m, &d);
    if (err == MF_ENOMEM) {
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    if (err != MF_OK) {
        return mf_http_error(r, "invalid_model", d.field[0] != '\0' ? d.field : NULL,
                             "not a valid Manifold model file: %s", d.msg[0] != '\0' ? d.msg : mf_strerror(err));
    }
    /* the uploader's key owns it, whatever owner the file names */
    if (mf_model_set_meta(m, MF_REGISTRY_OWNER_KEY, mf_req_owner(r), &d) != MF_OK) {
        mf_model_free(m);
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    err = mf_registry_add(r->srv->reg, id, m, &d);
    if (err != MF_OK) {
        mf_model_free(m);
        if (err == MF_EBUSY) {
            return mf_http_error(r, "exists", "id", "a model with id %s exists already", id);
        }
        char what[96];
        snprintf(what, sizeof what, "model %s", id);
        return mf_http_store_fail(r, "model store", what, err, &d);
    }
    mf_log(MF_LOG_INFO, r->id, NULL, "model %s uploaded (%zu bytes)", id, r->len);
    mf_reg_model *e = mf_registry_get(r->srv->reg, id);
    if (e == NULL) {
        return mf_http_error(r, "conflict", "id", "model %s was deleted meanwhile", id);
    }
    snprintf(r->location, sizeof r->location, "/v1/models/%s", id);
    char *body = mf_json_take_dump(mf_json_model(e->id, e->model, e->shipped, e->file_bytes));
    mf_registry_release(r->srv->reg, e);
    return mf_http_json(r, 201, body);
}

enum MHD_Result mf_route_model_delete(req *r)
{
    const char *id = r->path_id;
    mf_reg_model *e = mf_req_model(r, id);
    if (e == NULL) {
        return mf_http_error(r, "not_found", NULL, "no model with id %s", id);
    }
    bool may = e->shipped || mf_req_may_change(r, e->owner);
    mf_registry_release(r->srv->reg, e);
    if (!may) {
        return mf_http_error(r, "forbidden", NULL,
                             "model %s belongs to no API key: only an admin key deletes it", id);
    }
    mf_err err = mf_registry_delete(r->srv->reg, id);
    if (err == MF_ENOTFOUND) {
        return mf_http_error(r, "not_found", NULL, "no model with id %s", id);
    }
    if (err == MF_EBUSY) {
        return mf_http_error(r, "protected", NULL,
                             "model %s is a shipped (pre-trained) model and cannot be deleted", id);
    }
    if (err != MF_OK) {
        return mf_http_error(r, "store", NULL, "cannot delete model %s", id);
    }
    mf_log(MF_LOG_INFO, r->id, NULL, "model %s deleted", id);
    return mf_http_queue(r, 204,
                         MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT));
}

/* Answers with the model of r's {id} (held for the call), or 404. */
static enum MHD_Result with_model(req *r, enum MHD_Result (*answer)(req *r, mf_reg_model *e))
{
    const char *id = r->path_id;
    mf_reg_model *e = mf_req_model(r, id);
    if (e == NULL) {
        return mf_http_error(r, "not_found", NULL, "no model with id %s", id);
    }
    enum MHD_Result ret = answer(r, e);
    mf_registry_release(r->srv->reg, e);
    return ret;
}

enum MHD_Result mf_route_model_get(req *r)
{
    return with_model(r, describe);
}

enum MHD_Result mf_route_model_weights(req *r)
{
    return with_model(r, weights);
}
