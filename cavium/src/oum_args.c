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
    g->auth_key = NULL;
    a->n_groups++;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A --auth-key error names the group but never echoes the key: error text ends up in logs. */
static int fail_key(struct oum_args *a, const char *what, const char *arg)
{
    const char *eq = strchr(arg, '=');
    int group_len = eq ? (int)(eq - arg) : (int)strlen(arg);
    if (group_len > 40)
        group_len = 40;
    snprintf(a->error, sizeof(a->error), "%s: %.*s=...", what, group_len, arg);
    return -1;
}

/* "G=HEX": G an index or a --group address, HEX exactly 32 hex digits. */
static int resolve_key(struct oum_args *a, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return fail_key(a, "--auth-key wants GROUP=32 hex digits", arg);
    uint32_t group = UINT32_MAX;
    uint64_t index;
    char addr_text[16];
    uint32_t address;
    if (parse_uint(arg, eq, UINT32_MAX, &index) == 0) {
        if (index < a->n_groups)
            group = (uint32_t)index;
    } else if ((size_t)(eq - arg) < sizeof(addr_text)) {
        memcpy(addr_text, arg, (size_t)(eq - arg));
        addr_text[eq - arg] = '\0';
        if (oum_parse_ipv4(addr_text, &address) != 0)
            return fail_key(a, "--auth-key: GROUP is neither an index nor an IPv4 address", arg);
        for (uint32_t i = 0; i < a->n_groups; i++)
            if (a->groups[i].address == address)
                group = i;
    } else {
        return fail_key(a, "--auth-key: GROUP is neither an index nor an IPv4 address", arg);
    }
    if (group == UINT32_MAX)
        return fail_key(a, "--auth-key: no such --group", arg);
    if (a->groups[group].auth_key)
        return fail_key(a, "--auth-key: a second key for the same group", arg);
    const char *hex = eq + 1;
    if (strlen(hex) != 2 * OUM_AUTH_KEY_LEN)
        return fail_key(a, "--auth-key: the key must be exactly 32 hex digits (128 bits)", arg);
    for (unsigned i = 0; i < OUM_AUTH_KEY_LEN; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return fail_key(a, "--auth-key: the key has a character that is not a hex digit", arg);
        a->keys[group][i] = (uint8_t)(hi << 4 | lo);
    }
    a->groups[group].auth_key = a->keys[group];
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
        } else if (strcmp(arg, "--auth-key") == 0) {
            if (!value)
                return fail(a, "--auth-key wants GROUP=32 hex digits", NULL);
            if (a->n_key_args >= OUM_ARGS_MAX_GROUPS)
                return fail_key(a, "too many --auth-key", value);
            a->key_args[a->n_key_args++] = value;
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
    for (uint32_t k = 0; k < a->n_key_args; k++)
        if (resolve_key(a, a->key_args[k]) != 0)
            return -1;
    return 0;
}
