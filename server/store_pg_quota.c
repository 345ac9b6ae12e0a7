/* SPDX-License-Identifier: MIT */
/*
 * store_pg_quota.c - the per-key limits of the PostgreSQL job store
 * (store.h: mf_store_quota_take, mf_store_quota_charge), kept in the
 * database so that they hold for the key across every replica sharing it.
 *
 * Each decision is one INSERT ... ON CONFLICT DO UPDATE ... RETURNING: the
 * first request of a key inserts its row, every later one updates it under
 * the row lock the upsert takes, and a concurrent upsert from another replica
 * waits for that lock and then works from the row as it left it (ON CONFLICT
 * always sees the latest committed row, whatever the statement's snapshot).
 * So two replicas never both take the last token or the last FLOPs of a day.
 *
 * Tables (schema version 3, store_pg.c):
 *   quota_rate     key_name, tokens, updated (wall time of the last take),
 *                  granted (whether the last take got its token: RETURNING
 *                  shows only the new row, so the verdict is kept in it)
 *   quota_compute  key_name, day (UTC day number), used (FLOPs that day);
 *                  one row per key: a new day overwrites the old one
 *
 * Clocks: a replica whose clock lags the row's never refills a bucket
 * backwards (greatest(0, now - updated)) nor takes a day back (greatest(day,
 * $day)): within the skew leases already require, the limits hold.
 */
#include "store_pg_int.h"

/*
 * $1 key, $2 rate, $3 burst, $4 now.  avail is what the bucket holds now:
 * min(burst, tokens + rate * elapsed); one is taken when avail >= 1.  A
 * refused take keeps avail in tokens, so (1 - tokens) / rate is the wait.
 */
static const char take_sql[] =
    "INSERT INTO quota_rate AS q (key_name, tokens, updated, granted)"
    " VALUES ($1, $3::float8 - 1, $4::float8, true)"
    " ON CONFLICT (key_name) DO UPDATE SET (tokens, updated, granted) ="
    " (SELECT CASE WHEN avail >= 1 THEN avail - 1 ELSE avail END,"
    "  greatest(q.updated, $4::float8), avail >= 1"
    "  FROM (SELECT least($3::float8, q.tokens + $2::float8 * greatest(0, $4::float8 - q.updated))"
    "   AS avail) AS a)"
    " RETURNING granted, tokens";

mf_err mf__pg_quota_take(void *bp, const char *key_name, double rate, double burst, double now,
                         bool *ret_ok, double *ret_retry_s)
{
    mf__pg_store *b = bp;
    mf__pg_num r = mf__pg_dbl(rate), u = mf__pg_dbl(burst), t = mf__pg_dbl(now);
    const char *p[] = {key_name, r.s, u.s, t.s};
    PGresult *res = NULL;
    bool granted = false;
    double tokens = 0;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        err = mf__pg_exec(b, take_sql, 4, p, &res);
    }
    if (err == MF_OK && (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))) {
        err = MF_EFORMAT;
    }
    if (err == MF_OK) {
        granted = PQgetvalue(res, 0, 0)[0] == 't';
        err = mf__pg_col_dbl(res, 0, 1, &tokens);
    }
    PQclear(res);
    err = mf__pg_end(b, err);
    if (err == MF_OK) {
        *ret_ok = granted;
        *ret_retry_s = granted ? 0 : (1 - tokens) / rate;
    }
    return err;
}

/*
 * $1 key, $2 flops, $3 limit, $4 day.  today is what the key used on day (0
 * when its row is of an earlier day); the charge goes through only when
 * today + flops stays within the limit (a charge over the limit by itself
 * proposes no row at all).  No row back: refused, nothing written.
 */
static const char charge_sql[] =
    "INSERT INTO quota_compute AS q (key_name, day, used)"
    " SELECT $1, $4::bigint, $2::float8 WHERE $2::float8 <= $3::float8"
    " ON CONFLICT (key_name) DO UPDATE SET (day, used) ="
    " (SELECT greatest(q.day, $4::bigint), today + $2::float8"
    "  FROM (SELECT CASE WHEN q.day >= $4::bigint THEN q.used ELSE 0 END AS today) AS a)"
    " WHERE CASE WHEN q.day >= $4::bigint THEN q.used ELSE 0 END + $2::float8 <= $3::float8"
    " RETURNING used";

/* What the key used on day, for the message of a refusal ($1 key, $2 day). */
static const char used_sql[] = "SELECT CASE WHEN day >= $2::bigint THEN used ELSE 0 END"
                               " FROM quota_compute WHERE key_name = $1";

mf_err mf__pg_quota_charge(void *bp, const char *key_name, double flops, double limit, int64_t day,
                           bool *ret_ok, double *ret_used)
{
    mf__pg_store *b = bp;
    mf__pg_num f = mf__pg_dbl(flops), l = mf__pg_dbl(limit), d = mf__pg_i64(day);
    const char *p[] = {key_name, f.s, l.s, d.s};
    PGresult *res = NULL;
    bool charged = false;
    double used = 0;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        err = mf__pg_exec(b, charge_sql, 4, p, &res);
    }
    if (err == MF_OK) {
        charged = PQntuples(res) == 1;
        err = charged ? mf__pg_col_dbl(res, 0, 0, &used) : MF_OK;
        PQclear(res);
        res = NULL;
    }
    if (err == MF_OK && !charged) {
        const char *q[] = {key_name, d.s};
        err = mf__pg_exec(b, used_sql, 2, q, &res);
        if (err == MF_OK && PQntuples(res) == 1) {
            err = mf__pg_col_dbl(res, 0, 0, &used);
        }
        PQclear(res);
    }
    err = mf__pg_end(b, err);
    if (err == MF_OK) {
        *ret_ok = charged;
        *ret_used = used;
    }
    return err;
}
