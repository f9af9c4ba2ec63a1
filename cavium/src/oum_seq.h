/*
 * OUM sequencer core: portable C (C11), endian-clean, no allocation and no library calls on
 * the packet path. It stamps raw Ethernet frames in place exactly as the Rust core
 * (dataplane::oum::Sequencer::stamp_frame) does; both are checked against the golden vectors
 * in testdata/oum-vectors.json. The wire format and the order of checks are in
 * docs/wire-format.md; the design is in docs/cavium.md.
 *
 * Authenticated stamps (docs/wire-format.md): a group configured with a key gets header size
 * 18 and an 8-byte SipHash-2-4 tag appended to its UDP datagram, so its frames grow by 8
 * bytes; the *_buf calls say how much room the buffer has (docs/cavium.md).
 *
 * Threading: oum_seq_process / oum_seq_classify / oum_seq_commit may run on any number of
 * cores at once on one sequencer (per-group counters are atomic). The control-plane calls
 * (oum_seq_start_session, oum_seq_set_last_msgnum) must not overlap packet processing.
 */
#ifndef OUM_SEQ_H
#define OUM_SEQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Why a frame was not stamped. The numbering and the names of 0..12 are those of the Rust
 * core's DropReason, in the order the checks run: keep them stable. no-room-for-tag comes
 * after counter-exhausted (a dropped frame takes no number) but is numbered last, so the
 * older numbers stay; the Rust core refuses exactly the same frames and counts them apart
 * from its DropReason, as its group's too_big_for_tag. */
enum oum_reason {
    OUM_REASON_TRUNCATED_ETHERNET = 0,
    OUM_REASON_NOT_IPV4 = 1,
    OUM_REASON_MALFORMED_IPV4 = 2,
    OUM_REASON_IPV4_FRAGMENT = 3,
    OUM_REASON_NOT_UDP = 4,
    OUM_REASON_MALFORMED_UDP = 5,
    OUM_REASON_NOT_OUM_PORT = 6,
    OUM_REASON_TRUNCATED_OUM = 7,
    OUM_REASON_BAD_PREAMBLE = 8,
    OUM_REASON_ALREADY_SEQUENCED = 9,
    OUM_REASON_BAD_HEADER_SIZE = 10,
    OUM_REASON_UNKNOWN_GROUP = 11,
    OUM_REASON_COUNTER_EXHAUSTED = 12,
    /* The group is keyed and the buffer cannot hold 14 + IPv4 header + UDP length + 8
     * bytes (the frame up to the end of its UDP datagram, then the tag), or IPv4 header +
     * UDP length + 8 would pass 65535. */
    OUM_REASON_NO_ROOM_FOR_TAG = 13,
    OUM_REASON_COUNT = 14,
    /* Not a reason: the frame was stamped. */
    OUM_REASON_NONE = 0xff
};

enum oum_action {
    /* Not stamped, not sent anywhere; counted under its reason. */
    OUM_ACTION_DROP = 0,
    /* Stamped in place: send a copy to every member of the group. */
    OUM_ACTION_MULTICAST = 1,
    /* Not OUM traffic (see OUM_SEQ_FLAG_FORWARD_OTHER): send on unchanged; counted under
     * its reason in the forward counters. */
    OUM_ACTION_FORWARD = 2
};

/* Configuration flags. */
enum {
    /* Frames that are not OUM requests at all (reasons not-ipv4, ipv4-fragment, not-udp,
     * not-oum-port) are forwarded unchanged instead of dropped: for a device that sits in
     * the path of all traffic rather than receiving only group traffic. Off by default, as
     * in the golden vectors. */
    OUM_SEQ_FLAG_FORWARD_OTHER = 1u << 0
};

/* Errors of oum_seq_init. */
enum {
    OUM_SEQ_OK = 0,
    OUM_SEQ_ERR_ARG = -1,          /* a null pointer where memory or groups were needed */
    OUM_SEQ_ERR_NOMEM = -2,        /* mem_len is smaller than oum_seq_footprint() */
    OUM_SEQ_ERR_ALIGN = -3,        /* mem is not OUM_SEQ_ALIGN-aligned */
    OUM_SEQ_ERR_TOO_MANY = -4,     /* more than OUM_SEQ_MAX_GROUPS groups */
    OUM_SEQ_ERR_DUPLICATE = -5,    /* two groups share an address */
    OUM_SEQ_ERR_BAD_FLAGS = -6     /* unknown flag bits */
};

#define OUM_SEQ_MAX_GROUPS 65536u
/* Alignment of the sequencer's memory: a cache line on Octeon II (128 bytes) and more than
 * one on x86, so each group's counters sit on their own line. */
#define OUM_SEQ_ALIGN 128u
#define OUM_DEFAULT_PORT 22222u

struct oum_seq; /* opaque; lives in caller-provided memory */

struct oum_seq_config {
    uint16_t oum_port;
    uint16_t session;
    uint32_t flags;
};

struct oum_seq_group_spec {
    /* IPv4 address as a number: a.b.c.d is (a << 24) | (b << 16) | (c << 8) | d. */
    uint32_t address;
    uint32_t n_members;
    const uint16_t *members;
    /* Last message number already handed out in this session (0: none). */
    uint64_t last_msgnum;
    /* The group's 128-bit stamp key (16 bytes, copied), or NULL: stamps without a tag. */
    const uint8_t *auth_key;
};

#define OUM_AUTH_KEY_LEN 16u
#define OUM_AUTH_TAG_LEN 8u
#define OUM_AUTH_HEADER_SIZE 18u

/* What happened to one frame. */
struct oum_seq_result {
    uint8_t action;   /* enum oum_action */
    uint8_t reason;   /* enum oum_reason; OUM_REASON_NONE when stamped */
    uint16_t group;   /* group index (configuration order) when stamped */
    uint16_t session; /* stamp, when stamped */
    uint16_t reserved;
    uint64_t msgnum;  /* stamp, when stamped */
    uint32_t len;     /* the frame's length now: the input length, or once sealed
                       * 14 + IPv4 header + UDP length (the tag included; any IPv4
                       * trailer and Ethernet padding dropped) */
};

/* Phase one of two (see oum_seq_commit): where the OUM header is, which group. Read-only. */
struct oum_seq_parsed {
    uint8_t reason;       /* OUM_REASON_NONE: a stampable request of `group`;
                           * NO_ROOM_FOR_TAG: `group` is set too, and commit reports
                           * counter-exhausted instead if that is also true */
    uint8_t reserved;
    uint16_t group;
    uint16_t udp_offset;  /* offset of the UDP header in the frame */
    uint16_t oum_offset;  /* offset of the OUM header in the frame */
    uint32_t len;         /* the frame's length as classified */
    uint32_t stamped_len; /* its length once stamped (sealed: see oum_seq_result.len) */
};

/* Bytes of memory a sequencer with these groups needs. */
size_t oum_seq_footprint(uint32_t n_groups, uint32_t n_members_total);

/* Builds a sequencer in `mem` (OUM_SEQ_ALIGN-aligned, at least oum_seq_footprint() bytes).
 * Returns the sequencer (== mem) or NULL with *err set (err may be NULL). The group specs
 * and member lists are copied. */
struct oum_seq *oum_seq_init(void *mem, size_t mem_len, const struct oum_seq_config *config,
                             const struct oum_seq_group_spec *groups, uint32_t n_groups,
                             int *err);

/* Parses, stamps and counts one frame in place. Any byte string is safe: the frame is read
 * only within [frame, frame + len) and written only when stamped (12 bytes of the OUM
 * header and the UDP checksum; for a keyed group also the lengths, the IPv4 checksum and
 * the tag). The buffer is taken to be exactly `len` bytes: a keyed group's frame is
 * stamped only if it carries 8 bytes after its UDP datagram (IPv4 trailer or Ethernet
 * padding) that the tag can replace. */
void oum_seq_process(struct oum_seq *seq, uint8_t *frame, size_t len,
                     struct oum_seq_result *result);

/* oum_seq_process for a buffer of `cap` bytes holding a frame of `len` (cap < len counts
 * as len): a keyed group's stamped frame may grow into the room, up to result->len. Only
 * [frame, frame + max(len, result->len)) is touched. */
void oum_seq_process_buf(struct oum_seq *seq, uint8_t *frame, size_t len, size_t cap,
                         struct oum_seq_result *result);

/* oum_seq_process over a burst; results[i] belongs to frames[i]. */
void oum_seq_process_burst(struct oum_seq *seq, uint8_t *const *frames, const uint32_t *lens,
                           uint32_t n, struct oum_seq_result *results);
/* The same with each buffer's room (caps may be NULL: each buffer is its frame's length). */
void oum_seq_process_burst_buf(struct oum_seq *seq, uint8_t *const *frames,
                               const uint32_t *lens, const uint32_t *caps, uint32_t n,
                               struct oum_seq_result *results);

/* The two phases of oum_seq_process, for platforms that serialise work per group between
 * them (Octeon: an ATOMIC tag switch on the group, so stamp order == output order).
 * classify only reads the frame; commit takes the message number, stamps, and counts. The
 * frame given to commit must be the one classify saw, unchanged. */
void oum_seq_classify(const struct oum_seq *seq, const uint8_t *frame, size_t len,
                      struct oum_seq_parsed *parsed);
/* classify for a buffer of `cap` bytes (see oum_seq_process_buf). */
void oum_seq_classify_buf(const struct oum_seq *seq, const uint8_t *frame, size_t len,
                          size_t cap, struct oum_seq_parsed *parsed);
void oum_seq_commit(struct oum_seq *seq, uint8_t *frame, const struct oum_seq_parsed *parsed,
                    struct oum_seq_result *result);

/* Control plane: a new session restarts every group at message number 1. */
void oum_seq_start_session(struct oum_seq *seq, uint16_t session);
/* Restores a group's last message number; returns 0, or -1 for an unknown group. */
int oum_seq_set_last_msgnum(struct oum_seq *seq, uint32_t group, uint64_t last);

/* Queries. */
uint16_t oum_seq_session(const struct oum_seq *seq);
uint16_t oum_seq_oum_port(const struct oum_seq *seq);
uint32_t oum_seq_group_count(const struct oum_seq *seq);
/* Group index of an address, or -1. */
int32_t oum_seq_lookup(const struct oum_seq *seq, uint32_t address);
/* Members of a group (NULL and *n = 0 for an unknown group). */
const uint16_t *oum_seq_members(const struct oum_seq *seq, uint32_t group, uint32_t *n);
uint32_t oum_seq_group_address(const struct oum_seq *seq, uint32_t group);
uint64_t oum_seq_last_msgnum(const struct oum_seq *seq, uint32_t group);
/* 1 when the group seals its stamps with a key, else 0 (also for an unknown group). */
int oum_seq_group_keyed(const struct oum_seq *seq, uint32_t group);
/* Frames stamped for a group since the sequencer was built, across sessions. */
uint64_t oum_seq_stamped(const struct oum_seq *seq, uint32_t group);
uint64_t oum_seq_drop_count(const struct oum_seq *seq, unsigned reason);
uint64_t oum_seq_forward_count(const struct oum_seq *seq, unsigned reason);
/* 1 once some group handed out 2^64-1: only a new session lets its traffic through. */
int oum_seq_needs_new_session(const struct oum_seq *seq);

/* The stable kebab-case name of a reason ("truncated-ethernet", ...), or "none". */
const char *oum_reason_name(unsigned reason);

#ifdef __cplusplus
}
#endif

#endif /* OUM_SEQ_H */
