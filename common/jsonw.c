/* jsonw.c — see jsonw.h. */
#include "common/jsonw.h"
#include "common/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_number(strbuf *b, double d)
{
    if (!isfinite(d)) {
        sb_adds(b, "null");
    } else if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        sb_add_int(b, (int64_t)d);
    } else {
        char tmp[32];
        double back;
        snprintf(tmp, sizeof tmp, "%1.15g", d);
        if (sscanf(tmp, "%lg", &back) != 1 || back != d) snprintf(tmp, sizeof tmp, "%1.17g", d);
        sb_adds(b, tmp);
    }
}

void jsonw_append(strbuf *b, const cJSON *v)
{
    if (!v) {
        sb_adds(b, "null");
        return;
    }
    switch (v->type & 0xFF) {
    case cJSON_False: sb_adds(b, "false"); break;
    case cJSON_True: sb_adds(b, "true"); break;
    case cJSON_NULL: sb_adds(b, "null"); break;
    case cJSON_Number: put_number(b, v->valuedouble); break;
    case cJSON_Raw: if (v->valuestring) sb_adds(b, v->valuestring); break;
    case cJSON_String:
        sb_json_str(b, v->valuestring ? v->valuestring : "", v->valuestring ? strlen(v->valuestring) : 0);
        break;
    case cJSON_Array:
        sb_addc(b, '[');
        for (const cJSON *c = v->child; c; c = c->next) {
            jsonw_append(b, c);
            if (c->next) sb_addc(b, ',');
        }
        sb_addc(b, ']');
        break;
    case cJSON_Object:
        sb_addc(b, '{');
        for (const cJSON *c = v->child; c; c = c->next) {
            sb_json_str(b, c->string ? c->string : "", c->string ? strlen(c->string) : 0);
            sb_addc(b, ':');
            jsonw_append(b, c);
            if (c->next) sb_addc(b, ',');
        }
        sb_addc(b, '}');
        break;
    default:
        sb_adds(b, "null");
        break;
    }
}

/* 1 when s is NULL or valid UTF-8. */
static int str_ok(const char *s)
{
    return !s || utf8_valid(s, strlen(s));
}

/* 1 when every string and key in the list v (and below) is valid UTF-8. */
static int tree_ok(const cJSON *v)
{
    for (; v; v = v->next) {
        if (!str_ok(v->string)) return 0;
        if (cJSON_IsString(v) && !str_ok(v->valuestring)) return 0;
        if (v->child && !tree_ok(v->child)) return 0;
    }
    return 1;
}

/* The valid UTF-8 form of s (bad bytes as U+FFFD), a cJSON allocation. */
static char *fixed(const char *s)
{
    strbuf b = {0};
    sb_json_str(&b, s, strlen(s));
    cJSON *j = cJSON_ParseWithLength(b.buf, b.len);   /* back from JSON text to bytes */
    sb_free(&b);
    char *out = NULL;
    if (cJSON_IsString(j)) {
        out = j->valuestring;
        j->valuestring = NULL;
    }
    cJSON_Delete(j);
    return out;
}

/* Replaces every string and key in the list v that is not valid UTF-8. */
static void tree_fix(cJSON *v)
{
    for (; v; v = v->next) {
        if (!str_ok(v->string) && !(v->type & cJSON_StringIsConst)) {
            char *f = fixed(v->string);
            if (f) {
                cJSON_free(v->string);
                v->string = f;
            }
        }
        if (cJSON_IsString(v) && !str_ok(v->valuestring) && !(v->type & cJSON_IsReference)) {
            char *f = fixed(v->valuestring);
            if (f) {
                cJSON_free(v->valuestring);
                v->valuestring = f;
            }
        }
        tree_fix(v->child);
    }
}

char *jsonw_print(const cJSON *v, int pretty)
{
    if (!v || ((!cJSON_IsString(v) || str_ok(v->valuestring)) && tree_ok(v->child)))
        return pretty ? cJSON_Print(v) : cJSON_PrintUnformatted(v);
    cJSON *copy = cJSON_Duplicate(v, 1);   /* a new item: no siblings */
    tree_fix(copy);
    char *s = pretty ? cJSON_Print(copy) : cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return s;
}

cJSON *jsonw_parse_line(const char *s, size_t n, const char **stop)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (j && end) {
        while (end < s + n && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
        if (end < s + n) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    if (stop) *stop = end;
    return j;
}

int jsonw_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || floor(d) != d) return -1;
    *out = (int64_t)d;
    return 0;
}

int jsonw_write_file(const char *dir, const char *name, const cJSON *obj, char *err, size_t errlen)
{
    strbuf p = {0}, t = {0};
    sb_printf(&p, "%s/%s", dir, name);
    sb_printf(&t, "%s.tmp", p.buf);
    char *s = jsonw_print(obj, 1);
    FILE *f = fopen(t.buf, "w");
    int rc = 0;
    if (!f || fprintf(f, "%s\n", s) < 0 || fclose(f) != 0 || rename(t.buf, p.buf) < 0) {
        errf(err, errlen, "%s: cannot write: %s", p.buf, strerror(errno));
        rc = ERR_SYSTEM;
    }
    cJSON_free(s);
    sb_free(&p);
    sb_free(&t);
    return rc;
}
