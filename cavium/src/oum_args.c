#include "oum_args.h"

#include <stdio.h>
#include <string.h>

/* Parses a decimal number up to max from [s, end); returns 0 or -1. */
static int parse_uint(const char *s, const char *end, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s == end)
        return -1;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10u + (uint64_t)(*s - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

int oum_parse_ipv4(const char *text, uint32_t *out)
{
    uint32_t addr = 0;
    const char *s = text;
    for (int part = 0; part < 4; part++) {
        const char *end = s;
        while (*end >= '0' && *end <= '9')
            end++;
        uint64_t v;
        if (end - s > 3 || parse_uint(s, end, 255, &v) != 0)
            return -1;
        addr = (addr << 8) | (uint32_t)v;
        if (part < 3) {
            if (*end != '.')
                return -1;
            s = end + 1;
        } else if (*end != '\0') {
            return -1;
        } else {
            s = end;
        }
    }
    *out = addr;
    return 0;
}

static int fail(struct oum_args *a, const char *what, const char *arg)
{
    snprintf(a->error, sizeof(a->error), "%s: %s", what, arg ? arg : "(missing)");
    return -1;
}

static int parse_group(struct oum_args *a, const char *arg)
{
    if (a->n_groups >= OUM_ARGS_MAX_GROUPS)
        return fail(a, "too many --group", arg);
    const char *eq = strchr(arg, '=');
    char addr_text[16];
    if (!eq || (size_t)(eq - arg) >= sizeof(addr_text))
        return fail(a, "--group wants A.B.C.D=M[,M...]", arg);
    memcpy(addr_text, arg, (size_t)(eq - arg));
    addr_text[eq - arg] = '\0';
    struct oum_seq_group_spec *g = &a->groups[a->n_groups];
    if (oum_parse_ipv4(addr_text, &g->address) != 0)
        return fail(a, "--group: bad IPv4 address", arg);
    uint16_t *members = a->members[a->n_groups];
    uint32_t n = 0;
    const char *s = eq + 1;
    while (*s) {
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        uint64_t m;
        if (n >= OUM_ARGS_MAX_MEMBERS)
            return fail(a, "--group: too many members", arg);
        if (parse_uint(s, end, UINT16_MAX, &m) != 0)
            return fail(a, "--group: bad member", arg);
        members[n++] = (uint16_t)m;
        s = *end ? end + 1 : end;
    }
    g->members = members;
    g->n_members = n;
    g->last_msgnum = 0;
    a->n_groups++;
    return 0;
}

int oum_args_parse(struct oum_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof(*a));
    a->config.oum_port = OUM_DEFAULT_PORT;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t v;
        if (strcmp(arg, "--session") == 0) {
            if (!value || parse_uint(value, value + strlen(value), UINT16_MAX, &v) != 0)
                return fail(a, "--session wants 0..65535", value);
            a->config.session = (uint16_t)v;
            a->have_session = 1;
            i++;
        } else if (strcmp(arg, "--port") == 0) {
            if (!value || parse_uint(value, value + strlen(value), UINT16_MAX, &v) != 0)
                return fail(a, "--port wants 0..65535", value);
            a->config.oum_port = (uint16_t)v;
            i++;
        } else if (strcmp(arg, "--group") == 0) {
            if (!value)
                return fail(a, "--group wants A.B.C.D=M[,M...]", value);
            if (parse_group(a, value) != 0)
                return -1;
            i++;
        } else if (strcmp(arg, "--forward-other") == 0) {
            a->config.flags |= OUM_SEQ_FLAG_FORWARD_OTHER;
        } else if (strncmp(arg, "--", 2) == 0) {
            return fail(a, "unknown option", arg);
        } else {
            if (a->n_positional >= OUM_ARGS_MAX_POSITIONAL)
                return fail(a, "too many arguments", arg);
            a->positional[a->n_positional++] = arg;
        }
    }
    if (!a->have_session)
        return fail(a, "--session is required (a session never used before)", NULL);
    if (a->n_groups == 0)
        return fail(a, "at least one --group is required", NULL);
    return 0;
}
