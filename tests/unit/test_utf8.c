/* test_utf8.c — common/utf8: the accepted and refused byte sequences. */
#include "unit.h"
#include "../../common/utf8.h"

#define V(lit) utf8_valid(lit, sizeof lit - 1)
#define P(lit) utf8_valid_prefix(lit, sizeof lit - 1)

TEST(utf8_valid_accepts)
{
    CHECK(utf8_valid("", 0));
    CHECK(V("plain ascii {\"a\":1}"));
    CHECK(V("\xC3\xA9"));                    /* U+00E9 */
    CHECK(V("\xE2\x82\xAC"));                /* U+20AC */
    CHECK(V("\xED\x9F\xBF"));                /* U+D7FF, last before surrogates */
    CHECK(V("\xEF\xBF\xBF"));                /* U+FFFF */
    CHECK(V("\xF0\x90\x80\x80"));            /* U+10000 */
    CHECK(V("\xF4\x8F\xBF\xBF"));            /* U+10FFFF */
    CHECK(V("a\0b"));                        /* U+0000 is UTF-8 */
}

TEST(utf8_valid_refuses)
{
    CHECK(!V("\x80"));                       /* lone continuation */
    CHECK(!V("\xC0\xAF"));                   /* overlong '/' */
    CHECK(!V("\xC1\xBF"));
    CHECK(!V("\xE0\x80\xAF"));               /* overlong, 3 bytes */
    CHECK(!V("\xF0\x80\x80\xAF"));           /* overlong, 4 bytes */
    CHECK(!V("\xED\xA0\x80"));               /* U+D800 surrogate */
    CHECK(!V("\xED\xBF\xBF"));               /* U+DFFF */
    CHECK(!V("\xF4\x90\x80\x80"));           /* U+110000 */
    CHECK(!V("\xF5\x80\x80\x80"));
    CHECK(!V("\xFF"));
    CHECK(!V("\xC3"));                       /* truncated */
    CHECK(!V("\xE2\x82"));
    CHECK(!V("\xE2\x28\xA1"));               /* bad continuation */
}

TEST(utf8_valid_prefix_stops_at_first_bad_byte)
{
    CHECK_INT(P("abc\xFF" "def"), 3);
    CHECK_INT(P("\xC3\xA9\xC3"), 2);
    CHECK_INT(P("ok"), 2);
}
