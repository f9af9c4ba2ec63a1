/*
 * Host platform driver: the C sequencer core over a pcap capture, like `sequencer replay`.
 *
 *   oum-pcap-seq --session N [--port P] [--forward-other] --group A.B.C.D=M[,M...] ...
 *                [--auth-key GROUP=HEX32 ...] IN.pcap OUT.pcap
 *
 * Reads classic pcap (either byte order, micro- or nanosecond timestamps, Ethernet link
 * type), runs every frame through oum_seq_process, writes each stamped frame (and, with
 * --forward-other, each forwarded frame) to OUT.pcap (little-endian, nanosecond) and prints
 * the counters. A keyed group's stamped frames are written 8 bytes longer (the tag), with
 * their original length grown alike. Exit status: 0 done, 1 bad input file, 2 bad arguments.
 */
#include "oum_args.h"
#include "oum_seq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAME 262144u

static uint32_t get32(const uint8_t *p, int big_endian)
{
    if (big_endian)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static void put32le(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int write_all(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n ? 0 : -1; }

static void usage(const char *why)
{
    fprintf(stderr,
            "oum-pcap-seq: %s\nusage: oum-pcap-seq --session N [--port P] [--forward-other] "
            "--group A.B.C.D=M[,M...] ... [--auth-key GROUP=HEX32 ...] IN.pcap OUT.pcap\n",
            why);
}

int main(int argc, char **argv)
{
    static struct oum_args args;
    if (oum_args_parse(&args, argc, argv) != 0) {
        usage(args.error);
        return 2;
    }
    if (args.n_positional != 2) {
        usage("want IN.pcap and OUT.pcap");
        return 2;
    }
    uint32_t n_members = 0;
    for (uint32_t i = 0; i < args.n_groups; i++)
        n_members += args.groups[i].n_members;
    size_t footprint = oum_seq_footprint(args.n_groups, n_members);
    void *mem = aligned_alloc(OUM_SEQ_ALIGN, footprint);
    if (!mem) {
        fprintf(stderr, "oum-pcap-seq: out of memory\n");
        return 1;
    }
    int err;
    struct oum_seq *seq = oum_seq_init(mem, footprint, &args.config, args.groups, args.n_groups, &err);
    if (!seq) {
        usage(err == OUM_SEQ_ERR_DUPLICATE ? "a group address is given twice" : "bad configuration");
        free(mem);
        return 2;
    }

    const char *in_path = args.positional[0], *out_path = args.positional[1];
    FILE *in = fopen(in_path, "rb");
    if (!in) {
        fprintf(stderr, "oum-pcap-seq: cannot open %s: %s\n", in_path, strerror(errno));
        free(mem);
        return 1;
    }
    uint8_t gh[24];
    if (fread(gh, 1, sizeof(gh), in) != sizeof(gh)) {
        fprintf(stderr, "oum-pcap-seq: %s: shorter than a pcap header\n", in_path);
        fclose(in);
        free(mem);
        return 1;
    }
    int big_endian, nanos;
    uint32_t magic_be = get32(gh, 1), magic_le = get32(gh, 0);
    if (magic_be == 0xa1b2c3d4u || magic_be == 0xa1b23c4du) {
        big_endian = 1;
        nanos = magic_be == 0xa1b23c4du;
    } else if (magic_le == 0xa1b2c3d4u || magic_le == 0xa1b23c4du) {
        big_endian = 0;
        nanos = magic_le == 0xa1b23c4du;
    } else {
        fprintf(stderr, "oum-pcap-seq: %s: not a classic pcap file\n", in_path);
        fclose(in);
        free(mem);
        return 1;
    }
    if ((get32(gh + 20, big_endian) & 0x0fffffffu) != 1u) {
        fprintf(stderr, "oum-pcap-seq: %s: link type is not Ethernet (1)\n", in_path);
        fclose(in);
        free(mem);
        return 1;
    }

    FILE *out = fopen(out_path, "wb");
    if (!out) {
        fprintf(stderr, "oum-pcap-seq: cannot create %s: %s\n", out_path, strerror(errno));
        fclose(in);
        free(mem);
        return 1;
    }
    uint8_t oh[24] = {0};
    put32le(oh, 0xa1b23c4du);
    oh[4] = 2; /* version 2.4 */
    oh[6] = 4;
    put32le(oh + 16, MAX_FRAME);
    put32le(oh + 20, 1);
    int status = write_all(out, oh, sizeof(oh));

    /* Room for the tag a keyed group's stamp appends to the largest frame read. */
    static uint8_t frame[MAX_FRAME + OUM_AUTH_TAG_LEN];
    uint64_t frames = 0, written = 0;
    while (status == 0) {
        uint8_t rh[16];
        size_t got = fread(rh, 1, sizeof(rh), in);
        if (got == 0)
            break;
        uint32_t incl = get32(rh + 8, big_endian);
        if (got < sizeof(rh) || incl > MAX_FRAME || fread(frame, 1, incl, in) != incl) {
            fprintf(stderr, "oum-pcap-seq: %s: record %llu is truncated or too large\n", in_path,
                    (unsigned long long)frames);
            status = 1;
            break;
        }
        uint32_t frac = get32(rh + 4, big_endian);
        frames++;
        struct oum_seq_result r;
        oum_seq_process_buf(seq, frame, incl, sizeof(frame), &r);
        if (r.action == OUM_ACTION_DROP)
            continue;
        /* r.len differs from incl only for a sealed stamp: the wire length changes alike. */
        uint32_t orig = get32(rh + 12, big_endian);
        uint8_t wh[16];
        memcpy(wh, rh, sizeof(wh));
        put32le(wh, get32(rh, big_endian));
        put32le(wh + 4, nanos ? frac : frac * 1000u);
        put32le(wh + 8, r.len);
        uint32_t shrunk = r.len < incl ? incl - r.len : 0;
        put32le(wh + 12, r.len >= incl ? orig + (r.len - incl) : orig > shrunk ? orig - shrunk : r.len);
        if (write_all(out, wh, sizeof(wh)) != 0 || write_all(out, frame, r.len) != 0)
            status = 1;
        written++;
    }
    fclose(in);
    if (fclose(out) != 0)
        status = 1;
    if (status != 0) {
        if (errno)
            fprintf(stderr, "oum-pcap-seq: %s\n", strerror(errno));
        free(mem);
        return 1;
    }

    uint64_t dropped = 0;
    for (unsigned r = 0; r < OUM_REASON_COUNT; r++)
        dropped += oum_seq_drop_count(seq, r);
    printf("oum-pcap-seq: %llu frames read, %llu written, %llu dropped (session %u)\n",
           (unsigned long long)frames, (unsigned long long)written, (unsigned long long)dropped,
           (unsigned)oum_seq_session(seq));
    for (uint32_t g = 0; g < oum_seq_group_count(seq); g++) {
        uint32_t a = oum_seq_group_address(seq, g);
        printf("  group %u (%u.%u.%u.%u): %llu stamped, last message number %llu\n", (unsigned)g,
               (unsigned)(a >> 24), (unsigned)(a >> 16 & 255u), (unsigned)(a >> 8 & 255u),
               (unsigned)(a & 255u), (unsigned long long)oum_seq_stamped(seq, g),
               (unsigned long long)oum_seq_last_msgnum(seq, g));
    }
    for (unsigned r = 0; r < OUM_REASON_COUNT; r++) {
        if (oum_seq_drop_count(seq, r))
            printf("  dropped %s: %llu\n", oum_reason_name(r),
                   (unsigned long long)oum_seq_drop_count(seq, r));
        if (oum_seq_forward_count(seq, r))
            printf("  forwarded %s: %llu\n", oum_reason_name(r),
                   (unsigned long long)oum_seq_forward_count(seq, r));
    }
    free(mem);
    return 0;
}
