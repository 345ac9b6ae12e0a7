/* SPDX-License-Identifier: MIT */
/*
 * cmd_score.c - `manifold score MODEL FILE.csv`: anomaly scores of the points
 * of a CSV file under a DxMI model's energy network (POST /v1/scores).
 *
 * The file is read as a dataset upload's CSV (core/data_file.h: a header
 * x0,x1,...[,y] optional, commas, every value finite as a float32; a y
 * column is ignored), so a file that uploads as a dataset scores too; a
 * malformed one is a usage error naming its line.  The request body and the
 * answer go through proto/score_json.h, so this file spells no field name.
 * The table (row, energy, percentile, outlier; rows numbered from 1 in file
 * order) goes to stdout, the summary to stderr; --json prints the server's
 * body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "commands.h"
#include "data_file.h"
#include "fileio.h"
#include "score_json.h"

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

/* The points of a CSV file into *ret (a new table); USAGE or LOCAL said on failure. */
static mf_exit read_points(const char *file, mf_table **ret)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_diag d = {0};
    mf_err err = mf_fileio_read(file, MF_API_MAX_BODY, &buf, &len, &d);
    if (err != MF_OK) {
        return mf_api_say(MF_EXIT_LOCAL, "%s: %s", file, d.msg);
    }
    const mf_data_limits lim = {
        .max_rows = MF_TABLE_MAX_ROWS, .max_cols = MF_SCORE_MAX_DIM, .max_bytes = len};
    err = mf_data_parse(MF_DATA_CSV, buf, len, &lim, ret, &d);
    free(buf);
    if (err == MF_ENOMEM) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    if (err != MF_OK) {
        return mf_api_say(MF_EXIT_USAGE, "%s: %s", file, d.msg);
    }
    return MF_EXIT_OK;
}

/* The table of scores l on stdout and its summary on stderr. */
static mf_exit print_scores(const mf_score_list *l)
{
    static const char *const cols[] = {"row", "energy", "percentile", "outlier"};
    mf_out_table *t = mf_out_table_new(N_OPTS(cols), cols);
    mf_exit code = t == NULL ? mf_api_say(MF_EXIT_LOCAL, "out of memory") : MF_EXIT_OK;
    for (size_t i = 0; code == MF_EXIT_OK && i < l->n; i++) {
        const mf_energy_score *s = &l->scores[i];
        json_t *cells[4] = {json_integer((json_int_t) i + 1), json_real(s->energy),
                            json_real(s->percentile), json_string(s->outlier ? "yes" : "no")};
        /* json_real refuses NaN: a null cell prints as "-" */
        for (size_t k = 1; k < 3; k++) {
            cells[k] = cells[k] != NULL ? cells[k] : json_null();
        }
        if (mf_out_table_add_json(t, cells) != MF_OK) {
            code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
        }
        for (size_t k = 0; k < 4; k++) {
            json_decref(cells[k]);
        }
    }
    if (code == MF_EXIT_OK) {
        mf_out_table_print(t, stdout);
        fflush(stdout); /* the table, then its summary, when both go to one terminal */
        fprintf(stderr,
                "%zu points, %zu outliers (energy above %.6g, the model's 99th percentile)\n", l->n,
                l->outliers, l->threshold);
    }
    mf_out_table_free(t);
    return code;
}

mf_exit mf_cmd_score(mf_client *c, int argc, char **argv, int first)
{
    bool json = false;
    const mf_opt opts[] = {{"json", MF_OPT_FLAG, &json, 0, 0, "print the server's JSON body"}};
    const mf_args_spec spec = {
        .usage = "manifold score MODEL FILE.csv [--json]\n"
                 "  anomaly scores of the CSV's points (rows of data_dim numbers, a header\n"
                 "  x0,x1,... optional) under a DxMI model's energy network: energy, its\n"
                 "  percentile among the training data's, outlier (above the 99th)",
        .min_pos = 2,
        .max_pos = 2};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    const char *model = a.pos[0], *file = a.pos[1]; /* borrowed from argv */
    mf_args_done(&a);
    mf_exit code = mf_api_check_id("model id", model);
    mf_table *t = NULL;
    if (code == MF_EXIT_OK) {
        code = read_points(file, &t);
    }
    if (code != MF_EXIT_OK) {
        return code;
    }
    char *body = mf_req_scores_body(model, t->x, t->n_rows, t->n_dims);
    mf_table_free(t);
    if (body == NULL) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    mf_http_resp r;
    json_t *j;
    code = mf_api_json(c, "POST", "/v1/scores", body, &r, &j);
    free(body);
    if (code != MF_EXIT_OK) {
        return code;
    }
    mf_score_list l;
    mf_diag d = {0};
    mf_err err = mf_json_scores_parse(j, &l, &d);
    if (err == MF_EFORMAT) {
        code = mf_api_malformed(d.msg);
    } else if (err != MF_OK) {
        code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
    } else {
        code = json ? mf_api_print_raw(&r) : print_scores(&l);
        mf_score_list_done(&l);
    }
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}
