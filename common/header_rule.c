/* header_rule.c — see header_rule.h. */
#include "common/header_rule.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Lower-cases name into l (sizeof 128). Returns 0, or -1 when too long or empty. */
static int lower(const char *name, size_t len, char l[128])
{
    if (len == 0 || len >= 128) return -1;
    for (size_t i = 0; i < len; i++) l[i] = (char)tolower((unsigned char)name[i]);
    l[len] = '\0';
    return 0;
}

int header_rule_secret(const char *name, size_t len)
{
    static const char *const secret[] = {
        "key", "token", "secret", "passw", "auth", "cookie", "session", "credential", NULL,
    };
    char l[128];
    if (lower(name, len, l) < 0) return 1;
    for (int i = 0; secret[i]; i++)
        if (strstr(l, secret[i])) return 1;
    return !strncmp(l, "proxy-", 6);
}

int header_rule_framing(const char *name, size_t len)
{
    static const char *const framing[] = {
        "host", "connection", "content-length", "transfer-encoding", "expect", "keep-alive",
        "te", "trailer", "upgrade", NULL,
    };
    char l[128];
    if (lower(name, len, l) < 0) return 0;
    for (int i = 0; framing[i]; i++)
        if (!strcmp(l, framing[i])) return 1;
    return 0;
}

int header_rule_kept(const char *name, size_t len)
{
    return len > 0 && !header_rule_secret(name, len) && !header_rule_framing(name, len);
}

int header_rule_listed(const char *list, const char *name, size_t len)
{
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        size_t n = (size_t)(e - p);
        while (n && p[n - 1] == ' ') n--;
        if (n == len && n && !strncasecmp(p, name, n)) return 1;
        p = e;
    }
    return 0;
}
