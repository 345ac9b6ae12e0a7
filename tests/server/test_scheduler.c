/* SPDX-License-Identifier: MIT */
/*
 * test_scheduler.c - server/scheduler.c in isolation: a real scheduler (libuv
 * loop, workers, thread teams) on a real SQLite job store and a registry with
 * the shipped gaussian model.
 *
 * Resolving requests (step defaults, the steps and compute-budget limits with
 * their fields, drawn seeds); sampling calls (samples equal to a direct run
 * of core's sampler, determinism, batching of waiting calls, progress, the
 * waiting-call limit, a cancel flag); jobs (sample and train jobs to their
 * results, the event log and the event hook, failures, queue positions, the
 * queue limit, cancelling queued, running and finished jobs); recovery of
 * jobs left running by a crash; and draining.
 *
 * Waiting is always bounded (WAIT_UNTIL: 30 s in steps of 10 ms).  Calls
 * that must wait are held behind a "gate" call whose done callback blocks the
 * only worker until the test opens it, so batching and limits are
 * deterministic.  Every test works in a fresh mkdtemp directory under /tmp
 * that it removes.
 */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "api_json.h"
#include "job_codec.h"
#include "job_type.h"
#include "log.h"
#include "model_dxmi.h"
#include "model_file.h"
#include "par.h"
#include "registry.h"
#include "request_json.h"
#include "sampler.h"
#include "scheduler.h"
#include "store.h"
#include "test_files.h"
#include "test_jobs.h"
#include "test_util.h"
#include "test_wait.h"

#define GAUSSIAN_PARAMS 149250 /* models/README.md */

/* Worker and team sizes the loop tests run with. */
static const struct {
    size_t workers, team;
} configs[] = {{1, 1}, {2, 1}, {1, 2}};

/* ---- files ------------------------------------------------------------------------ */

/* ---- the environment: registry (shipped gaussian), SQLite store, scheduler ---------- */

enum {
    HOOK_MAX = 4096
};

typedef struct env {
    char root[64], shipped[128], models[128], db_uri[192];
    mf_store *store;
    mf_registry *reg;
    mf_sched *s;
    bool drained;
    /* the event hook's calls, by job id */
    pthread_mutex_t mu;
    char (*hook_ids)[MF_ID_MAX + 1];
    size_t n_hook;
} env;

static void open_store(env *e)
{
    mf_diag d = {0};
    mf_err err = mf_store_open(e->db_uri, &e->store, &d);
    ck_assert_msg(err == MF_OK, "store %s: %s: %s", e->db_uri, mf_err_name(err), d.msg);
}

static void env_init(env *e)
{
    memset(e, 0, sizeof *e);
    mf_log_set_level(MF_LOG_ERROR);
    make_tmpdir(e->root, sizeof e->root, "/tmp/mf_test_sched_XXXXXX");
    snprintf(e->shipped, sizeof e->shipped, "%s/shipped", e->root);
    snprintf(e->models, sizeof e->models, "%s/models", e->root);
    snprintf(e->db_uri, sizeof e->db_uri, "sqlite:%s/jobs.db", e->root);
    ck_assert_int_eq(mkdir(e->shipped, 0755), 0);
    char src[1024], dst[256];
    snprintf(src, sizeof src, "%s/../models/gaussian.safetensors", test_data());
    snprintf(dst, sizeof dst, "%s/gaussian.safetensors", e->shipped);
    copy_file(src, dst, SIZE_MAX);
    size_t loaded = 0;
    ck_assert_int_eq(
        mf_registry_open(e->shipped, e->models, 8u << 20, NULL, &e->reg, &loaded, NULL), MF_OK);
    ck_assert_uint_eq(loaded, 1);
    open_store(e);
    pthread_mutex_init(&e->mu, NULL);
    e->hook_ids = calloc(HOOK_MAX, sizeof *e->hook_ids);
    ck_assert_ptr_nonnull(e->hook_ids);
}

static void on_event(void *ctx, const char *job_id)
{
    env *e = ctx;
    pthread_mutex_lock(&e->mu);
    if (e->n_hook < HOOK_MAX) {
        snprintf(e->hook_ids[e->n_hook++], MF_ID_MAX + 1, "%s", job_id);
    }
    pthread_mutex_unlock(&e->mu);
}

static size_t hook_count(env *e, const char *id)
{
    size_t n = 0;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->n_hook; i++) {
        n += strcmp(e->hook_ids[i], id) == 0;
    }
    pthread_mutex_unlock(&e->mu);
    return n;
}

static mf_sched_cfg small_cfg(size_t workers, size_t team)
{
    mf_sched_cfg c = mf_sched_cfg_default();
    c.workers = workers;
    c.team = team;
    c.slice_seconds = 0.05;
    return c;
}

static void env_start(env *e, const mf_sched_cfg *cfg)
{
    mf_err err = mf_sched_start(cfg, e->store, e->reg, &e->s);
    ck_assert_msg(err == MF_OK, "start: %s", mf_err_name(err));
    e->drained = false;
    mf_sched_set_event_hook(e->s, on_event, e);
}

static void env_stop(env *e)
{
    if (e->s == NULL) {
        return;
    }
    if (!e->drained) {
        ck_assert(mf_sched_drain(e->s, 30.0));
    }
    mf_sched_free(e->s);
    e->s = NULL;
}

static void env_done(env *e)
{
    env_stop(e);
    mf_registry_free(e->reg);
    mf_store_close(e->store);
    free(e->hook_ids);
    pthread_mutex_destroy(&e->mu);
    remove_tree(e->root);
}

/* ---- sampling calls ------------------------------------------------------------------ */

typedef struct call_ctx {
    atomic_int done_calls;
    atomic_int gate;    /* non-zero: done blocks (its worker with it) until cleared */
    atomic_int in_done; /* done has been entered */
    atomic_size_t last_done, last_total, n_progress;
    atomic_int progress_bad; /* progress went backwards, beyond total, or total changed, or
                                sampling came after metrics */
    atomic_int in_metrics;   /* the metrics phase began */
} call_ctx;

static void ctx_init(call_ctx *x, bool gate)
{
    atomic_init(&x->done_calls, 0);
    atomic_init(&x->gate, gate ? 1 : 0);
    atomic_init(&x->in_done, 0);
    atomic_init(&x->last_done, 0);
    atomic_init(&x->last_total, 0);
    atomic_init(&x->n_progress, 0);
    atomic_init(&x->progress_bad, 0);
    atomic_init(&x->in_metrics, 0);
}

static void on_progress(mf_sample_call *c, size_t done, size_t total, const char *phase)
{
    call_ctx *x = c->ctx;
    size_t prev = atomic_load(&x->last_done), pt = atomic_load(&x->last_total);
    bool metrics = strcmp(phase, "metrics") == 0;
    if (done < prev || done > total || (pt != 0 && pt != total) ||
        (!metrics && strcmp(phase, "sampling") != 0) || (metrics && done != total) ||
        (!metrics && atomic_load(&x->in_metrics) != 0)) {
        atomic_store(&x->progress_bad, 1);
    }
    if (metrics) {
        atomic_store(&x->in_metrics, 1);
    }
    atomic_store(&x->last_done, done);
    atomic_store(&x->last_total, total);
    atomic_fetch_add(&x->n_progress, 1);
}

static void on_done(mf_sample_call *c)
{
    call_ctx *x = c->ctx;
    atomic_store(&x->in_done, 1);
    for (int i = 0; atomic_load(&x->gate) != 0 && i < WAIT_TRIES; i++) {
        sleep_ms(10);
    }
    atomic_fetch_add(&x->done_calls, 1); /* the last touch of x */
}

/* A resolved call for model (its reference taken), metrics off. */
static mf_sample_call *new_call(env *e, const char *model, mf_sampler_kind kind, size_t steps,
                                size_t n, uint64_t seed, call_ctx *x)
{
    mf_sample_call *c = mf_sample_call_new();
    ck_assert_ptr_nonnull(c);
    c->model = mf_registry_get(e->reg, model);
    ck_assert_ptr_nonnull(c->model);
    snprintf(c->req.model, sizeof c->req.model, "%s", model);
    c->req.n = n;
    c->req.sampler = kind;
    c->req.has_sampler = true;
    c->req.steps = steps;
    c->req.eta = 0;
    c->req.has_seed = true;
    c->req.seed = seed;
    c->req.metrics = false;
    mf_diag d = {0};
    mf_err err = mf_sched_resolve(e->s, &c->req, c->model->model, "", &d);
    ck_assert_msg(err == MF_OK, "resolve: %s (%s)", d.msg, d.field);
    c->progress = on_progress;
    c->done = on_done;
    c->ctx = x;
    return c;
}

static void submit_call(env *e, mf_sample_call *c)
{
    mf_diag d = {0};
    mf_err err = mf_sched_sample(e->s, c, &d);
    ck_assert_msg(err == MF_OK, "sample: %s", mf_err_name(err));
}

/* Waits for done, then checks it ran once, succeeded, and returned n x D finite values. */
static void wait_call_ok(mf_sample_call *c, call_ctx *x, size_t D)
{
    WAIT_UNTIL(atomic_load(&x->done_calls) >= 1);
    ck_assert_int_eq(atomic_load(&x->done_calls), 1);
    ck_assert_msg(c->err == MF_OK, "call failed: %s (%s)", mf_err_name(c->err), c->diag.msg);
    ck_assert_ptr_nonnull(c->x);
    for (size_t i = 0; i < c->req.n * D; i++) {
        ck_assert_msg(isfinite(c->x[i]), "x[%zu] = %g", i, c->x[i]);
    }
    ck_assert(c->queued_at <= c->started_at && c->started_at <= c->finished_at);
}

/* One call run alone (submitted and awaited); its samples, malloc'd. */
static float *sample_alone(env *e, const char *model, mf_sampler_kind kind, size_t steps, size_t n,
                           uint64_t seed)
{
    call_ctx x;
    ctx_init(&x, false);
    mf_sample_call *c = new_call(e, model, kind, steps, n, seed, &x);
    size_t D = c->model->model->net->cfg.data_dim;
    submit_call(e, c);
    wait_call_ok(c, &x, D);
    float *out = malloc(n * D * sizeof(float));
    ck_assert_ptr_nonnull(out);
    memcpy(out, c->x, n * D * sizeof(float));
    mf_sample_call_release(c, e->reg);
    return out;
}

/* The same samples straight from core's sampler on a team (no scheduler), in data space. */
static float *sample_direct(const mf_model *m, mf_sampler_kind kind, size_t steps, size_t n,
                            uint64_t seed, size_t team)
{
    size_t D = m->net->cfg.data_dim;
    float *x = malloc(n * D * sizeof(float));
    ck_assert_ptr_nonnull(x);
    mf_par *p;
    ck_assert_int_eq(mf_par_new(team, &p), MF_OK);
    mf_sampler_opts o = {.kind = kind, .steps = steps, .seed = seed};
    ck_assert_int_eq(mf_par_sample(p, m->net, &m->sched, &o, x, n), MF_OK);
    mf_par_free(p);
    mf_model_to_data(m, x, n * D);
    return x;
}

/* ---- jobs ---------------------------------------------------------------------------- */

/* The error code of the last try_submit that failed ("" after a success). */
static char last_code[32];

static mf_err try_submit(env *e, const char *body, char id[MF_ID_MAX + 1], long *pos, char *field,
                         size_t field_cap)
{
    mf_job_req q;
    mf_diag d = {0};
    mf_req_limits lim = mf_req_limits_default();
    ck_assert_msg(mf_req_decode_job(body, strlen(body), &lim, &q, &d) == MF_OK, "%s: %s", body,
                  d.msg);
    mf_err err = mf_sched_submit(e->s, &q, id, pos, &d);
    snprintf(field, field_cap, "%s", err == MF_OK ? "" : d.field);
    snprintf(last_code, sizeof last_code, "%s", err == MF_OK ? "" : d.code);
    /* taken, whatever the outcome */
    ck_assert_ptr_null(q.params_json);
    ck_assert_ptr_null(q.params);
    return err;
}

static void submit_job(env *e, const char *body, char id[MF_ID_MAX + 1], long want_pos)
{
    long pos = -2;
    char field[128];
    mf_err err = try_submit(e, body, id, &pos, field, sizeof field);
    ck_assert_msg(err == MF_OK, "submit %s: %s (%s)", body, mf_err_name(err), field);
    ck_assert_msg(strncmp(id, "job-", 4) == 0 && mf_req_id_valid(id), "id %s", id);
    if (want_pos >= 0) {
        ck_assert_int_eq(pos, want_pos);
    }
}

static mf_job_rec get_job(env *e, const char *id)
{
    return store_job(e->store, id);
}

static mf_job_state job_state(env *e, const char *id)
{
    return store_job_state(e->store, id);
}

static uint64_t job_done(env *e, const char *id)
{
    return store_job_done(e->store, id);
}

static mf_job_rec wait_final(env *e, const char *id)
{
    WAIT_UNTIL(mf_job_state_final(job_state(e, id)));
    return get_job(e, id);
}

static json_t *parse(const char *text)
{
    ck_assert_ptr_nonnull(text);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "bad JSON (%s): %.200s", je.text, text);
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

/* The "code" of a job's error JSON. */
static void assert_error_code(const mf_job_rec *r, const char *code)
{
    json_t *j = parse(r->error);
    ck_assert_str_eq(jstr(j, "code"), code);
    json_decref(j);
}

/*
 * A job's event log as "name[:state]" items joined by commas (status events
 * with their state), checking sequence numbers 1..n without gaps and that
 * last_seq is n.  *ret_ev (optional) gets the events (mf_event_recs_free).
 */
static void event_log(env *e, const char *id, char *out, size_t cap, mf_event_rec **ret_ev,
                      size_t *ret_n)
{
    mf_event_rec *ev = NULL;
    size_t n = 0;
    ck_assert_int_eq(mf_store_events_after(e->store, id, 0, 100000, &ev, &n), MF_OK);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ev[i].seq, i + 1);
        size_t l = strlen(out);
        if (strcmp(ev[i].name, "status") == 0) {
            json_t *j = parse(ev[i].data);
            snprintf(out + l, cap - l, "%sstatus:%s", i ? "," : "", jstr(j, "state"));
            json_decref(j);
        } else {
            snprintf(out + l, cap - l, "%s%s", i ? "," : "", ev[i].name);
        }
    }
    mf_job_rec r = get_job(e, id);
    ck_assert_uint_eq(r.last_seq, n);
    mf_job_rec_done(&r);
    if (ret_ev != NULL) {
        *ret_ev = ev;
        *ret_n = n;
    } else {
        mf_event_recs_free(ev, n);
    }
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Whether every event naming a job names this one; else *why says which does not. */
static bool events_name_job(const mf_event_rec *ev, size_t n, const char *id, char *why, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        json_t *j = parse(ev[i].data);
        const char *job = jstr(j, "job");
        bool ok = job == NULL || strcmp(job, id) == 0;
        if (!ok) {
            snprintf(why, cap, "event %zu (%s) names job \"%s\", not %s", i + 1, ev[i].data, job,
                     id);
        }
        json_decref(j);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static void assert_events_name_job(const mf_event_rec *ev, size_t n, const char *id)
{
    char why[512];
    ck_assert_msg(events_name_job(ev, n, id, why, sizeof why), "%s", why);
}

static mf_sched_stats stats(env *e)
{
    mf_sched_stats st;
    mf_sched_get_stats(e->s, &st);
    return st;
}

/* A D = 2 model made here with hidden 8, T diffusion steps, cond_dim C. */
static mf_model *small_model(size_t T, uint32_t C)
{
    mf_mlp_config cfg = {.data_dim = 2, .cond_dim = C, .emb_dim = 4, .n_hidden = 1};
    cfg.hidden[0] = 8;
    char spec[64];
    snprintf(spec, sizeof spec, "linear:0.0001:0.02:%zu", T);
    mf_model *m = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_model_new(&cfg, spec, &m, &d) == MF_OK, "%s", d.msg);
    mf_mlp_init_params(m->net, 1);
    return m;
}

/* ---- resolve ------------------------------------------------------------------------- */

static mf_err resolve(env *e, mf_sample_req *q, const mf_model *m, const char *prefix,
                      char field[128])
{
    mf_diag d = {0};
    mf_err err = mf_sched_resolve(e->s, q, m, prefix, &d);
    snprintf(field, 128, "%s", err == MF_OK ? "" : d.field);
    if (err != MF_OK) {
        ck_assert_msg(d.msg[0] != '\0', "no message");
    }
    return err;
}

static mf_sample_req req(mf_sampler_kind kind, size_t steps, size_t n)
{
    mf_sample_req q;
    memset(&q, 0, sizeof q);
    snprintf(q.model, sizeof q.model, "m");
    q.sampler = kind;
    q.has_sampler = true;
    q.steps = steps;
    q.n = n;
    q.has_seed = true;
    q.seed = 5;
    return q;
}

START_TEST(test_resolve)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    env_start(&e, &cfg);
    mf_reg_model *g = mf_registry_get(e.reg, "gaussian");
    const mf_model *m = g->model;
    ck_assert_uint_eq(m->sched.T, 1000);
    ck_assert_uint_eq(m->net->n_params, GAUSSIAN_PARAMS);
    char field[128];

    /* step defaults: T for ddpm, 100 for ddim and ode; given steps are kept */
    static const struct {
        mf_sampler_kind kind;
        size_t steps, want;
    } defaults[] = {{MF_SAMPLER_DDPM, 0, 1000}, {MF_SAMPLER_DDIM, 0, 100},
                    {MF_SAMPLER_ODE, 0, 100},   {MF_SAMPLER_DDPM, 7, 7},
                    {MF_SAMPLER_DDIM, 37, 37},  {MF_SAMPLER_ODE, 1000, 1000}};

    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        mf_sample_req q = req(defaults[i].kind, defaults[i].steps, 10);
        ck_assert_int_eq(resolve(&e, &q, m, "", field), MF_OK);
        ck_assert_uint_eq(q.steps, defaults[i].want);
        ck_assert(q.has_seed);
        ck_assert_uint_eq(q.seed, 5); /* a given seed is kept */
        ck_assert_uint_eq(q.n, 10);
    }
    /* steps > T: the field under the prefix */
    mf_sample_req q = req(MF_SAMPLER_DDPM, 1001, 10);
    ck_assert_int_eq(resolve(&e, &q, m, "", field), MF_ERANGE);
    ck_assert_str_eq(field, "/steps");
    q = req(MF_SAMPLER_DDIM, 1001, 10);
    ck_assert_int_eq(resolve(&e, &q, m, "/params", field), MF_ERANGE);
    ck_assert_str_eq(field, "/params/steps");

    /* a model with T = 50 < 100: every default is T, 51 is too many */
    mf_model *t50 = small_model(50, 0);
    for (int k = 0; k < 3; k++) {
        q = req((mf_sampler_kind) k, 0, 10);
        ck_assert_int_eq(resolve(&e, &q, t50, "", field), MF_OK);
        ck_assert_uint_eq(q.steps, 50);
    }
    q = req(MF_SAMPLER_DDIM, 51, 10);
    ck_assert_int_eq(resolve(&e, &q, t50, "", field), MF_ERANGE);
    ck_assert_str_eq(field, "/steps");

    /* a DxMI model with a 5-step chain: var by default with its 5 steps, and only those;
     * the other samplers as before; var nowhere else */
    mf_var_sched v;
    ck_assert_int_eq(mf_var_sched_init(&t50->sched, 5, MF_VAR_SCHED_CODE, &v), MF_OK);
    mf_model *dxm = NULL;
    ck_assert_int_eq(mf_model_clone(t50, &dxm), MF_OK);
    ck_assert_int_eq(mf_model_set_var(dxm, &v, MF_VAR_SCHED_CODE, NULL), MF_OK);
    q = req(MF_SAMPLER_DDPM, 0, 10);
    q.has_sampler = false;
    ck_assert_int_eq(resolve(&e, &q, dxm, "", field), MF_OK);
    ck_assert(q.has_sampler && q.sampler == MF_SAMPLER_VAR && q.steps == 5);
    q = req(MF_SAMPLER_VAR, 5, 10);
    ck_assert_int_eq(resolve(&e, &q, dxm, "", field), MF_OK);
    q = req(MF_SAMPLER_DDIM, 0, 10);
    ck_assert_int_eq(resolve(&e, &q, dxm, "", field), MF_OK);
    ck_assert(q.sampler == MF_SAMPLER_DDIM && q.steps == 50);
    q = req(MF_SAMPLER_VAR, 4, 10);
    ck_assert_int_eq(resolve(&e, &q, dxm, "/params", field), MF_ERANGE);
    ck_assert_str_eq(field, "/params/steps");
    q = req(MF_SAMPLER_VAR, 0, 10);
    ck_assert_int_eq(resolve(&e, &q, t50, "", field), MF_ERANGE);
    ck_assert_str_eq(field, "/sampler");
    q = req(MF_SAMPLER_VAR, 0, 10);
    q.has_guidance = true; /* steering: refused before the sampler is looked at */
    ck_assert_int_eq(resolve(&e, &q, dxm, "", field), MF_ERANGE);
    /* an unsampled request without a sampler on a plain model: ddpm */
    q = req(MF_SAMPLER_DDIM, 0, 10);
    q.has_sampler = false;
    ck_assert_int_eq(resolve(&e, &q, t50, "", field), MF_OK);
    ck_assert(q.sampler == MF_SAMPLER_DDPM && q.steps == 50);
    mf_sampler_opts o = mf_sample_opts(&q, dxm);
    ck_assert_ptr_null(o.var);
    q = req(MF_SAMPLER_VAR, 5, 10);
    o = mf_sample_opts(&q, dxm);
    ck_assert(o.var == &dxm->dxmi->var && o.kind == MF_SAMPLER_VAR && o.steps == 5);
    mf_model_free(dxm);
    mf_model_free(t50);

    /* the compute budget: n x evaluations x 2 x params <= max_n x 1000 x 2 x 150000
     * = 3e12 FLOP; gaussian has 149250 parameters, so ddpm (1000 evaluations)
     * allows n <= 10050, ode with 100 steps (199 evaluations) n <= 50503 and ddim with
     * 10 steps n <= 1005025 */
    static const struct {
        mf_sampler_kind kind;
        size_t steps, n;
        mf_err want;
    } budget[] = {{MF_SAMPLER_DDPM, 0, 10050, MF_OK},    {MF_SAMPLER_DDPM, 0, 10051, MF_ERANGE},
                  {MF_SAMPLER_ODE, 100, 50503, MF_OK},   {MF_SAMPLER_ODE, 100, 50504, MF_ERANGE},
                  {MF_SAMPLER_DDIM, 10, 1005025, MF_OK}, {MF_SAMPLER_DDIM, 10, 1005026, MF_ERANGE}};

    for (size_t i = 0; i < sizeof budget / sizeof budget[0]; i++) {
        q = req(budget[i].kind, budget[i].steps, budget[i].n);
        mf_err err = resolve(&e, &q, m, "/params", field);
        ck_assert_msg(err == budget[i].want, "row %zu: %s", i, mf_err_name(err));
        if (err != MF_OK) {
            ck_assert_str_eq(field, "/params/n");
        }
    }

    /* a conditional model (3 condition inputs, no target convention): only its raw
     * condition steers it, with all of its values; plain conditioning by default */
    mf_model *cond = small_model(1000, 3);
    q = req(MF_SAMPLER_DDPM, 0, 10);
    ck_assert_int_eq(resolve(&e, &q, cond, "", field), MF_ERANGE);
    ck_assert_str_eq(field, "/target");
    q.has_target = true;
    q.target = 1.0;
    ck_assert_int_eq(resolve(&e, &q, cond, "", field), MF_ERANGE);
    ck_assert_str_eq(field, "/target");
    q.has_target = false;
    q.n_condition = 2;
    ck_assert_int_eq(resolve(&e, &q, cond, "/params", field), MF_ERANGE);
    ck_assert_str_eq(field, "/params/condition");
    q.n_condition = 3;
    ck_assert_int_eq(resolve(&e, &q, cond, "", field), MF_OK);
    ck_assert(q.has_guidance && q.guidance == MF_GUIDE_COND);
    q.guidance = MF_GUIDE_CFG; /* no label dropout in its training: refused */
    ck_assert_int_eq(resolve(&e, &q, cond, "", field), MF_ERANGE);
    ck_assert_str_eq(field, "/guidance/mode");
    mf_model_free(cond);

    /* no seed: a fresh one each time, within 0..2^53 */
    uint64_t seeds[8];
    for (int i = 0; i < 8; i++) {
        q = req(MF_SAMPLER_DDIM, 0, 10);
        q.has_seed = false;
        q.seed = 0;
        ck_assert_int_eq(resolve(&e, &q, m, "", field), MF_OK);
        ck_assert(q.has_seed);
        ck_assert_uint_le(q.seed, UINT64_C(1) << 53);
        seeds[i] = q.seed;
        for (int k = 0; k < i; k++) {
            ck_assert_msg(seeds[k] != seeds[i], "seed %" PRIu64 " drawn twice", seeds[i]);
        }
    }
    mf_registry_release(e.reg, g);
    env_done(&e);
}

END_TEST

/* ---- sampling calls ------------------------------------------------------------------- */

START_TEST(test_sample_call)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(configs[_i].workers, configs[_i].team);
    env_start(&e, &cfg);

    enum {
        N = 24,
        STEPS = 12
    };

    call_ctx x;
    ctx_init(&x, false);
    mf_sample_call *c = new_call(&e, "gaussian", MF_SAMPLER_DDIM, STEPS, N, 42, &x);
    submit_call(&e, c);
    wait_call_ok(c, &x, 2);
    /* progress: between steps, in rows, never backwards, ending at all rows */
    ck_assert_int_eq(atomic_load(&x.progress_bad), 0);
    ck_assert_uint_ge(atomic_load(&x.n_progress), 1);
    ck_assert_uint_eq(atomic_load(&x.last_total), N);
    ck_assert_uint_eq(atomic_load(&x.last_done), N);
    ck_assert(!c->has_metrics);
    /* the samples of core's sampler with this seed, bitwise */
    float *want = sample_direct(c->model->model, MF_SAMPLER_DDIM, STEPS, N, 42, configs[_i].team);
    ck_assert_int_eq(memcmp(c->x, want, N * 2 * sizeof(float)), 0);
    /* N(0, 0.25 I): nothing absurd */
    double mean = 0;
    for (size_t i = 0; i < N * 2; i++) {
        ck_assert(fabsf(c->x[i]) < 5.0f);
        mean += c->x[i] / (N * 2);
    }
    ck_assert(fabs(mean) < 0.5);
    sleep_ms(20);
    ck_assert_int_eq(atomic_load(&x.done_calls), 1); /* done once, not again */

    /* the same request again: the same samples; another seed: others */
    float *again = sample_alone(&e, "gaussian", MF_SAMPLER_DDIM, STEPS, N, 42);
    ck_assert_int_eq(memcmp(again, want, N * 2 * sizeof(float)), 0);
    float *other = sample_alone(&e, "gaussian", MF_SAMPLER_DDIM, STEPS, N, 43);
    ck_assert_int_ne(memcmp(other, want, N * 2 * sizeof(float)), 0);
    free(again);
    free(other);
    free(want);

    /* ode (2 steps - 1 evaluations), with metrics: rows, then the metrics phase */
    call_ctx y;
    ctx_init(&y, false);
    mf_sample_call *o = new_call(&e, "gaussian", MF_SAMPLER_ODE, 5, 8, 9, &y);
    o->req.metrics = true;
    submit_call(&e, o);
    wait_call_ok(o, &y, 2);
    ck_assert_int_eq(atomic_load(&y.progress_bad), 0);
    ck_assert_int_eq(atomic_load(&y.in_metrics), 1);
    ck_assert_uint_eq(atomic_load(&y.last_total), 8);
    ck_assert_uint_eq(atomic_load(&y.last_done), 8);
    want = sample_direct(o->model->model, MF_SAMPLER_ODE, 5, 8, 9, configs[_i].team);
    ck_assert_int_eq(memcmp(o->x, want, 8 * 2 * sizeof(float)), 0);
    free(want);

    WAIT_UNTIL(stats(&e).busy_workers == 0);
    mf_sched_stats st = stats(&e);
    ck_assert_uint_eq(st.sample_calls_total, 4);
    ck_assert_uint_eq(st.samples_total, 3 * N + 8);
    ck_assert_uint_eq(st.batches_total, 4); /* one at a time: no batching */
    ck_assert_uint_eq(st.batched_calls_total, 4);
    ck_assert_uint_eq(st.pending_samples, 0);
    ck_assert_uint_eq(st.workers, configs[_i].workers);
    ck_assert_uint_eq(st.queue_wait.count, 4);
    ck_assert_uint_eq(st.run_time.count, 4);
    ck_assert(st.busy_seconds > 0);
    mf_sample_call_release(c, e.reg);
    mf_sample_call_release(o, e.reg);
    env_done(&e);
}

END_TEST

START_TEST(test_sample_metrics)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 2);
    env_start(&e, &cfg);
    call_ctx x, y;
    ctx_init(&x, false);
    ctx_init(&y, false);
    mf_sample_call *c = new_call(&e, "gaussian", MF_SAMPLER_DDIM, 10, 64, 1, &x);
    c->req.metrics = true;
    mf_sample_call *few = new_call(&e, "gaussian", MF_SAMPLER_DDIM, 10, 3, 1, &y);
    few->req.metrics = true;
    submit_call(&e, c);
    submit_call(&e, few);
    wait_call_ok(c, &x, 2);
    wait_call_ok(few, &y, 2);
    ck_assert(c->has_metrics);
    ck_assert_str_eq(c->metrics_skipped, "");
    ck_assert(!few->has_metrics);
    ck_assert_ptr_nonnull(strstr(few->metrics_skipped, "metrics need more than"));
    mf_sample_call_release(c, e.reg);
    mf_sample_call_release(few, e.reg);
    env_done(&e);
}

END_TEST

/* Submits a gate call and waits until it holds the (only) worker in its done callback. */
static mf_sample_call *hold_worker(env *e, call_ctx *gate)
{
    ctx_init(gate, true);
    mf_sample_call *g = new_call(e, "gaussian", MF_SAMPLER_DDIM, 2, 1, 1, gate);
    submit_call(e, g);
    WAIT_UNTIL(atomic_load(&gate->in_done) != 0);
    return g;
}

static void release_worker(env *e, mf_sample_call *g, call_ctx *gate)
{
    atomic_store(&gate->gate, 0);
    WAIT_UNTIL(atomic_load(&gate->done_calls) == 1);
    mf_sample_call_release(g, e->reg);
}

/*
 * Waiting calls run as one batch, each with exactly its own samples' noise.
 * Tolerance: a call alone has 16 rows, within MF_MLP_SMALL_BATCH (32), so on
 * AVX-512 CPUs its forward passes run core/mlp.h's register-blocked small-batch
 * kernel; the batch has 96 rows and runs sgemm.  Both compute the same sums in
 * another order, so the samples agree to float rounding carried through 12
 * steps, not bitwise (as in tests/server/test_par.c's small-batch case).  The
 * largest difference seen is 3e-7 (1 + |x|); 1e-5 (1 + |x|) leaves a margin of
 * 30x and still catches any mix-up of seeds or rows (differences of O(1)).
 */
START_TEST(test_batching)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, configs[_i].team);
    env_start(&e, &cfg);

    enum {
        K = 6,
        N = 16,
        STEPS = 12
    };

    call_ctx gate, x[K];
    mf_sample_call *g = hold_worker(&e, &gate);
    mf_sample_call *c[K];
    for (int k = 0; k < K; k++) {
        ctx_init(&x[k], false);
        c[k] = new_call(&e, "gaussian", MF_SAMPLER_DDIM, STEPS, N, 100 + (uint64_t) k, &x[k]);
        submit_call(&e, c[k]);
    }
    ck_assert_uint_eq(stats(&e).pending_samples, K);
    release_worker(&e, g, &gate);
    for (int k = 0; k < K; k++) {
        wait_call_ok(c[k], &x[k], 2);
        ck_assert_int_eq(atomic_load(&x[k].progress_bad), 0);
        ck_assert_uint_eq(atomic_load(&x[k].last_done), N); /* in each call's own rows */
        ck_assert_uint_eq(atomic_load(&x[k].last_total), N);
    }
    WAIT_UNTIL(stats(&e).batches_total == 2);
    mf_sched_stats st = stats(&e);
    ck_assert_uint_eq(st.sample_calls_total, 1 + K);
    ck_assert_uint_eq(st.batches_total, 2); /* the gate, then all K at once */
    ck_assert_uint_eq(st.batched_calls_total, 1 + K);
    ck_assert_uint_eq(st.samples_total, 1 + K * N);
    ck_assert_uint_eq(st.pending_samples, 0);

    for (int k = 0; k < K; k++) {
        float *alone = sample_alone(&e, "gaussian", MF_SAMPLER_DDIM, STEPS, N, 100 + (uint64_t) k);
        for (size_t i = 0; i < N * 2; i++) {
            double d = fabs((double) alone[i] - c[k]->x[i]);
            ck_assert_msg(d <= 1e-5 * (1.0 + fabs(alone[i])), "call %d row %zu: %.9g vs %.9g", k,
                          i / 2, c[k]->x[i], alone[i]);
        }
        free(alone);
        /* and not the samples of the neighbouring seed */
        if (k > 0) {
            ck_assert_int_ne(memcmp(c[k]->x, c[k - 1]->x, N * 2 * sizeof(float)), 0);
        }
    }
    st = stats(&e);
    ck_assert_uint_eq(st.batches_total, 2 + K);
    for (int k = 0; k < K; k++) {
        mf_sample_call_release(c[k], e.reg);
    }
    env_done(&e);
}

END_TEST

START_TEST(test_pending_limit)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    cfg.max_pending_samples = 2;
    env_start(&e, &cfg);
    call_ctx gate, x[3];
    mf_sample_call *g = hold_worker(&e, &gate);
    mf_sample_call *c[3];
    for (int k = 0; k < 3; k++) {
        ctx_init(&x[k], false);
        c[k] = new_call(&e, "gaussian", MF_SAMPLER_DDIM, 4, 4, (uint64_t) k, &x[k]);
    }
    submit_call(&e, c[0]);
    submit_call(&e, c[1]);
    mf_diag d = {0};
    ck_assert_int_eq(mf_sched_sample(e.s, c[2], &d), MF_EBUSY);
    ck_assert_str_eq(d.code, "queue_full");
    ck_assert_uint_eq(stats(&e).pending_samples, 2);
    release_worker(&e, g, &gate);
    wait_call_ok(c[0], &x[0], 2);
    wait_call_ok(c[1], &x[1], 2);
    ck_assert_int_eq(atomic_load(&x[2].done_calls), 0); /* refused: never run */
    ck_assert_ptr_null(c[2]->x);
    /* room again */
    submit_call(&e, c[2]);
    wait_call_ok(c[2], &x[2], 2);
    for (int k = 0; k < 3; k++) {
        mf_sample_call_release(c[k], e.reg);
    }
    env_done(&e);
}

END_TEST

/*
 * mf_sample_call.cancel (scheduler.h: the client went away; a batch whose calls
 * all have it stops).  A call cancelled before it starts, alone, ends with
 * MF_ECANCELED and no samples; done is still called exactly once.  A batch
 * with one live call runs on, for both; one whose calls are all cancelled
 * stops for all.  A call cancelled while it runs stops at the next step.
 */
START_TEST(test_sample_call_cancel)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    env_start(&e, &cfg);

    enum {
        N = 16
    };

    /* alone, cancelled before it starts */
    call_ctx x;
    ctx_init(&x, false);
    mf_sample_call *c = new_call(&e, "gaussian", MF_SAMPLER_DDPM, 0, N, 1, &x);
    atomic_store(&c->cancel, 1);
    submit_call(&e, c);
    WAIT_UNTIL(atomic_load(&x.done_calls) >= 1);
    ck_assert_msg(c->err == MF_ECANCELED, "a cancelled call ended with %s, not MF_ECANCELED",
                  mf_err_name(c->err));
    ck_assert_ptr_null(c->x);
    ck_assert_uint_lt(atomic_load(&x.last_done), 1000);
    WAIT_UNTIL(stats(&e).busy_workers == 0);
    ck_assert_int_eq(atomic_load(&x.done_calls), 1);
    ck_assert_uint_eq(stats(&e).sample_calls_total, 1);
    ck_assert_uint_eq(stats(&e).samples_total, 0);
    mf_sample_call_release(c, e.reg);

    /* batched with a live call: both run to the end */
    call_ctx gate, y[2];
    mf_sample_call *g = hold_worker(&e, &gate), *b[2];
    for (int k = 0; k < 2; k++) {
        ctx_init(&y[k], false);
        b[k] = new_call(&e, "gaussian", MF_SAMPLER_DDIM, 8, N, 10 + (uint64_t) k, &y[k]);
        submit_call(&e, b[k]);
    }
    atomic_store(&b[0]->cancel, 1);
    release_worker(&e, g, &gate);
    for (int k = 0; k < 2; k++) {
        wait_call_ok(b[k], &y[k], 2);
        mf_sample_call_release(b[k], e.reg);
    }
    WAIT_UNTIL(stats(&e).busy_workers == 0);
    ck_assert_uint_eq(stats(&e).batches_total, 3);

    /* batched, all cancelled: both stop */
    g = hold_worker(&e, &gate);
    for (int k = 0; k < 2; k++) {
        ctx_init(&y[k], false);
        b[k] = new_call(&e, "gaussian", MF_SAMPLER_DDPM, 0, N, 20 + (uint64_t) k, &y[k]);
        atomic_store(&b[k]->cancel, 1);
        submit_call(&e, b[k]);
    }
    release_worker(&e, g, &gate);
    for (int k = 0; k < 2; k++) {
        WAIT_UNTIL(atomic_load(&y[k].done_calls) >= 1);
        ck_assert_int_eq(b[k]->err, MF_ECANCELED);
        ck_assert_ptr_null(b[k]->x);
    }
    WAIT_UNTIL(stats(&e).busy_workers == 0);
    ck_assert_int_eq(atomic_load(&y[0].done_calls), 1);
    ck_assert_int_eq(atomic_load(&y[1].done_calls), 1);
    ck_assert_uint_eq(stats(&e).batches_total, 5);
    for (int k = 0; k < 2; k++) {
        mf_sample_call_release(b[k], e.reg);
    }

    /* cancelled while running: stops at the next step, long before the 1000th */
    ctx_init(&x, false);
    c = new_call(&e, "gaussian", MF_SAMPLER_DDPM, 0, 64, 2, &x);
    submit_call(&e, c);
    WAIT_UNTIL(atomic_load(&x.n_progress) >= 1 || atomic_load(&x.done_calls) >= 1);
    atomic_store(&c->cancel, 1);
    WAIT_UNTIL(atomic_load(&x.done_calls) >= 1);
    ck_assert_int_eq(c->err, MF_ECANCELED);
    ck_assert_uint_lt(atomic_load(&x.last_done), 1000);
    ck_assert_ptr_null(c->x);
    mf_sample_call_release(c, e.reg);
    WAIT_UNTIL(stats(&e).busy_workers == 0);
    ck_assert_uint_eq(stats(&e).samples_total, 2 + 2 * N); /* the two gates and the live batch */
    env_done(&e);
}

END_TEST

/* ---- jobs ------------------------------------------------------------------------------ */

#define SAMPLE_JOB                                                                             \
    "{\"type\":\"sample\",\"model\":\"gaussian\",\"params\":{\"n\":1500,\"sampler\":\"ddim\"," \
    "\"steps\":6,\"seed\":11,\"metrics\":false}}"

/* A sample job of 1500 rows (two chunks of the scheduler's 1024) against a call. */
START_TEST(test_sample_job)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(configs[_i].workers, configs[_i].team);
    env_start(&e, &cfg);
    char id[MF_ID_MAX + 1];
    submit_job(&e, SAMPLE_JOB, id, 0);
    mf_job_rec r = wait_final(&e, id);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    ck_assert_str_eq(r.type, "sample");
    ck_assert_str_eq(r.model, "gaussian");
    ck_assert_uint_eq(r.attempts, 1);
    ck_assert_uint_eq(r.done, 1500);
    ck_assert_uint_eq(r.total, 1500);
    ck_assert(r.created_at > 0 && r.started_at >= r.created_at && r.finished_at >= r.started_at);
    ck_assert_ptr_null(r.error);
    /* the stored params are the resolved ones */
    json_t *p = parse(r.params);
    ck_assert_int_eq(jint(p, "steps"), 6);
    ck_assert_int_eq(jint(p, "seed"), 11);
    ck_assert_int_eq(jint(p, "n"), 1500);
    json_decref(p);

    /* the result: 1500 x 2 samples, those of a sampling call with the same seed */
    json_t *res = parse(r.result);
    ck_assert_str_eq(jstr(res, "model"), "gaussian");
    ck_assert_str_eq(jstr(res, "sampler"), "ddim");
    ck_assert_int_eq(jint(res, "n"), 1500);
    ck_assert_int_eq(jint(res, "steps"), 6);
    ck_assert_int_eq(jint(res, "seed"), 11);
    json_t *rows = json_object_get(res, "samples");
    ck_assert_uint_eq(json_array_size(rows), 1500);
    float *want = sample_alone(&e, "gaussian", MF_SAMPLER_DDIM, 6, 1500, 11);
    for (size_t i = 0; i < 1500; i++) {
        json_t *row = json_array_get(rows, i);
        ck_assert_uint_eq(json_array_size(row), 2);
        for (size_t d = 0; d < 2; d++) {
            float v = (float) json_real_value(json_array_get(row, d));
            ck_assert_msg(v == want[i * 2 + d], "row %zu: %.9g vs %.9g", i, v, want[i * 2 + d]);
        }
    }
    free(want);
    json_decref(res);
    mf_job_rec_done(&r);

    /* the log: chunks of 1024 rows, each a samples and a progress event */
    char log[512];
    mf_event_rec *ev;
    size_t n_ev;
    event_log(&e, id, log, sizeof log, &ev, &n_ev);
    ck_assert_str_eq(log, "status:queued,status:running,samples,progress,samples,progress,"
                          "status:succeeded");
    static const size_t offsets[2] = {0, 1024}, counts[2] = {1024, 476};
    for (int k = 0; k < 2; k++) {
        json_t *s = parse(ev[2 + 2 * k].data);
        ck_assert_int_eq(jint(s, "offset"), (json_int_t) offsets[k]);
        ck_assert_uint_eq(json_array_size(json_object_get(s, "samples")), counts[k]);
        json_decref(s);
        json_t *pr = parse(ev[3 + 2 * k].data);
        ck_assert_int_eq(jint(pr, "done"), (json_int_t) (offsets[k] + counts[k]));
        ck_assert_int_eq(jint(pr, "total"), 1500);
        json_decref(pr);
    }
    json_t *fin = parse(ev[6].data);
    json_t *jo = json_object_get(fin, "job_object");
    ck_assert_ptr_nonnull(jo);
    ck_assert_str_eq(jstr(jo, "state"), "succeeded");
    ck_assert_str_eq(jstr(jo, "id"), id);
    json_decref(fin);
    assert_events_name_job(ev, n_ev, id);
    mf_event_recs_free(ev, n_ev);
    /* the hook: after every event but the first, which the insert writes before the id
     * is known to anyone */
    ck_assert_uint_eq(hook_count(&e, id), 6);

    /* no seed and no steps: the job stores the ones the server chose */
    submit_job(
        &e,
        "{\"type\":\"sample\",\"model\":\"gaussian\",\"params\":{\"n\":4,\"sampler\":\"ddim\","
        "\"metrics\":false}}",
        id, -1);
    r = wait_final(&e, id);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    p = parse(r.params);
    res = parse(r.result);
    ck_assert_int_eq(jint(p, "steps"), 100);
    ck_assert_int_eq(jint(res, "steps"), 100);
    ck_assert_int_eq(jint(res, "seed"), jint(p, "seed"));
    json_decref(p);
    json_decref(res);
    mf_job_rec_done(&r);

    WAIT_UNTIL(stats(&e).jobs_finished[MF_JOB_SUCCEEDED] == 2);
    mf_sched_stats st = stats(&e);
    ck_assert_uint_eq(st.samples_total, 1500 + 1500 + 4);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.running, 0);
    env_done(&e);
}

END_TEST

START_TEST(test_train_job)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 2);
    env_start(&e, &cfg);
    char id[MF_ID_MAX + 1], id2[MF_ID_MAX + 1];
    submit_job(&e,
               "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"hidden\":[8],\"emb\":4,"
               "\"steps\":40,\"batch\":16,\"warmup\":0,\"seed\":3,\"out_model\":\"tiny-trained\"}}",
               id, 0);
    mf_job_rec r = wait_final(&e, id);
    ck_assert_msg(r.state == MF_JOB_SUCCEEDED, "state %s: %s", mf_job_state_name(r.state),
                  r.error != NULL ? r.error : "");
    ck_assert_str_eq(r.type, "train");
    ck_assert_str_eq(r.model, "");
    ck_assert_uint_eq(r.done, 40);
    ck_assert_uint_eq(r.total, 40);
    json_t *res = parse(r.result);
    ck_assert_str_eq(jstr(res, "model"), "tiny-trained");
    ck_assert_int_eq(jint(res, "steps"), 40);
    ck_assert(isfinite(json_number_value(json_object_get(res, "loss"))));
    json_decref(res);
    mf_job_rec_done(&r);

    /* the model is served and stored */
    mf_reg_model *m = mf_registry_get(e.reg, "tiny-trained");
    ck_assert_ptr_nonnull(m);
    ck_assert(!m->shipped);
    ck_assert_uint_eq(m->model->net->cfg.data_dim, 2);
    ck_assert_uint_eq(m->model->net->cfg.emb_dim, 4);
    ck_assert_uint_eq(m->model->net->cfg.n_hidden, 1);
    ck_assert_uint_eq(m->model->net->cfg.hidden[0], 8);
    ck_assert_str_eq(mf_model_get_meta(m->model, "dataset"), "gaussian");
    ck_assert_ptr_nonnull(strstr(mf_model_get_meta(m->model, "provenance"), id));
    char path[256];
    snprintf(path, sizeof path, "%s/tiny-trained.safetensors", e.models);
    ck_assert_int_eq(access(path, R_OK), 0);
    mf_registry_release(e.reg, m);
    float *x = sample_alone(&e, "tiny-trained", MF_SAMPLER_DDIM, 5, 8, 1);
    free(x);

    /* the log: queued, running, progress (at least the last) and a metrics event every
     * 40 / 20 = 2 steps (the loss curve), succeeded */
    char log[4096];
    mf_event_rec *ev;
    size_t n_ev;
    event_log(&e, id, log, sizeof log, &ev, &n_ev);
    ck_assert_msg(strncmp(log, "status:queued,status:running,progress", 37) == 0, "%s", log);
    ck_assert_msg(ends_with(log, ",progress,metrics,status:succeeded"), "%s", log);
    uint64_t last_done = 0, last_step = 0;
    size_t n_metrics = 0;
    for (size_t i = 2; i + 1 < n_ev; i++) {
        if (strcmp(ev[i].name, "metrics") == 0) {
            json_t *mt = parse(ev[i].data);
            ck_assert_int_eq(jint(mt, "step"), (json_int_t) last_step + 2);
            ck_assert(isfinite(json_number_value(json_object_get(mt, "loss"))));
            ck_assert(json_number_value(json_object_get(mt, "heldout_loss")) > 0);
            last_step = (uint64_t) jint(mt, "step");
            n_metrics++;
            json_decref(mt);
            continue;
        }
        ck_assert_str_eq(ev[i].name, "progress");
        json_t *pr = parse(ev[i].data);
        ck_assert_int_ge(jint(pr, "done"), (json_int_t) last_done);
        last_done = (uint64_t) jint(pr, "done");
        ck_assert_int_eq(jint(pr, "total"), 40);
        ck_assert_str_eq(jstr(pr, "phase"), "training");
        json_decref(pr);
    }
    ck_assert_uint_eq(last_done, 40);
    ck_assert_uint_eq(n_metrics, 20);
    assert_events_name_job(ev, n_ev, id);
    ck_assert_uint_eq(hook_count(&e, id), n_ev - 1);
    mf_event_recs_free(ev, n_ev);

    /* no out_model: "<dataset>-<job id>" */
    submit_job(&e,
               "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"hidden\":[8],\"emb\":4,"
               "\"steps\":5,\"batch\":8,\"warmup\":0}}",
               id2, 0);
    r = wait_final(&e, id2);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    res = parse(r.result);
    char want[128];
    snprintf(want, sizeof want, "gaussian-%s", id2);
    ck_assert_str_eq(jstr(res, "model"), want);
    json_decref(res);
    mf_job_rec_done(&r);
    m = mf_registry_get(e.reg, want);
    ck_assert_ptr_nonnull(m);
    mf_registry_release(e.reg, m);

    /* out_model taken: refused at submit (model_exists), nothing stored; the first model stays */
    long pos = -7;
    char field[128];
    ck_assert_int_eq(
        try_submit(
            &e,
            "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"hidden\":[8],"
            "\"emb\":4,\"steps\":2,\"batch\":8,\"warmup\":0,\"out_model\":\"tiny-trained\"}}",
            id2, &pos, field, sizeof field),
        MF_EBUSY);
    ck_assert_str_eq(field, "/params/out_model");
    ck_assert_str_eq(last_code, "model_exists");
    ck_assert_int_eq(pos, -7);
    m = mf_registry_get(e.reg, "tiny-trained");
    ck_assert_uint_eq(m->model->net->cfg.emb_dim, 4);
    mf_registry_release(e.reg, m);

    /* a schedule core rejects: refused when decoded, before the scheduler sees it (it
     * failed with bad_params once it started); neither it nor the taken out_model ran */
    const char *bad = "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"hidden\":[8],"
                      "\"emb\":4,\"steps\":2,\"batch\":8,\"schedule\":\"linear:0.5:0.1:1000\"}}";
    mf_req_limits lim = mf_req_limits_default();
    mf_job_req q;
    mf_diag d = {0};
    ck_assert_int_eq(mf_req_decode_job(bad, strlen(bad), &lim, &q, &d), MF_EINVAL);
    ck_assert_str_eq(d.code, "impossible");
    ck_assert_str_eq(d.field, "/params/schedule");
    ck_assert_uint_eq(stats(&e).jobs_finished[MF_JOB_FAILED], 0);
    ck_assert_uint_eq(stats(&e).jobs_finished[MF_JOB_SUCCEEDED], 2);
    env_done(&e);
}

END_TEST

/* Requests the scheduler refuses before storing anything. */
START_TEST(test_submit_errors)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    env_start(&e, &cfg);
    mf_diag d = {0};
    ck_assert_int_eq(mf_registry_add(e.reg, "t50", small_model(50, 0), &d), MF_OK);
    char id[MF_ID_MAX + 1] = "untouched", field[128];
    long pos = -7;
    ck_assert_int_eq(try_submit(&e, "{\"type\":\"sample\",\"model\":\"nope\",\"params\":{\"n\":4}}",
                                id, &pos, field, sizeof field),
                     MF_ENOTFOUND);
    ck_assert_str_eq(field, "/model");
    ck_assert_int_eq(try_submit(&e,
                                "{\"type\":\"sample\",\"model\":\"t50\",\"params\":{\"n\":4,"
                                "\"sampler\":\"ddim\",\"steps\":51}}",
                                id, &pos, field, sizeof field),
                     MF_ERANGE);
    ck_assert_str_eq(field, "/params/steps");
    ck_assert_str_eq(id, "untouched");
    ck_assert_int_eq(pos, -7);
    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(e.store, counts), MF_OK);
    for (int k = 0; k < 5; k++) {
        ck_assert_uint_eq(counts[k], 0);
    }
    /* the same model within its T: fine */
    submit_job(&e,
               "{\"type\":\"sample\",\"model\":\"t50\",\"params\":{\"n\":4,\"sampler\":\"ddpm\","
               "\"metrics\":false}}",
               id, 0);
    mf_job_rec r = wait_final(&e, id);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    json_t *res = parse(r.result);
    ck_assert_int_eq(jint(res, "steps"), 50);
    json_decref(res);
    mf_job_rec_done(&r);
    env_done(&e);
}

END_TEST

#define LONG_TRAIN_AS(out)                                                                    \
    "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"hidden\":[64,64],\"emb\":16," \
    "\"steps\":200000,\"batch\":256,\"warmup\":0,\"out_model\":\"" out "\"}}"
#define LONG_TRAIN LONG_TRAIN_AS("never")
#define SMALL_SAMPLE_JOB                                                                    \
    "{\"type\":\"sample\",\"model\":\"gaussian\",\"params\":{\"n\":8,\"sampler\":\"ddim\"," \
    "\"steps\":4,\"seed\":1,\"metrics\":false}}"

/* One running job at a time (two workers): queue positions, the queue limit, and every kind
 * of cancel. */
START_TEST(test_queue_and_cancel)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(2, 1); /* a second worker, idle but for max_running_jobs */
    cfg.max_running_jobs = 1;
    cfg.max_queue = 2;
    env_start(&e, &cfg);
    char big[MF_ID_MAX + 1], j2[MF_ID_MAX + 1], j3[MF_ID_MAX + 1], j4[MF_ID_MAX + 1];
    submit_job(&e, LONG_TRAIN, big, 0);
    WAIT_UNTIL(job_state(&e, big) == MF_JOB_RUNNING);
    ck_assert_int_eq(mf_sched_queue_position(e.s, big), -1);
    submit_job(&e, SMALL_SAMPLE_JOB, j2, 0);
    submit_job(&e, SMALL_SAMPLE_JOB, j3, 1);
    ck_assert_str_ne(j2, j3);
    ck_assert_int_eq(mf_sched_queue_position(e.s, j2), 0);
    ck_assert_int_eq(mf_sched_queue_position(e.s, j3), 1);
    ck_assert_int_eq(mf_sched_queue_position(e.s, "job-unknown"), -1);
    long pos = -7;
    char field[128];
    ck_assert_int_eq(try_submit(&e, SMALL_SAMPLE_JOB, j4, &pos, field, sizeof field), MF_EBUSY);
    ck_assert_int_eq(pos, -7);
    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(e.store, counts), MF_OK);
    ck_assert_uint_eq(counts[MF_JOB_QUEUED], 2);
    ck_assert_uint_eq(counts[MF_JOB_RUNNING], 1);
    mf_sched_stats st = stats(&e);
    ck_assert_uint_eq(st.queued, 2);
    ck_assert_uint_eq(st.running, 1);

    /* a sampling call does not wait for the long job */
    float *x = sample_alone(&e, "gaussian", MF_SAMPLER_DDIM, 4, 8, 1);
    free(x);
    ck_assert_int_eq(job_state(&e, big), MF_JOB_RUNNING);

    /* cancel a queued job: final at once, never started */
    ck_assert_int_eq(mf_sched_cancel(e.s, j3), MF_OK);
    mf_job_rec r = get_job(&e, j3);
    ck_assert_int_eq(r.state, MF_JOB_CANCELLED);
    assert_error_code(&r, "cancelled");
    ck_assert_uint_eq(r.attempts, 0);
    ck_assert(r.started_at == 0 && r.finished_at > 0);
    mf_job_rec_done(&r);
    char log[4096];
    event_log(&e, j3, log, sizeof log, NULL, NULL);
    ck_assert_str_eq(log, "status:queued,status:cancelled");
    ck_assert_int_eq(mf_sched_queue_position(e.s, j3), -1);
    ck_assert_int_eq(mf_sched_queue_position(e.s, j2), 0);
    ck_assert_uint_eq(stats(&e).queued, 1);
    /* room for one more again */
    submit_job(&e, SMALL_SAMPLE_JOB, j4, 1);

    /* cancel the running job (once it has made steps): it stops at a step boundary, far
     * from its end */
    WAIT_UNTIL(job_done(&e, big) > 0);
    ck_assert_int_eq(mf_sched_cancel(e.s, big), MF_OK);
    r = wait_final(&e, big);
    ck_assert_int_eq(r.state, MF_JOB_CANCELLED);
    assert_error_code(&r, "cancelled");
    ck_assert_uint_eq(r.attempts, 1);
    ck_assert_uint_gt(r.done, 0);
    ck_assert_uint_lt(r.done, 200000);
    ck_assert_uint_eq(r.total, 200000);
    ck_assert_ptr_null(r.result);
    mf_job_rec_done(&r);
    event_log(&e, big, log, sizeof log, NULL, NULL);
    ck_assert_msg(strncmp(log, "status:queued,status:running,", 29) == 0, "%s", log);
    ck_assert_msg(ends_with(log, ",status:cancelled"), "%s", log);
    ck_assert_ptr_null(mf_registry_get(e.reg, "never"));

    /* the queue moves on */
    r = wait_final(&e, j2);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    mf_job_rec_done(&r);
    r = wait_final(&e, j4);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);

    /* cancelling a finished job: MF_OK and nothing changes */
    ck_assert_int_eq(mf_sched_cancel(e.s, j4), MF_OK);
    mf_job_rec again = get_job(&e, j4);
    ck_assert_int_eq(again.state, MF_JOB_SUCCEEDED);
    ck_assert(again.finished_at == r.finished_at);
    ck_assert_uint_eq(again.last_seq, r.last_seq);
    ck_assert_str_eq(again.result, r.result);
    mf_job_rec_done(&again);
    mf_job_rec_done(&r);
    r = get_job(&e, big);
    ck_assert_int_eq(mf_sched_cancel(e.s, big), MF_OK);
    again = get_job(&e, big);
    ck_assert_int_eq(again.state, MF_JOB_CANCELLED);
    ck_assert(again.finished_at == r.finished_at);
    ck_assert_uint_eq(again.last_seq, r.last_seq);
    mf_job_rec_done(&again);
    mf_job_rec_done(&r);
    /* unknown */
    ck_assert_int_eq(mf_sched_cancel(e.s, "job-0000000000000000"), MF_ENOTFOUND);

    WAIT_UNTIL(stats(&e).jobs_finished[MF_JOB_SUCCEEDED] == 2);
    st = stats(&e);
    ck_assert_uint_eq(st.jobs_finished[MF_JOB_CANCELLED], 2);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.running, 0);
    env_done(&e);
}

END_TEST

/* A job's out_model is checked at submit: taken by a model or by a live job, it is refused
 * (model_exists) before anything is stored; free again once the job ends without it. */
START_TEST(test_out_model_reserved)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    env_start(&e, &cfg);
    char big[MF_ID_MAX + 1], id[MF_ID_MAX + 1] = "untouched", field[128];
    long pos = -7;
    submit_job(&e, LONG_TRAIN, big, 0); /* out_model "never" */
    static const char *const refused[] = {
        /* another train job, queued behind it */
        "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"steps\":2,"
        "\"out_model\":\"never\"}}",
        /* a fine-tune */
        "{\"type\":\"finetune.smeme\",\"model\":\"gaussian\",\"params\":{\"out_model\":\"never\"}}",
        /* a shipped model's id */
        "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"out_model\":\"gaussian\"}}",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_int_eq(try_submit(&e, refused[i], id, &pos, field, sizeof field), MF_EBUSY);
        ck_assert_str_eq(last_code, "model_exists");
        ck_assert_str_eq(field, "/params/out_model");
    }
    ck_assert_str_eq(id, "untouched");
    ck_assert_int_eq(pos, -7);
    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(e.store, counts), MF_OK);
    ck_assert_uint_eq(counts[MF_JOB_QUEUED] + counts[MF_JOB_RUNNING], 1);
    /* the long job ends without its model: the id is free again */
    ck_assert_int_eq(mf_sched_cancel(e.s, big), MF_OK);
    mf_job_rec r = wait_final(&e, big);
    ck_assert_int_eq(r.state, MF_JOB_CANCELLED);
    mf_job_rec_done(&r);
    submit_job(&e,
               "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"hidden\":[8],\"emb\":4,"
               "\"steps\":2,\"batch\":8,\"warmup\":0,\"out_model\":\"never\"}}",
               id, 0);
    r = wait_final(&e, id);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    mf_job_rec_done(&r);
    /* and now a model holds it */
    ck_assert_int_eq(try_submit(&e, refused[0], id, &pos, field, sizeof field), MF_EBUSY);
    ck_assert_str_eq(last_code, "model_exists");
    env_done(&e);
}

END_TEST

/* keep_iterations: a finetune.smeme job reserves the ids of the models it keeps,
 * "<out_model>-it<k>", with its out_model; a job that would make one of them is refused, so is
 * one whose kept id another job will make, and a refused job lets go of what it reserved. */
START_TEST(test_kept_models_reserved)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    env_start(&e, &cfg);
    char keep[MF_ID_MAX + 1], other[MF_ID_MAX + 1], id[MF_ID_MAX + 1], field[128];
    long pos = -1;
    /* kept, kept-it1 and kept-it2; it runs long */
    submit_job(&e,
               "{\"type\":\"finetune.smeme\",\"model\":\"gaussian\",\"params\":{\"K\":3,"
               "\"rounds\":100000,\"steps\":20,\"trajectories\":16,\"batch\":256,"
               "\"keep_iterations\":true,\"out_model\":\"kept\"}}",
               keep, 0);
    ck_assert_int_eq(try_submit(&e,
                                "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\","
                                "\"out_model\":\"kept-it2\"}}",
                                id, &pos, field, sizeof field),
                     MF_EBUSY);
    ck_assert_str_eq(last_code, "model_exists");
    ck_assert_str_eq(field, "/params/out_model");
    /* a queued job will make other-it1: a job keeping "other"'s iterations is refused */
    submit_job(&e, LONG_TRAIN_AS("other-it1"), other, -1);
    static const char *const keeps_other =
        "{\"type\":\"finetune.smeme\",\"model\":\"gaussian\",\"params\":{"
        "\"keep_iterations\":true,\"out_model\":\"other\"}}";
    ck_assert_int_eq(try_submit(&e, keeps_other, id, &pos, field, sizeof field), MF_EBUSY);
    ck_assert_str_eq(last_code, "model_exists");
    ck_assert_str_eq(field, "/params/out_model");
    /* it kept no reservation: "other" itself is free */
    ck_assert_int_eq(try_submit(&e, LONG_TRAIN_AS("other"), id, &pos, field, sizeof field), MF_OK);
    ck_assert_int_eq(mf_sched_cancel(e.s, id), MF_OK);
    ck_assert_int_eq(mf_sched_cancel(e.s, other), MF_OK);
    ck_assert_int_eq(mf_sched_cancel(e.s, keep), MF_OK);
    mf_job_rec r = wait_final(&e, keep);
    ck_assert_int_eq(r.state, MF_JOB_CANCELLED);
    mf_job_rec_done(&r);
    /* once the jobs are gone, so are their reservations */
    ck_assert_int_eq(try_submit(&e, keeps_other, id, &pos, field, sizeof field), MF_OK);
    ck_assert_int_eq(mf_sched_cancel(e.s, id), MF_OK);
    env_done(&e);
}

END_TEST

/* One worker, max_running_jobs 2: a second long job starts while the first runs, and the two
 * take turns slice by slice; a sampling call still waits for one slice at most. */
START_TEST(test_interleave)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    cfg.max_running_jobs = 2;
    env_start(&e, &cfg);
    char a[MF_ID_MAX + 1], b[MF_ID_MAX + 1], c[MF_ID_MAX + 1];
    submit_job(&e, LONG_TRAIN, a, 0);
    WAIT_UNTIL(job_done(&e, a) > 0);
    submit_job(&e,
               "{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"hidden\":[64,64],"
               "\"emb\":16,\"steps\":200000,\"batch\":256,\"warmup\":0,\"out_model\":\"never2\"}}",
               b, 0);
    /* b runs while a has not finished, and both keep making steps */
    WAIT_UNTIL(job_done(&e, b) > 0);
    ck_assert_int_eq(job_state(&e, a), MF_JOB_RUNNING);
    uint64_t a0 = job_done(&e, a), b0 = job_done(&e, b);
    WAIT_UNTIL(job_done(&e, a) > a0 && job_done(&e, b) > b0);
    ck_assert_uint_eq(stats(&e).running, 2);
    /* a third waits: max_running_jobs are started */
    submit_job(&e, SMALL_SAMPLE_JOB, c, 0);
    sleep_ms(300);
    ck_assert_int_eq(job_state(&e, c), MF_JOB_QUEUED);
    float *x = sample_alone(&e, "gaussian", MF_SAMPLER_DDIM, 4, 8, 1);
    free(x);
    ck_assert_int_eq(mf_sched_cancel(e.s, a), MF_OK);
    ck_assert_int_eq(mf_sched_cancel(e.s, b), MF_OK);
    mf_job_rec r = wait_final(&e, a);
    ck_assert_int_eq(r.state, MF_JOB_CANCELLED);
    mf_job_rec_done(&r);
    r = wait_final(&e, b);
    ck_assert_int_eq(r.state, MF_JOB_CANCELLED);
    mf_job_rec_done(&r);
    r = wait_final(&e, c);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    mf_job_rec_done(&r);
    env_done(&e);
}

END_TEST

/* ---- recovery ---------------------------------------------------------------------------- */

static void insert_job(env *e, const char *id, const char *body, double created_at)
{
    mf_job_req q;
    mf_diag d = {0};
    mf_req_limits lim = mf_req_limits_default();
    ck_assert_int_eq(mf_req_decode_job(body, strlen(body), &lim, &q, &d), MF_OK);
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.type, sizeof r.type, "%s", q.codec->name);
    snprintf(r.model, sizeof r.model, "%s", q.model);
    r.params = q.params_json;
    r.created_at = created_at;
    ck_assert_int_eq(mf_store_job_insert(e->store, &r, "{\"state\":\"queued\"}"), MF_OK);
    mf_job_req_done(&q);
}

/* The event an earlier restart (simulated with the store alone) appended. */
static char *earlier_restart_event(void *ctx, const mf_job_rec *job)
{
    (void) ctx;
    return mf_json_take_dump(mf_json_event_status(job->id, mf_job_state_name(job->state), NULL));
}

/*
 * A crash left job-a running after its first start and job-b after its second;
 * job-c never started.  With max_attempts 2 the next start re-queues and runs
 * job-a (attempt 2), fails job-b with server_restart, and runs job-c.
 */
START_TEST(test_recovery)
{
    env e;
    env_init(&e);
    insert_job(&e, "job-a", SMALL_SAMPLE_JOB, 1);
    insert_job(&e, "job-b", SMALL_SAMPLE_JOB, 2);
    insert_job(&e, "job-c", SMALL_SAMPLE_JOB, 3);
    /* job-b: started, interrupted, re-queued by an earlier restart, started again */
    ck_assert_int_eq(mf_store_job_claim(e.store, "job-b", 10), MF_OK);
    size_t rq = 0, fl = 0;
    ck_assert_int_eq(mf_store_recover(e.store, 10, earlier_restart_event, NULL, "{}", 11, &rq, &fl),
                     MF_OK);
    ck_assert_uint_eq(rq, 1);
    ck_assert_int_eq(mf_store_job_claim(e.store, "job-b", 12), MF_OK);
    ck_assert_int_eq(mf_store_job_claim(e.store, "job-a", 12), MF_OK);
    /* the process dies: the store is closed with no scheduler ever started */
    mf_store_close(e.store);
    e.store = NULL;

    open_store(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    cfg.max_attempts = 2;
    env_start(&e, &cfg);
    /* job-b is failed by the start itself */
    mf_job_rec r = get_job(&e, "job-b");
    ck_assert_int_eq(r.state, MF_JOB_FAILED);
    ck_assert_uint_eq(r.attempts, 2);
    assert_error_code(&r, "server_restart");
    ck_assert_ptr_null(r.result);
    mf_job_rec_done(&r);

    mf_job_rec a = wait_final(&e, "job-a"), c = wait_final(&e, "job-c");
    ck_assert_int_eq(a.state, MF_JOB_SUCCEEDED);
    ck_assert_uint_eq(a.attempts, 2);
    ck_assert_int_eq(c.state, MF_JOB_SUCCEEDED);
    ck_assert_uint_eq(c.attempts, 1);
    /* same params, same samples */
    json_t *ra = parse(a.result), *rc = parse(c.result);
    ck_assert(json_equal(json_object_get(ra, "samples"), json_object_get(rc, "samples")));
    ck_assert_uint_eq(json_array_size(json_object_get(ra, "samples")), 8);
    json_decref(ra);
    json_decref(rc);
    mf_job_rec_done(&a);
    mf_job_rec_done(&c);

    char log[512];
    mf_event_rec *ev_a, *ev_b;
    size_t n_a, n_b;
    event_log(&e, "job-a", log, sizeof log, &ev_a, &n_a);
    ck_assert_str_eq(log, "status:queued,status:queued,status:running,samples,progress,"
                          "status:succeeded");
    event_log(&e, "job-b", log, sizeof log, &ev_b, &n_b);
    ck_assert_str_eq(log, "status:queued,status:queued,status:failed");
    event_log(&e, "job-c", log, sizeof log, NULL, NULL);
    ck_assert_str_eq(log, "status:queued,status:running,samples,progress,status:succeeded");
    WAIT_UNTIL(stats(&e).jobs_finished[MF_JOB_SUCCEEDED] == 2);
    /*
     * The status events a restart appends (job-a's "queued", job-b's "failed")
     * name their job like every other event (they once carried "job":"").
     * Checked last, after the cleanup.
     */
    char why_a[512] = "", why_b[512] = "";
    bool ok_a = events_name_job(ev_a, n_a, "job-a", why_a, sizeof why_a);
    bool ok_b = events_name_job(ev_b, n_b, "job-b", why_b, sizeof why_b);
    /* job-b's final event, appended by the restart that failed it, carries the
     * job object with its state and error, as every final event does */
    json_t *fin = parse(ev_b[n_b - 1].data);
    json_t *jo = json_object_get(fin, "job_object");
    json_t *code = json_object_get(json_object_get(jo, "error"), "code");
    bool ok_fin = jo != NULL && json_is_string(code) &&
                  strcmp(json_string_value(code), "server_restart") == 0 &&
                  strcmp(json_string_value(json_object_get(jo, "state")), "failed") == 0;
    json_decref(fin);
    mf_event_recs_free(ev_a, n_a);
    mf_event_recs_free(ev_b, n_b);
    env_done(&e);
    ck_assert_msg(ok_a, "job-a: %s", why_a);
    ck_assert_msg(ok_b, "job-b: %s", why_b);
    ck_assert_msg(ok_fin, "job-b's final event lacks the job object or its error");
}

END_TEST

/* ---- a PyTorch-exported model ------------------------------------------------------------ */

/* tests/golden/ref_d2_h32.model.safetensors (weights from PyTorch; see test_registry.c),
 * uploaded and sampled: the samples of core's sampler on that file's network. */
START_TEST(test_pytorch_model)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 2);
    env_start(&e, &cfg);
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/ref_d2_h32.model.safetensors", test_data());
    mf_model *m = NULL, *ref = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_model_load_file(path, 1u << 20, &m, &d) == MF_OK, "%s", d.msg);
    ck_assert_msg(mf_model_load_file(path, 1u << 20, &ref, &d) == MF_OK, "%s", d.msg);
    ck_assert_int_eq(mf_registry_add(e.reg, "torch-d2", m, &d), MF_OK);
    call_ctx x;
    ctx_init(&x, false);
    mf_sample_call *c = new_call(&e, "torch-d2", MF_SAMPLER_DDPM, 0, 40, 8, &x);
    ck_assert_uint_eq(c->req.steps, 1000);
    submit_call(&e, c);
    wait_call_ok(c, &x, 2);
    ck_assert_uint_eq(atomic_load(&x.last_done), 40);
    float *want = sample_direct(ref, MF_SAMPLER_DDPM, 1000, 40, 8, 2);
    ck_assert_int_eq(memcmp(c->x, want, 40 * 2 * sizeof(float)), 0);
    free(want);
    mf_sample_call_release(c, e.reg);
    mf_model_free(ref);
    env_done(&e);
}

END_TEST

/* ---- drain ------------------------------------------------------------------------------ */

typedef struct drain_ctx {
    mf_sched *s;
    atomic_int result, finished;
} drain_ctx;

static void *drain_thread(void *arg)
{
    drain_ctx *dc = arg;
    atomic_store(&dc->result, mf_sched_drain(dc->s, 30.0) ? 1 : 0);
    atomic_store(&dc->finished, 1);
    return NULL;
}

/*
 * Draining finishes a waiting sampling call, refuses new work, and leaves a
 * queued job queued in the store; the next start runs it.
 */
START_TEST(test_drain)
{
    env e;
    env_init(&e);
    mf_sched_cfg cfg = small_cfg(1, 1);
    env_start(&e, &cfg);
    call_ctx gate, x, y;
    mf_sample_call *g = hold_worker(&e, &gate);
    ctx_init(&x, false);
    mf_sample_call *c = new_call(&e, "gaussian", MF_SAMPLER_DDIM, 8, 16, 5, &x);
    submit_call(&e, c);
    char job[MF_ID_MAX + 1], other[MF_ID_MAX + 1];
    submit_job(&e, SMALL_SAMPLE_JOB, job, 0);

    drain_ctx dc = {.s = e.s};
    atomic_init(&dc.result, -1);
    atomic_init(&dc.finished, 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, drain_thread, &dc), 0);
    WAIT_UNTIL(mf_sched_draining(e.s));
    /* draining: new work is refused, the waiting call still waits */
    ctx_init(&y, false);
    mf_sample_call *late = new_call(&e, "gaussian", MF_SAMPLER_DDIM, 8, 16, 6, &y);
    mf_diag d = {0};
    ck_assert_int_eq(mf_sched_sample(e.s, late, &d), MF_ECANCELED);
    ck_assert_str_eq(d.code, "shutting_down");
    long pos = -7;
    char field[128];
    ck_assert_int_eq(try_submit(&e, SMALL_SAMPLE_JOB, other, &pos, field, sizeof field),
                     MF_ECANCELED);
    ck_assert_int_eq(atomic_load(&x.done_calls), 0);
    ck_assert_int_eq(atomic_load(&dc.finished), 0);

    atomic_store(&gate.gate, 0);
    WAIT_UNTIL(atomic_load(&dc.finished) != 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(atomic_load(&dc.result), 1); /* in time */
    e.drained = true;
    ck_assert_int_eq(atomic_load(&gate.done_calls), 1);
    wait_call_ok(c, &x, 2);
    float *want = sample_direct(c->model->model, MF_SAMPLER_DDIM, 8, 16, 5, 1);
    ck_assert_int_eq(memcmp(c->x, want, 16 * 2 * sizeof(float)), 0);
    free(want);
    /* still refused after the drain */
    ck_assert_int_eq(mf_sched_sample(e.s, late, &d), MF_ECANCELED);
    ck_assert_int_eq(try_submit(&e, SMALL_SAMPLE_JOB, other, &pos, field, sizeof field),
                     MF_ECANCELED);
    ck_assert_int_eq(atomic_load(&y.done_calls), 0);
    ck_assert(mf_sched_draining(e.s));
    mf_job_rec r = get_job(&e, job);
    ck_assert_int_eq(r.state, MF_JOB_QUEUED);
    ck_assert_uint_eq(r.attempts, 0);
    mf_job_rec_done(&r);
    mf_sample_call_release(g, e.reg);
    mf_sample_call_release(c, e.reg);
    mf_sample_call_release(late, e.reg);
    env_stop(&e);

    /* the next start runs the job left queued */
    env_start(&e, &cfg);
    r = wait_final(&e, job);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    ck_assert_uint_eq(r.attempts, 1);
    mf_job_rec_done(&r);
    env_done(&e);
}

END_TEST

/* ---- a job type added the way every new one is ------------------------------------------ */

/* The two tables list the same types: every codec has its job type and every type its codec. */
START_TEST(test_job_type_tables)
{
    size_t n_codecs = 0, n_types = 0;
    for (; mf_job_codecs[n_codecs] != NULL; n_codecs++) {
        const mf_job_type *t = mf_job_type_lookup(mf_job_codecs[n_codecs]->name);
        ck_assert_msg(t != NULL && t->codec == mf_job_codecs[n_codecs], "codec %s has no job type",
                      mf_job_codecs[n_codecs]->name);
        ck_assert_ptr_eq(mf_job_codec_lookup(mf_job_codecs[n_codecs]->name),
                         mf_job_codecs[n_codecs]);
    }
    for (; mf_job_types[n_types] != NULL; n_types++) {
        ck_assert_ptr_eq(mf_job_codec_lookup(mf_job_types[n_types]->codec->name),
                         mf_job_types[n_types]->codec);
        ck_assert(mf_job_types[n_types]->slice != NULL);
    }
    ck_assert_uint_eq(n_codecs, n_types);
    /* this build's test-only type is in both, by one line each */
    ck_assert_ptr_nonnull(mf_job_type_lookup("test.count"));
    ck_assert_ptr_nonnull(mf_job_type_lookup("finetune.smeme"));
    ck_assert_ptr_nonnull(mf_job_type_lookup("finetune.reward"));
    ck_assert_ptr_nonnull(mf_job_type_lookup("finetune.dxmi"));
}

END_TEST

#define COUNT_JOB(params) "{\"type\":\"test.count\",\"params\":{" params "}}"

/* test.count through every path the scheduler offers a job type. */
START_TEST(test_plugin_job_type)
{
    env e;
    env_init(&e);
    /* a job the previous process left queued: re-made through its codec at start */
    insert_job(&e, "job-left", COUNT_JOB("\"n\":7"), 1);
    mf_sched_cfg cfg = small_cfg(1, 1);
    env_start(&e, &cfg);
    mf_job_rec r = wait_final(&e, "job-left");
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    ck_assert_str_eq(r.result, "{\"count\":7}");
    mf_job_rec_done(&r);

    /* runs to the end: progress, result, the canonical params stored */
    char id[MF_ID_MAX + 1], log[8192], field[128];
    submit_job(&e, COUNT_JOB("\"n\":30"), id, 0);
    r = wait_final(&e, id);
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    ck_assert_str_eq(r.type, "test.count");
    ck_assert_str_eq(r.model, "");
    ck_assert_str_eq(r.params, "{\"fail_at\":0,\"n\":30,\"step_ms\":0}");
    ck_assert_str_eq(r.result, "{\"count\":30}");
    ck_assert_uint_eq(r.done, 30);
    ck_assert_uint_eq(r.total, 30);
    mf_job_rec_done(&r);
    event_log(&e, id, log, sizeof log, NULL, NULL);
    ck_assert_msg(strncmp(log, "status:queued,status:running,progress", 37) == 0, "%s", log);
    ck_assert_msg(ends_with(log, ",progress,status:succeeded"), "%s", log);

    /* refused: by its codec (no model, n required) and by its prepare */
    static const struct {
        const char *body, *code, *field;
    } bad[] = {
        {"{\"type\":\"test.count\",\"model\":\"gaussian\",\"params\":{\"n\":3}}", "unknown_field",
         "/model"},
        {"{\"type\":\"test.count\"}", "missing_field", "/params"},
        {COUNT_JOB("\"n\":0"), "out_of_range", "/params/n"},
        {COUNT_JOB("\"n\":3,\"step\":1"), "unknown_field", "/params/step"},
    };

    mf_req_limits lim = mf_req_limits_default();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mf_job_req q;
        mf_diag d = {0};
        ck_assert_int_eq(mf_req_decode_job(bad[i].body, strlen(bad[i].body), &lim, &q, &d),
                         MF_EINVAL);
        ck_assert_str_eq(d.code, bad[i].code);
        ck_assert_str_eq(d.field, bad[i].field);
    }
    long pos = -7;
    ck_assert_int_eq(
        try_submit(&e, COUNT_JOB("\"n\":3,\"fail_at\":4"), id, &pos, field, sizeof field),
        MF_ERANGE);
    ck_assert_str_eq(last_code, "impossible");
    ck_assert_str_eq(field, "/params/fail_at");
    ck_assert_int_eq(pos, -7);

    /* fails where it is told to */
    submit_job(&e, COUNT_JOB("\"n\":10,\"fail_at\":5"), id, 0);
    r = wait_final(&e, id);
    ck_assert_int_eq(r.state, MF_JOB_FAILED);
    assert_error_code(&r, "test_failure");
    ck_assert_ptr_null(r.result);
    mf_job_rec_done(&r);

    /* cancelled while it counts: its own cancel says how far it got */
    submit_job(&e, COUNT_JOB("\"n\":100000,\"step_ms\":1"), id, 0);
    WAIT_UNTIL(job_done(&e, id) > 0);
    ck_assert_int_eq(mf_sched_cancel(e.s, id), MF_OK);
    r = wait_final(&e, id);
    ck_assert_int_eq(r.state, MF_JOB_CANCELLED);
    json_t *err = parse(r.error);
    unsigned long k = 0, of = 0;
    ck_assert_msg(sscanf(jstr(err, "message"), "cancelled after %lu of %lu steps", &k, &of) == 2,
                  "%s", jstr(err, "message"));
    ck_assert(k > 0 && k < 100000 && of == 100000);
    json_decref(err);
    mf_job_rec_done(&r);
    env_done(&e);
}

END_TEST

static Suite *scheduler_suite(void)
{
    Suite *s = suite_create("scheduler");
    int n_cfg = (int) (sizeof configs / sizeof configs[0]);

    TCase *tc = tcase_create("resolve");
    tcase_add_test(tc, test_resolve);
    suite_add_tcase(s, tc);

    tc = tcase_create("sampling");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_sample_call, 0, n_cfg);
    tcase_add_test(tc, test_sample_metrics);
    tcase_add_loop_test(tc, test_batching, 1, 3); /* one worker; teams 1 and 2 */
    tcase_add_test(tc, test_pending_limit);
    tcase_add_test(tc, test_sample_call_cancel);
    tcase_add_test(tc, test_pytorch_model);
    suite_add_tcase(s, tc);

    tc = tcase_create("jobs");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_sample_job, 0, 2); /* one worker, two workers */
    tcase_add_test(tc, test_train_job);
    tcase_add_test(tc, test_submit_errors);
    tcase_add_test(tc, test_queue_and_cancel);
    tcase_add_test(tc, test_interleave);
    tcase_add_test(tc, test_out_model_reserved);
    tcase_add_test(tc, test_kept_models_reserved);
    tcase_add_test(tc, test_job_type_tables);
    tcase_add_test(tc, test_plugin_job_type);
    suite_add_tcase(s, tc);

    tc = tcase_create("life");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_recovery);
    tcase_add_test(tc, test_drain);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(scheduler_suite)
