/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), written
 * from the paper: the keyed hash behind authenticated stamps (docs/wire-format.md,
 * "Authenticated stamps"). Portable C11, endian-clean (the key and message words are read
 * little-endian byte by byte, as the paper specifies, whatever the host's byte order), no
 * allocation, no library calls.
 *
 * The paper's function returns 64 bits; as a number they are what Rust's
 * siphasher::sip::SipHasher24::finish returns, which the cavium-sequencer crate's tests
 * check for random keys and inputs.
 */
#ifndef OUM_SIPHASH_H
#define OUM_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OUM_SIPHASH_KEY_LEN 16u

/* A hash in progress: input may arrive in pieces of any length. */
struct oum_siphash {
    uint64_t v0, v1, v2, v3;
    uint64_t tail;   /* bytes not yet forming a whole word, little-endian */
    uint64_t length; /* bytes taken so far; the final block carries it mod 256 */
};

void oum_siphash_init(struct oum_siphash *h, const uint8_t key[OUM_SIPHASH_KEY_LEN]);
void oum_siphash_update(struct oum_siphash *h, const uint8_t *data, size_t len);
/* The 64-bit result; `h` is spent afterwards. */
uint64_t oum_siphash_final(struct oum_siphash *h);

/* The whole computation over one buffer. */
uint64_t oum_siphash24(const uint8_t key[OUM_SIPHASH_KEY_LEN], const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* OUM_SIPHASH_H */
