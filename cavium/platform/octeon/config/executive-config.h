/*
 * Simple Executive configuration of the OUM sequencer (the SDK's cvmx-config script turns
 * this into cvmx-config.h). Packet buffers are larger than the largest frame we stamp, so
 * every frame arrives in one buffer (oum_octeon_main.c drops and counts any that do not).
 * NOT COMPILED HERE: needs the Octeon SDK.
 */
#ifndef __EXECUTIVE_CONFIG_H__
#define __EXECUTIVE_CONFIG_H__

#define CVMX_ENABLE_PKO_FUNCTIONS
#define CVMX_ENABLE_HELPER_FUNCTIONS

/* Buffer pools (number of buffers, buffer size in bytes): packets, work-queue entries,
 * PKO command buffers. */
#define CVMX_FPA_PACKET_POOL_SIZE   (16 * CVMX_CACHE_LINE_SIZE)
#define CVMX_FPA_WQE_POOL_SIZE      (1 * CVMX_CACHE_LINE_SIZE)
#define CVMX_FPA_OUTPUT_BUFFER_POOL_SIZE (8 * CVMX_CACHE_LINE_SIZE)

/* Input: ORDERED tags from a 5-tuple hash. */
#define CVMX_HELPER_INPUT_TAG_TYPE  CVMX_POW_TAG_TYPE_ORDERED
#define CVMX_HELPER_INPUT_TAG_IPV4_SRC_IP   1
#define CVMX_HELPER_INPUT_TAG_IPV4_DST_IP   1
#define CVMX_HELPER_INPUT_TAG_IPV4_SRC_PORT 1
#define CVMX_HELPER_INPUT_TAG_IPV4_DST_PORT 1
#define CVMX_HELPER_INPUT_TAG_IPV4_PROTOCOL 1

#endif
