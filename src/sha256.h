/* sha256.h: SHA-256 (FIPS 180-4), streaming and one-shot (internal). Used by model files for the
 * trailer checksum and to identify a backbone by its weights. */
#ifndef WT_SHA256_H
#define WT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct wt_sha256_ctx {
    uint32_t state[8];
    uint64_t total;     /* bytes hashed so far */
    uint8_t block[64];  /* a partial block of `used` bytes */
    size_t used;
} wt_sha256_ctx;

void wt_sha256_init(wt_sha256_ctx* c);
void wt_sha256_update(wt_sha256_ctx* c, const void* data, size_t len);
/* Writes the digest; the context must be initialised again before reuse. */
void wt_sha256_final(wt_sha256_ctx* c, uint8_t out[32]);
/* out = SHA-256 of data[0..len) */
void wt_sha256(const void* data, size_t len, uint8_t out[32]);

#endif /* WT_SHA256_H */
