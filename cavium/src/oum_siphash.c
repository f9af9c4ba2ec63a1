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

/* The state in locals while words are compressed: through `h` the compiler would have to
 * store and reload it around every byte read, since message bytes (uint8_t) may alias it. */
struct sip_state {
    uint64_t v0, v1, v2, v3;
};

static inline void sipround(struct sip_state *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

/* c = 2 compression rounds per message word. */
static inline void compress(struct sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    sipround(s);
    sipround(s);
    s->v0 ^= m;
}

static inline struct sip_state load(const struct oum_siphash *h)
{
    struct sip_state s = {h->v0, h->v1, h->v2, h->v3};
    return s;
}

static inline void store(struct oum_siphash *h, const struct sip_state *s)
{
    h->v0 = s->v0;
    h->v1 = s->v1;
    h->v2 = s->v2;
    h->v3 = s->v3;
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
    uint64_t tail = h->tail;
    struct sip_state s = load(h);
    h->length += len;
    /* Fill a partial word first. */
    while (have != 0 && len > 0) {
        tail |= (uint64_t)*data++ << (8 * have);
        len--;
        if (++have == 8) {
            compress(&s, tail);
            tail = 0;
            have = 0;
        }
    }
    for (; len >= 8; len -= 8, data += 8)
        compress(&s, le64(data));
    for (unsigned i = 0; i < len; i++)
        tail |= (uint64_t)data[i] << (8 * i);
    h->tail = tail;
    store(h, &s);
}

uint64_t oum_siphash_final(struct oum_siphash *h)
{
    struct sip_state s = load(h);
    /* The last word: leftover bytes below, the length mod 256 in the top byte. */
    compress(&s, h->tail | (h->length << 56));
    s.v2 ^= 0xff;
    for (unsigned i = 0; i < 4; i++) /* d = 4 finalization rounds */
        sipround(&s);
    store(h, &s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t oum_siphash24(const uint8_t key[OUM_SIPHASH_KEY_LEN], const uint8_t *data, size_t len)
{
    struct oum_siphash h;
    oum_siphash_init(&h, key);
    oum_siphash_update(&h, data, len);
    return oum_siphash_final(&h);
}
