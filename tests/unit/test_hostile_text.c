/* Unit tests: UTF-8 checks, JSON strings from hostile bytes, base64, URL
 * masking (common/utf8, util's sb_json_str, jsonw_print, b64, url_mask). */
#include "unit.h"
#include "common/b64.h"
#include "common/jsonw.h"
#include "common/url_mask.h"
#include "common/utf8.h"
#include "common/util.h"

#include <stdlib.h>

TEST(utf8_rules)
{
    CHECK(utf8_valid("abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 12));
    CHECK(utf8_valid("a\0b", 3));
    CHECK(!utf8_valid("\xff", 1));
    CHECK(!utf8_valid("\xc3", 1));               /* cut short */
    CHECK(!utf8_valid("\xc0\xaf", 2));           /* overlong */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));       /* surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4));   /* above U+10FFFF */
    CHECK_INT(utf8_seq_len("\xe2\x82\xac", 3), 3);
    CHECK_INT(utf8_seq_len("\xe2\x82", 2), 0);
}

TEST(json_str_replaces_bad_bytes)
{
    strbuf b = {0};
    sb_json_str(&b, "a\xff" "b\xc3\xa9\0\xe2\x82", 8);
    CHECK_STR(b.buf, "\"a\xef\xbf\xbd" "b\xc3\xa9\\u0000\xef\xbf\xbd\xef\xbf\xbd\"");
    CHECK(utf8_valid(b.buf, b.len));
    sb_free(&b);
}

TEST(jsonw_print_is_valid_utf8)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", "bad \xfe\xff bytes");
    cJSON_AddStringToObject(o, "k\x80", "ok");
    cJSON_AddStringToObject(o, "fine", "caf\xc3\xa9");
    for (int pretty = 0; pretty < 2; pretty++) {
        char *s = jsonw_print(o, pretty);
        REQUIRE(s);
        CHECK(utf8_valid(s, strlen(s)));
        CHECK_CONTAINS(s, "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
        CHECK_CONTAINS(s, "caf\xc3\xa9");
        cJSON_free(s);
    }
    /* the caller's tree is left as it was */
    CHECK_STR(cJSON_GetObjectItem(o, "error")->valuestring, "bad \xfe\xff bytes");
    cJSON_Delete(o);
}

TEST(b64_roundtrip_and_rejects)
{
    const char *cases[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (int i = 0; i < 7; i++) {
        strbuf e = {0}, d = {0};
        b64_encode(&e, cases[i], strlen(cases[i]));
        CHECK_STR(e.buf ? e.buf : "", want[i]);
        CHECK_INT(b64_decode(&d, want[i], strlen(want[i])), 0);
        CHECK_INT(d.len, strlen(cases[i]));
        CHECK(!d.len || !memcmp(d.buf, cases[i], d.len));
        sb_free(&e);
        sb_free(&d);
    }
    unsigned char bin[256];
    for (int i = 0; i < 256; i++) bin[i] = (unsigned char)i;
    strbuf e = {0}, d = {0};
    b64_encode(&e, bin, sizeof bin);
    CHECK_INT(b64_decode(&d, e.buf, e.len), 0);
    CHECK(d.len == sizeof bin && !memcmp(d.buf, bin, sizeof bin));
    sb_free(&e);
    const char *bad[] = { "Zg=", "Z===", "Zg==Zg==", "Zh==", "Zm9*", "Zm 9v" };
    for (int i = 0; i < 6; i++) {
        sb_clear(&d);
        CHECK_INT(b64_decode(&d, bad[i], strlen(bad[i])), ERR_INPUT);
    }
    sb_free(&d);
}

TEST(url_mask_hides_secrets)
{
    struct { const char *in, *out; } c[] = {
        { "http://user:s3cret@127.0.0.1:8000/v1", "http://user:***@127.0.0.1:8000/v1" },
        { "https://tok@h/v1", "https://***@h/v1" },
        { "http://h:1/v1?key=s3cret&x=1", "http://h:1/v1?key=***&x=***" },
        { "http://h/?s3cret#frag", "http://h/?***#***" },
        { "http://h:8000", "http://h:8000" },
        { "--url=http://a:b@h/p?k=v", "--url=http://a:***@h/p?k=***" },
        { "cannot reach the server: GET http://u:pw@h/v1/models (refused)",
          "cannot reach the server: GET http://u:***@h/v1/models (refused)" },
        { "--url 'http://h/?k=v': no query", "--url 'http://h/?k=***': no query" },
        { "no url here", "no url here" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *m = url_mask(c[i].in);
        CHECK_STR(m, c[i].out);
        free(m);
    }
}
