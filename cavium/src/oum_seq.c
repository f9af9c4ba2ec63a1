/*
 * OUM sequencer core. See oum_seq.h for the API and docs/wire-format.md for the bytes.
 *
 * Endianness: every multi-byte field is read and written byte by byte in network order
 * (rd16/rd32/wr16/wr64 below), never through a cast pointer, so the code is the same on a
 * little-endian host and a big-endian MIPS64 and is safe on unaligned packet data.
 */
#include "oum_seq.h"

#include "oum_atomic.h"
#include "oum_siphash.h"

#include <stdint.h>

#define ETH_HEADER_LEN 14u
#define ETHERTYPE_IPV4 0x0800u
#define IPV4_MIN_HEADER_LEN 20u
#define IPV4_PROTO_UDP 17u
#define IPV4_FLAG_MF 0x2000u
#define IPV4_FRAG_OFFSET_MASK 0x1fffu
#define UDP_HEADER_LEN 8u
#define OUM_HEADER_LEN 16u
#define OUM_UNSEQUENCED 0u
#define OUM_SEQUENCED 10u
#define IPV4_MAX_TOTAL_LEN 0xffffu

/* One group, on its own cache line(s): the counters of different groups never share a
 * line, so cores stamping different groups do not slow each other down. */
struct oum_group {
    oum_atomic_u64 last; /* last message number handed out in this session */
    /* Frames stamped across sessions, without a second atomic add per packet: every stamp
     * moves `last` by exactly one, so stamped = stamped_base + (last - session_start). The
     * two plain fields change only in control-plane calls. */
    uint64_t session_start; /* value of `last` when the session began (or was restored) */
    uint64_t stamped_base;  /* frames stamped before that */
    uint32_t address;
    uint32_t first_member; /* index into the member table */
    uint32_t n_members;
    /* Read on every stamp of a keyed group: on the line the counter already brings in. */
    uint32_t keyed;
    uint8_t key[OUM_AUTH_KEY_LEN];
    uint8_t pad[OUM_SEQ_ALIGN - sizeof(oum_atomic_u64) - 2 * sizeof(uint64_t) -
                4 * sizeof(uint32_t) - OUM_AUTH_KEY_LEN];
};

struct oum_addr_entry {
    uint32_t address;
    uint32_t group;
};

struct oum_seq {
    /* Read-mostly part, shared by all cores. */
    uint16_t oum_port;
    uint16_t session;
    uint32_t flags;
    uint32_t n_groups;
    uint32_t n_members;
    struct oum_group *groups;             /* n_groups, in configuration order */
    struct oum_addr_entry *by_address;    /* n_groups, sorted by address */
    uint16_t *members;                    /* n_members */
    uint8_t pad0[OUM_SEQ_ALIGN - 16 - 3 * sizeof(void *)];
    /* Written on drops and forwards only. */
    oum_atomic_u64 drops[OUM_REASON_COUNT];
    oum_atomic_u64 forwards[OUM_REASON_COUNT];
};

_Static_assert(sizeof(struct oum_group) == OUM_SEQ_ALIGN, "a group is one cache line");
_Static_assert(OUM_REASON_COUNT == 14, "reasons 0..12 match the Rust core's DropReason");

static const uint8_t OUM_PREAMBLE[4] = {0x18, 0x03, 0x05, 0x20};

static const char *const REASON_NAMES[OUM_REASON_COUNT] = {
    "truncated-ethernet", "not-ipv4",          "malformed-ipv4",  "ipv4-fragment",
    "not-udp",            "malformed-udp",     "not-oum-port",    "truncated-oum",
    "bad-preamble",       "already-sequenced", "bad-header-size", "unknown-group",
    "counter-exhausted",  "no-room-for-tag",
};

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | (unsigned)p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Layout of the memory block: header, groups, address index, members. */
static size_t off_groups(void) { return align_up(sizeof(struct oum_seq), OUM_SEQ_ALIGN); }
static size_t off_index(uint32_t n_groups)
{
    return off_groups() + (size_t)n_groups * sizeof(struct oum_group);
}
static size_t off_members(uint32_t n_groups)
{
    return off_index(n_groups) + (size_t)n_groups * sizeof(struct oum_addr_entry);
}

size_t oum_seq_footprint(uint32_t n_groups, uint32_t n_members_total)
{
    return align_up(off_members(n_groups) + (size_t)n_members_total * sizeof(uint16_t),
                    OUM_SEQ_ALIGN);
}

static void sort_index(struct oum_addr_entry *a, uint32_t n)
{
    /* Shell sort: configuration time only, no allocation, no libc qsort needed. */
    static const uint32_t gaps[] = {4193u, 1750u, 701u, 301u, 132u, 57u, 23u, 10u, 4u, 1u};
    for (size_t k = 0; k < sizeof(gaps) / sizeof(gaps[0]); k++) {
        uint32_t gap = gaps[k];
        for (uint32_t i = gap; i < n; i++) {
            struct oum_addr_entry t = a[i];
            uint32_t j = i;
            while (j >= gap && a[j - gap].address > t.address) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = t;
        }
    }
}

struct oum_seq *oum_seq_init(void *mem, size_t mem_len, const struct oum_seq_config *config,
                             const struct oum_seq_group_spec *groups, uint32_t n_groups,
                             int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!mem || !config || (n_groups > 0 && !groups)) {
        *err = OUM_SEQ_ERR_ARG;
        return NULL;
    }
    if ((uintptr_t)mem % OUM_SEQ_ALIGN != 0) {
        *err = OUM_SEQ_ERR_ALIGN;
        return NULL;
    }
    if (config->flags & ~(uint32_t)OUM_SEQ_FLAG_FORWARD_OTHER) {
        *err = OUM_SEQ_ERR_BAD_FLAGS;
        return NULL;
    }
    if (n_groups > OUM_SEQ_MAX_GROUPS) {
        *err = OUM_SEQ_ERR_TOO_MANY;
        return NULL;
    }
    uint64_t n_members = 0;
    for (uint32_t i = 0; i < n_groups; i++) {
        if (groups[i].n_members > 0 && !groups[i].members) {
            *err = OUM_SEQ_ERR_ARG;
            return NULL;
        }
        n_members += groups[i].n_members;
    }
    if (n_members > UINT32_MAX || mem_len < oum_seq_footprint(n_groups, (uint32_t)n_members)) {
        *err = OUM_SEQ_ERR_NOMEM;
        return NULL;
    }

    uint8_t *base = mem;
    struct oum_seq *seq = mem;
    seq->oum_port = config->oum_port;
    seq->session = config->session;
    seq->flags = config->flags;
    seq->n_groups = n_groups;
    seq->n_members = (uint32_t)n_members;
    seq->groups = (struct oum_group *)(void *)(base + off_groups());
    seq->by_address = (struct oum_addr_entry *)(void *)(base + off_index(n_groups));
    seq->members = (uint16_t *)(void *)(base + off_members(n_groups));
    for (unsigned r = 0; r < OUM_REASON_COUNT; r++) {
        oum_atomic_store(&seq->drops[r], 0);
        oum_atomic_store(&seq->forwards[r], 0);
    }

    uint32_t next_member = 0;
    for (uint32_t i = 0; i < n_groups; i++) {
        struct oum_group *g = &seq->groups[i];
        oum_atomic_store(&g->last, groups[i].last_msgnum);
        g->session_start = groups[i].last_msgnum;
        g->stamped_base = 0;
        g->address = groups[i].address;
        g->first_member = next_member;
        g->n_members = groups[i].n_members;
        g->keyed = groups[i].auth_key != NULL;
        for (unsigned k = 0; k < OUM_AUTH_KEY_LEN; k++)
            g->key[k] = g->keyed ? groups[i].auth_key[k] : 0;
        for (uint32_t m = 0; m < groups[i].n_members; m++)
            seq->members[next_member++] = groups[i].members[m];
        seq->by_address[i].address = groups[i].address;
        seq->by_address[i].group = i;
    }
    sort_index(seq->by_address, n_groups);
    for (uint32_t i = 1; i < n_groups; i++) {
        if (seq->by_address[i].address == seq->by_address[i - 1].address) {
            *err = OUM_SEQ_ERR_DUPLICATE;
            return NULL;
        }
    }
    *err = OUM_SEQ_OK;
    return seq;
}

int32_t oum_seq_lookup(const struct oum_seq *seq, uint32_t address)
{
    uint32_t lo = 0, hi = seq->n_groups;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t a = seq->by_address[mid].address;
        if (a == address)
            return (int32_t)seq->by_address[mid].group;
        if (a < address)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The checks of docs/wire-format.md in order; the first failing one is the reason. */
static unsigned classify(const struct oum_seq *seq, const uint8_t *frame, size_t len,
                         size_t cap, struct oum_seq_parsed *p)
{

    /* 1-2: Ethernet. */
    if (len < ETH_HEADER_LEN)
        return OUM_REASON_TRUNCATED_ETHERNET;
    if (rd16(frame + 12) != ETHERTYPE_IPV4)
        return OUM_REASON_NOT_IPV4;

    /* 3: IPv4 header, options as IHL says, total length within the frame. */
    const uint8_t *ip = frame + ETH_HEADER_LEN;
    size_t ip_avail = len - ETH_HEADER_LEN;
    if (ip_avail < IPV4_MIN_HEADER_LEN)
        return OUM_REASON_MALFORMED_IPV4;
    if ((ip[0] >> 4) != 4u)
        return OUM_REASON_MALFORMED_IPV4;
    size_t ihl_bytes = (size_t)(ip[0] & 0x0fu) * 4u;
    if (ihl_bytes < IPV4_MIN_HEADER_LEN || ihl_bytes > ip_avail)
        return OUM_REASON_MALFORMED_IPV4;
    size_t total = rd16(ip + 2);
    if (total < ihl_bytes || total > ip_avail)
        return OUM_REASON_MALFORMED_IPV4;

    /* 4-5: not a fragment, UDP. */
    uint16_t frag = rd16(ip + 6);
    if ((frag & IPV4_FLAG_MF) || (frag & IPV4_FRAG_OFFSET_MASK))
        return OUM_REASON_IPV4_FRAGMENT;
    if (ip[9] != IPV4_PROTO_UDP)
        return OUM_REASON_NOT_UDP;

    /* 6-7: UDP header within the IPv4 payload, its length within that too. */
    const uint8_t *udp = ip + ihl_bytes;
    size_t udp_avail = total - ihl_bytes;
    if (udp_avail < UDP_HEADER_LEN)
        return OUM_REASON_MALFORMED_UDP;
    size_t udp_len = rd16(udp + 4);
    if (udp_len < UDP_HEADER_LEN || udp_len > udp_avail)
        return OUM_REASON_MALFORMED_UDP;
    if (rd16(udp + 2) != seq->oum_port)
        return OUM_REASON_NOT_OUM_PORT;

    /* 8-11: the OUM header, within the UDP length. */
    const uint8_t *oum = udp + UDP_HEADER_LEN;
    if (udp_len - UDP_HEADER_LEN < OUM_HEADER_LEN)
        return OUM_REASON_TRUNCATED_OUM;
    if (oum[0] != OUM_PREAMBLE[0] || oum[1] != OUM_PREAMBLE[1] || oum[2] != OUM_PREAMBLE[2] ||
        oum[3] != OUM_PREAMBLE[3])
        return OUM_REASON_BAD_PREAMBLE;
    uint16_t header_size = rd16(oum + 4);
    if (header_size == OUM_SEQUENCED)
        return OUM_REASON_ALREADY_SEQUENCED;
    if (header_size != OUM_UNSEQUENCED)
        return OUM_REASON_BAD_HEADER_SIZE;

    /* 12: the group, by IPv4 destination. */
    int32_t group = oum_seq_lookup(seq, rd32(ip + 16));
    if (group < 0)
        return OUM_REASON_UNKNOWN_GROUP;

    p->group = (uint16_t)group;
    p->udp_offset = (uint16_t)(udp - frame);
    p->oum_offset = (uint16_t)(oum - frame);

    /* A keyed group's frame ends with the tag right after the UDP datagram (see oum_seal):
     * the tag replaces any IPv4 trailer or Ethernet padding, as the Rust core's
     * seal_frame does. The buffer must hold 14 + IHL + UDP length + 8 bytes, and
     * IHL + UDP length + 8 must fit the 16-bit total length; otherwise no-room-for-tag,
     * which commit reports only once the counter is known not to be exhausted (the Rust
     * core checks the counter first), and no message number is taken. */
    if (seq->groups[group].keyed) {
        size_t ip_len = ihl_bytes + udp_len + OUM_AUTH_TAG_LEN;
        if (ip_len > IPV4_MAX_TOTAL_LEN || ETH_HEADER_LEN + ip_len > cap)
            return OUM_REASON_NO_ROOM_FOR_TAG;
        p->stamped_len = (uint32_t)(ETH_HEADER_LEN + ip_len);
    }
    return OUM_REASON_NONE;
}

/* Lengths are reported in 32 bits; only a frame of 4 GiB or more (never stamped) is cut. */
static uint32_t len32(size_t len) { return len > UINT32_MAX ? UINT32_MAX : (uint32_t)len; }

void oum_seq_classify_buf(const struct oum_seq *seq, const uint8_t *frame, size_t len,
                          size_t cap, struct oum_seq_parsed *p)
{
    p->reserved = 0;
    p->group = 0;
    p->udp_offset = 0;
    p->oum_offset = 0;
    p->len = len32(len);
    p->stamped_len = p->len;
    p->reason = (uint8_t)classify(seq, frame, len, cap > len ? cap : len, p);
}

void oum_seq_classify(const struct oum_seq *seq, const uint8_t *frame, size_t len,
                      struct oum_seq_parsed *p)
{
    oum_seq_classify_buf(seq, frame, len, len, p);
}

static int forwardable(unsigned reason)
{
    return reason == OUM_REASON_NOT_IPV4 || reason == OUM_REASON_IPV4_FRAGMENT ||
           reason == OUM_REASON_NOT_UDP || reason == OUM_REASON_NOT_OUM_PORT;
}

static void result_not_stamped(struct oum_seq *seq, unsigned reason, uint32_t len,
                               struct oum_seq_result *r)
{
    r->len = len;
    r->reason = (uint8_t)reason;
    r->group = 0;
    r->session = 0;
    r->reserved = 0;
    r->msgnum = 0;
    if ((seq->flags & OUM_SEQ_FLAG_FORWARD_OTHER) && forwardable(reason)) {
        r->action = OUM_ACTION_FORWARD;
        oum_atomic_add(&seq->forwards[reason], 1);
    } else {
        r->action = OUM_ACTION_DROP;
        oum_atomic_add(&seq->drops[reason], 1);
    }
}

/* RFC 1624 (eqn. 3): the checksum after one 16-bit word of the header changed from `old`
 * to `new`, without reading the rest of the header. A checksum that was wrong stays wrong
 * by the same amount, as a router's would. */
static uint16_t checksum_replace(uint16_t check, uint16_t old, uint16_t new_word)
{
    uint32_t sum = (uint32_t)(uint16_t)~check + (uint32_t)(uint16_t)~old + new_word;
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Turns a just-stamped frame of a keyed group into an authenticated one
 * (docs/wire-format.md): header size 18, and the tag (SipHash-2-4 over group, session and
 * message number, big-endian, then the OUM payload) as the UDP datagram's last 8 bytes.
 * The tag goes right after the UDP datagram and replaces whatever followed it (an IPv4
 * trailer, Ethernet padding: both dropped; the frame is at least 66 bytes now, so it needs
 * no padding). UDP length grows by 8 and the IPv4 total length becomes IHL + UDP length
 * (both as sealed), exactly as the Rust core's seal_frame; the UDP checksum is already 0
 * ("none"); the IPv4 header checksum follows the total length (RFC 1624). classify checked
 * the room. */
static void oum_seal(const struct oum_group *g, uint8_t *frame, const struct oum_seq_parsed *p,
                     uint16_t session, uint64_t msgnum)
{
    uint8_t *ip = frame + ETH_HEADER_LEN;
    uint8_t *udp = frame + p->udp_offset;
    uint8_t *oum = frame + p->oum_offset;
    uint16_t total = rd16(ip + 2);
    uint16_t udp_len = rd16(udp + 4);
    size_t udp_end = (size_t)p->udp_offset + udp_len;

    uint8_t fields[12];
    wr16(fields, p->group);
    wr16(fields + 2, session);
    wr64(fields + 4, msgnum);
    struct oum_siphash h;
    oum_siphash_init(&h, g->key);
    oum_siphash_update(&h, fields, sizeof(fields));
    oum_siphash_update(&h, oum + OUM_HEADER_LEN, udp_end - (p->oum_offset + OUM_HEADER_LEN));
    wr64(frame + udp_end, oum_siphash_final(&h));

    wr16(oum + 4, OUM_AUTH_HEADER_SIZE);
    wr16(udp + 4, (uint16_t)(udp_len + OUM_AUTH_TAG_LEN));
    uint16_t new_total = (uint16_t)(udp_end + OUM_AUTH_TAG_LEN - ETH_HEADER_LEN);
    wr16(ip + 2, new_total);
    wr16(ip + 10, checksum_replace(rd16(ip + 10), total, new_total));
}

void oum_seq_commit(struct oum_seq *seq, uint8_t *frame, const struct oum_seq_parsed *p,
                    struct oum_seq_result *r)
{
    if (p->reason == OUM_REASON_NO_ROOM_FOR_TAG && p->group < seq->n_groups &&
        oum_atomic_load(&seq->groups[p->group].last) == UINT64_MAX) {
        /* An exhausted counter is the reason first, as in the Rust core. */
        result_not_stamped(seq, OUM_REASON_COUNTER_EXHAUSTED, p->len, r);
        return;
    }
    if (p->reason != OUM_REASON_NONE) {
        result_not_stamped(seq, p->reason < OUM_REASON_COUNT ? p->reason
                                                             : OUM_REASON_TRUNCATED_ETHERNET,
                           p->len, r);
        return;
    }
    if (p->group >= seq->n_groups) {
        result_not_stamped(seq, OUM_REASON_UNKNOWN_GROUP, p->len, r);
        return;
    }
    /* 13: take the next message number, unless the counter is exhausted. A CAS loop rather
     * than a fetch-and-add, so that the counter stops at 2^64-1 instead of wrapping. */
    struct oum_group *g = &seq->groups[p->group];
    uint64_t last = oum_atomic_load(&g->last);
    do {
        if (last == UINT64_MAX) {
            result_not_stamped(seq, OUM_REASON_COUNTER_EXHAUSTED, p->len, r);
            return;
        }
    } while (!oum_atomic_cas(&g->last, &last, last + 1));
    uint64_t msgnum = last + 1;

    uint8_t *oum = frame + p->oum_offset;
    wr16(oum + 4, OUM_SEQUENCED);
    wr16(oum + 6, seq->session);
    wr64(oum + 8, msgnum);
    wr16(frame + p->udp_offset + 6, 0); /* UDP checksum: none */
    if (g->keyed)
        oum_seal(g, frame, p, seq->session, msgnum);

    r->len = p->stamped_len;
    r->action = OUM_ACTION_MULTICAST;
    r->reason = OUM_REASON_NONE;
    r->group = p->group;
    r->session = seq->session;
    r->reserved = 0;
    r->msgnum = msgnum;
}

void oum_seq_process_buf(struct oum_seq *seq, uint8_t *frame, size_t len, size_t cap,
                         struct oum_seq_result *result)
{
    struct oum_seq_parsed parsed;
    oum_seq_classify_buf(seq, frame, len, cap, &parsed);
    oum_seq_commit(seq, frame, &parsed, result);
}

void oum_seq_process(struct oum_seq *seq, uint8_t *frame, size_t len,
                     struct oum_seq_result *result)
{
    oum_seq_process_buf(seq, frame, len, len, result);
}

void oum_seq_process_burst_buf(struct oum_seq *seq, uint8_t *const *frames,
                               const uint32_t *lens, const uint32_t *caps, uint32_t n,
                               struct oum_seq_result *results)
{
    for (uint32_t i = 0; i < n; i++)
        oum_seq_process_buf(seq, frames[i], lens[i], caps ? caps[i] : lens[i], &results[i]);
}

void oum_seq_process_burst(struct oum_seq *seq, uint8_t *const *frames, const uint32_t *lens,
                           uint32_t n, struct oum_seq_result *results)
{
    oum_seq_process_burst_buf(seq, frames, lens, NULL, n, results);
}

/* Control plane: folds the current session's stamps into the base and restarts at `last`. */
static void restart_group(struct oum_group *g, uint64_t last)
{
    g->stamped_base += oum_atomic_load(&g->last) - g->session_start;
    g->session_start = last;
    oum_atomic_store(&g->last, last);
}

void oum_seq_start_session(struct oum_seq *seq, uint16_t session)
{
    seq->session = session;
    for (uint32_t i = 0; i < seq->n_groups; i++)
        restart_group(&seq->groups[i], 0);
}

int oum_seq_set_last_msgnum(struct oum_seq *seq, uint32_t group, uint64_t last)
{
    if (group >= seq->n_groups)
        return -1;
    restart_group(&seq->groups[group], last);
    return 0;
}

uint16_t oum_seq_session(const struct oum_seq *seq) { return seq->session; }
uint16_t oum_seq_oum_port(const struct oum_seq *seq) { return seq->oum_port; }
uint32_t oum_seq_group_count(const struct oum_seq *seq) { return seq->n_groups; }

const uint16_t *oum_seq_members(const struct oum_seq *seq, uint32_t group, uint32_t *n)
{
    if (group >= seq->n_groups) {
        *n = 0;
        return NULL;
    }
    *n = seq->groups[group].n_members;
    return seq->members + seq->groups[group].first_member;
}

uint32_t oum_seq_group_address(const struct oum_seq *seq, uint32_t group)
{
    return group < seq->n_groups ? seq->groups[group].address : 0;
}

uint64_t oum_seq_last_msgnum(const struct oum_seq *seq, uint32_t group)
{
    return group < seq->n_groups ? oum_atomic_load(&seq->groups[group].last) : 0;
}

int oum_seq_group_keyed(const struct oum_seq *seq, uint32_t group)
{
    return group < seq->n_groups && seq->groups[group].keyed;
}

uint64_t oum_seq_stamped(const struct oum_seq *seq, uint32_t group)
{
    if (group >= seq->n_groups)
        return 0;
    const struct oum_group *g = &seq->groups[group];
    return g->stamped_base + (oum_atomic_load(&g->last) - g->session_start);
}

uint64_t oum_seq_drop_count(const struct oum_seq *seq, unsigned reason)
{
    return reason < OUM_REASON_COUNT ? oum_atomic_load(&seq->drops[reason]) : 0;
}

uint64_t oum_seq_forward_count(const struct oum_seq *seq, unsigned reason)
{
    return reason < OUM_REASON_COUNT ? oum_atomic_load(&seq->forwards[reason]) : 0;
}

int oum_seq_needs_new_session(const struct oum_seq *seq)
{
    for (uint32_t i = 0; i < seq->n_groups; i++)
        if (oum_atomic_load(&seq->groups[i].last) == UINT64_MAX)
            return 1;
    return 0;
}

const char *oum_reason_name(unsigned reason)
{
    return reason < OUM_REASON_COUNT ? REASON_NAMES[reason] : "none";
}
