/*
 * Command-line configuration shared by the platform drivers (host pcap driver, Octeon
 * application): fixed-capacity, no allocation, so it also runs in an Octeon Simple
 * Executive application, whose arguments come from the boot loader.
 *
 *   --session N               session to stamp with (required; never reuse one)
 *   --port P                  OUM UDP port (default 22222)
 *   --group A.B.C.D=M[,M...]  a group: its address and members (replica indexes on the
 *                             host, output ports on Octeon); repeat per group
 *   --forward-other           forward non-OUM traffic unchanged instead of dropping it
 *   --auth-key G=HEX          seal group G's stamps with this 128-bit key (32 hex digits):
 *                             header size 18 and a SipHash-2-4 tag (docs/wire-format.md);
 *                             G is the group's address as given to --group, or its index
 *                             (0 for the first --group); once per group at most
 *   anything else not starting with "--" is a positional argument
 */
#ifndef OUM_ARGS_H
#define OUM_ARGS_H

#include "oum_seq.h"

#define OUM_ARGS_MAX_GROUPS 256u
#define OUM_ARGS_MAX_MEMBERS 64u
#define OUM_ARGS_MAX_POSITIONAL 4u

struct oum_args {
    struct oum_seq_config config;
    int have_session;
    uint32_t n_groups;
    struct oum_seq_group_spec groups[OUM_ARGS_MAX_GROUPS];
    uint16_t members[OUM_ARGS_MAX_GROUPS][OUM_ARGS_MAX_MEMBERS];
    uint8_t keys[OUM_ARGS_MAX_GROUPS][OUM_AUTH_KEY_LEN];
    /* --auth-key values, resolved once every --group is known (they may come first). */
    uint32_t n_key_args;
    const char *key_args[OUM_ARGS_MAX_GROUPS];
    uint32_t n_positional;
    const char *positional[OUM_ARGS_MAX_POSITIONAL];
    char error[160];
};

/* Returns 0, or -1 with a message in args->error. */
int oum_args_parse(struct oum_args *args, int argc, char **argv);

/* Parses "a.b.c.d" into (a << 24) | ... ; returns 0 or -1. */
int oum_parse_ipv4(const char *text, uint32_t *out);

#endif
