/* The DPDK API nopaxos-rs uses, and callable wrappers for the parts DPDK defines as
 * static inline functions or macros (which bindgen cannot bind). */
#ifndef NOPAXOS_DPDK_SHIM_H
#define NOPAXOS_DPDK_SHIM_H

#include <rte_config.h>
#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_ring.h>
#include <rte_eth_ring.h>

uint16_t shim_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t shim_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *pool);
int shim_pktmbuf_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **mbufs, unsigned n);
void shim_pktmbuf_free(struct rte_mbuf *m);
struct rte_mbuf *shim_pktmbuf_clone(struct rte_mbuf *m, struct rte_mempool *pool);
int shim_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *shim_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *shim_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int shim_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
void shim_pktmbuf_reset(struct rte_mbuf *m);
/* Start of the first segment's data, its length, the packet's total length, and room. */
void *shim_mtod(struct rte_mbuf *m);
uint16_t shim_data_len(const struct rte_mbuf *m);
uint32_t shim_pkt_len(const struct rte_mbuf *m);
uint16_t shim_nb_segs(const struct rte_mbuf *m);
uint16_t shim_headroom(const struct rte_mbuf *m);
uint16_t shim_tailroom(const struct rte_mbuf *m);
uint16_t shim_refcnt(const struct rte_mbuf *m);
unsigned shim_lcore_id(void);
uint64_t shim_rdtsc(void);
int shim_errno(void);
/* rte_ring's burst calls (static inline), used to inject frames into and collect them
 * from ring-backed ports in tests and benchmarks. */
unsigned shim_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned n);
unsigned shim_ring_dequeue_burst(struct rte_ring *r, void **objs, unsigned n);
unsigned shim_ring_count(const struct rte_ring *r);
/* RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP (function-like macros bindgen cannot evaluate). */
uint64_t shim_rss_hf_ip_udp(void);
/* The default headroom (RTE_PKTMBUF_HEADROOM) and data room (RTE_MBUF_DEFAULT_BUF_SIZE). */
uint16_t shim_pktmbuf_headroom_default(void);
uint16_t shim_mbuf_default_buf_size(void);

#endif
