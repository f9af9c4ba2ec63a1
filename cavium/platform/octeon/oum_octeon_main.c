/*
 * Octeon platform layer: the OUM sequencer as a Simple Executive (SE-S) application, one
 * run-to-completion loop per core.
 *
 * NOT COMPILED IN THIS REPOSITORY'S CI: it needs the Cavium Octeon SDK (OCTEON_ROOT, its
 * mips64-octeon-linux-gnu toolchain and the cvmx headers), which is not packaged anywhere
 * we can install from. It is written against the SDK 3.x Simple Executive API as documented
 * (cvmx_pow_work_request_sync, cvmx_wqe_t and its accessors, cvmx_pko_send_packet_prepare /
 * _finish, cvmx_fpa_*, cvmx_bootmem_alloc_named, cvmx_coremask_barrier_sync); expect small
 * adjustments for other SDK versions (SDK 1.x/2.x pass the core mask by value and name some
 * WQE fields differently). The portable core it calls (cavium/src) is compiled and tested
 * here, for the host and for big-endian MIPS64 with -march=octeon2. See docs/cavium.md.
 *
 * Per packet (work-queue entry), on any core:
 *   1. cvmx_pow_work_request_sync: the next WQE, under the ORDERED tag the input hardware
 *      (PIP) gave it.
 *   2. oum_seq_classify: parse Ethernet / IPv4 / UDP / OUM and find the group; read-only.
 *   3. For a stampable request: cvmx_pow_tag_sw to an ATOMIC tag of its group, and wait.
 *      From here to the end of the packet only one core at a time holds the group, and the
 *      POW hands the tag over in the order of the switches, so message numbers are taken
 *      and packets reach the output queues in one order per group (no reordering at the
 *      sequencer, which receivers would see as drops).
 *   4. oum_seq_commit: take the message number (an atomic compare-and-swap,
 *      cvmx_atomic_compare_and_store64, so the core stays correct even without step 3),
 *      stamp, count.
 *   5. Multicast: a copy per member output port (copies from the packet FPA pool, the
 *      original last); forward: unchanged to the uplink port; drop: free the buffers.
 *
 * Members are PKO output port numbers. Configuration comes from the boot loader's
 * application arguments, with the same syntax as the host driver:
 *   bootoct ... endbootargs --session N [--port P] [--forward-other]
 *           [--uplink PORT] --group A.B.C.D=PORT[,PORT...] ... [--auth-key GROUP=HEX32 ...]
 * The session must be new: the control plane that boots the device picks it (Octeon has no
 * state file to remember the last one).
 */
#include "cvmx-config.h"
#include "cvmx.h"
#include "cvmx-sysinfo.h"
#include "cvmx-coremask.h"
#include "cvmx-bootmem.h"
#include "cvmx-fpa.h"
#include "cvmx-pow.h"
#include "cvmx-pko.h"
#include "cvmx-ipd.h"
#include "cvmx-helper.h"
#include "cvmx-wqe.h"
#include "cvmx-atomic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oum_args.h"
#include "oum_seq.h"

#define OUM_BOOTMEM_NAME "oum-seq"
/* ATOMIC tags of groups: a tag space no input tag of PIP's 5-tuple hash setup collides with
 * in a way that matters (a collision only serialises more, it never reorders). */
#define OUM_GROUP_TAG(g) (0xf0000000u | (uint32_t)(g))
/* Where copies put the frame inside a packet buffer: one cache line in, so the PKO can find
 * the buffer start again through the `back` field (in cache lines). */
#define OUM_COPY_OFFSET CVMX_CACHE_LINE_SIZE

/* Shared by all cores (CVMX_SHARED puts it in the shared data segment of an SE-S app). */
static CVMX_SHARED struct oum_seq *shared_seq;
static CVMX_SHARED int shared_config_ok;
static CVMX_SHARED int shared_uplink = -1;
static CVMX_SHARED struct oum_args shared_args;

/* Platform counters, beside the core's per-reason ones. */
static CVMX_SHARED int64_t count_rx_error;      /* receive errors flagged by PIP */
static CVMX_SHARED int64_t count_multi_segment; /* frames in more than one buffer */
static CVMX_SHARED int64_t count_no_buffer;     /* no FPA buffer for a copy */
static CVMX_SHARED int64_t count_tx_error;      /* PKO refused a command */
static CVMX_SHARED int64_t count_sent;          /* frames handed to PKO */

static void free_work(cvmx_wqe_t *work)
{
    cvmx_helper_free_packet_data(work);
    cvmx_fpa_free(work, CVMX_FPA_WQE_POOL, 0);
}

/* Queues one single-buffer frame on `port`; PKO frees the buffer after sending it. Holding
 * the group's ATOMIC tag already orders us against other cores of the same group, so the
 * queue only needs the command-queue lock against other groups. */
static int send_frame(int port, cvmx_buf_ptr_t packet, uint32_t len)
{
    uint64_t queue = cvmx_pko_get_base_queue(port);
    cvmx_pko_command_word0_t cmd;
    cmd.u64 = 0;
    cmd.s.segs = 1;
    cmd.s.total_bytes = len;
    cmd.s.dontfree = 0;
    cvmx_pko_send_packet_prepare(port, queue, CVMX_PKO_LOCK_CMD_QUEUE);
    if (cvmx_pko_send_packet_finish(port, queue, cmd, packet, CVMX_PKO_LOCK_CMD_QUEUE) !=
        CVMX_PKO_SUCCESS) {
        cvmx_atomic_add64_nosync(&count_tx_error, 1);
        return -1;
    }
    cvmx_atomic_add64_nosync(&count_sent, 1);
    return 0;
}

/* Sends the stamped frame to every member: copies for all but the last, the original last
 * (PKO frees it). The WQE itself is freed by the caller. */
static void multicast(cvmx_wqe_t *work, const uint8_t *data, uint32_t len,
                      const uint16_t *members, uint32_t n)
{
    if (n == 0) {
        cvmx_helper_free_packet_data(work);
        return;
    }
    for (uint32_t i = 0; i + 1 < n; i++) {
        uint8_t *buf = cvmx_fpa_alloc(CVMX_FPA_PACKET_POOL);
        if (!buf || len + OUM_COPY_OFFSET > CVMX_FPA_PACKET_POOL_SIZE) {
            if (buf)
                cvmx_fpa_free(buf, CVMX_FPA_PACKET_POOL, 0);
            cvmx_atomic_add64_nosync(&count_no_buffer, 1);
            continue;
        }
        memcpy(buf + OUM_COPY_OFFSET, data, len);
        cvmx_buf_ptr_t copy;
        copy.u64 = 0;
        copy.s.addr = cvmx_ptr_to_phys(buf + OUM_COPY_OFFSET);
        copy.s.pool = CVMX_FPA_PACKET_POOL;
        copy.s.size = CVMX_FPA_PACKET_POOL_SIZE - OUM_COPY_OFFSET;
        copy.s.back = OUM_COPY_OFFSET / CVMX_CACHE_LINE_SIZE;
        if (send_frame(members[i], copy, len) != 0)
            cvmx_fpa_free(buf, CVMX_FPA_PACKET_POOL, 0);
    }
    if (send_frame(members[n - 1], work->packet_ptr, len) != 0)
        cvmx_helper_free_packet_data(work);
}

static void process_work(struct oum_seq *seq, cvmx_wqe_t *work)
{
    if (work->word2.s.rcv_error) {
        cvmx_atomic_add64_nosync(&count_rx_error, 1);
        free_work(work);
        return;
    }
    /* Frames that did not fit one buffer (jumbo frames with small buffers) or that the
     * input hardware stored inside the WQE (dynamic short) are not handled: counted and
     * dropped. Configure IPD with buffers larger than the MTU and without dynamic short. */
    if (cvmx_wqe_get_bufs(work) != 1) {
        cvmx_atomic_add64_nosync(&count_multi_segment, 1);
        free_work(work);
        return;
    }
    uint8_t *data = cvmx_phys_to_ptr(work->packet_ptr.s.addr);
    uint32_t len = (uint32_t)cvmx_wqe_get_len(work);
    /* Room after the frame in its buffer, for a keyed group's 8-byte tag: `back` counts the
     * cache lines from the buffer's start to the line holding the data. */
    uint64_t start = ((work->packet_ptr.s.addr >> 7) - work->packet_ptr.s.back) << 7;
    uint64_t in_buf = work->packet_ptr.s.addr - start;
    size_t cap = in_buf < CVMX_FPA_PACKET_POOL_SIZE ? CVMX_FPA_PACKET_POOL_SIZE - in_buf : len;

    struct oum_seq_parsed parsed;
    oum_seq_classify_buf(seq, data, len, cap, &parsed);
    if (parsed.reason == OUM_REASON_NONE) {
        cvmx_pow_tag_sw(OUM_GROUP_TAG(parsed.group), CVMX_POW_TAG_TYPE_ATOMIC);
        cvmx_pow_tag_sw_wait();
    }
    struct oum_seq_result result;
    oum_seq_commit(seq, data, &parsed, &result);

    switch (result.action) {
    case OUM_ACTION_MULTICAST: {
        uint32_t n;
        const uint16_t *members = oum_seq_members(seq, result.group, &n);
        /* result.len: a sealed stamp grew the frame by its tag. */
        multicast(work, data, result.len, members, n);
        cvmx_fpa_free(work, CVMX_FPA_WQE_POOL, 0);
        break;
    }
    case OUM_ACTION_FORWARD:
        if (shared_uplink < 0 || send_frame(shared_uplink, work->packet_ptr, len) != 0)
            cvmx_helper_free_packet_data(work);
        cvmx_fpa_free(work, CVMX_FPA_WQE_POOL, 0);
        break;
    default:
        free_work(work);
        break;
    }
}

static void print_counters(const struct oum_seq *seq)
{
    printf("oum-octeon: session %u, sent %lld, rx errors %lld, multi-segment %lld, "
           "no buffer %lld, tx errors %lld\n",
           (unsigned)oum_seq_session(seq), (long long)count_sent, (long long)count_rx_error,
           (long long)count_multi_segment, (long long)count_no_buffer,
           (long long)count_tx_error);
    for (uint32_t g = 0; g < oum_seq_group_count(seq); g++)
        printf("  group %u: %llu stamped, last %llu\n", (unsigned)g,
               (unsigned long long)oum_seq_stamped(seq, g),
               (unsigned long long)oum_seq_last_msgnum(seq, g));
    for (unsigned r = 0; r < OUM_REASON_COUNT; r++)
        if (oum_seq_drop_count(seq, r) || oum_seq_forward_count(seq, r))
            printf("  %s: %llu dropped, %llu forwarded\n", oum_reason_name(r),
                   (unsigned long long)oum_seq_drop_count(seq, r),
                   (unsigned long long)oum_seq_forward_count(seq, r));
}

/* Takes "--uplink PORT" out of argv (the shared parser does not know it). */
static int take_uplink(int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--uplink") == 0 && i + 1 < *argc) {
            shared_uplink = atoi(argv[++i]);
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    return 0;
}

int main(int argc, char *argv[])
{
    cvmx_sysinfo_t *sysinfo;
    cvmx_user_app_init();
    sysinfo = cvmx_sysinfo_get();

    if (cvmx_is_init_core()) {
        take_uplink(&argc, argv);
        if (oum_args_parse(&shared_args, argc, argv) != 0) {
            printf("oum-octeon: %s\n", shared_args.error);
        } else {
            uint32_t n_members = 0;
            for (uint32_t i = 0; i < shared_args.n_groups; i++)
                n_members += shared_args.groups[i].n_members;
            size_t len = oum_seq_footprint(shared_args.n_groups, n_members);
            void *mem = cvmx_bootmem_alloc_named(len, OUM_SEQ_ALIGN, OUM_BOOTMEM_NAME);
            int err = 0;
            if (mem)
                shared_seq = oum_seq_init(mem, len, &shared_args.config, shared_args.groups,
                                          shared_args.n_groups, &err);
            if (!shared_seq)
                printf("oum-octeon: cannot set up the sequencer (%d)\n", err);
            else if (cvmx_helper_initialize_packet_io_global() != 0)
                printf("oum-octeon: packet I/O initialisation failed\n");
            else
                shared_config_ok = 1;
        }
        CVMX_SYNCWS;
    }
    cvmx_coremask_barrier_sync(&sysinfo->core_mask);
    if (!shared_config_ok)
        return 1;

    cvmx_helper_initialize_packet_io_local();
    cvmx_coremask_barrier_sync(&sysinfo->core_mask);
    if (cvmx_is_init_core()) {
        cvmx_helper_ipd_and_packet_input_enable();
        printf("oum-octeon: session %u, %u groups, OUM port %u\n",
               (unsigned)oum_seq_session(shared_seq), (unsigned)oum_seq_group_count(shared_seq),
               (unsigned)oum_seq_oum_port(shared_seq));
    }

    struct oum_seq *seq = shared_seq;
    uint64_t next_report = cvmx_get_cycle() + 10ull * cvmx_clock_get_rate(CVMX_CLOCK_CORE);
    for (;;) {
        cvmx_wqe_t *work = cvmx_pow_work_request_sync(CVMX_POW_NO_WAIT);
        if (work) {
            process_work(seq, work);
        } else if (cvmx_is_init_core() && cvmx_get_cycle() > next_report) {
            print_counters(seq);
            next_report = cvmx_get_cycle() + 10ull * cvmx_clock_get_rate(CVMX_CLOCK_CORE);
        }
    }
    return 0;
}
