/*
 * SipHash-2-4, from the paper's description (section 2): four 64-bit words of state
 * initialised from the key and four constants, two SipRounds per 8-byte message word
 * ("compression"), a last word holding the leftover bytes and the length mod 256, then
 * 0xff into v2 and four SipRounds ("finalization"); the result is v0 ^ v1 ^ v2 ^ v3.
 */
#include "oum_siphash.h"

static inline uint64_t rotl(uint64_t x, unsigned b) { return (x << b) | (x >> (64u - b)); }

/* An 8-byte little-endian word, byte by byte: same result on any host, any alignment. */
static inline uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void sipround(struct oum_siphash *h)
{
    h->v0 += h->v1;
    h->v1 = rotl(h->v1, 13);
    h->v1 ^= h->v0;
    h->v0 = rotl(h->v0, 32);
    h->v2 += h->v3;
    h->v3 = rotl(h->v3, 16);
    h->v3 ^= h->v2;
    h->v0 += h->v3;
    h->v3 = rotl(h->v3, 21);
    h->v3 ^= h->v0;
    h->v2 += h->v1;
    h->v1 = rotl(h->v1, 17);
    h->v1 ^= h->v2;
    h->v2 = rotl(h->v2, 32);
}

/* c = 2 compression rounds per message word. */
static inline void compress(struct oum_siphash *h, uint64_t m)
{
    h->v3 ^= m;
    sipround(h);
    sipround(h);
    h->v0 ^= m;
}

void oum_siphash_init(struct oum_siphash *h, const uint8_t key[OUM_SIPHASH_KEY_LEN])
{
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    /* "somepseudorandomlygeneratedbytes" */
    h->v0 = k0 ^ 0x736f6d6570736575ull;
    h->v1 = k1 ^ 0x646f72616e646f6dull;
    h->v2 = k0 ^ 0x6c7967656e657261ull;
    h->v3 = k1 ^ 0x7465646279746573ull;
    h->tail = 0;
    h->length = 0;
}

void oum_siphash_update(struct oum_siphash *h, const uint8_t *data, size_t len)
{
    unsigned have = (unsigned)(h->length & 7u);
    h->length += len;
    /* Fill a partial word first. */
    while (have != 0 && len > 0) {
        h->tail |= (uint64_t)*data++ << (8 * have);
        len--;
        if (++have == 8) {
            compress(h, h->tail);
            h->tail = 0;
            have = 0;
        }
    }
    for (; len >= 8; len -= 8, data += 8)
        compress(h, le64(data));
    for (unsigned i = 0; i < len; i++)
        h->tail |= (uint64_t)data[i] << (8 * i);
}

uint64_t oum_siphash_final(struct oum_siphash *h)
{
    /* The last word: leftover bytes below, the length mod 256 in the top byte. */
    compress(h, h->tail | (h->length << 56));
    h->v2 ^= 0xff;
    for (unsigned i = 0; i < 4; i++) /* d = 4 finalization rounds */
        sipround(h);
    return h->v0 ^ h->v1 ^ h->v2 ^ h->v3;
}

uint64_t oum_siphash24(const uint8_t key[OUM_SIPHASH_KEY_LEN], const uint8_t *data, size_t len)
{
    struct oum_siphash h;
    oum_siphash_init(&h, key);
    oum_siphash_update(&h, data, len);
    return oum_siphash_final(&h);
}
