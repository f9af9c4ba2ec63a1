/*
 * The few atomic operations the sequencer core needs on counters that many cores update at
 * once. One implementation per platform:
 *
 *  - host (and any C11 compiler with <stdatomic.h>): C11 atomics, relaxed ordering. The
 *    counters carry no data dependencies (a message number is only ever compared and
 *    written into the packet by the core that obtained it), so relaxed is enough.
 *  - Octeon (OUM_PLATFORM_OCTEON, built with the Octeon SDK): the Simple Executive's
 *    cvmx_atomic_* helpers (lld/scd loops, and on Octeon II the saa/laa atomic add
 *    instructions for the _nosync adds).
 *
 * Only the message-number counter needs a compare-and-swap: it must stop at 2^64-1
 * ("counter-exhausted") instead of wrapping, which a plain fetch-and-add cannot express
 * without overshooting. Statistics use fetch-and-add.
 */
#ifndef OUM_ATOMIC_H
#define OUM_ATOMIC_H

#include <stdint.h>

#if defined(OUM_PLATFORM_OCTEON)

#include "cvmx.h"
#include "cvmx-atomic.h"

/* 64-bit aligned loads and stores are single instructions (ld / sd) on MIPS64. */
typedef struct {
    volatile uint64_t v;
} oum_atomic_u64;

static inline uint64_t oum_atomic_load(const oum_atomic_u64 *a) { return a->v; }

static inline void oum_atomic_store(oum_atomic_u64 *a, uint64_t x)
{
    a->v = x;
    CVMX_SYNCWS;
}

static inline int oum_atomic_cas(oum_atomic_u64 *a, uint64_t *expected, uint64_t desired)
{
    if (cvmx_atomic_compare_and_store64((uint64_t *)&a->v, *expected, desired))
        return 1;
    *expected = a->v;
    return 0;
}

static inline void oum_atomic_add(oum_atomic_u64 *a, uint64_t x)
{
    cvmx_atomic_add64_nosync((int64_t *)&a->v, (int64_t)x);
}

#else /* C11 atomics */

#if defined(__STDC_NO_ATOMICS__)
#error "the host build needs C11 <stdatomic.h>; define OUM_PLATFORM_OCTEON for the Octeon SDK"
#endif
#include <stdatomic.h>

typedef struct {
    _Atomic uint64_t v;
} oum_atomic_u64;

static inline uint64_t oum_atomic_load(const oum_atomic_u64 *a)
{
    /* atomic_load on a const object is valid C11 but older compilers reject it. */
    return atomic_load_explicit((_Atomic uint64_t *)&a->v, memory_order_relaxed);
}

static inline void oum_atomic_store(oum_atomic_u64 *a, uint64_t x)
{
    atomic_store_explicit(&a->v, x, memory_order_relaxed);
}

static inline int oum_atomic_cas(oum_atomic_u64 *a, uint64_t *expected, uint64_t desired)
{
    return atomic_compare_exchange_weak_explicit(&a->v, expected, desired,
                                                 memory_order_relaxed, memory_order_relaxed);
}

static inline void oum_atomic_add(oum_atomic_u64 *a, uint64_t x)
{
    atomic_fetch_add_explicit(&a->v, x, memory_order_relaxed);
}

#endif

#endif /* OUM_ATOMIC_H */
