/* SPDX-License-Identifier: MIT */
/*
 * job_budget.c - a job's cost and its check against the daemon's budgets (see
 * job_budget.h): network sizes, the parts of an estimate, and the refusal that names the
 * field of the largest part.
 */
#include "job_budget.h"

#include <stdio.h>
#include <string.h>

#include "req_decode.h"

mf_budget_net mf_budget_mlp(size_t D, size_t E, size_t C, const uint32_t *hidden, size_t n)
{
    mf_budget_net net = {.in = D + E + C, .out = D, .n_hidden = 0};
    for (size_t i = 0; i < n && i < MF_MLP_MAX_HIDDEN; i++) {
        net.hidden[net.n_hidden++] = hidden[i];
    }
    return net;
}

mf_budget_net mf_budget_mlp_of(const mf_mlp_config *cfg)
{
    return mf_budget_mlp(cfg->data_dim, cfg->emb_dim, cfg->cond_dim, cfg->hidden, cfg->n_hidden);
}

mf_budget_net mf_budget_scalar(size_t in, const size_t *hidden, size_t n)
{
    mf_budget_net net = {.in = in, .out = 1, .n_hidden = 0};
    for (size_t i = 0; i < n && i < MF_MLP_MAX_HIDDEN; i++) {
        net.hidden[net.n_hidden++] = hidden[i];
    }
    return net;
}

double mf_budget_params(const mf_budget_net *n)
{
    double p = 0.0, fan_in = (double) n->in;
    for (size_t i = 0; i <= n->n_hidden; i++) {
        double out = i < n->n_hidden ? (double) n->hidden[i] : (double) n->out;
        p += fan_in * out + out;
        fan_in = out;
    }
    return p;
}

double mf_budget_row_floats(const mf_budget_net *n, bool backward)
{
    double sum = 0.0, widest = 0.0;
    for (size_t i = 0; i < n->n_hidden; i++) {
        sum += (double) n->hidden[i];
        widest = (double) n->hidden[i] > widest ? (double) n->hidden[i] : widest;
    }
    double in = (double) n->in, out = (double) n->out;
    /* forward: input, activations, output; backward adds the sigmoids, d_a and d_z of
     * the widest layer, and each layer's output gradient */
    return backward ? in + 3.0 * sum + 2.0 * widest + 2.0 * out : in + sum + out;
}

void mf_budget_describe(const mf_budget_net *n, char *buf, size_t cap)
{
    bool same = true;
    for (size_t i = 1; i < n->n_hidden; i++) {
        same = same && n->hidden[i] == n->hidden[0];
    }
    size_t o = (size_t) snprintf(buf, cap, "a network of ");
    if (same && n->n_hidden > 0) {
        o += (size_t) snprintf(buf + o, o < cap ? cap - o : 0, "%zu x %zu", n->n_hidden,
                               n->hidden[0]);
    }
    for (size_t i = 0; !same && i < n->n_hidden && o < cap; i++) {
        o += (size_t) snprintf(buf + o, cap - o, i > 0 ? ", %zu" : "%zu", n->hidden[i]);
    }
    if (o < cap) {
        snprintf(buf + o, cap - o, " on %zu inputs", n->in);
    }
}

void mf_cost_model(mf_job_cost *c, double params, const char *field, const mf_budget_net *shown)
{
    c->params = params;
    snprintf(c->params_field, sizeof c->params_field, "%s", field);
    mf_budget_describe(shown, c->params_what, sizeof c->params_what);
}

static void add_part(mf_budget_part *parts, size_t *n, const char *field, const char *what,
                     double value)
{
    if (*n == MF_BUDGET_MAX_PARTS) {
        /* the last part takes the rest: the total stays right */
        parts[*n - 1].value += value;
        return;
    }
    mf_budget_part *p = &parts[(*n)++];
    snprintf(p->field, sizeof p->field, "%s", field);
    p->what = what;
    p->value = value;
}

void mf_cost_mem(mf_job_cost *c, const char *field, const char *what, double bytes)
{
    add_part(c->mem, &c->n_mem, field, what, bytes);
}

void mf_cost_flops(mf_job_cost *c, const char *field, const char *what, double flops)
{
    add_part(c->flops, &c->n_flops, field, what, flops);
}

double mf_cost_total(const mf_budget_part *parts, size_t n)
{
    double t = 0.0;
    for (size_t i = 0; i < n; i++) {
        t += parts[i].value;
    }
    return t;
}

/* v with a decimal (k, M, G, T, P, E) or binary (KiB ... EiB) prefix and unit, 3 digits. */
static void scaled(double v, bool binary, const char *unit, char *out, size_t cap)
{
    static const char *const dec[] = {"", "k", "M", "G", "T", "P", "E"};
    static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    double step = binary ? 1024.0 : 1000.0;
    size_t k = 0;
    while (v >= step && k + 1 < sizeof dec / sizeof dec[0]) {
        v /= step;
        k++;
    }
    snprintf(out, cap, "%.3g%s%s%s", v, *unit != '\0' ? " " : "", binary ? bin[k] : dec[k], unit);
}

/* The largest of n parts. */
static const mf_budget_part *largest(const mf_budget_part *parts, size_t n)
{
    const mf_budget_part *big = &parts[0];
    for (size_t i = 1; i < n; i++) {
        big = parts[i].value > big->value ? &parts[i] : big;
    }
    return big;
}

/* An estimate over its budget: names the largest part's field. */
static mf_err over(const mf_budget_part *parts, size_t n, const char *kind, double budget,
                   bool binary, const char *unit, mf_diag *d)
{
    const mf_budget_part *big = largest(parts, n);
    char total[32], limit[32], part[32];
    scaled(mf_cost_total(parts, n), binary, unit, total, sizeof total);
    scaled(budget, binary, unit, limit, sizeof limit);
    scaled(big->value, binary, unit, part, sizeof part);
    return mf_req_fail(d, "impossible", big->field,
                       "\"%s\": the job's %s estimate is %s, over the budget of %s (the largest "
                       "part, %s, is %s)",
                       big->field, kind, total, limit, part, big->what);
}

mf_err mf_job_cost_check(const mf_job_cost *c, const mf_req_limits *lim, double *ret_flops,
                         mf_diag *d)
{
    if (ret_flops != NULL) {
        *ret_flops = c->n_flops > 0 ? mf_cost_total(c->flops, c->n_flops) : 0;
    }
    if (c->params > (double) lim->max_model_params) {
        char have[32], limit[32];
        scaled(c->params, false, "", have, sizeof have);
        scaled((double) lim->max_model_params, false, "", limit, sizeof limit);
        return mf_req_fail(d, "impossible", c->params_field,
                           "\"%s\": %s has %s parameters; the budget is %s", c->params_field,
                           c->params_what, have, limit);
    }
    if (c->n_mem > 0 && mf_cost_total(c->mem, c->n_mem) > (double) lim->max_job_bytes) {
        return over(c->mem, c->n_mem, "memory", (double) lim->max_job_bytes, true, "B", d);
    }
    if (c->n_flops > 0 && mf_cost_total(c->flops, c->n_flops) > lim->max_job_flops) {
        return over(c->flops, c->n_flops, "compute", lim->max_job_flops, false, "FLOP", d);
    }
    return MF_OK;
}
