/* parse.h — strict parsing of numbers and durations from option values.
 * Every function returns 0 on success and -1 when the whole string is not
 * a valid value (no trailing garbage, no overflow). */
#ifndef SAGELLM_PARSE_H
#define SAGELLM_PARSE_H

#include <stdint.h>

int parse_i64(const char *s, int64_t *out);
int parse_u64(const char *s, uint64_t *out);
int parse_double(const char *s, double *out);     /* finite values only */
int parse_prob(const char *s, double *out);       /* 0 <= p <= 1 */
/* "1.5s", "250ms", "100us", "2m", "1h", "1d"; a bare number is seconds. */
int parse_duration_us(const char *s, int64_t *out);
/* Formats a duration in µs compactly ("1.500s", "250ms", "12us"). */
void fmt_duration_us(int64_t us, char *buf, int len);

#endif
