/* SPDX-License-Identifier: MIT */
/* auth.c - API key sets: parsing key lines, hashing tokens, constant-time lookup (auth.h). */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "req_limits.h"

#define TOKEN_MIN 16  /* shorter tokens are guessable */
#define TOKEN_MAX 256 /* a line is at most this plus name and scopes */
#define MAX_KEYS  4096

struct mf_keys {
    size_t n;
    mf_key keys[];
};

static const char *const scope_names[] = {"read", "sample", "finetune", "admin"};

const char *mf_scope_name(unsigned scope)
{
    for (unsigned i = 0; i < 4; i++) {
        if (scope == 1u << i) {
            return scope_names[i];
        }
    }
    return "?";
}

static bool sha256(const char *s, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    return EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

/* SCOPES ("read,sample") -> bits; 0 when a name is unknown or the list is empty. */
static unsigned parse_scopes(const char *s, size_t n)
{
    unsigned bits = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && s[j] != ',') {
            j++;
        }
        if (j == i) {
            return 0; /* an empty name: "read," or ",read" */
        }
        unsigned bit = 0;
        for (unsigned k = 0; k < 4; k++) {
            if (strlen(scope_names[k]) == j - i && memcmp(s + i, scope_names[k], j - i) == 0) {
                bit = 1u << k;
            }
        }
        if (bit == 0) {
            return 0;
        }
        bits |= bit;
        i = j + 1;
    }
    return bits;
}

/* The next field of a line (split on blanks) as [*ret, *ret + *ret_n); false at the end. */
static bool next_field(const char **p, const char *end, const char **ret, size_t *ret_n)
{
    while (*p < end && (**p == ' ' || **p == '\t')) {
        (*p)++;
    }
    const char *s = *p;
    while (*p < end && **p != ' ' && **p != '\t') {
        (*p)++;
    }
    *ret = s;
    *ret_n = (size_t) (*p - s);
    return *ret_n > 0;
}

/* One key line into *k; NULL or the reason it is refused (the token is never quoted). */
static const char *parse_line(const char *p, const char *end, mf_key *k)
{
    const char *name, *scopes, *token, *extra;
    size_t name_n, scopes_n, token_n, extra_n;
    if (!next_field(&p, end, &name, &name_n) || !next_field(&p, end, &scopes, &scopes_n) ||
        !next_field(&p, end, &token, &token_n)) {
        return "needs three fields: NAME SCOPES TOKEN";
    }
    if (next_field(&p, end, &extra, &extra_n)) {
        return "has more than three fields (NAME SCOPES TOKEN)";
    }
    if (name_n >= sizeof k->name) {
        return "the name is longer than 64 characters";
    }
    memcpy(k->name, name, name_n);
    k->name[name_n] = '\0';
    if (!mf_req_id_valid(k->name)) {
        return "the name must match [a-z0-9][a-z0-9._-]{0,63}";
    }
    k->scopes = parse_scopes(scopes, scopes_n);
    if (k->scopes == 0) {
        return "scopes are a comma-separated list of read, sample, finetune, admin";
    }
    if (token_n == 7 + 64 && memcmp(token, "sha256:", 7) == 0) {
        for (size_t i = 0; i < 32; i++) {
            int hi = OPENSSL_hexchar2int((unsigned char) token[7 + 2 * i]);
            int lo = OPENSSL_hexchar2int((unsigned char) token[8 + 2 * i]);
            if (hi < 0 || lo < 0) {
                return "a sha256: token needs 64 hex digits";
            }
            k->hash[i] = (uint8_t) (hi * 16 + lo);
        }
        return NULL;
    }
    if (token_n < TOKEN_MIN || token_n > TOKEN_MAX) {
        return "the token must have 16 to 256 characters (or be sha256:<64 hex digits>)";
    }
    for (size_t i = 0; i < token_n; i++) {
        if ((unsigned char) token[i] <= 0x20 || (unsigned char) token[i] >= 0x7f) {
            return "the token must be printable ASCII";
        }
    }
    return sha256(token, token_n, k->hash) ? NULL : "cannot hash the token";
}

mf_err mf_keys_parse(const char *text, size_t len, mf_keys **ret, mf_diag *diag)
{
    *ret = NULL;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) {
        lines += text[i] == '\n';
    }
    if (lines > MAX_KEYS) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "more than %d key lines", MAX_KEYS);
    }
    mf_keys *k = calloc(1, sizeof *k + lines * sizeof k->keys[0]);
    if (k == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    const char *p = text, *end = text + len;
    for (size_t line = 1; p < end; line++) {
        const char *e = memchr(p, '\n', (size_t) (end - p));
        const char *stop = e != NULL ? e : end;
        const char *q = p;
        while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r')) {
            q++;
        }
        const char *last = stop;
        while (last > q && (last[-1] == '\r' || last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }
        if (q < last && *q != '#') {
            mf_key *key = &k->keys[k->n];
            const char *why = parse_line(q, last, key);
            for (size_t j = 0; why == NULL && j < k->n; j++) {
                if (strcmp(k->keys[j].name, key->name) == 0) {
                    why = "repeats a name of an earlier line";
                } else if (memcmp(k->keys[j].hash, key->hash, 32) == 0) {
                    why = "repeats the token of an earlier line";
                }
            }
            if (why != NULL) {
                mf_keys_free(k);
                return mf_diag_set(diag, MF_EINVAL, NULL, "key line %zu %s", line, why);
            }
            key->index = k->n++;
        }
        p = stop + (e != NULL);
    }
    if (k->n == 0) {
        mf_keys_free(k);
        return mf_diag_set(diag, MF_EINVAL, NULL, "no keys (lines of NAME SCOPES TOKEN)");
    }
    *ret = k;
    return MF_OK;
}

mf_err mf_keys_load(const char *path, mf_keys **ret, mf_diag *diag)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_err err = mf_fileio_read(path, 1u << 20, &buf, &len, diag);
    if (err != MF_OK) {
        return err;
    }
    err = mf_keys_parse((const char *) buf, len, ret, diag);
    OPENSSL_cleanse(buf, len); /* the file may hold tokens in clear */
    free(buf);
    return err;
}

void mf_keys_free(mf_keys *k)
{
    if (k != NULL) {
        OPENSSL_cleanse(k, sizeof *k + k->n * sizeof k->keys[0]);
        free(k);
    }
}

size_t mf_keys_count(const mf_keys *k)
{
    return k != NULL ? k->n : 0;
}

const mf_key *mf_keys_find(const mf_keys *k, const char *token, size_t len)
{
    uint8_t h[32];
    if (k == NULL || len == 0 || len > TOKEN_MAX || !sha256(token, len, h)) {
        return NULL;
    }
    /* every key is compared, whatever matched: the time says nothing */
    const mf_key *found = NULL;
    for (size_t i = 0; i < k->n; i++) {
        if (CRYPTO_memcmp(h, k->keys[i].hash, 32) == 0) {
            found = &k->keys[i];
        }
    }
    return found;
}

bool mf_key_has(const mf_key *key, unsigned scope)
{
    return key != NULL && ((key->scopes & MF_SCOPE_ADMIN) != 0 || (key->scopes & scope) == scope);
}
