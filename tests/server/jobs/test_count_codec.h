/* SPDX-License-Identifier: MIT */
/* test_count_codec.h - the params of the test-only "test.count" job (test_count_codec.c). */
#ifndef MF_TEST_COUNT_CODEC_H
#define MF_TEST_COUNT_CODEC_H

#include <stddef.h>

typedef struct mf_test_count_req {
    size_t n;       /* steps */
    size_t step_ms; /* sleep per step */
    size_t fail_at; /* 0 = never */
} mf_test_count_req;

#endif /* MF_TEST_COUNT_CODEC_H */
