/* SPDX-License-Identifier: MIT */
/*
 * png.c - the smallest valid PNG writer: IHDR (8-bit grey), one IDAT holding a
 * zlib stream of "stored" (uncompressed) deflate blocks of at most 65,535
 * bytes, IEND.  Each scanline starts with filter byte 0.  CRC-32 and Adler-32
 * are computed here (PNG spec, RFC 1950/1951).  Also the grid of 8x8 digit
 * images that manifold-train's `sample --png` and the digits oracles write.
 */
#include "png.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static int chunk(FILE *f, const char *type, const uint8_t *data, size_t n)
{
    uint8_t hdr[8];
    put32(hdr, (uint32_t) n);
    memcpy(hdr + 4, type, 4);
    uint32_t crc = crc_update(0, hdr + 4, 4);
    crc = crc_update(crc, data, n);
    uint8_t tail[4];
    put32(tail, crc);
    return (fwrite(hdr, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) &&
            fwrite(tail, 1, 4, f) == 4)
               ? 0
               : -1;
}

int mf_png_write_gray(const char *path, const uint8_t *pixels, size_t w, size_t h)
{
    size_t raw_len = (w + 1) * h;
    size_t n_blocks = raw_len / 65535 + 1;
    size_t z_len = 2 + raw_len + 5 * n_blocks + 4;
    uint8_t *raw = malloc(raw_len), *z = malloc(z_len);
    FILE *f = NULL;
    int rc = -1;
    if (raw == NULL || z == NULL) {
        goto out;
    }
    for (size_t r = 0; r < h; r++) {
        raw[r * (w + 1)] = 0;
        memcpy(raw + r * (w + 1) + 1, pixels + r * w, w);
    }
    size_t o = 0;
    z[o++] = 0x78; /* deflate, 32K window */
    z[o++] = 0x01; /* no preset dictionary, fastest; (0x78 * 256 + 1) % 31 == 0 */
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < raw_len; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    for (size_t done = 0, blk = 0; blk < n_blocks; blk++) {
        size_t len = raw_len - done < 65535 ? raw_len - done : 65535;
        z[o++] = blk + 1 == n_blocks ? 1 : 0;
        z[o++] = (uint8_t) len;
        z[o++] = (uint8_t) (len >> 8);
        z[o++] = (uint8_t) ~len;
        z[o++] = (uint8_t) (~len >> 8);
        memcpy(z + o, raw + done, len);
        o += len;
        done += len;
    }
    put32(z + o, (b << 16) | a);
    o += 4;
    uint8_t ihdr[13];
    put32(ihdr, (uint32_t) w);
    put32(ihdr + 4, (uint32_t) h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 0;  /* grey */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* no interlace */
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    f = fopen(path, "wb");
    if (f == NULL) {
        goto out;
    }
    if (fwrite(sig, 1, 8, f) == 8 && chunk(f, "IHDR", ihdr, 13) == 0 &&
        chunk(f, "IDAT", z, o) == 0 && chunk(f, "IEND", NULL, 0) == 0) {
        rc = 0;
    }
out:
    if (f != NULL && fclose(f) != 0) {
        rc = -1;
    }
    free(raw);
    free(z);
    return rc;
}

int mf_png_write_digits(const char *path, const float *x, size_t n)
{
    size_t cols = 10, rows = (n + cols - 1) / cols, cell = 8 * 4 + 2;
    size_t w = cols * cell, h = rows * cell;
    uint8_t *img = malloc(w * h);
    if (img == NULL) {
        return -1;
    }
    memset(img, 255, w * h);
    for (size_t i = 0; i < n; i++) {
        size_t ox = (i % cols) * cell + 1, oy = (i / cols) * cell + 1;
        for (size_t py = 0; py < 32; py++) {
            for (size_t px = 0; px < 32; px++) {
                float v = x[i * 64 + (py / 4) * 8 + px / 4] / 16.0f;
                v = v < 0 ? 0 : (v > 1 ? 1 : v);
                img[(oy + py) * w + ox + px] = (uint8_t) (255.0f * (1.0f - v) + 0.5f);
            }
        }
    }
    int rc = mf_png_write_gray(path, img, w, h);
    free(img);
    return rc;
}
