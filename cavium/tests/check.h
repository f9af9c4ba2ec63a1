/* The C test program's checks, shared by its files (test_core.c holds the counters). */
#ifndef OUM_TEST_CHECK_H
#define OUM_TEST_CHECK_H

#include <stdio.h>

extern unsigned passed, failed;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (cond) {                                                                          \
            passed++;                                                                        \
        } else {                                                                             \
            failed++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                             \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

/* Authenticated stamps: SipHash-2-4 test vectors, sealed frames, --auth-key (test_auth.c). */
void test_auth(void);

#endif
