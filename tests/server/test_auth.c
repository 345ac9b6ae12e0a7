/* SPDX-License-Identifier: MIT */
/*
 * test_auth.c - server/auth.c (API key lines: parsing, every refusal with its
 * line number, tokens in clear and as sha256:, lookup, scopes) and
 * server/http_guard.c (Host allow-list, Origin of state-changing requests,
 * the %XX decoder that keeps control characters escaped).
 *
 * The sha256: form is checked against the hash of a known token computed by
 * a reference (sha256sum of "correct-horse-battery-staple"), so the test
 * does not only agree with itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "auth.h"
#include "http_guard.h"
#include "test_util.h"

/* printf 'correct-horse-battery-staple' | sha256sum */
#define HORSE_SHA "sha256:87cbebfeebc05f7c54ac9336c4b4bbec831227a641951a4bde7edd56020f8590"

static mf_keys *parse_ok(const char *text)
{
    mf_keys *k = NULL;
    mf_diag d = {0};
    mf_err err = mf_keys_parse(text, strlen(text), &k, &d);
    ck_assert_msg(err == MF_OK, "parse failed: %s", d.msg);
    return k;
}

static void parse_fails(const char *text, const char *want)
{
    mf_keys *k = NULL;
    mf_diag d = {0};
    ck_assert_int_eq(mf_keys_parse(text, strlen(text), &k, &d), MF_EINVAL);
    ck_assert_ptr_null(k);
    ck_assert_msg(strstr(d.msg, want) != NULL, "'%s' lacks '%s'", d.msg, want);
}

START_TEST(test_parse_and_find)
{
    const char *text = "# keys\n"
                       "\n"
                       "alice read,sample 7d1c0f4e9a2b44aa8e21\r\n"
                       "  bob   finetune\tbob-token-0123456789  \n"
                       "ops admin " HORSE_SHA "\n";
    mf_keys *k = parse_ok(text);
    ck_assert_uint_eq(mf_keys_count(k), 3);
    const mf_key *a = mf_keys_find(k, "7d1c0f4e9a2b44aa8e21", 20);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->name, "alice");
    ck_assert_uint_eq(a->scopes, MF_SCOPE_READ | MF_SCOPE_SAMPLE);
    ck_assert(mf_key_has(a, MF_SCOPE_READ) && mf_key_has(a, MF_SCOPE_SAMPLE));
    ck_assert(!mf_key_has(a, MF_SCOPE_FINETUNE) && !mf_key_has(a, MF_SCOPE_ADMIN));
    const mf_key *b = mf_keys_find(k, "bob-token-0123456789", 20);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b->name, "bob");
    ck_assert(!mf_key_has(b, MF_SCOPE_READ)); /* scopes are independent */
    /* the hashed line answers to the token in clear, not to its hash */
    const mf_key *o = mf_keys_find(k, "correct-horse-battery-staple", 28);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(o->name, "ops");
    ck_assert(mf_key_has(o, MF_SCOPE_FINETUNE) && mf_key_has(o, MF_SCOPE_READ)); /* admin: all */
    ck_assert_ptr_null(mf_keys_find(k, HORSE_SHA, strlen(HORSE_SHA)));
    /* near misses */
    ck_assert_ptr_null(mf_keys_find(k, "7d1c0f4e9a2b44aa8e2", 19));
    ck_assert_ptr_null(mf_keys_find(k, "7d1c0f4e9a2b44aa8e22", 20));
    ck_assert_ptr_null(mf_keys_find(k, "", 0));
    ck_assert_ptr_null(mf_keys_find(NULL, "7d1c0f4e9a2b44aa8e21", 20));
    ck_assert_str_eq(mf_scope_name(MF_SCOPE_FINETUNE), "finetune");
    mf_keys_free(k);
}

END_TEST

START_TEST(test_parse_refusals)
{
    parse_fails("", "no keys");
    parse_fails("# only a comment\n\n", "no keys");
    parse_fails("alice read\n", "line 1 needs three fields");
    parse_fails("a read 0123456789abcdef\nalice read 0123456789abcdef x\n", "line 2 has more");
    parse_fails("Alice read 0123456789abcdef\n", "line 1 the name must match");
    parse_fails("alice read,write 0123456789abcdef\n", "scopes are");
    parse_fails("alice read, 0123456789abcdef\n", "scopes are");
    parse_fails("alice read short\n", "16 to 256");
    parse_fails("alice read sha256:00zz\n", "16 to 256");
    parse_fails("alice read sha256:"
                "zz5a0fd5d7a3d72cde3fce5bc3fd7f5b90f9d9fc1b9d1d5d5d11cba0e2b0a5b5\n",
                "64 hex digits");
    parse_fails("alice read 0123456789abcdef\nbob sample 0123456789abcdef\n",
                "line 2 repeats the token");
    parse_fails("alice read 0123456789abcdef\nalice sample 0123456789abcdeX\n",
                "line 2 repeats a name");
    /* a token given in clear and the same one as its hash are one token */
    parse_fails("a read correct-horse-battery-staple\nb read " HORSE_SHA "\n", "repeats the token");
    /* the refusal never quotes the token */
    mf_keys *k = NULL;
    mf_diag d = {0};
    const char *t = "alice nope s3cret-s3cret-s3cret\n";
    ck_assert_int_eq(mf_keys_parse(t, strlen(t), &k, &d), MF_EINVAL);
    ck_assert_ptr_null(strstr(d.msg, "s3cret"));
}

END_TEST

START_TEST(test_load_file)
{
    char path[] = "/tmp/mf_test_keys_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("svc sample,read 0123456789abcdef0123\n", f);
    fclose(f);
    mf_keys *k = NULL;
    mf_diag d = {0};
    ck_assert_int_eq(mf_keys_load(path, &k, &d), MF_OK);
    ck_assert_ptr_nonnull(mf_keys_find(k, "0123456789abcdef0123", 20));
    mf_keys_free(k);
    unlink(path);
    ck_assert_int_ne(mf_keys_load(path, &k, &d), MF_OK);
}

END_TEST

START_TEST(test_host)
{
    /* defaults: loopback names and the listen address, any port */
    ck_assert(mf_guard_host_ok("localhost:8080", "127.0.0.1", ""));
    ck_assert(mf_guard_host_ok("LOCALHOST", "127.0.0.1", ""));
    ck_assert(mf_guard_host_ok("127.0.0.1:9", "127.0.0.1", ""));
    ck_assert(mf_guard_host_ok("[::1]:8080", "127.0.0.1", ""));
    ck_assert(mf_guard_host_ok("10.0.0.5:80", "10.0.0.5", NULL));
    ck_assert(mf_guard_host_ok(NULL, "127.0.0.1", "")); /* HTTP/1.0, no Host */
    /* DNS rebinding: another name pointed at us */
    ck_assert(!mf_guard_host_ok("evil.example:8080", "127.0.0.1", ""));
    ck_assert(!mf_guard_host_ok("localhost.evil.example", "127.0.0.1", ""));
    ck_assert(!mf_guard_host_ok("", "127.0.0.1", ""));
    ck_assert(!mf_guard_host_ok(":8080", "127.0.0.1", ""));
    /* 0.0.0.0 is no name: the operator lists them */
    ck_assert(!mf_guard_host_ok("0.0.0.0:8080", "0.0.0.0", ""));
    ck_assert(mf_guard_host_ok("api.example.org", "0.0.0.0", "a.example, api.example.org"));
    ck_assert(mf_guard_host_ok("API.example.org:443", "0.0.0.0", "api.example.org"));
    ck_assert(!mf_guard_host_ok("pi.example.org", "0.0.0.0", "api.example.org"));
    ck_assert(!mf_guard_host_ok("api.example.or", "0.0.0.0", "api.example.org"));
    ck_assert(mf_guard_host_ok("anything", "0.0.0.0", "*"));
}

END_TEST

START_TEST(test_origin)
{
    ck_assert(mf_guard_origin_ok(NULL, "localhost:8080", ""));
    ck_assert(mf_guard_origin_ok("http://localhost:8080", "localhost:8080", ""));
    ck_assert(mf_guard_origin_ok("https://api.example", "api.example", ""));
    ck_assert(!mf_guard_origin_ok("http://localhost:8081", "localhost:8080", ""));
    ck_assert(!mf_guard_origin_ok("https://evil.example", "localhost:8080", ""));
    ck_assert(!mf_guard_origin_ok("null", "localhost:8080", ""));
    ck_assert(!mf_guard_origin_ok("http://localhost:8080", NULL, ""));
    ck_assert(mf_guard_origin_ok("https://app.example", "localhost:8080",
                                 "https://x.example,https://app.example"));
    ck_assert(
        !mf_guard_origin_ok("https://app.example.evil", "localhost:8080", "https://app.example"));
    ck_assert(mf_guard_origin_ok("https://evil.example", "localhost:8080", "*"));
}

END_TEST

static void unescaped(const char *in, const char *want)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", in);
    size_t n = mf_guard_unescape(buf);
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
}

START_TEST(test_unescape)
{
    unescaped("/v1/models/abc", "/v1/models/abc");
    unescaped("/v1/models/a%2Db%2e", "/v1/models/a-b.");
    unescaped("/v1/%ff", "/v1/\xff");
    /* control characters stay escaped: %00 cannot cut the path */
    unescaped("/v1/models/gaussian%00x", "/v1/models/gaussian%00x");
    unescaped("a%0Ab%1fc%7Fd%20e", "a%0Ab%1fc%7Fd e");
    /* malformed escapes stay as they are */
    unescaped("%", "%");
    unescaped("%4", "%4");
    unescaped("%zz%4g", "%zz%4g");
    unescaped("%41%", "A%");
    ck_assert(mf_guard_control_escape("%00"));
    ck_assert(mf_guard_control_escape("%1F"));
    ck_assert(mf_guard_control_escape("%7f"));
    ck_assert(!mf_guard_control_escape("%20"));
    ck_assert(!mf_guard_control_escape("%0"));
    ck_assert(!mf_guard_control_escape("x%00"));
}

END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_and_find);
    tcase_add_test(tc, test_parse_refusals);
    tcase_add_test(tc, test_load_file);
    tcase_add_test(tc, test_host);
    tcase_add_test(tc, test_origin);
    tcase_add_test(tc, test_unescape);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(auth_suite)
