/* SPDX-License-Identifier: MIT */
/*
 * auth.h - API keys: bearer tokens with scopes, read from a key file or the
 * environment, held only as SHA-256 hashes.
 *
 * The key file has one key per line, "NAME SCOPES TOKEN": NAME an id
 * ([a-z0-9][a-z0-9._-]{0,63}; it owns the jobs, models and datasets the key
 * makes), SCOPES comma-separated from read, sample, finetune, admin, and
 * TOKEN the secret in clear (16 to 256 printable characters) or its hash as
 * "sha256:" and 64 hex digits, so the file need not hold secrets at all.
 * Blank lines and lines starting with '#' are skipped.
 *
 * A token is looked up by hashing it and comparing the hash with every key's
 * in constant time (CRYPTO_memcmp, no early exit), so neither the time of a
 * refusal nor of a match says which bytes were right.  Tokens are never
 * logged; names are.
 *
 * Scopes are independent, except that admin holds them all and sees every
 * key's jobs, models and datasets.  Thread-safe: a key set is immutable.
 */
#ifndef MF_AUTH_H
#define MF_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum mf_scope {
    MF_SCOPE_READ = 1u << 0,     /* list and read models, datasets, jobs, events, results */
    MF_SCOPE_SAMPLE = 1u << 1,   /* POST /v1/samples, /v1/scores, sample jobs */
    MF_SCOPE_FINETUNE = 1u << 2, /* train and fine-tuning jobs, model and dataset uploads */
    MF_SCOPE_ADMIN = 1u << 3,    /* everything, every key's resources */
} mf_scope;

/** "read", "sample", "finetune", "admin" for one scope bit; "?" otherwise. */
const char *mf_scope_name(unsigned scope);

typedef struct mf_key {
    size_t index; /* 0..count-1: the key's row in per-key tables (quota.h) */
    char name[65];
    unsigned scopes; /* mf_scope bits */
    uint8_t hash[32];
} mf_key;

typedef struct mf_keys mf_keys;

/**
 * Parses key lines (text[len]).  Errors: MF_EINVAL with diag naming the line
 * number and what is wrong (the token itself is never quoted), MF_ENOMEM.
 * No keys at all (only comments) is MF_EINVAL: a key file that grants nobody
 * is a mistake, not a request for an open daemon.
 */
MF_MUST_CHECK mf_err mf_keys_parse(const char *text, size_t len, mf_keys **ret, mf_diag *diag);

/** Reads and parses a key file.  Errors: MF_EIO (diag: why), those of mf_keys_parse. */
MF_MUST_CHECK mf_err mf_keys_load(const char *path, mf_keys **ret, mf_diag *diag);

/** Frees a key set; accepts NULL. */
void mf_keys_free(mf_keys *k);

/** Number of keys. */
size_t mf_keys_count(const mf_keys *k);

/** The key whose token is token[len], or NULL; takes the same time for any token of a length. */
const mf_key *mf_keys_find(const mf_keys *k, const char *token, size_t len);

/** true when key holds scope (admin holds every scope). */
bool mf_key_has(const mf_key *key, unsigned scope);

#endif /* MF_AUTH_H */
