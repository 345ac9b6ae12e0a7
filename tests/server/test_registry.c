/* SPDX-License-Identifier: MIT */
/*
 * test_registry.c - server/registry.c in isolation: opening a shipped and a
 * store directory (the store created when absent; invalid names, corrupt,
 * truncated, oversized and non-regular files skipped with the counts right; a
 * stored file never shadows a shipped id; the temporaries of writes a crash
 * cut short removed); get, list and references; add
 * (the file in the store is exactly the model's serialisation, no temporary
 * left, duplicates and bad ids refused without touching the disk, a failed
 * write leaves the model with the caller); delete (shipped protected, unknown
 * ids, a held model outliving its id); reopening; statistics; a PyTorch
 * exported model file served by id; two registries on one store, as replicas
 * share it (a model saved through one found by the other on a lookup and by a
 * rescan, a delete seen by a rescan while a holder keeps the weights, a
 * temporary never loaded, a corrupt file logged once and loaded once
 * replaced, the watch thread); threads getting models while another adds
 * and deletes, and threads adding the same ids at once (also run under TSan).
 *
 * Every test works in a fresh mkdtemp directory under /tmp that it removes.
 * Shipped models are copied from the repository's models/ (MF_TEST_DATA is
 * tests/, so the repository root is its parent).
 */
#include <dirent.h>
#include <fcntl.h>
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

#include "log.h"
#include "model_file.h"
#include "registry.h"
#include "test_files.h"
#include "test_util.h"

#define SCHED           "linear:0.0001:0.02:1000"
#define MAX_MB          (8u << 20)
#define GAUSSIAN_PARAMS 149250 /* models/README.md: 256,256,256, D = 2, E = 64 */
#define TINY_PARAMS     146    /* D = 2, E = 4, hidden 8,8 */

/* ---- helpers ------------------------------------------------------------------- */

/* A fresh directory under /tmp. */
static void make_tmp(char *dir, size_t cap)
{
    make_tmpdir(dir, cap, "/tmp/mf_test_registry_XXXXXX");
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The whole file (malloc'd) and its length. */
/* Copies models/<name>.safetensors of the repository to dir/<as>. */
static void copy_shipped(const char *name, const char *dir, const char *as)
{
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/../models/%s.safetensors", test_data(), name);
    snprintf(dst, sizeof dst, "%s/%s", dir, as);
    copy_file(src, dst, SIZE_MAX);
}

/* Names in dir other than . and .., sorted and joined by commas. */
static void dir_names(const char *dir, char *out, size_t cap)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s", l > 0 ? "," : "", list[i]->d_name);
        }
        free(list[i]);
    }
    free(list);
}

/* D = 2, E = 4, hidden 8,8 (146 parameters), parameters a function of salt. */
static mf_model *tiny_model(float salt)
{
    mf_mlp_config cfg = {.data_dim = 2, .cond_dim = 0, .emb_dim = 4, .n_hidden = 2};
    cfg.hidden[0] = 8;
    cfg.hidden[1] = 8;
    mf_model *m = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_model_new(&cfg, SCHED, &m, &d) == MF_OK, "%s", d.msg);
    for (size_t i = 0; i < m->net->n_params; i++) {
        m->net->params[i] = sinf(0.37f * (float) i + salt) * 0.5f + 1e-3f * (float) i;
    }
    ck_assert_uint_eq(m->net->n_params, TINY_PARAMS);
    return m;
}

/* Writes a tiny model as path (through the atomic save of core/model_file). */
static void save_tiny(const char *path, float salt)
{
    mf_model *m = tiny_model(salt);
    mf_diag d = {0};
    ck_assert_msg(mf_model_save_file(m, path, &d) == MF_OK, "%s", d.msg);
    mf_model_free(m);
}

static void assert_same_params(const mf_model *a, const mf_model *b)
{
    ck_assert_uint_eq(a->net->n_params, b->net->n_params);
    ck_assert_int_eq(memcmp(&a->net->cfg, &b->net->cfg, sizeof a->net->cfg), 0);
    ck_assert_int_eq(memcmp(a->net->params, b->net->params, a->net->n_params * sizeof(float)), 0);
}

static mf_registry *open_ok(const char *shipped, const char *store, size_t *loaded, size_t *skipped)
{
    mf_registry *r = NULL;
    mf_err err = mf_registry_open(shipped, store, MAX_MB, NULL, &r, loaded, skipped);
    ck_assert_msg(err == MF_OK, "open %s %s: %s", shipped ? shipped : "NULL", store,
                  mf_err_name(err));
    ck_assert_ptr_nonnull(r);
    return r;
}

/* The ids of the registry's list, comma-separated; checks order and references. */
static void list_ids(mf_registry *r, char *out, size_t cap)
{
    mf_reg_model **items = NULL;
    size_t n = 0;
    ck_assert_int_eq(mf_registry_list(r, &items, &n), MF_OK);
    ck_assert_ptr_nonnull(items);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            ck_assert_msg(strcmp(items[i - 1]->id, items[i]->id) < 0, "unsorted: %s, %s",
                          items[i - 1]->id, items[i]->id);
        }
        ck_assert_int_ge(items[i]->refs, 2); /* the registry's and the list's */
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? "," : "", items[i]->id);
    }
    for (size_t i = 0; i < n; i++) {
        int before = items[i]->refs;
        mf_registry_release(r, items[i]);
        ck_assert_int_eq(items[i]->refs, before - 1);
    }
    free(items);
}

/* A layout with a shipped and a store directory under a fresh tmpdir. */
typedef struct dirs {
    char root[64], shipped[128], store[128];
} dirs;

static void make_dirs(dirs *d, bool with_store)
{
    make_tmp(d->root, sizeof d->root);
    snprintf(d->shipped, sizeof d->shipped, "%s/shipped", d->root);
    snprintf(d->store, sizeof d->store, "%s/store", d->root);
    ck_assert_int_eq(mkdir(d->shipped, 0755), 0);
    if (with_store) {
        ck_assert_int_eq(mkdir(d->store, 0755), 0);
    }
}

static void quiet(void)
{
    mf_log_set_level(MF_LOG_ERROR); /* the skips below log warnings on purpose */
}

/* ---- open ---------------------------------------------------------------------- */

START_TEST(test_open_creates_store)
{
    quiet();
    dirs d;
    make_dirs(&d, false);
    copy_shipped("gaussian", d.shipped, "gaussian.safetensors");
    copy_shipped("eight_gaussians", d.shipped, "eight_gaussians.safetensors");
    ck_assert(!file_exists(d.store));
    size_t loaded = 99, skipped = 99;
    mf_registry *r = open_ok(d.shipped, d.store, &loaded, &skipped);
    ck_assert_uint_eq(loaded, 2);
    ck_assert_uint_eq(skipped, 0);
    struct stat sb;
    ck_assert_int_eq(stat(d.store, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    char names[256];
    dir_names(d.store, names, sizeof names);
    ck_assert_str_eq(names, "");

    mf_reg_model *g = mf_registry_get(r, "gaussian");
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(g->id, "gaussian");
    ck_assert(g->shipped);
    ck_assert_uint_eq(g->model->net->n_params, GAUSSIAN_PARAMS);
    ck_assert_uint_eq(g->model->net->cfg.data_dim, 2);
    char want[256];
    snprintf(want, sizeof want, "%s/gaussian.safetensors", d.shipped);
    ck_assert_str_eq(g->path, want);
    ck_assert_int_eq(stat(want, &sb), 0);
    ck_assert_uint_eq(g->file_bytes, (uint64_t) sb.st_size);
    ck_assert_int_eq(g->refs, 2);
    mf_reg_model *g2 = mf_registry_get(r, "gaussian");
    ck_assert_ptr_eq(g2, g);
    ck_assert_int_eq(g->refs, 3);
    mf_registry_release(r, g2);
    mf_registry_release(r, g);
    ck_assert_int_eq(g->refs, 1);
    mf_registry_release(r, NULL); /* accepted */

    ck_assert_ptr_null(mf_registry_get(r, "nope"));
    ck_assert_ptr_null(mf_registry_get(r, "Gaussian"));
    ck_assert_ptr_null(mf_registry_get(r, "gaussian.safetensors"));
    ck_assert_ptr_null(mf_registry_get(r, ""));
    ck_assert_ptr_null(mf_registry_get(r, NULL));

    size_t n = 0;
    uint64_t bytes = 0;
    mf_registry_stats(r, &n, &bytes);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(bytes, 2 * (uint64_t) GAUSSIAN_PARAMS * 4);
    mf_registry_free(r);
    mf_registry_free(NULL);

    /* no shipped directory: the store alone */
    r = open_ok(NULL, d.store, &loaded, &skipped);
    ck_assert_uint_eq(loaded, 0);
    ck_assert_uint_eq(skipped, 0);
    char ids[64];
    list_ids(r, ids, sizeof ids);
    ck_assert_str_eq(ids, "");
    mf_registry_stats(r, &n, &bytes);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(bytes, 0);
    mf_registry_free(r);
    remove_tree(d.root);
}

END_TEST

START_TEST(test_open_skips_bad_files)
{
    quiet();
    dirs d;
    make_dirs(&d, true);
    char p[512];
    /* shipped: two good models, and everything that must be skipped */
    copy_shipped("gaussian", d.shipped, "gaussian.safetensors");
    copy_shipped("eight_gaussians", d.shipped, "eight_gaussians.safetensors");
    copy_shipped("gaussian", d.shipped, "Bad Name.safetensors"); /* not an id */
    copy_shipped("gaussian", d.shipped, "Upper.safetensors");    /* not an id */
    char longname[128];
    memset(longname, 'a', 65);
    snprintf(longname + 65, sizeof longname - 65, ".safetensors"); /* id of 65 characters */
    copy_shipped("gaussian", d.shipped, longname);
    char src[512];
    snprintf(src, sizeof src, "%s/gaussian.safetensors", d.shipped);
    snprintf(p, sizeof p, "%s/truncated.safetensors", d.shipped);
    copy_file(src, p, 300000); /* half of the data */
    snprintf(p, sizeof p, "%s/header-only.safetensors", d.shipped);
    copy_file(src, p, 5); /* not even the header length */
    snprintf(p, sizeof p, "%s/garbage.safetensors", d.shipped);
    write_all(p, "this is not a safetensors file, not at all......", 48);
    snprintf(p, sizeof p, "%s/empty.safetensors", d.shipped);
    write_all(p, "", 0);
    snprintf(p, sizeof p, "%s/adir.safetensors", d.shipped); /* a directory */
    ck_assert_int_eq(mkdir(p, 0755), 0);
    copy_shipped("digits", d.shipped, "digits.safetensors"); /* 2.5 MB > 1 MB limit below */
    snprintf(p, sizeof p, "%s/README.md", d.shipped);        /* not a model file: not counted */
    write_all(p, "# models\n", 9);
    snprintf(p, sizeof p, "%s/notes.safetensors.txt", d.shipped);
    write_all(p, "x", 1);
    snprintf(p, sizeof p, "%s/.safetensors", d.shipped); /* no id at all: not counted */
    write_all(p, "x", 1);

    /* store: one good model, one shadowed by a shipped id, a leftover temporary */
    snprintf(p, sizeof p, "%s/stored-one.safetensors", d.store);
    save_tiny(p, 1.0f);
    snprintf(p, sizeof p, "%s/gaussian.safetensors", d.store);
    save_tiny(p, 2.0f);
    snprintf(p, sizeof p, "%s/.stored-two.safetensors.Ab12Cd", d.store);
    write_all(p, "partial", 7);
    /* and one of a checkpoint; a hidden file that is no temporary stays */
    snprintf(p, sizeof p, "%s/checkpoints", d.store);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/checkpoints/.job-1.safetensors.Zz9Yy8", d.store);
    write_all(p, "partial", 7);
    snprintf(p, sizeof p, "%s/.keep", d.store);
    write_all(p, "", 0);

    mf_registry *r = NULL;
    size_t loaded = 99, skipped = 99;
    ck_assert_int_eq(mf_registry_open(d.shipped, d.store, 1u << 20, NULL, &r, &loaded, &skipped),
                     MF_OK);
    ck_assert_uint_eq(loaded, 3);
    /* Bad Name, Upper, 65 a's, truncated, header-only, garbage, empty, adir, digits
     * (too big), and the stored gaussian */
    ck_assert_uint_eq(skipped, 10);
    char ids[256];
    list_ids(r, ids, sizeof ids);
    ck_assert_str_eq(ids, "eight_gaussians,gaussian,stored-one");
    /* the temporaries a crash left are gone, the rest stays */
    snprintf(p, sizeof p, "%s/.stored-two.safetensors.Ab12Cd", d.store);
    ck_assert(!file_exists(p));
    snprintf(p, sizeof p, "%s/checkpoints/.job-1.safetensors.Zz9Yy8", d.store);
    ck_assert(!file_exists(p));
    snprintf(p, sizeof p, "%s/.keep", d.store);
    ck_assert(file_exists(p));

    /* the shipped gaussian won */
    mf_reg_model *g = mf_registry_get(r, "gaussian");
    ck_assert_ptr_nonnull(g);
    ck_assert(g->shipped);
    ck_assert_uint_eq(g->model->net->n_params, GAUSSIAN_PARAMS);
    ck_assert_ptr_nonnull(strstr(g->path, "/shipped/"));
    mf_registry_release(r, g);
    mf_reg_model *s = mf_registry_get(r, "stored-one");
    ck_assert_ptr_nonnull(s);
    ck_assert(!s->shipped);
    mf_model *want = tiny_model(1.0f);
    assert_same_params(s->model, want);
    mf_model_free(want);
    mf_registry_release(r, s);

    size_t n;
    uint64_t bytes;
    mf_registry_stats(r, &n, &bytes);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(bytes, (2 * (uint64_t) GAUSSIAN_PARAMS + TINY_PARAMS) * 4);
    mf_registry_free(r);

    /* ret_loaded and ret_skipped may be NULL */
    r = NULL;
    ck_assert_int_eq(mf_registry_open(d.shipped, d.store, 1u << 20, NULL, &r, NULL, NULL), MF_OK);
    mf_registry_free(r);
    remove_tree(d.root);
}

END_TEST

START_TEST(test_open_errors)
{
    quiet();
    dirs d;
    make_dirs(&d, true);
    mf_registry *keep = (mf_registry *) &keep, *r = keep;
    char p[256];
    snprintf(p, sizeof p, "%s/missing", d.root);
    ck_assert_int_eq(mf_registry_open(p, d.store, MAX_MB, NULL, &r, NULL, NULL), MF_EIO);
    ck_assert_ptr_eq(r, keep);
    snprintf(p, sizeof p, "%s/no/such/store", d.root); /* parent missing: cannot create */
    ck_assert_int_eq(mf_registry_open(d.shipped, p, MAX_MB, NULL, &r, NULL, NULL), MF_EIO);
    ck_assert_ptr_eq(r, keep);
    ck_assert(!file_exists(p));
    snprintf(p, sizeof p, "%s/afile", d.root); /* the store is a file */
    write_all(p, "x", 1);
    ck_assert_int_eq(mf_registry_open(d.shipped, p, MAX_MB, NULL, &r, NULL, NULL), MF_EIO);
    ck_assert_ptr_eq(r, keep);
    ck_assert_int_eq(mf_registry_open(d.shipped, NULL, MAX_MB, NULL, &r, NULL, NULL), MF_EINVAL);
    ck_assert_ptr_eq(r, keep);
    remove_tree(d.root);
}

END_TEST

/* ---- add --------------------------------------------------------------------------- */

START_TEST(test_add)
{
    quiet();
    dirs d;
    make_dirs(&d, false);
    copy_shipped("gaussian", d.shipped, "gaussian.safetensors");
    mf_registry *r = open_ok(d.shipped, d.store, NULL, NULL);

    mf_model *m = tiny_model(3.0f);
    uint8_t *want = NULL;
    size_t want_len = 0;
    ck_assert_int_eq(mf_model_to_buffer(m, &want, &want_len), MF_OK);
    mf_diag diag = {0};
    ck_assert_int_eq(mf_registry_add(r, "up-1", m, &diag), MF_OK); /* the registry has m */

    char path[512];
    snprintf(path, sizeof path, "%s/up-1.safetensors", d.store);
    size_t len;
    uint8_t *got = read_all(path, &len);
    ck_assert_uint_eq(len, want_len);
    ck_assert_int_eq(memcmp(got, want, len), 0);
    free(got);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);

    mf_reg_model *e = mf_registry_get(r, "up-1");
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_eq(e->model, m);
    ck_assert(!e->shipped);
    ck_assert_str_eq(e->path, path);
    ck_assert_uint_eq(e->file_bytes, want_len);
    mf_model *back = NULL;
    ck_assert_int_eq(mf_model_load_file(path, MAX_MB, &back, &diag), MF_OK);
    mf_model *ref = tiny_model(3.0f);
    assert_same_params(back, ref);
    assert_same_params(e->model, ref);
    mf_model_free(back);
    mf_registry_release(r, e);

    /* the same id again: refused, the first file untouched, m2 still ours */
    mf_model *m2 = tiny_model(4.0f);
    ck_assert_int_eq(mf_registry_add(r, "up-1", m2, &diag), MF_EBUSY);
    got = read_all(path, &len);
    ck_assert_uint_eq(len, want_len);
    ck_assert_int_eq(memcmp(got, want, len), 0);
    free(got);
    e = mf_registry_get(r, "up-1");
    assert_same_params(e->model, ref);
    mf_registry_release(r, e);
    /* a shipped id: refused, nothing written to the store */
    ck_assert_int_eq(mf_registry_add(r, "gaussian", m2, &diag), MF_EBUSY);
    snprintf(path, sizeof path, "%s/gaussian.safetensors", d.store);
    ck_assert(!file_exists(path));

    /* bad ids: refused, no file anywhere */
    char id65[70];
    memset(id65, 'b', 65);
    id65[65] = '\0';
    static const char *const bad[] = {
        "../x", "A", "", "a/b", ".hidden", "-x", "x y", "x\n", "up-1.safetensors/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(mf_registry_add(r, bad[i], m2, &diag) == MF_EINVAL, "id \"%s\"", bad[i]);
    }
    ck_assert_int_eq(mf_registry_add(r, id65, m2, &diag), MF_EINVAL);
    ck_assert_int_eq(mf_registry_add(r, NULL, m2, &diag), MF_EINVAL);
    ck_assert_int_eq(mf_registry_add(r, "no-model", NULL, &diag), MF_EINVAL);
    char names[512];
    dir_names(d.store, names, sizeof names); /* also: no temporary left */
    ck_assert_str_eq(names, "up-1.safetensors");
    dir_names(d.root, names, sizeof names);
    ck_assert_str_eq(names, "shipped,store");

    /* the longest id (64 characters) is fine */
    char id64[70];
    memset(id64, 'c', 64);
    id64[64] = '\0';
    ck_assert_int_eq(mf_registry_add(r, id64, m2, &diag), MF_OK);
    m2 = NULL;
    mf_model *m3 = tiny_model(5.0f);
    ck_assert_int_eq(mf_registry_add(r, "0.a_b-c", m3, &diag), MF_OK);
    char ids[512], want_ids[512];
    list_ids(r, ids, sizeof ids);
    snprintf(want_ids, sizeof want_ids, "0.a_b-c,%s,gaussian,up-1", id64);
    ck_assert_str_eq(ids, want_ids);
    dir_names(d.store, names, sizeof names);
    snprintf(want_ids, sizeof want_ids, "0.a_b-c.safetensors,%s.safetensors,up-1.safetensors",
             id64);
    ck_assert_str_eq(names, want_ids);

    size_t n;
    uint64_t bytes;
    mf_registry_stats(r, &n, &bytes);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(bytes, ((uint64_t) GAUSSIAN_PARAMS + 3 * TINY_PARAMS) * 4);
    mf_model_free(ref);
    free(want);
    mf_registry_free(r);
    remove_tree(d.root);
}

END_TEST

/* A write that fails (the store directory is gone) leaves m with the caller and the id free. */
START_TEST(test_add_write_fails)
{
    quiet();
    dirs d;
    make_dirs(&d, false);
    mf_registry *r = open_ok(NULL, d.store, NULL, NULL);
    ck_assert_int_eq(rmdir(d.store), 0);
    mf_model *m = tiny_model(6.0f);
    mf_diag diag = {0};
    ck_assert_int_eq(mf_registry_add(r, "lost", m, &diag), MF_EIO);
    ck_assert_msg(diag.msg[0] != '\0', "no diagnostic");
    ck_assert_ptr_null(mf_registry_get(r, "lost"));
    size_t n;
    uint64_t bytes;
    mf_registry_stats(r, &n, &bytes);
    ck_assert_uint_eq(n, 0);
    /* once the directory is back, the same model and id go in */
    ck_assert_int_eq(mkdir(d.store, 0755), 0);
    ck_assert_int_eq(mf_registry_add(r, "lost", m, &diag), MF_OK);
    mf_reg_model *e = mf_registry_get(r, "lost");
    ck_assert_ptr_eq(e->model, m);
    mf_registry_release(r, e);
    mf_registry_free(r);
    remove_tree(d.root);
}

END_TEST

/* ---- delete ------------------------------------------------------------------------ */

START_TEST(test_delete)
{
    quiet();
    dirs d;
    make_dirs(&d, false);
    copy_shipped("gaussian", d.shipped, "gaussian.safetensors");
    mf_registry *r = open_ok(d.shipped, d.store, NULL, NULL);
    mf_diag diag = {0};
    ck_assert_int_eq(mf_registry_add(r, "keep", tiny_model(7.0f), &diag), MF_OK);
    ck_assert_int_eq(mf_registry_add(r, "drop", tiny_model(8.0f), &diag), MF_OK);
    ck_assert_int_eq(mf_registry_add(r, "held", tiny_model(9.0f), &diag), MF_OK);
    ck_assert_int_eq(mf_registry_add(r, "gone-file", tiny_model(10.0f), &diag), MF_OK);

    /* shipped: protected, the file stays */
    char path[512];
    snprintf(path, sizeof path, "%s/gaussian.safetensors", d.shipped);
    ck_assert_int_eq(mf_registry_delete(r, "gaussian"), MF_EBUSY);
    ck_assert(file_exists(path));
    mf_reg_model *g = mf_registry_get(r, "gaussian");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->refs, 2);
    mf_registry_release(r, g);
    /* unknown */
    ck_assert_int_eq(mf_registry_delete(r, "nope"), MF_ENOTFOUND);
    ck_assert_int_eq(mf_registry_delete(r, "../store/keep"), MF_ENOTFOUND);

    /* a plain delete: id and file gone */
    snprintf(path, sizeof path, "%s/drop.safetensors", d.store);
    ck_assert(file_exists(path));
    ck_assert_int_eq(mf_registry_delete(r, "drop"), MF_OK);
    ck_assert(!file_exists(path));
    ck_assert_ptr_null(mf_registry_get(r, "drop"));
    ck_assert_int_eq(mf_registry_delete(r, "drop"), MF_ENOTFOUND);

    /* deleted while held: the id goes at once, the model lives until released */
    mf_reg_model *h = mf_registry_get(r, "held");
    ck_assert_ptr_nonnull(h);
    mf_reg_model **items;
    size_t n_items;
    ck_assert_int_eq(mf_registry_list(r, &items, &n_items), MF_OK); /* a second holder */
    ck_assert_int_eq(mf_registry_delete(r, "held"), MF_OK);
    ck_assert_ptr_null(mf_registry_get(r, "held"));
    snprintf(path, sizeof path, "%s/held.safetensors", d.store);
    ck_assert(!file_exists(path));
    ck_assert_int_eq(h->refs, 2);
    mf_model *ref = tiny_model(9.0f);
    assert_same_params(h->model, ref); /* ASan: no use after free */
    ck_assert_str_eq(h->id, "held");
    for (size_t i = 0; i < n_items; i++) {
        mf_registry_release(r, items[i]);
    }
    free(items);
    ck_assert_int_eq(h->refs, 1);
    assert_same_params(h->model, ref);
    /* the id can be reused while the old model is still held */
    ck_assert_int_eq(mf_registry_add(r, "held", tiny_model(11.0f), &diag), MF_OK);
    mf_reg_model *h2 = mf_registry_get(r, "held");
    ck_assert_ptr_ne(h2, h);
    assert_same_params(h->model, ref);
    mf_registry_release(r, h2);
    mf_registry_release(r, h); /* the last reference: freed here */
    mf_model_free(ref);

    /* a stored file removed behind the registry's back: delete still works */
    snprintf(path, sizeof path, "%s/gone-file.safetensors", d.store);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mf_registry_delete(r, "gone-file"), MF_OK);
    ck_assert_ptr_null(mf_registry_get(r, "gone-file"));

    char ids[256];
    list_ids(r, ids, sizeof ids);
    ck_assert_str_eq(ids, "gaussian,held,keep");
    size_t n;
    uint64_t bytes;
    mf_registry_stats(r, &n, &bytes);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(bytes, ((uint64_t) GAUSSIAN_PARAMS + 2 * TINY_PARAMS) * 4);
    mf_registry_free(r);

    /* reopened: the added models are back, the deleted ones are not */
    size_t loaded, skipped;
    r = open_ok(d.shipped, d.store, &loaded, &skipped);
    ck_assert_uint_eq(loaded, 3);
    ck_assert_uint_eq(skipped, 0);
    list_ids(r, ids, sizeof ids);
    ck_assert_str_eq(ids, "gaussian,held,keep");
    mf_reg_model *k = mf_registry_get(r, "keep");
    ref = tiny_model(7.0f);
    assert_same_params(k->model, ref);
    ck_assert(!k->shipped);
    mf_model_free(ref);
    mf_registry_release(r, k);
    k = mf_registry_get(r, "held");
    ref = tiny_model(11.0f);
    assert_same_params(k->model, ref);
    mf_model_free(ref);
    mf_registry_release(r, k);
    char names[256];
    dir_names(d.store, names, sizeof names);
    ck_assert_str_eq(names, "held.safetensors,keep.safetensors");
    mf_registry_free(r);
    remove_tree(d.root);
}

END_TEST

/* ---- a model exported from PyTorch ---------------------------------------------------- */

/*
 * tests/golden/ref_*.model.safetensors: networks built and initialised by
 * PyTorch (../shared/bench/ref_torch.py via tests/golden/gen_golden.py) and
 * written as full Manifold model files with DESIGN.md's metadata.  The
 * safetensors layout is written by gen_golden.py's own save_safetensors (the
 * `safetensors` Python package is not in Debian), byte for byte as that library
 * lays it out: u64 header length, JSON header, F32 data.
 */
START_TEST(test_pytorch_model)
{
    quiet();
    dirs d;
    make_dirs(&d, false);
    char src[1024], dst[512];
    snprintf(src, sizeof src, "%s/golden/ref_d2_h32.model.safetensors", test_data());
    snprintf(dst, sizeof dst, "%s/ref_d2_h32.safetensors", d.shipped);
    copy_file(src, dst, SIZE_MAX);
    size_t loaded, skipped;
    mf_registry *r = open_ok(d.shipped, d.store, &loaded, &skipped);
    ck_assert_uint_eq(loaded, 1);
    ck_assert_uint_eq(skipped, 0);

    /* through the shipped directory */
    mf_reg_model *e = mf_registry_get(r, "ref_d2_h32");
    ck_assert_ptr_nonnull(e);
    const mf_mlp_config *c = &e->model->net->cfg;
    ck_assert_uint_eq(c->data_dim, 2);
    ck_assert_uint_eq(c->cond_dim, 0);
    ck_assert_uint_eq(c->emb_dim, 64);
    ck_assert_uint_eq(c->n_hidden, 3);
    ck_assert_uint_eq(c->hidden[0], 32);
    ck_assert_uint_eq(c->hidden[1], 32);
    ck_assert_uint_eq(c->hidden[2], 32);
    /* (66*32+32) + 2 (32*32+32) + (32*2+2) */
    ck_assert_uint_eq(e->model->net->n_params, 4322);
    ck_assert_uint_eq(e->model->sched.T, 1000);
    ck_assert_ptr_nonnull(strstr(mf_model_get_meta(e->model, "provenance"), "PyTorch"));
    /* the weights are the file's F32 data, in layer order after the header */
    size_t len;
    uint8_t *raw = read_all(src, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) {
        hlen = hlen << 8 | raw[i];
    }
    ck_assert_uint_eq(len, 8 + hlen + 4322 * 4);
    ck_assert_int_eq(memcmp(raw + 8 + hlen, e->model->net->params, 4322 * 4), 0);
    free(raw);
    mf_registry_release(r, e);

    /* through add, after mf_model_load_file */
    snprintf(src, sizeof src, "%s/golden/ref_d64_h16.model.safetensors", test_data());
    mf_model *m = NULL;
    mf_diag diag = {0};
    ck_assert_msg(mf_model_load_file(src, MAX_MB, &m, &diag) == MF_OK, "%s", diag.msg);
    mf_model *copy = NULL;
    ck_assert_int_eq(mf_model_clone(m, &copy), MF_OK);
    ck_assert_int_eq(mf_registry_add(r, "torch-d64", m, &diag), MF_OK);
    e = mf_registry_get(r, "torch-d64");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->model->net->cfg.data_dim, 64);
    ck_assert_uint_eq(e->model->net->cfg.hidden[0], 16);
    ck_assert_uint_eq(e->model->net->cfg.n_hidden, 3);
    /* (128*16+16) + 2 (16*16+16) + (16*64+64) */
    ck_assert_uint_eq(e->model->net->n_params, 3696);
    assert_same_params(e->model, copy);
    mf_registry_release(r, e);
    mf_registry_free(r);

    /* and served again from the store after a restart */
    r = open_ok(d.shipped, d.store, &loaded, &skipped);
    ck_assert_uint_eq(loaded, 2);
    e = mf_registry_get(r, "torch-d64");
    ck_assert_ptr_nonnull(e);
    ck_assert(!e->shipped);
    assert_same_params(e->model, copy);
    ck_assert_str_eq(mf_model_get_meta(e->model, "dataset"), "golden");
    mf_registry_release(r, e);
    mf_model_free(copy);
    mf_registry_free(r);
    remove_tree(d.root);
}

END_TEST

/* ---- concurrency ----------------------------------------------------------------------- */

enum {
    GETTERS = 4,
    GET_ROUNDS = 1500,
    CHURN_IDS = 16, /* added by the writer; the even ones deleted again */
};

typedef struct churn_ctx {
    mf_registry *r;
    const atomic_int *writer_done;
    uint64_t seen_stored; /* stored models found (and checked) */
    int failures;
} churn_ctx;

/* GET_ROUNDS rounds at least, and until the writer is done plus a few rounds. */
static void *getter(void *arg)
{
    churn_ctx *c = arg;
    int stop = -1;
    for (int i = 0; i < GET_ROUNDS || stop < 0 || i < stop; i++) {
        if (stop < 0 && atomic_load(c->writer_done)) {
            stop = i + 4 * CHURN_IDS;
        }
        mf_reg_model *g = mf_registry_get(c->r, "gaussian");
        if (g == NULL || g->model->net->n_params != GAUSSIAN_PARAMS) {
            c->failures++;
        }
        mf_registry_release(c->r, g);
        char id[16];
        snprintf(id, sizeof id, "churn-%d", i % CHURN_IDS);
        mf_reg_model *e = mf_registry_get(c->r, id);
        if (e != NULL) {
            /* the writer may delete it now: it must stay whole until released */
            float sum = 0;
            for (size_t k = 0; k < e->model->net->n_params; k++) {
                sum += e->model->net->params[k];
            }
            if (strcmp(e->id, id) != 0 || e->model->net->n_params != TINY_PARAMS ||
                !isfinite(sum)) {
                c->failures++;
            }
            c->seen_stored++;
            mf_registry_release(c->r, e);
        }
        if (i % 100 == 0) {
            mf_reg_model **items;
            size_t n;
            if (mf_registry_list(c->r, &items, &n) != MF_OK) {
                c->failures++;
                continue;
            }
            for (size_t k = 1; k < n; k++) {
                if (strcmp(items[k - 1]->id, items[k]->id) >= 0) {
                    c->failures++;
                }
            }
            for (size_t k = 0; k < n; k++) {
                mf_registry_release(c->r, items[k]); /* may free a deleted one */
            }
            free(items);
            size_t sn;
            uint64_t sb;
            mf_registry_stats(c->r, &sn, &sb);
            if (sn < 1 || sn > 1 + CHURN_IDS) {
                c->failures++;
            }
        }
    }
    return NULL;
}

typedef struct writer_ctx {
    mf_registry *r;
    atomic_int done;
    int failures;
} writer_ctx;

static void *writer(void *arg)
{
    writer_ctx *w = arg;
    mf_diag diag = {0};
    for (int i = 0; i < CHURN_IDS; i++) {
        char id[16];
        snprintf(id, sizeof id, "churn-%d", i);
        mf_mlp_config cfg = {.data_dim = 2, .emb_dim = 4, .n_hidden = 2, .hidden = {8, 8}};
        mf_model *m = NULL;
        if (mf_model_new(&cfg, SCHED, &m, &diag) != MF_OK ||
            mf_registry_add(w->r, id, m, &diag) != MF_OK) {
            w->failures++;
            mf_model_free(m);
            continue;
        }
        if (i % 2 == 0 && mf_registry_delete(w->r, id) != MF_OK) {
            w->failures++;
        }
        if (mf_registry_delete(w->r, "gaussian") != MF_EBUSY) {
            w->failures++;
        }
    }
    atomic_store(&w->done, 1);
    return NULL;
}

START_TEST(test_concurrent_get_add_delete)
{
    quiet();
    dirs d;
    make_dirs(&d, false);
    copy_shipped("gaussian", d.shipped, "gaussian.safetensors");
    mf_registry *r = open_ok(d.shipped, d.store, NULL, NULL);
    churn_ctx ctx[GETTERS];
    pthread_t th[GETTERS], wt;
    writer_ctx w = {.r = r};
    atomic_init(&w.done, 0);
    for (int i = 0; i < GETTERS; i++) {
        ctx[i] = (churn_ctx){.r = r, .writer_done = &w.done};
        ck_assert_int_eq(pthread_create(&th[i], NULL, getter, &ctx[i]), 0);
    }
    ck_assert_int_eq(pthread_create(&wt, NULL, writer, &w), 0);
    for (int i = 0; i < GETTERS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(ctx[i].failures, 0);
    }
    ck_assert_int_eq(pthread_join(wt, NULL), 0);
    ck_assert_int_eq(w.failures, 0);
    uint64_t seen = 0;
    for (int i = 0; i < GETTERS; i++) {
        seen += ctx[i].seen_stored;
    }
    ck_assert_uint_gt(seen, 0); /* the getters did meet the writer's models */

    /* consistent afterwards: gaussian and the odd churn ids, each with only the registry's ref */
    char ids[512], want[512] = "";
    list_ids(r, ids, sizeof ids);
    for (int i = 0; i < CHURN_IDS; i++) {
        char id[16];
        snprintf(id, sizeof id, "churn-%d", i);
        mf_reg_model *e = mf_registry_get(r, id);
        if (i % 2 == 0) {
            ck_assert_ptr_null(e);
        } else {
            ck_assert_ptr_nonnull(e);
            ck_assert_int_eq(e->refs, 2);
            mf_registry_release(r, e);
        }
    }
    /* sorted by strcmp: churn-1, churn-11, churn-13, churn-15, churn-3, ... */
    snprintf(want, sizeof want,
             "churn-1,churn-11,churn-13,churn-15,churn-3,churn-5,churn-7,churn-9,gaussian");
    ck_assert_str_eq(ids, want);
    size_t n;
    uint64_t bytes;
    mf_registry_stats(r, &n, &bytes);
    ck_assert_uint_eq(n, 1 + CHURN_IDS / 2);
    ck_assert_uint_eq(bytes, ((uint64_t) GAUSSIAN_PARAMS + CHURN_IDS / 2 * TINY_PARAMS) * 4);
    char names[1024];
    dir_names(d.store, names, sizeof names); /* no temporaries */
    ck_assert_str_eq(names, "churn-1.safetensors,churn-11.safetensors,churn-13.safetensors,"
                            "churn-15.safetensors,churn-3.safetensors,churn-5.safetensors,"
                            "churn-7.safetensors,churn-9.safetensors");
    mf_registry_free(r);
    remove_tree(d.root);
}

END_TEST

/* Threads adding the same ids at once: one add per id wins, the others get MF_EBUSY and keep
 * their models, and the file is the winner's model. */
enum {
    ADDERS = 4,
    RACE_IDS = 8,
};

typedef struct adder_ctx {
    mf_registry *r;
    int k;
    atomic_int *go;
    mf_err err[RACE_IDS];
} adder_ctx;

static void *adder(void *arg)
{
    adder_ctx *a = arg;
    mf_model *m[RACE_IDS];
    for (int i = 0; i < RACE_IDS; i++) {
        m[i] = tiny_model(100.0f * (float) a->k + (float) i);
    }
    while (atomic_load(a->go) == 0) {
        /* start together */
    }
    for (int i = 0; i < RACE_IDS; i++) {
        char id[16];
        snprintf(id, sizeof id, "race-%d", i);
        mf_diag d = {0};
        a->err[i] = mf_registry_add(a->r, id, m[i], &d);
        if (a->err[i] != MF_OK) {
            mf_model_free(m[i]); /* not taken */
        }
    }
    return NULL;
}

START_TEST(test_concurrent_add_same_id)
{
    quiet();
    dirs d;
    make_dirs(&d, false);
    mf_registry *r = open_ok(NULL, d.store, NULL, NULL);
    atomic_int go;
    atomic_init(&go, 0);
    adder_ctx a[ADDERS];
    pthread_t th[ADDERS];
    for (int k = 0; k < ADDERS; k++) {
        a[k] = (adder_ctx){.r = r, .k = k, .go = &go};
        ck_assert_int_eq(pthread_create(&th[k], NULL, adder, &a[k]), 0);
    }
    atomic_store(&go, 1);
    for (int k = 0; k < ADDERS; k++) {
        ck_assert_int_eq(pthread_join(th[k], NULL), 0);
    }
    for (int i = 0; i < RACE_IDS; i++) {
        int winner = -1;
        for (int k = 0; k < ADDERS; k++) {
            if (a[k].err[i] == MF_OK) {
                ck_assert_msg(winner < 0, "race-%d added by threads %d and %d", i, winner, k);
                winner = k;
            } else {
                ck_assert_msg(a[k].err[i] == MF_EBUSY, "race-%d, thread %d: %s", i, k,
                              mf_err_name(a[k].err[i]));
            }
        }
        ck_assert_msg(winner >= 0, "race-%d: nobody won", i);
        char id[16], path[512];
        snprintf(id, sizeof id, "race-%d", i);
        snprintf(path, sizeof path, "%s/%s.safetensors", d.store, id);
        mf_model *want = tiny_model(100.0f * (float) winner + (float) i);
        mf_reg_model *e = mf_registry_get(r, id);
        ck_assert_ptr_nonnull(e);
        assert_same_params(e->model, want);
        mf_model *back = NULL;
        mf_diag diag = {0};
        ck_assert_int_eq(mf_model_load_file(path, MAX_MB, &back, &diag), MF_OK);
        assert_same_params(back, want); /* the winner's file, not a loser's */
        mf_model_free(back);
        mf_model_free(want);
        mf_registry_release(r, e);
    }
    char names[1024];
    dir_names(d.store, names, sizeof names); /* no temporaries */
    ck_assert_str_eq(names, "race-0.safetensors,race-1.safetensors,race-2.safetensors,"
                            "race-3.safetensors,race-4.safetensors,race-5.safetensors,"
                            "race-6.safetensors,race-7.safetensors");
    mf_registry_free(r);
    remove_tree(d.root);
}

END_TEST

/* ---- a store shared by two registries (replicas) -------------------------------- */

/* id is in r's list (not a lookup, which could load it); reads no counts (a watch may run). */
static bool listed(mf_registry *r, const char *id)
{
    mf_reg_model **items = NULL;
    size_t n = 0;
    bool found = false;
    ck_assert_int_eq(mf_registry_list(r, &items, &n), MF_OK);
    for (size_t i = 0; i < n; i++) {
        found = found || strcmp(items[i]->id, id) == 0;
        mf_registry_release(r, items[i]);
    }
    free(items);
    return found;
}

START_TEST(test_shared_store)
{
    quiet();
    dirs d;
    make_dirs(&d, true);
    mf_registry *a = open_ok(NULL, d.store, NULL, NULL);
    mf_registry *b = open_ok(NULL, d.store, NULL, NULL);
    mf_diag diag = {0};
    size_t added = 99, removed = 99;

    /* saved through a: found by b on a lookup miss, with the same weights and owner */
    mf_model *m = tiny_model(1.0f);
    ck_assert_int_eq(mf_model_set_meta(m, MF_REGISTRY_OWNER_KEY, "alice", &diag), MF_OK);
    ck_assert_int_eq(mf_registry_add(a, "one", m, &diag), MF_OK);
    ck_assert(!listed(b, "one"));
    mf_reg_model *e = mf_registry_get(b, "one");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->owner, "alice");
    ck_assert(!e->shipped && e->stamp.set);
    mf_reg_model *ea = mf_registry_get(a, "one");
    assert_same_params(e->model, ea->model);
    mf_registry_release(a, ea);
    /* b holds it while a deletes it */

    /* saved through a: b's rescan finds it */
    ck_assert_int_eq(mf_registry_add(a, "two", tiny_model(2.0f), &diag), MF_OK);
    mf_model *m2 = tiny_model(5.0f); /* b has not seen it yet: its file makes the id taken */
    ck_assert_int_eq(mf_registry_add(b, "two", m2, &diag), MF_EBUSY);
    mf_model_free(m2);
    ck_assert_int_eq(mf_registry_rescan(b, &added, &removed), MF_OK);
    ck_assert_uint_eq(added, 1);
    ck_assert_uint_eq(removed, 0);
    ck_assert(listed(b, "two"));
    ck_assert_int_eq(mf_registry_rescan(b, &added, &removed), MF_OK); /* nothing new */
    ck_assert_uint_eq(added + removed, 0);

    /* deleted through a: gone from b's list after a rescan; b's holder keeps the weights */
    ck_assert_int_eq(mf_registry_delete(a, "one"), MF_OK);
    ck_assert_int_eq(mf_registry_rescan(b, &added, &removed), MF_OK);
    ck_assert_uint_eq(removed, 1);
    ck_assert(!listed(b, "one"));
    ck_assert_ptr_null(mf_registry_get(b, "one"));
    ck_assert_uint_eq(e->model->net->n_params, TINY_PARAMS);
    mf_registry_release(b, e); /* freed now */

    /* deleted through b: gone from a too */
    ck_assert_int_eq(mf_registry_delete(b, "two"), MF_OK);
    ck_assert_int_eq(mf_registry_rescan(a, &added, &removed), MF_OK);
    ck_assert_uint_eq(removed, 1);
    ck_assert_ptr_null(mf_registry_get(a, "two"));

    /* a temporary being written and a corrupt file: never loaded, the corrupt one tried once */
    char p[512];
    snprintf(p, sizeof p, "%s/.three.safetensors.Ab12Cd", d.store);
    write_all(p, "partial", 7);
    snprintf(p, sizeof p, "%s/bad.safetensors", d.store);
    write_all(p, "this is not a safetensors file", 30);
    char logf[600];
    snprintf(logf, sizeof logf, "%s/log", d.root);
    int saved = dup(STDERR_FILENO), fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    mf_log_set_level(MF_LOG_WARN);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(mf_registry_rescan(b, &added, &removed), MF_OK);
        ck_assert_uint_eq(added + removed, 0);
        ck_assert_ptr_null(mf_registry_get(b, "bad"));
        ck_assert_ptr_null(mf_registry_get(b, ".three"));
    }
    quiet();
    ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    size_t loglen = 0;
    char *log = (char *) read_all(logf, &loglen);
    size_t lines = 0;
    for (const char *q = log; (q = strstr(q, "bad.safetensors")) != NULL; q++) {
        lines++;
    }
    free(log);
    ck_assert_uint_eq(lines, 1); /* tried and logged once, then remembered */
    ck_assert(file_exists(p));   /* and left where it is */
    /* replaced by a good one (an atomic write: a new inode): loaded */
    save_tiny(p, 3.0f);
    ck_assert_int_eq(mf_registry_rescan(b, &added, &removed), MF_OK);
    ck_assert_uint_eq(added, 1);
    /* replaced again by another replica: reloaded */
    save_tiny(p, 4.0f);
    ck_assert_int_eq(mf_registry_rescan(b, &added, &removed), MF_OK);
    ck_assert_uint_eq(added, 1);
    ck_assert_uint_eq(removed, 1);
    e = mf_registry_get(b, "bad");
    mf_model *want = tiny_model(4.0f);
    assert_same_params(e->model, want);
    mf_model_free(want);
    mf_registry_release(b, e);

    mf_registry_free(a);
    mf_registry_free(b);
    remove_tree(d.root);
}

END_TEST

/* The watch thread: what one registry adds and deletes, the other sees within a second. */
START_TEST(test_watch)
{
    quiet();
    dirs d;
    make_dirs(&d, true);
    mf_registry *a = open_ok(NULL, d.store, NULL, NULL);
    mf_registry *b = open_ok(NULL, d.store, NULL, NULL);
    ck_assert_int_eq(mf_registry_watch(b, 100), MF_OK);
    ck_assert_int_eq(mf_registry_watch(b, 100), MF_EINVAL);
    mf_diag diag = {0};
    ck_assert_int_eq(mf_registry_add(a, "seen", tiny_model(1.0f), &diag), MF_OK);
    int waited = 0;
    while (!listed(b, "seen") && waited < 1000) {
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
        waited += 10;
    }
    ck_assert_int_lt(waited, 1000);
    ck_assert_int_eq(mf_registry_delete(a, "seen"), MF_OK);
    waited = 0;
    while (listed(b, "seen") && waited < 1000) {
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
        waited += 10;
    }
    ck_assert_int_lt(waited, 1000);
    mf_registry_free(b); /* stops the thread */
    mf_registry_free(a);
    remove_tree(d.root);
}

END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");

    TCase *tc = tcase_create("open");
    tcase_add_test(tc, test_open_creates_store);
    tcase_add_test(tc, test_open_skips_bad_files);
    tcase_add_test(tc, test_open_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("add_delete");
    tcase_add_test(tc, test_add);
    tcase_add_test(tc, test_add_write_fails);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_pytorch_model);
    suite_add_tcase(s, tc);

    tc = tcase_create("shared");
    tcase_add_test(tc, test_shared_store);
    tcase_add_test(tc, test_watch);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrency");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_concurrent_get_add_delete);
    tcase_add_test(tc, test_concurrent_add_same_id);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(registry_suite)
