/*
 * Authenticated stamps in the C core: SipHash-2-4 against the reference test vectors,
 * sealed frames byte by byte (a tag computed by Rust's StampKey is checked here too, so the
 * qemu-mips64 run proves the tag big-endian on a big-endian host), the room rule, and the
 * --auth-key option. The cavium-sequencer crate compares the C tag with StampKey::tag on
 * random input; these are the checks that also run under ASan and on MIPS64.
 */
#include "check.h"
#include "oum_args.h"
#include "oum_seq.h"
#include "oum_siphash.h"

#include <stdlib.h>
#include <string.h>

/* SipHash-2-4 with key 00 01 .. 0f over the messages 00 01 .. (n-1), n = 0..63: the
 * reference outputs of Aumasson and Bernstein (as numbers; n = 15 is the paper's appendix
 * example, a129ca6149be45e5). Checked equal to Rust's siphasher 1.0.4. */
static const uint64_t SIPHASH_VECTORS[64] = {
    0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
    0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull,
    0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
    0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull,
    0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, 0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull,
    0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, 0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull,
    0xb8ad50c6f649af94ull, 0xbce192de8a85b8eaull, 0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull,
    0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull, 0xad87a3535c49ef28ull, 0x32d892fad841c342ull,
    0x7127512f72f27cceull, 0xa7f32346f95978e3ull, 0x12e0b01abb051238ull, 0x15e034d40fa197aeull,
    0x314dffbe0815a3b4ull, 0x027990f029623981ull, 0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull,
    0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, 0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull,
    0xf935451de4f21df2ull, 0xa9538f0419755787ull, 0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull,
    0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull, 0xee64435a9752fe72ull, 0xa192d576b245165aull,
    0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, 0x7fa8220ba3b2eceaull, 0x245731c13ca42499ull,
    0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, 0x60e61c23a3795013ull, 0x6606d7e446282b93ull,
    0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, 0xe51b38608ef25f57ull, 0x958a324ceb064572ull,
};

static void test_siphash_vectors(void)
{
    uint8_t key[16], msg[64];
    for (unsigned i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (unsigned i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    unsigned bad = 0, bad_split = 0;
    for (size_t n = 0; n < 64; n++) {
        if (oum_siphash24(key, msg, n) != SIPHASH_VECTORS[n])
            bad++;
        /* The same input in two pieces, split anywhere, and byte by byte. */
        for (size_t k = 0; k <= n; k++) {
            struct oum_siphash h;
            oum_siphash_init(&h, key);
            oum_siphash_update(&h, msg, k);
            oum_siphash_update(&h, msg + k, n - k);
            if (oum_siphash_final(&h) != SIPHASH_VECTORS[n])
                bad_split++;
        }
        struct oum_siphash h;
        oum_siphash_init(&h, key);
        for (size_t k = 0; k < n; k++)
            oum_siphash_update(&h, msg + k, 1);
        if (oum_siphash_final(&h) != SIPHASH_VECTORS[n])
            bad_split++;
    }
    CHECK(bad == 0, "%u of 64 SipHash-2-4 reference vectors wrong", bad);
    CHECK(bad_split == 0, "%u SipHash-2-4 results depend on how the input was split", bad_split);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* 1 when the IPv4 header at `ip` has a correct checksum. */
static int ipv4_checksum_ok(const uint8_t *ip)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < (ip[0] & 15u) * 4u; i += 2)
        sum += get16(ip + i);
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return sum == 0xffffu;
}

/* An unsequenced request to 10.0.0.(100 + group): IPv4 without options and with a right
 * checksum, `slack` bytes of IPv4 payload after the UDP datagram, `pad` bytes of Ethernet
 * padding after the IPv4 packet. Returns the frame length. */
static size_t build(uint8_t *f, unsigned group, const uint8_t *body, size_t body_len,
                    size_t slack, size_t pad)
{
    size_t udp_len = 8 + 16 + body_len, total = 20 + udp_len + slack;
    memset(f, 0, 14 + total + pad);
    memset(f, 0xff, 6);
    f[6] = 0x02;
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(total >> 8);
    ip[3] = (uint8_t)total;
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 10;
    ip[15] = 1;
    ip[16] = 10;
    ip[19] = (uint8_t)(100 + group);
    uint32_t sum = 0;
    for (unsigned i = 0; i < 20; i += 2)
        sum += get16(ip + i);
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    ip[10] = (uint8_t)(~sum >> 8);
    ip[11] = (uint8_t)~sum;
    uint8_t *udp = ip + 20;
    udp[0] = 0xc0;
    udp[2] = 22222 >> 8;
    udp[3] = 22222 & 255;
    udp[4] = (uint8_t)(udp_len >> 8);
    udp[5] = (uint8_t)udp_len;
    udp[6] = 0x12;
    udp[7] = 0x34;
    udp[8] = 0x18;
    udp[9] = 0x03;
    udp[10] = 0x05;
    udp[11] = 0x20;
    if (body_len)
        memcpy(udp + 24, body, body_len);
    for (size_t i = 0; i < slack; i++)
        udp[udp_len + i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < pad; i++)
        ip[total + i] = 0xee;
    return 14 + total + pad;
}

#define KEYED_GROUP 3u

struct auth_seq {
    void *mem;
    struct oum_seq *seq;
};

/* Four groups 10.0.0.100..103, session 7, group 3 keyed with "0123456789abcdef" and at
 * message number 41. */
static struct auth_seq make_auth_seq(void)
{
    static const uint8_t key[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                    '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    static const uint16_t members[] = {0, 1, 2};
    struct oum_seq_group_spec groups[4];
    for (unsigned i = 0; i < 4; i++) {
        groups[i].address = 0x0a000064u + i;
        groups[i].n_members = 3;
        groups[i].members = members;
        groups[i].last_msgnum = i == KEYED_GROUP ? 41 : 0;
        groups[i].auth_key = i == KEYED_GROUP ? key : NULL;
    }
    struct oum_seq_config cfg = {22222, 7, 0};
    size_t len = oum_seq_footprint(4, 12);
    struct auth_seq s;
    s.mem = aligned_alloc(OUM_SEQ_ALIGN, len);
    if (!s.mem)
        exit(2);
    s.seq = oum_seq_init(s.mem, len, &cfg, groups, 4, NULL);
    if (!s.seq)
        exit(2);
    return s;
}

static void test_sealed_frames(void)
{
    struct auth_seq s = make_auth_seq();
    static const uint8_t body[] = {'p', 'u', 't', ' ', 'k', ' ', 'v'};
    uint8_t f[256], orig[256];
    struct oum_seq_result r;
    CHECK(oum_seq_group_keyed(s.seq, KEYED_GROUP) && !oum_seq_group_keyed(s.seq, 0) &&
              !oum_seq_group_keyed(s.seq, 4),
          "which groups are keyed");

    /* The tag Rust's StampKey::tag gives for group 3, session 7, message 42, "put k v",
     * written big-endian whatever the host. */
    size_t len = build(f, KEYED_GROUP, body, sizeof(body), 0, 0);
    oum_seq_process_buf(s.seq, f, len, sizeof(f), &r);
    static const uint8_t want_tag[8] = {0x0c, 0xf1, 0x9b, 0xa5, 0x7e, 0x6f, 0x9b, 0xbe};
    CHECK(r.action == OUM_ACTION_MULTICAST && r.group == KEYED_GROUP && r.msgnum == 42 &&
              r.len == len + 8,
          "keyed request: action %u msgnum %llu len %u", r.action,
          (unsigned long long)r.msgnum, r.len);
    CHECK(memcmp(f + len, want_tag, 8) == 0, "the tag is not StampKey's, big-endian");
    CHECK(get16(f + 46) == 18 && get16(f + 48) == 7, "header size 18, session 7");
    CHECK(get16(f + 16) == len - 14 + 8 && get16(f + 38) == len - 34 + 8,
          "IPv4 and UDP lengths grow by the tag");
    CHECK(ipv4_checksum_ok(f + 14) && get16(f + 40) == 0, "IPv4 checksum right, UDP none");

    /* An unkeyed group of the same sequencer: as before, no tag, length unchanged. */
    len = build(f, 0, body, sizeof(body), 0, 0);
    oum_seq_process_buf(s.seq, f, len, sizeof(f), &r);
    CHECK(r.action == OUM_ACTION_MULTICAST && r.len == len && get16(f + 46) == 10 &&
              get16(f + 16) == len - 14,
          "unkeyed group grew or changed");

    /* The tag replaces whatever follows the UDP datagram, as the Rust core's seal_frame:
     * IPv4 trailer bytes and Ethernet padding are dropped, and the total length becomes
     * IPv4 header + UDP length (the tag included). */
    len = build(f, KEYED_GROUP, body, sizeof(body), 3, 6);
    oum_seq_process_buf(s.seq, f, len, len + 8, &r);
    size_t udp_end = 14 + 20 + 8 + 16 + sizeof(body);
    uint8_t fields[12] = {0, KEYED_GROUP, 0, 7, 0, 0, 0, 0, 0, 0, 0, 43};
    static const uint8_t key[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                    '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    struct oum_siphash h;
    oum_siphash_init(&h, key);
    oum_siphash_update(&h, fields, sizeof(fields));
    oum_siphash_update(&h, body, sizeof(body));
    uint64_t tag = oum_siphash_final(&h);
    int tag_ok = 1;
    for (unsigned i = 0; i < 8; i++)
        tag_ok &= f[udp_end + i] == (uint8_t)(tag >> (56 - 8 * i));
    CHECK(r.action == OUM_ACTION_MULTICAST && r.msgnum == 43 && r.len == udp_end + 8 && tag_ok,
          "trailer and padding: len %u", r.len);
    CHECK(get16(f + 16) == r.len - 14 && get16(f + 16) == 20 + 8 + 16 + sizeof(body) + 8 &&
              get16(f + 38) == 8 + 16 + sizeof(body) + 8 && ipv4_checksum_ok(f + 14),
          "the IPv4 trailer is dropped: total length %u", get16(f + 16));

    /* No room: dropped, counted, unchanged, and no number taken. */
    len = build(f, KEYED_GROUP, body, sizeof(body), 0, 0);
    memcpy(orig, f, len);
    oum_seq_process_buf(s.seq, f, len, len + 7, &r);
    CHECK(r.action == OUM_ACTION_DROP && r.reason == OUM_REASON_NO_ROOM_FOR_TAG &&
              r.len == len && memcmp(f, orig, len) == 0 &&
              oum_seq_last_msgnum(s.seq, KEYED_GROUP) == 43 &&
              oum_seq_drop_count(s.seq, OUM_REASON_NO_ROOM_FOR_TAG) == 1,
          "no room for the tag");
    oum_seq_process(s.seq, f, len, &r);
    CHECK(r.reason == OUM_REASON_NO_ROOM_FOR_TAG, "oum_seq_process has no room beyond len");
    /* Eight bytes of Ethernet padding are room enough, in place. */
    len = build(f, KEYED_GROUP, body, sizeof(body), 0, 8);
    oum_seq_process(s.seq, f, len, &r);
    CHECK(r.action == OUM_ACTION_MULTICAST && r.msgnum == 44 && r.len == len,
          "padding as room: msgnum %llu", (unsigned long long)r.msgnum);
    CHECK(strcmp(oum_reason_name(OUM_REASON_NO_ROOM_FOR_TAG), "no-room-for-tag") == 0,
          "reason name");
    /* IPv4 trailer and padding together are room when they are 8 bytes, not when 7. */
    len = build(f, KEYED_GROUP, body, sizeof(body), 5, 3);
    oum_seq_process(s.seq, f, len, &r);
    CHECK(r.action == OUM_ACTION_MULTICAST && r.msgnum == 45 && r.len == len &&
              get16(f + 16) == len - 14 && ipv4_checksum_ok(f + 14),
          "trailer as room: msgnum %llu len %u", (unsigned long long)r.msgnum, r.len);
    len = build(f, KEYED_GROUP, body, sizeof(body), 4, 3);
    memcpy(orig, f, len);
    oum_seq_process(s.seq, f, len, &r);
    CHECK(r.reason == OUM_REASON_NO_ROOM_FOR_TAG && memcmp(f, orig, len) == 0 &&
              oum_seq_last_msgnum(s.seq, KEYED_GROUP) == 45 &&
              oum_seq_drop_count(s.seq, OUM_REASON_NO_ROOM_FOR_TAG) == 3,
          "seven bytes of trailer and padding are no room");
    /* An exhausted counter is the reason before the room, as in the Rust core. */
    CHECK(oum_seq_set_last_msgnum(s.seq, KEYED_GROUP, UINT64_MAX) == 0, "set last");
    oum_seq_process(s.seq, f, len, &r);
    CHECK(r.reason == OUM_REASON_COUNTER_EXHAUSTED &&
              oum_seq_drop_count(s.seq, OUM_REASON_NO_ROOM_FOR_TAG) == 3,
          "exhausted and no room: reason %u", r.reason);
    CHECK(oum_seq_set_last_msgnum(s.seq, KEYED_GROUP, 45) == 0, "restore last");

    /* An IPv4 packet that cannot grow by 8 within 65535 bytes. */
    size_t big_body = 65535 - 20 - 8 - 16 - 7;
    uint8_t *bigf = malloc(14 + 65535 + 64);
    uint8_t *bigbody = calloc(1, big_body);
    if (!bigf || !bigbody)
        exit(2);
    len = build(bigf, KEYED_GROUP, bigbody, big_body, 0, 0);
    oum_seq_process_buf(s.seq, bigf, len, len + 64, &r);
    CHECK(r.reason == OUM_REASON_NO_ROOM_FOR_TAG, "65535-byte limit");
    len = build(bigf, KEYED_GROUP, bigbody, big_body - 1, 0, 0);
    oum_seq_process_buf(s.seq, bigf, len, len + 64, &r);
    CHECK(r.action == OUM_ACTION_MULTICAST && get16(bigf + 16) == 65535 &&
              ipv4_checksum_ok(bigf + 14),
          "largest sealable packet");
    free(bigf);
    free(bigbody);
    free(s.mem);
}

static void test_auth_key_option(void)
{
    static struct oum_args a;
    char hex[] = "000102030405060708090a0B0c0d0e0f";
    char by_addr[64], by_index[64];
    snprintf(by_addr, sizeof(by_addr), "10.0.0.6=%s", hex);
    snprintf(by_index, sizeof(by_index), "0=%s", hex);
    char *ok[] = {"x", "--auth-key", by_addr, "--session", "1", "--group", "10.0.0.5=1",
                  "--group", "10.0.0.6=2", NULL};
    CHECK(oum_args_parse(&a, 9, ok) == 0 && a.groups[0].auth_key == NULL &&
              a.groups[1].auth_key && a.groups[1].auth_key[0] == 0 &&
              a.groups[1].auth_key[11] == 0x0b && a.groups[1].auth_key[15] == 0x0f,
          "--auth-key by address: %s", a.error);
    char *ok_index[] = {"x", "--session", "1", "--group", "10.0.0.5=1", "--auth-key", by_index,
                        NULL};
    CHECK(oum_args_parse(&a, 7, ok_index) == 0 && a.groups[0].auth_key &&
              a.groups[0].auth_key[1] == 1,
          "--auth-key by index: %s", a.error);

    char *bad_values[] = {
        "0",                                   /* no '=' */
        "0=000102030405060708090a0b0c0d0e",    /* 31 digits */
        "0=000102030405060708090a0b0c0d0e0f0", /* 33 digits */
        "0=000102030405060708090a0b0c0d0eg0",  /* not hex */
        "1=000102030405060708090a0b0c0d0e0f",  /* no group 1 */
        "10.0.0.9=000102030405060708090a0b0c0d0e0f", /* no such address */
        "x.y=000102030405060708090a0b0c0d0e0f",
    };
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        char *argv[] = {"x", "--session", "1", "--group", "10.0.0.5=1", "--auth-key",
                        bad_values[i], NULL};
        CHECK(oum_args_parse(&a, 7, argv) != 0 && strstr(a.error, "--auth-key") &&
                  !strstr(a.error, "0405060708"),
              "bad --auth-key %s accepted, or the error shows the key: %s", bad_values[i],
              a.error);
    }
    char *twice[] = {"x", "--session", "1", "--group", "10.0.0.5=1", "--auth-key", by_index,
                     "--auth-key", by_index, NULL};
    CHECK(oum_args_parse(&a, 9, twice) != 0, "two keys for one group accepted");
    char *missing[] = {"x", "--session", "1", "--group", "10.0.0.5=1", "--auth-key", NULL};
    CHECK(oum_args_parse(&a, 6, missing) != 0, "--auth-key without a value accepted");
}

void test_auth(void)
{
    test_siphash_vectors();
    test_sealed_frames();
    test_auth_key_option();
    printf("authenticated stamps: SipHash-2-4 vectors, sealed frames, --auth-key\n");
}
