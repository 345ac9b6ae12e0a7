/* SPDX-License-Identifier: MIT */
/*
 * test_datasets.c - server/datasets.c (and the catalog under it): opening
 * lists the built-in sets and loads the stored ones (bad names, corrupt
 * files, a built-in's id and non-regular files skipped with the counts
 * right, the temporaries of writes a crash cut short removed); add writes exactly the stored form,
 * refuses duplicates, built-in names and bad ids, and leaves the table with the caller when the
 * write fails; delete protects built-ins and lets a held entry outlive its id; reopening gives the
 * same data sets; two on one directory (a lookup miss loads a set the other added, owner included;
 * a rescan follows adds and deletes); threads getting and listing while another adds and deletes.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "data_file.h"
#include "datasets.h"
#include "log.h"
#include "test_files.h"
#include "test_util.h"

static const mf_data_limits lim = {.max_rows = 1000, .max_cols = 16, .max_bytes = 1 << 20};

/* A table of n rows (i, 2i, 3i) from csv, labelled rows every other row. */
static mf_table *make_table(size_t n)
{
    char *csv = malloc(64 * (n + 1));
    ck_assert_ptr_nonnull(csv);
    size_t k = (size_t) sprintf(csv, "x0,x1,x2,y\n");
    for (size_t i = 0; i < n; i++) {
        k += (size_t) sprintf(csv + k, "%zu,%zu,%zu,%s\n", i, 2 * i, 3 * i, i % 2 ? "1" : "");
    }
    mf_table *t = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_data_parse(MF_DATA_CSV, (const uint8_t *) csv, k, &lim, &t, &d) == MF_OK, "%s",
                  d.msg);
    free(csv);
    return t;
}

static mf_datasets *open_ok(const char *dir, size_t loaded, size_t skipped)
{
    mf_datasets *ds = NULL;
    size_t l = 99, s = 99;
    ck_assert_int_eq(mf_datasets_open(dir, &lim, &ds, &l, &s), MF_OK);
    ck_assert_uint_eq(l, loaded);
    ck_assert_uint_eq(s, skipped);
    return ds;
}

START_TEST(test_open_builtins_and_stored)
{
    char tmp[256], dir[512], path[600];
    make_tmpdir(tmp, sizeof tmp, "/tmp/mf_test_datasets_XXXXXX");
    snprintf(dir, sizeof dir, "%s/datasets", tmp); /* created by open */
    mf_datasets *ds = open_ok(dir, 0, 0);
    mf_reg_dataset **items = NULL;
    size_t n = 0;
    ck_assert_int_eq(mf_datasets_list(ds, &items, &n), MF_OK);
    ck_assert_uint_eq(n, MF_DATASET_COUNT);
    for (size_t i = 0; i < n; i++) {
        ck_assert(items[i]->builtin && items[i]->table == NULL);
        ck_assert_str_eq(items[i]->id, mf_dataset_name(items[i]->builtin_id));
        ck_assert(i == 0 || strcmp(items[i - 1]->id, items[i]->id) < 0);
        mf_datasets_release(ds, items[i]);
    }
    free(items);

    /* two uploads, then files that are skipped */
    mf_table *t = make_table(5);
    mf_diag d = {0};
    ck_assert_int_eq(mf_datasets_add(ds, "five", t, NULL, &d), MF_OK);
    ck_assert_int_eq(mf_datasets_add(ds, "six", make_table(6), "alice", &d), MF_OK);
    mf_datasets_free(ds);
    snprintf(path, sizeof path, "%s/junk.npy", dir);
    write_all(path, "\x93NUMPY\x01\x00", 8);
    snprintf(path, sizeof path, "%s/Bad Name.npy", dir);
    write_all(path, "x", 1);
    snprintf(path, sizeof path, "%s/ring.npy", dir); /* a built-in's id: a copy of five */
    size_t len;
    char five[600];
    snprintf(five, sizeof five, "%s/five.npy", dir);
    uint8_t *b = read_all(five, &len);
    write_all(path, b, len);
    free(b);
    snprintf(path, sizeof path, "%s/dir.npy", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/notes.txt", dir); /* passed over */
    write_all(path, "x", 1);
    snprintf(path, sizeof path, "%s/.seven.npy.aB3dE9", dir); /* a crash's temporary: removed */
    write_all(path, "\x93NUMPY", 6);
    ds = open_ok(dir, 2, 4);
    ck_assert_int_eq(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    ck_assert_int_eq(access(path, F_OK), 0);
    mf_reg_dataset *e = mf_datasets_get(ds, "five");
    ck_assert_ptr_nonnull(e);
    ck_assert(!e->builtin && e->table->n_rows == 5 && e->table->n_dims == 3);
    ck_assert_uint_eq(e->table->n_labelled, 2);
    ck_assert_double_eq_tol(e->table->mean[2], 6.0, 1e-12);
    ck_assert_uint_eq(e->file_bytes, len);
    ck_assert(e->created > 0);
    ck_assert_str_eq(e->owner, ""); /* uploaded without a key */
    mf_datasets_release(ds, e);
    /* six's owner came back from six.owner: its key's jobs (and a daemon without
     * keys) use it, another key's do not; five, of no key, serves every job */
    e = mf_datasets_get_for(ds, "six", "alice");
    ck_assert(e != NULL && strcmp(e->owner, "alice") == 0);
    mf_datasets_release(ds, e);
    ck_assert_ptr_null(mf_datasets_get_for(ds, "six", "bob"));
    e = mf_datasets_get_for(ds, "six", "");
    ck_assert_ptr_nonnull(e);
    mf_datasets_release(ds, e);
    e = mf_datasets_get_for(ds, "five", "bob");
    ck_assert_ptr_nonnull(e);
    mf_datasets_release(ds, e);
    /* a delete takes the owner file with the data */
    ck_assert_int_eq(mf_datasets_delete(ds, "six"), MF_OK);
    snprintf(path, sizeof path, "%s/six.owner", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    e = mf_datasets_get(ds, "ring");
    ck_assert(e != NULL && e->builtin);
    mf_datasets_release(ds, e);
    mf_datasets_free(ds);
    remove_tree(tmp);

    /* errors */
    ck_assert_int_eq(mf_datasets_open("/proc/no/such", &lim, &ds, NULL, NULL), MF_EIO);
    ck_assert_int_eq(mf_datasets_open(NULL, &lim, &ds, NULL, NULL), MF_EINVAL);
}

END_TEST

START_TEST(test_add_and_delete)
{
    char tmp[256];
    make_tmpdir(tmp, sizeof tmp, "/tmp/mf_test_datasets_XXXXXX");
    mf_datasets *ds = open_ok(tmp, 0, 0);
    ck_assert_uint_eq(mf_datasets_limits(ds)->max_rows, 1000);
    mf_table *t = make_table(4);
    mf_diag d = {0};
    ck_assert_int_eq(mf_datasets_add(ds, "ring", t, NULL, &d), MF_EBUSY); /* a built-in */
    ck_assert_int_eq(mf_datasets_add(ds, "Bad/Id", t, NULL, &d), MF_EINVAL);
    ck_assert_int_eq(mf_datasets_add(ds, "four", NULL, NULL, &d), MF_EINVAL);
    ck_assert_int_eq(mf_datasets_add(ds, "four", t, "Not/An/Id", &d), MF_EINVAL);
    ck_assert_uint_eq(count_entries(tmp), 0);
    ck_assert_int_eq(mf_datasets_add(ds, "four", t, NULL, &d), MF_OK);
    mf_table *again = make_table(4);
    ck_assert_int_eq(mf_datasets_add(ds, "four", again, NULL, &d), MF_EBUSY);
    ck_assert_uint_eq(count_entries(tmp), 1); /* no temporary left */

    /* the file is the stored form, byte for byte */
    char path[600];
    snprintf(path, sizeof path, "%s/four.npy", tmp);
    size_t len, want_len;
    uint8_t *got = read_all(path, &len), *want = NULL;
    ck_assert_int_eq(mf_data_to_npy(t, &want, &want_len), MF_OK);
    ck_assert_uint_eq(len, want_len);
    ck_assert_mem_eq(got, want, len);
    free(got);
    free(want);

    /* delete: built-ins protected, unknown ids, a held entry outlives its id */
    ck_assert_int_eq(mf_datasets_delete(ds, "digits"), MF_EBUSY);
    ck_assert_int_eq(mf_datasets_delete(ds, "nope"), MF_ENOTFOUND);
    mf_reg_dataset *held = mf_datasets_get(ds, "four");
    ck_assert_int_eq(mf_datasets_delete(ds, "four"), MF_OK);
    ck_assert_ptr_null(mf_datasets_get(ds, "four"));
    struct stat sb;
    ck_assert_int_ne(stat(path, &sb), 0);
    ck_assert_uint_eq(held->table->n_rows, 4); /* still readable */
    mf_datasets_release(ds, held);             /* frees it */
    ck_assert_int_eq(mf_datasets_delete(ds, "four"), MF_ENOTFOUND);

    /* the id is free again; a failed write leaves the table with the caller */
    ck_assert_int_eq(mf_datasets_add(ds, "four", again, NULL, &d), MF_OK);
    remove_tree(tmp);
    mf_table *lost = make_table(3);
    ck_assert_int_eq(mf_datasets_add(ds, "lost", lost, NULL, &d), MF_EIO);
    ck_assert_ptr_null(mf_datasets_get(ds, "lost"));
    ck_assert_uint_eq(lost->n_rows, 3);
    mf_table_free(lost);
    mf_datasets_free(ds);
}

END_TEST

/* Two on one directory, as replicas share it: a lookup miss loads, a rescan follows. */
START_TEST(test_shared_dir)
{
    char tmp[256];
    make_tmpdir(tmp, sizeof tmp, "/tmp/mf_test_datasets_XXXXXX");
    mf_datasets *a = open_ok(tmp, 0, 0), *b = open_ok(tmp, 0, 0);
    mf_diag d = {0};
    size_t added = 99, removed = 99;
    ck_assert_int_eq(mf_datasets_add(a, "shared", make_table(7), "alice", &d), MF_OK);
    mf_reg_dataset *e = mf_datasets_get_for(b, "shared", "bob");
    ck_assert_ptr_null(e); /* loaded, with its owner: not bob's */
    e = mf_datasets_get_for(b, "shared", "alice");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->table->n_rows, 7);
    ck_assert_str_eq(e->owner, "alice");
    ck_assert_int_eq(mf_datasets_add(a, "other", make_table(3), NULL, &d), MF_OK);
    ck_assert_int_eq(mf_datasets_rescan(b, &added, &removed), MF_OK);
    ck_assert_uint_eq(added, 1);
    ck_assert_uint_eq(removed, 0);
    ck_assert_int_eq(mf_datasets_delete(a, "shared"), MF_OK);
    ck_assert_int_eq(mf_datasets_rescan(b, &added, &removed), MF_OK);
    ck_assert_uint_eq(added, 0);
    ck_assert_uint_eq(removed, 1);
    ck_assert_ptr_null(mf_datasets_get(b, "shared"));
    ck_assert_uint_eq(e->table->n_rows, 7); /* the holder keeps it */
    mf_datasets_release(b, e);
    mf_datasets_free(a);
    mf_datasets_free(b);
    remove_tree(tmp);
}

END_TEST

/* ---- threads ------------------------------------------------------------------------------ */

typedef struct race {
    mf_datasets *ds;
    atomic_bool stop;
} race;

static void *reader(void *arg)
{
    race *r = arg;
    while (!atomic_load(&r->stop)) {
        mf_reg_dataset *e = mf_datasets_get(r->ds, "churn");
        if (e != NULL) {
            ck_assert_uint_eq(e->table->n_rows, 8); /* whole, never half freed */
            mf_datasets_release(r->ds, e);
        }
        mf_reg_dataset **items;
        size_t n;
        if (mf_datasets_list(r->ds, &items, &n) == MF_OK) {
            for (size_t i = 0; i < n; i++) {
                mf_datasets_release(r->ds, items[i]);
            }
            free(items);
        }
    }
    return NULL;
}

START_TEST(test_threads)
{
    char tmp[256];
    make_tmpdir(tmp, sizeof tmp, "/tmp/mf_test_datasets_XXXXXX");
    race r = {.ds = open_ok(tmp, 0, 0)};
    atomic_init(&r.stop, false);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &r), 0);
    }
    for (int k = 0; k < 100; k++) {
        mf_diag d = {0};
        mf_table *t = make_table(8);
        ck_assert_int_eq(mf_datasets_add(r.ds, "churn", t, NULL, &d), MF_OK);
        ck_assert_int_eq(mf_datasets_delete(r.ds, "churn"), MF_OK);
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    mf_datasets_free(r.ds);
    remove_tree(tmp);
}

END_TEST

static Suite *datasets_suite(void)
{
    mf_log_set_level(MF_LOG_ERROR);
    Suite *s = suite_create("datasets");
    TCase *tc = tcase_create("datasets");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_open_builtins_and_stored);
    tcase_add_test(tc, test_add_and_delete);
    tcase_add_test(tc, test_shared_dir);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(datasets_suite)
