/*
 * C-side tests of the sequencer core, run on the host, under ASan/UBSan, and cross-built
 * for big-endian MIPS64 under qemu-user (cavium/Makefile: make test).
 *
 *   test_core VECTORS.txt
 *
 * VECTORS.txt is testdata/oum-vectors.json in a line format (cavium/tests/oum-vectors.txt,
 * generated and checked by the cavium-sequencer crate's tests). Besides every golden
 * vector: every truncation of every vector, a few hundred thousand random and mutated
 * frames (dropped frames unchanged, stamped frames changed only in the stamp and the UDP
 * checksum), several threads stamping one group (each number exactly once, also at the
 * counter's end), the argument parser, and authenticated stamps (test_auth.c). Prints "N passed, M failed"; exit status 1 on any
 * failure.
 */
#include "check.h"
#include "oum_args.h"
#include "oum_seq.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned passed, failed;

/* ---- a sequencer in heap memory ---- */

struct owned_seq {
    void *mem;
    struct oum_seq *seq;
};

static struct owned_seq make_seq(const struct oum_seq_config *cfg,
                                 const struct oum_seq_group_spec *groups, uint32_t n)
{
    uint32_t members = 0;
    for (uint32_t i = 0; i < n; i++)
        members += groups[i].n_members;
    size_t len = oum_seq_footprint(n, members);
    struct owned_seq s;
    s.mem = aligned_alloc(OUM_SEQ_ALIGN, len);
    if (!s.mem) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    int err;
    s.seq = oum_seq_init(s.mem, len, cfg, groups, n, &err);
    if (!s.seq) {
        fprintf(stderr, "oum_seq_init failed: %d\n", err);
        exit(2);
    }
    return s;
}

/* ---- golden vectors ---- */

#define MAX_GROUPS 64
#define MAX_MEMBERS 64
#define MAX_PACKET 9216
#define LINE_MAX_LEN (4 * MAX_PACKET)

static int hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

static unsigned reason_by_name(const char *name)
{
    for (unsigned r = 0; r < OUM_REASON_COUNT; r++)
        if (strcmp(oum_reason_name(r), name) == 0)
            return r;
    return OUM_REASON_NONE;
}

struct vec_state {
    struct oum_seq_config cfg;
    uint32_t n_groups, groups_seen;
    struct oum_seq_group_spec groups[MAX_GROUPS];
    uint16_t members[MAX_GROUPS][MAX_MEMBERS];
    struct owned_seq seq;
    int have_seq;
    char case_name[128];
    uint8_t in[MAX_PACKET], frame[MAX_PACKET];
    size_t in_len;
    int have_packet;
    unsigned cases, packets, reasons_seen[OUM_REASON_COUNT], multicasts;
};

static void free_seq(struct vec_state *v)
{
    if (v->have_seq)
        free(v->seq.mem);
    v->have_seq = 0;
}

/* Every prefix of a frame: safe (ASan checks the reads), and never stamped unless the full
 * frame up to the end of the UDP datagram is there. */
static void check_truncations(const struct vec_state *v)
{
    struct owned_seq s = make_seq(&v->cfg, v->groups, v->n_groups);
    static uint8_t buf[MAX_PACKET];
    unsigned bad = 0;
    for (size_t n = 0; n < v->in_len; n++) {
        uint8_t *exact = malloc(n ? n : 1); /* exactly n bytes, so ASan sees overreads */
        if (!exact)
            exit(2);
        memcpy(exact, v->in, n);
        struct oum_seq_result r;
        oum_seq_process(s.seq, exact, n, &r);
        if (r.action == OUM_ACTION_DROP && memcmp(exact, v->in, n) != 0)
            bad++;
        if (r.action == OUM_ACTION_MULTICAST && n < 14 + 20 + 8 + 16)
            bad++;
        free(exact);
    }
    (void)buf;
    CHECK(bad == 0, "case %s: %u truncations misbehaved", v->case_name, bad);
    free(s.mem);
}

static int run_vectors(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    static struct vec_state v;
    static char line[LINE_MAX_LEN];
    memset(&v, 0, sizeof(v));
    unsigned lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n')
            line[--n] = '\0';
        else if (!feof(f)) {
            fprintf(stderr, "%s:%u: line too long\n", path, lineno);
            fclose(f);
            return -1;
        }
        if (n == 0 || line[0] == '#')
            continue;
        char *save = NULL;
        char *kw = strtok_r(line, " ", &save);
        if (strcmp(kw, "case") == 0) {
            free_seq(&v);
            snprintf(v.case_name, sizeof(v.case_name), "%s", strtok_r(NULL, " ", &save));
            v.cases++;
        } else if (strcmp(kw, "config") == 0) {
            unsigned port, session, ng;
            if (sscanf(save, "%u %u %u", &port, &session, &ng) != 3 || ng > MAX_GROUPS)
                goto bad_line;
            v.cfg.oum_port = (uint16_t)port;
            v.cfg.session = (uint16_t)session;
            v.cfg.flags = 0;
            v.n_groups = ng;
            v.groups_seen = 0;
            if (ng == 0) {
                v.seq = make_seq(&v.cfg, v.groups, 0);
                v.have_seq = 1;
            }
        } else if (strcmp(kw, "group") == 0) {
            struct oum_seq_group_spec *g = &v.groups[v.groups_seen];
            char *tok = strtok_r(NULL, " ", &save);
            if (!tok || v.groups_seen >= v.n_groups)
                goto bad_line;
            g->address = (uint32_t)strtoul(tok, NULL, 10);
            g->last_msgnum = strtoull(strtok_r(NULL, " ", &save), NULL, 10);
            g->n_members = (uint32_t)strtoul(strtok_r(NULL, " ", &save), NULL, 10);
            if (g->n_members > MAX_MEMBERS)
                goto bad_line;
            for (uint32_t m = 0; m < g->n_members; m++)
                v.members[v.groups_seen][m] = (uint16_t)strtoul(strtok_r(NULL, " ", &save), NULL, 10);
            g->members = v.members[v.groups_seen];
            if (++v.groups_seen == v.n_groups) {
                v.seq = make_seq(&v.cfg, v.groups, v.n_groups);
                v.have_seq = 1;
            }
        } else if (strcmp(kw, "new-session") == 0) {
            if (!v.have_seq)
                goto bad_line;
            oum_seq_start_session(v.seq.seq, (uint16_t)strtoul(save, NULL, 10));
        } else if (strcmp(kw, "packet") == 0) {
            if (!v.have_seq || hex_decode(save, v.in, sizeof(v.in), &v.in_len) != 0)
                goto bad_line;
            v.have_packet = 1;
        } else if (strcmp(kw, "expect-drop") == 0 || strcmp(kw, "expect-multicast") == 0) {
            if (!v.have_packet)
                goto bad_line;
            v.have_packet = 0;
            v.packets++;
            memcpy(v.frame, v.in, v.in_len);
            struct oum_seq_result r;
            oum_seq_process(v.seq.seq, v.frame, v.in_len, &r);
            if (kw[7] == 'd') {
                unsigned want = reason_by_name(save);
                if (want == OUM_REASON_NONE)
                    goto bad_line;
                v.reasons_seen[want]++;
                CHECK(r.action == OUM_ACTION_DROP && r.reason == want,
                      "case %s: expected drop %s, got action %u reason %s", v.case_name,
                      oum_reason_name(want), r.action, oum_reason_name(r.reason));
                CHECK(memcmp(v.frame, v.in, v.in_len) == 0, "case %s: dropped packet modified",
                      v.case_name);
            } else {
                unsigned group, session, nm;
                uint64_t msgnum;
                int used;
                if (sscanf(save, "%u %u %" SCNu64 " %u%n", &group, &session, &msgnum, &nm,
                           &used) != 4)
                    goto bad_line;
                char *rest = save + used;
                uint32_t got_n;
                const uint16_t *got_m = oum_seq_members(v.seq.seq, r.group, &got_n);
                int members_ok = got_n == nm;
                for (unsigned m = 0; m < nm; m++) {
                    unsigned long want_m = strtoul(rest, &rest, 10);
                    if (!members_ok || got_m[m] != want_m)
                        members_ok = 0;
                }
                while (*rest == ' ')
                    rest++;
                static uint8_t expected[MAX_PACKET];
                size_t expected_len;
                if (hex_decode(rest, expected, sizeof(expected), &expected_len) != 0)
                    goto bad_line;
                v.multicasts++;
                CHECK(r.action == OUM_ACTION_MULTICAST && r.group == group &&
                          r.session == session && r.msgnum == msgnum,
                      "case %s: expected multicast group %u session %u msgnum %" PRIu64
                      ", got action %u (%s) group %u session %u msgnum %" PRIu64,
                      v.case_name, group, session, msgnum, r.action, oum_reason_name(r.reason),
                      r.group, r.session, r.msgnum);
                CHECK(members_ok, "case %s: members differ", v.case_name);
                CHECK(expected_len == v.in_len && memcmp(expected, v.frame, v.in_len) == 0,
                      "case %s: output bytes differ", v.case_name);
            }
            check_truncations(&v);
        } else {
            goto bad_line;
        }
        continue;
    bad_line:
        fprintf(stderr, "%s:%u: malformed line\n", path, lineno);
        fclose(f);
        free_seq(&v);
        return -1;
    }
    fclose(f);
    free_seq(&v);
    CHECK(v.cases >= 30 && v.packets >= 50, "only %u cases / %u packets in %s", v.cases,
          v.packets, path);
    CHECK(v.multicasts > 0, "no multicast vectors");
    /* The vectors have no keyed group, so no no-room-for-tag: test_auth.c covers that. */
    for (unsigned r = 0; r < OUM_REASON_NO_ROOM_FOR_TAG; r++)
        CHECK(v.reasons_seen[r] > 0, "no vector drops with %s", oum_reason_name(r));
    printf("golden vectors: %u cases, %u packets\n", v.cases, v.packets);
    return 0;
}

/* ---- random and mutated frames ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t build_request(uint8_t *f, uint32_t dst, uint16_t port, unsigned ihl,
                            size_t body)
{
    size_t ip_len = ihl * 4 + 8 + 16 + body;
    memset(f, 0, 14 + ip_len);
    memset(f, 0xff, 6);
    f[6] = 0x02;
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = (uint8_t)(0x40 | ihl);
    ip[2] = (uint8_t)(ip_len >> 8);
    ip[3] = (uint8_t)ip_len;
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 10;
    ip[15] = 1;
    ip[16] = (uint8_t)(dst >> 24);
    ip[17] = (uint8_t)(dst >> 16);
    ip[18] = (uint8_t)(dst >> 8);
    ip[19] = (uint8_t)dst;
    uint8_t *udp = ip + ihl * 4;
    udp[0] = 0xc0;
    udp[2] = (uint8_t)(port >> 8);
    udp[3] = (uint8_t)port;
    size_t udp_len = 8 + 16 + body;
    udp[4] = (uint8_t)(udp_len >> 8);
    udp[5] = (uint8_t)udp_len;
    udp[6] = 0x12;
    udp[7] = 0x34;
    uint8_t *oum = udp + 8;
    oum[0] = 0x18;
    oum[1] = 0x03;
    oum[2] = 0x05;
    oum[3] = 0x20;
    for (size_t i = 0; i < body; i++)
        oum[16 + i] = (uint8_t)rng();
    return 14 + ip_len;
}

static void test_random(unsigned iterations)
{
    uint16_t members[] = {0, 1, 2};
    struct oum_seq_group_spec groups[] = {
        {0x0a000064u, 3, members, 0, NULL},
        {0x0a000065u, 1, members, 0, NULL},
        {0x0a000066u, 2, members, UINT64_MAX - 2, NULL},
    };
    struct oum_seq_config cfg = {22222, 7, 0};
    struct owned_seq s = make_seq(&cfg, groups, 3);
    static uint8_t frame[256], orig[256];
    unsigned bad_drop = 0, bad_stamp = 0, stamped = 0;
    uint64_t reasons[OUM_REASON_COUNT] = {0};
    for (unsigned it = 0; it < iterations; it++) {
        size_t len;
        if (it % 4 == 0) {
            len = rng() % sizeof(frame);
            for (size_t i = 0; i < len; i++)
                frame[i] = (uint8_t)rng();
        } else {
            uint32_t dst = 0x0a000064u + (uint32_t)(rng() % 4);
            len = build_request(frame, dst, 22222, 5 + (unsigned)(rng() % 3), rng() % 64);
            unsigned flips = (unsigned)(rng() % 4);
            for (unsigned k = 0; k < flips; k++)
                frame[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
            if (rng() % 4 == 0)
                len = rng() % (len + 1);
        }
        /* An exact-size heap copy so ASan catches any overread. */
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact)
            exit(2);
        memcpy(exact, frame, len);
        memcpy(orig, frame, len);
        struct oum_seq_result r;
        oum_seq_process(s.seq, exact, len, &r);
        if (r.action == OUM_ACTION_DROP) {
            if (r.reason >= OUM_REASON_COUNT || memcmp(exact, orig, len) != 0)
                bad_drop++;
            else
                reasons[r.reason]++;
        } else if (r.action == OUM_ACTION_MULTICAST) {
            stamped++;
            /* Only the OUM stamp (12 bytes) and the UDP checksum may change. */
            size_t ihl = (size_t)(orig[14] & 15u) * 4u;
            size_t udp = 14 + ihl, oum = udp + 8;
            for (size_t i = 0; i < len; i++) {
                int may_change = (i >= oum + 4 && i < oum + 16) || i == udp + 6 || i == udp + 7;
                if (!may_change && exact[i] != orig[i])
                    bad_stamp++;
            }
            if (exact[oum + 5] != 10 || exact[udp + 6] != 0 || exact[udp + 7] != 0)
                bad_stamp++;
        } else {
            bad_drop++;
        }
        free(exact);
    }
    CHECK(bad_drop == 0, "%u random frames dropped wrongly", bad_drop);
    CHECK(bad_stamp == 0, "%u random frames stamped wrongly", bad_stamp);
    CHECK(stamped > iterations / 10, "only %u of %u random frames stamped", stamped, iterations);
    uint64_t total = stamped;
    for (unsigned r = 0; r < OUM_REASON_COUNT; r++) {
        CHECK(oum_seq_drop_count(s.seq, r) == reasons[r], "drop counter %s", oum_reason_name(r));
        total += reasons[r];
    }
    CHECK(total == iterations, "counted %" PRIu64 " of %u frames", total, iterations);
    CHECK(oum_seq_last_msgnum(s.seq, 2) == UINT64_MAX && oum_seq_needs_new_session(s.seq),
          "group 2 should have run into its counter's end");
    CHECK(oum_seq_stamped(s.seq, 0) + oum_seq_stamped(s.seq, 1) + oum_seq_stamped(s.seq, 2) ==
              stamped,
          "stamped counters");
    printf("random frames: %u, stamped %u\n", iterations, stamped);
    free(s.mem);
}

/* ---- threads ---- */

struct thread_arg {
    struct oum_seq *seq;
    unsigned count;
    uint64_t *numbers; /* msgnum per stamp, 0 for a drop */
};

static void *stamp_thread(void *p)
{
    struct thread_arg *a = p;
    uint8_t frame[128];
    size_t len = build_request(frame, 0x0a000064u, 22222, 5, 16);
    for (unsigned i = 0; i < a->count; i++) {
        frame[14 + 20 + 8 + 5] = 0; /* unsequenced again */
        struct oum_seq_result r;
        oum_seq_process(a->seq, frame, len, &r);
        a->numbers[i] = r.action == OUM_ACTION_MULTICAST ? r.msgnum : 0;
    }
    return NULL;
}

static void test_threads(unsigned n_threads, unsigned per_thread, uint64_t start)
{
    uint16_t members[] = {0, 1, 2};
    struct oum_seq_group_spec group = {0x0a000064u, 3, members, start, NULL};
    struct oum_seq_config cfg = {22222, 1, 0};
    struct owned_seq s = make_seq(&cfg, &group, 1);
    pthread_t th[16];
    struct thread_arg args[16];
    uint64_t total = (uint64_t)n_threads * per_thread;
    uint64_t *all = calloc(total, sizeof(uint64_t));
    if (!all || n_threads > 16)
        exit(2);
    for (unsigned t = 0; t < n_threads; t++) {
        args[t] = (struct thread_arg){s.seq, per_thread, all + (size_t)t * per_thread};
        if (pthread_create(&th[t], NULL, stamp_thread, &args[t]) != 0)
            exit(2);
    }
    for (unsigned t = 0; t < n_threads; t++)
        pthread_join(th[t], NULL);
    /* Numbers available: start+1 ..= min(start+total, 2^64-1). */
    uint64_t available = UINT64_MAX - start < total ? UINT64_MAX - start : total;
    uint8_t *seen = calloc(available ? available : 1, 1);
    if (!seen)
        exit(2);
    unsigned dup = 0, out_of_range = 0;
    uint64_t stamps = 0, drops = 0;
    for (uint64_t i = 0; i < total; i++) {
        if (all[i] == 0) {
            drops++;
            continue;
        }
        stamps++;
        if (all[i] <= start || all[i] - start > available)
            out_of_range++;
        else if (seen[all[i] - start - 1]++)
            dup++;
    }
    CHECK(dup == 0 && out_of_range == 0, "threads: %u duplicates, %u out of range", dup,
          out_of_range);
    CHECK(stamps == available && drops == total - available,
          "threads: %" PRIu64 " stamps, %" PRIu64 " drops, wanted %" PRIu64, stamps, drops,
          available);
    CHECK(oum_seq_drop_count(s.seq, OUM_REASON_COUNTER_EXHAUSTED) == drops,
          "threads: exhausted counter");
    CHECK(oum_seq_last_msgnum(s.seq, 0) == start + available, "threads: last message number");
    printf("threads: %u x %u stamps from %" PRIu64 ": %" PRIu64 " numbers each once\n",
           n_threads, per_thread, start, stamps);
    free(seen);
    free(all);
    free(s.mem);
}

/* ---- configuration and arguments ---- */

static void test_config(void)
{
    uint16_t m[] = {1};
    struct oum_seq_group_spec dup[] = {{0x0a000001u, 1, m, 0, NULL}, {0x0a000001u, 1, m, 0, NULL}};
    struct oum_seq_config cfg = {22222, 1, 0};
    size_t len = oum_seq_footprint(2, 2);
    void *mem = aligned_alloc(OUM_SEQ_ALIGN, len);
    if (!mem)
        exit(2);
    int err = 0;
    CHECK(!oum_seq_init(mem, len, &cfg, dup, 2, &err) && err == OUM_SEQ_ERR_DUPLICATE,
          "duplicate address accepted");
    CHECK(!oum_seq_init(mem, len - 1, &cfg, dup, 1, &err) || len - 1 >= oum_seq_footprint(1, 1),
          "short memory accepted");
    CHECK(!oum_seq_init((uint8_t *)mem + 8, len - 8, &cfg, dup, 1, &err) &&
              err == OUM_SEQ_ERR_ALIGN,
          "misaligned memory accepted");
    struct oum_seq_config bad_flags = {22222, 1, 0x80};
    CHECK(!oum_seq_init(mem, len, &bad_flags, dup, 1, &err) && err == OUM_SEQ_ERR_BAD_FLAGS,
          "unknown flags accepted");

    /* Forwarding non-OUM traffic. */
    struct oum_seq_config fwd = {22222, 1, OUM_SEQ_FLAG_FORWARD_OTHER};
    struct oum_seq *seq = oum_seq_init(mem, len, &fwd, dup, 1, &err);
    CHECK(seq != NULL, "init with forwarding");
    if (seq) {
        uint8_t frame[128];
        size_t flen = build_request(frame, 0x0a000001u, 22223, 5, 8);
        struct oum_seq_result r;
        oum_seq_process(seq, frame, flen, &r);
        CHECK(r.action == OUM_ACTION_FORWARD && r.reason == OUM_REASON_NOT_OUM_PORT &&
                  oum_seq_forward_count(seq, OUM_REASON_NOT_OUM_PORT) == 1 &&
                  oum_seq_drop_count(seq, OUM_REASON_NOT_OUM_PORT) == 0,
              "other port should be forwarded");
        flen = build_request(frame, 0x0a000002u, 22222, 5, 8);
        oum_seq_process(seq, frame, flen, &r);
        CHECK(r.action == OUM_ACTION_DROP && r.reason == OUM_REASON_UNKNOWN_GROUP,
              "unknown group is dropped even when forwarding");
        flen = build_request(frame, 0x0a000001u, 22222, 5, 8);
        oum_seq_process(seq, frame, flen, &r);
        CHECK(r.action == OUM_ACTION_MULTICAST && r.msgnum == 1, "request stamped");
    }
    free(mem);

    static struct oum_args a;
    char *ok[] = {"x", "--session", "9", "--port", "4000", "--group", "10.0.0.5=1,2,3",
                  "--forward-other", "in", "out", NULL};
    CHECK(oum_args_parse(&a, 10, ok) == 0 && a.config.session == 9 &&
              a.config.oum_port == 4000 && a.n_groups == 1 &&
              a.groups[0].address == 0x0a000005u && a.groups[0].n_members == 3 &&
              a.groups[0].members[2] == 3 && a.config.flags == OUM_SEQ_FLAG_FORWARD_OTHER &&
              a.n_positional == 2,
          "argument parsing: %s", a.error);
    char *no_session[] = {"x", "--group", "10.0.0.5=1", NULL};
    CHECK(oum_args_parse(&a, 3, no_session) != 0, "missing --session accepted");
    char *bad_addr[] = {"x", "--session", "1", "--group", "10.0.0.256=1", NULL};
    CHECK(oum_args_parse(&a, 5, bad_addr) != 0, "bad address accepted");
    char *bad_member[] = {"x", "--session", "1", "--group", "10.0.0.1=1,x", NULL};
    CHECK(oum_args_parse(&a, 5, bad_member) != 0, "bad member accepted");
    uint32_t addr;
    CHECK(oum_parse_ipv4("1.2.3.4", &addr) == 0 && addr == 0x01020304u, "1.2.3.4");
    CHECK(oum_parse_ipv4("1.2.3", &addr) != 0 && oum_parse_ipv4("1.2.3.4.5", &addr) != 0 &&
              oum_parse_ipv4("", &addr) != 0 && oum_parse_ipv4("0001.2.3.4", &addr) != 0,
          "bad IPv4 accepted");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_core VECTORS.txt\n");
        return 2;
    }
    const uint16_t probe = 0x0102;
    printf("byte order: %s-endian\n", *(const uint8_t *)&probe == 1 ? "big" : "little");
    if (run_vectors(argv[1]) != 0)
        return 1;
    const char *iters = getenv("OUM_TEST_RANDOM");
    test_random(iters ? (unsigned)strtoul(iters, NULL, 10) : 200000u);
    test_threads(4, 50000, 0);
    test_threads(4, 5000, UINT64_MAX - 10000);
    test_threads(3, 1000, UINT64_MAX - 7);
    test_config();
    test_auth();
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
