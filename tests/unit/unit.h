/* unit.h — a minimal unit-test harness. Each TEST registers itself; the
 * runner (unit_main.c) runs all or those whose name contains argv[1], and
 * ends with "N passed, N failed". A failed CHECK marks the test failed and
 * goes on; REQUIRE returns from the test. */
#ifndef SAGELLM_UNIT_H
#define SAGELLM_UNIT_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>

typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
void unit_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A scratch directory for this run (created once, removed at the end). */
const char *unit_tmpdir(void);
/* Writes (truncating) or appends a scratch file; a failure ends the run
 * (exit 2), as the test could not be set up. */
void unit_write_file(const char *path, const void *data, size_t n);
void unit_write_text(const char *path, const char *text);
void unit_append_text(const char *path, const char *text);
/* Path of a file under ../shared/traces (tests run from the repo root). */
const char *unit_shared(const char *name);

#define TEST(name)                                                    \
    static void test_##name(void);                                    \
    __attribute__((constructor)) static void reg_##name(void)         \
    { unit_register(#name, test_##name); }                            \
    static void test_##name(void)

#define CHECK(c) do { if (!(c)) unit_fail(__FILE__, __LINE__, "%s", #c); } while (0)
#define REQUIRE(c) do { if (!(c)) { unit_fail(__FILE__, __LINE__, "%s", #c); return; } } while (0)
#define CHECK_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a != _b) unit_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #a, _a, _b); } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
    if (!_a || !_b || strcmp(_a, _b)) unit_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", \
        #a, _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define CHECK_NEAR(a, b, tol) do { double _a = (a), _b = (b); \
    if (!(_a >= _b - (tol) && _a <= _b + (tol))) unit_fail(__FILE__, __LINE__, \
        "%s == %g, expected %g +- %g", #a, _a, _b, (double)(tol)); } while (0)
#define CHECK_CONTAINS(hay, needle) do { const char *_h = (hay); \
    if (!_h || !strstr(_h, (needle))) unit_fail(__FILE__, __LINE__, \
        "\"%s\" does not contain \"%s\"", _h ? _h : "(null)", (needle)); } while (0)

#endif
