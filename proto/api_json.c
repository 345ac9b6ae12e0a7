/* SPDX-License-Identifier: MIT */
/* api_json.c - JSON encoding of responses and events (see api_json.h). */
#include "api_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "utf8.h"

char *mf_json_take_dump(json_t *j)
{
    if (j == NULL) {
        return NULL;
    }
    char *s = mf_json_dumps(j, MF_JSON_DUMP_FLAGS);
    json_decref(j);
    return s;
}

/*
 * A string of text that may quote a client's bytes (an error's message or
 * field): invalid UTF-8 is replaced byte for byte by '?' (core/utf8.h), so
 * the body always encodes; jansson would refuse the string and the client
 * would get "500 internal: out of memory" instead of its error.
 */
static json_t *text_json(const char *s)
{
    if (mf_utf8_valid(s, strlen(s))) {
        return json_string(s);
    }
    char *copy = strdup(s);
    if (copy == NULL) {
        return NULL;
    }
    mf_utf8_repair(copy);
    json_t *j = json_string(copy);
    free(copy);
    return j;
}

/* A string (repaired as text_json does), or null for NULL. */
static json_t *str_or_null(const char *s)
{
    return s != NULL ? text_json(s) : json_null();
}

/* Parsed JSON text (stored payloads are ours, so valid), or null. */
static json_t *parsed_or_null(const char *text)
{
    if (text == NULL) {
        return json_null();
    }
    json_t *j = json_loads(text, 0, NULL);
    return j != NULL ? j : json_null();
}

char *mf_json_error_body(const char *code, const char *message, const char *field)
{
    json_t *e = json_object();
    int f = e == NULL;
    f |= json_object_set_new(e, "code", json_string(code));
    f |= json_object_set_new(e, "message", text_json(message));
    f |= json_object_set_new(e, "field", str_or_null(field));
    e = mf_json_checked(e, f);
    json_t *o = json_object();
    f = o == NULL || e == NULL;
    f |= json_object_set_new(o, "error", e);
    return mf_json_take_dump(mf_json_checked(o, f));
}

char *mf_json_job_error(const char *code, const char *message)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "code", json_string(code));
    f |= json_object_set_new(o, "message", text_json(message));
    return mf_json_take_dump(mf_json_checked(o, f));
}

void mf_json_job_summary(const char *result, const char *error, char *out, size_t cap)
{
    out[0] = '\0';
    json_t *r = result != NULL ? json_loads(result, 0, NULL) : NULL;
    json_t *e = error != NULL ? json_loads(error, 0, NULL) : NULL;
    const char *model = json_string_value(json_object_get(r, "model"));
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (model != NULL) {
        snprintf(out, cap, "made model %s", model);
    } else if (code != NULL) {
        snprintf(out, cap, "%s: %s", code, msg != NULL ? msg : "");
    }
    json_decref(r);
    json_decref(e);
}

json_t *mf_json_event_train_metrics(const char *job_id, uint64_t step, uint64_t steps, double loss,
                                    double heldout_loss)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "job", json_string(job_id));
    f |= json_object_set_new(o, "step", mf_json_u64(step));
    f |= json_object_set_new(o, "steps", mf_json_u64(steps));
    f |= json_object_set_new(o, "loss", mf_json_num(loss));
    f |= json_object_set_new(o, "heldout_loss", mf_json_num(heldout_loss));
    return mf_json_checked(o, f);
}

char *mf_json_train_result(const char *model, uint64_t steps, double loss, json_t *evaluation)
{
    json_t *o = json_object();
    int f = o == NULL;
    if (evaluation != NULL) {
        f |= json_object_set_new(o, "evaluation", evaluation);
    }
    f |= json_object_set_new(o, "model", json_string(model));
    f |= json_object_set_new(o, "steps", mf_json_u64(steps));
    f |= json_object_set_new(o, "loss", mf_json_num(loss));
    return mf_json_take_dump(mf_json_checked(o, f));
}

/* The model's "created" metadata as the wire writes times, or null when it has none in RFC 3339. */
static json_t *model_created(const mf_model *m)
{
    double t = 0;
    return mf_json_time_parse(mf_model_get_meta(m, "created"), &t) ? mf_json_time(t) : json_null();
}

json_t *mf_json_model(const char *id, const mf_model *m, bool protected_model, uint64_t file_bytes)
{
    const mf_mlp_config *c = &m->net->cfg;
    json_t *o = json_object(), *hidden = json_array(), *meta = json_object();
    int f = o == NULL || hidden == NULL || meta == NULL;
    for (uint32_t i = 0; i < c->n_hidden && !f; i++) {
        f |= json_array_append_new(hidden, json_integer(c->hidden[i]));
    }
    for (size_t i = 0; i < m->n_meta && !f; i++) {
        f |= json_object_set_new(meta, m->meta_keys[i], json_string(m->meta_vals[i]));
    }
    const char *parent = mf_model_get_meta(m, "parent");
    f |= json_object_set_new(o, "id", json_string(id));
    f |= json_object_set_new(o, "dataset", str_or_null(mf_model_get_meta(m, "dataset")));
    f |= json_object_set_new(o, "data_dim", json_integer(c->data_dim));
    f |= json_object_set_new(o, "cond_dim", json_integer(c->cond_dim));
    f |= json_object_set_new(o, "hidden", hidden);
    f |= json_object_set_new(o, "emb_dim", json_integer(c->emb_dim));
    f |= json_object_set_new(o, "params", json_integer((json_int_t) m->net->n_params));
    f |= json_object_set_new(o, "schedule", str_or_null(mf_model_get_meta(m, "schedule")));
    f |= json_object_set_new(o, "prediction", str_or_null(mf_model_get_meta(m, "prediction")));
    f |= json_object_set_new(o, "data_offset", mf_json_num(m->data_offset));
    f |= json_object_set_new(o, "data_scale", mf_json_num(m->data_scale));
    f |= json_object_set_new(
        o, "parent", parent != NULL && parent[0] != '\0' ? json_string(parent) : json_null());
    f |= json_object_set_new(o, "created", model_created(m));
    f |= json_object_set_new(o, "provenance", str_or_null(mf_model_get_meta(m, "provenance")));
    f |= json_object_set_new(o, "protected", json_boolean(protected_model));
    f |= json_object_set_new(o, "file_bytes", mf_json_u64(file_bytes));
    f |= json_object_set_new(o, "metadata", meta);
    return mf_json_checked(o, f);
}

static json_t *link(const char *id, const char *suffix)
{
    char buf[160];
    snprintf(buf, sizeof buf, "/v1/jobs/%s%s", id, suffix);
    return json_string(buf);
}

json_t *mf_json_job(const mf_job_view *v)
{
    json_t *o = json_object(), *prog = json_object(), *links = json_object();
    int f = o == NULL || prog == NULL || links == NULL;
    f |= json_object_set_new(prog, "done", mf_json_u64(v->done));
    f |= json_object_set_new(prog, "total", mf_json_u64(v->total));
    f |= json_object_set_new(links, "self", link(v->id, ""));
    f |= json_object_set_new(links, "events", link(v->id, "/events"));
    f |= json_object_set_new(links, "result", link(v->id, "/result"));
    f |= json_object_set_new(links, "cancel", link(v->id, "/cancel"));
    f |= json_object_set_new(o, "id", json_string(v->id));
    f |= json_object_set_new(o, "type", json_string(v->type));
    f |= json_object_set_new(
        o, "model", v->model != NULL && v->model[0] != '\0' ? json_string(v->model) : json_null());
    f |= json_object_set_new(o, "state", json_string(v->state));
    f |= json_object_set_new(o, "params", parsed_or_null(v->params));
    f |= json_object_set_new(o, "progress", prog);
    if (v->queue_position >= 0) {
        f |= json_object_set_new(o, "queue_position", json_integer(v->queue_position));
    }
    if (v->metrics != NULL) {
        f |= json_object_set_new(o, "metrics", parsed_or_null(v->metrics));
    }
    if (v->result != NULL && strlen(v->result) <= MF_JSON_RESULT_INLINE_MAX) {
        f |= json_object_set_new(o, "result", parsed_or_null(v->result));
    }
    if (v->error != NULL) {
        f |= json_object_set_new(o, "error", parsed_or_null(v->error));
    }
    if (v->cancel_requested) {
        f |= json_object_set_new(o, "cancel_requested", json_true());
    }
    f |= json_object_set_new(o, "attempts", json_integer(v->attempts));
    f |= json_object_set_new(o, "created_at", mf_json_time(v->created_at));
    f |= json_object_set_new(o, "started_at", mf_json_time(v->started_at));
    f |= json_object_set_new(o, "finished_at", mf_json_time(v->finished_at));
    f |= json_object_set_new(o, "links", links);
    return mf_json_checked(o, f);
}

json_t *mf_json_samples(const float *x, size_t n, size_t D)
{
    json_t *a = json_array();
    int f = a == NULL;
    for (size_t i = 0; i < n && !f; i++) {
        json_t *row = json_array();
        f |= row == NULL;
        for (size_t d = 0; d < D && !f; d++) {
            f |= json_array_append_new(row, mf_json_float(x[i * D + d]));
        }
        f |= json_array_append_new(a, row);
    }
    return mf_json_checked(a, f);
}

json_t *mf_json_sample_result(const mf_sample_view *v)
{
    json_t *o = json_object();
    int f = o == NULL;
    const mf_sample_req *q = v->req;
    f |= json_object_set_new(o, "model", json_string(q->model));
    f |= json_object_set_new(o, "sampler", json_string(mf_sampler_name(q->sampler)));
    f |= json_object_set_new(o, "n", json_integer((json_int_t) q->n));
    f |= json_object_set_new(o, "steps", json_integer((json_int_t) q->steps));
    f |= json_object_set_new(o, "eta", mf_json_num(q->eta));
    f |= json_object_set_new(o, "seed", mf_json_u64(q->seed));
    f |= json_object_set_new(o, "precision", json_string(mf_precision_names[q->precision]));
    if (q->precision != q->precision_asked) {
        f |= json_object_set_new(o, "precision_asked",
                                 json_string(mf_precision_names[q->precision_asked]));
    }
    if (q->has_target) {
        f |= json_object_set_new(o, "target", mf_json_num(q->target));
    }
    if (q->n_condition > 0) {
        json_t *c = json_array();
        f |= c == NULL;
        for (size_t i = 0; i < q->n_condition && c != NULL; i++) {
            f |= json_array_append_new(c, mf_json_num(q->condition[i]));
        }
        f |= json_object_set_new(o, "condition", c);
    }
    if (q->has_guidance) {
        json_t *g = json_object();
        f |= g == NULL;
        f |= json_object_set_new(g, "mode", json_string(mf_guide_mode_name(q->guidance)));
        f |= json_object_set_new(g, "w", mf_json_num(q->guidance_w));
        f |= json_object_set_new(o, "guidance", g);
    }
    if (v->x != NULL) {
        f |= json_object_set_new(o, "samples", mf_json_samples(v->x, q->n, v->D));
    }
    f |= json_object_set_new(o, "metrics",
                             v->metrics != NULL ? json_incref(v->metrics) : json_null());
    if (v->metrics == NULL && v->metrics_skipped != NULL) {
        f |= json_object_set_new(o, "metrics_skipped", json_string(v->metrics_skipped));
    }
    return mf_json_checked(o, f);
}

json_t *mf_json_event_status(const char *job_id, const char *state, json_t *job_object)
{
    json_t *o = json_object();
    int f = o == NULL;
    if (job_id != NULL) {
        f |= json_object_set_new(o, "job", json_string(job_id));
    }
    f |= json_object_set_new(o, "state", json_string(state));
    if (job_object != NULL) {
        f |= json_object_set(o, "job_object", job_object);
    }
    return mf_json_checked(o, f);
}

json_t *mf_json_event_sample_status(const char *state, json_t *result, const char *code,
                                    const char *message)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "state", json_string(state));
    if (result != NULL) {
        f |= json_object_set_new(o, "result", result);
    }
    if (code != NULL) {
        json_t *e = json_object();
        f |= e == NULL;
        f |= json_object_set_new(e, "code", json_string(code));
        f |= json_object_set_new(e, "message", json_string(message != NULL ? message : ""));
        f |= json_object_set_new(o, "error", e);
    }
    return mf_json_checked(o, f);
}

json_t *mf_json_event_progress(const char *job_id, uint64_t done, uint64_t total, const char *phase)
{
    json_t *o = json_object();
    int f = o == NULL;
    if (job_id != NULL) {
        f |= json_object_set_new(o, "job", json_string(job_id));
    }
    f |= json_object_set_new(o, "done", mf_json_u64(done));
    f |= json_object_set_new(o, "total", mf_json_u64(total));
    f |= json_object_set_new(o, "phase", json_string(phase));
    return mf_json_checked(o, f);
}

json_t *mf_json_event_samples(const char *job_id, size_t offset, const float *x, size_t n, size_t D)
{
    json_t *o = json_object();
    int f = o == NULL;
    if (job_id != NULL) {
        f |= json_object_set_new(o, "job", json_string(job_id));
    }
    f |= json_object_set_new(o, "offset", json_integer((json_int_t) offset));
    f |= json_object_set_new(o, "samples", mf_json_samples(x, n, D));
    return mf_json_checked(o, f);
}

json_t *mf_json_event_iteration_metrics(const char *job_id, size_t iteration, double alpha,
                                        double loss, json_t *metrics, double mean_logp,
                                        size_t n_logp, const char *model)
{
    json_t *o = json_object();
    int f = o == NULL || metrics == NULL;
    f |= json_object_set_new(o, "job", json_string(job_id));
    f |= json_object_set_new(o, "iteration", json_integer((json_int_t) iteration));
    f |= json_object_set_new(o, "alpha", iteration > 0 ? mf_json_num(alpha) : json_null());
    f |= json_object_set_new(o, "loss",
                             iteration > 0 && isfinite(loss) ? mf_json_num(loss) : json_null());
    f |= json_object_set_new(o, "metrics", metrics);
    json_t *lp = json_null();
    if (n_logp > 0 && isfinite(mean_logp)) {
        lp = json_object();
        f |= lp == NULL;
        f |= json_object_set_new(lp, "mean", mf_json_num(mean_logp));
        f |= json_object_set_new(lp, "n", json_integer((json_int_t) n_logp));
    }
    f |= json_object_set_new(o, "log_density_parent", lp);
    if (model != NULL) {
        f |= json_object_set_new(o, "model", json_string(model));
    }
    return mf_json_checked(o, f);
}

long mf_json_metrics_iteration(const char *metrics_json)
{
    json_t *j = metrics_json != NULL ? json_loads(metrics_json, 0, NULL) : NULL;
    json_t *it = json_object_get(j, "iteration");
    long k =
        json_is_integer(it) && json_integer_value(it) >= 0 ? (long) json_integer_value(it) : -1;
    json_decref(j);
    return k;
}

json_t *mf_json_event_iteration_samples(const char *job_id, size_t iteration, const float *x,
                                        size_t n, size_t D)
{
    json_t *o = mf_json_event_samples(job_id, 0, x, n, D);
    int f = o == NULL;
    f |= json_object_set_new(o, "iteration", json_integer((json_int_t) iteration));
    return mf_json_checked(o, f);
}

bool mf_json_event_is_final(const char *name, const char *data)
{
    if (strcmp(name, "status") != 0 || data == NULL) {
        return false;
    }
    json_t *j = json_loads(data, 0, NULL);
    const char *st = json_string_value(json_object_get(j, "state"));
    bool final = st != NULL && (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
                                strcmp(st, "cancelled") == 0);
    json_decref(j);
    return final;
}

char *mf_json_ndjson_line(uint64_t seq, const char *name, const char *data)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "id", mf_json_u64(seq));
    f |= json_object_set_new(o, "event", json_string(name));
    f |= json_object_set_new(o, "data", parsed_or_null(data));
    char *s = mf_json_take_dump(mf_json_checked(o, f));
    if (s == NULL) {
        return NULL;
    }
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (line == NULL) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

json_t *mf_json_model_list(json_t *models)
{
    json_t *o = json_object();
    int f = o == NULL || models == NULL;
    f |= json_object_set_new(o, "models", models);
    return mf_json_checked(o, f);
}

json_t *mf_json_job_list(json_t *jobs, const char *next_before)
{
    json_t *o = json_object();
    int f = o == NULL || jobs == NULL;
    f |= json_object_set_new(o, "jobs", jobs);
    f |= json_object_set_new(o, "next_before", str_or_null(next_before));
    return mf_json_checked(o, f);
}

json_t *mf_json_health(const char *status, const char *reason)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "status", json_string(status));
    if (reason != NULL) {
        f |= json_object_set_new(o, "reason", json_string(reason));
    }
    return mf_json_checked(o, f);
}
