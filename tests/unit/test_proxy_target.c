/* test_proxy_target.c — the request targets the recording proxy forwards
 * and the upstream URLs it builds (capture/proxy_target.c). */
#include "unit.h"

#include <curl/curl.h>

#include "capture/proxy_target.h"

TEST(proxy_target_origin_form_passes)
{
    CHECK(proxy_target_check("/v1/chat/completions") == NULL);
    CHECK(proxy_target_check("/v1/chat/completions?api-version=2024-02-01&x=%20y") == NULL);
    CHECK(proxy_target_check("/v1/a/../chat/completions") == NULL);
    CHECK(proxy_target_check("/v1/./models/m%40v2") == NULL);
    CHECK(proxy_target_check("/") == NULL);
}

TEST(proxy_target_other_forms_refused)
{
    static const char *const bad[] = {
        "@127.0.0.1:9/v1/chat/completions", "http://127.0.0.1:9/v1/x", "//127.0.0.1:9/v1/x",
        "127.0.0.1:9", "*", "", "/v1/x\\@127.0.0.1:9/", "/v1/x#@127.0.0.1:9/", "/v1/x y",
        "/v1/x\r\nHost: a", "/v1/\xff", "/v1/%zz", "/v1/%4", "/v1/x%0d%0aHost:%20a", "/v1/x%00",
        "/v1/x%20y", "/../v1/x", "/v1/../../x", "/v1/%2e%2e/%2E%2E/x", "/v1/..%2f..%2fx",
        "/v1/..%5c..%5cx", "/v1/x?a=%0d%0a", NULL,
    };
    for (int i = 0; bad[i]; i++)
        if (!proxy_target_check(bad[i])) unit_fail(__FILE__, __LINE__, "'%s' passed", bad[i]);
    CHECK(proxy_target_check(NULL) != NULL);
    CHECK_STR(proxy_target_check("@a/x"), "target not origin-form");
    CHECK_STR(proxy_target_check("/../x"), "target climbs above the upstream's path");
}

TEST(proxy_target_url_on_the_upstream)
{
    char err[256];
    proxy_upstream *u = proxy_upstream_new("http://127.0.0.1:8000/base/", err, sizeof err);
    REQUIRE(u);
    const char *why = NULL;
    char *url = proxy_upstream_url(u, "/v1/chat/completions?x=1", &why);
    CHECK_STR(url, "http://127.0.0.1:8000/base/v1/chat/completions?x=1");
    CHECK(why == NULL);
    curl_free(url);
    url = proxy_upstream_url(u, "/v1/m%40v2", &why);
    CHECK_STR(url, "http://127.0.0.1:8000/base/v1/m%40v2");
    curl_free(url);
    CHECK(proxy_upstream_url(u, "@127.0.0.1:9/v1/x", &why) == NULL);
    CHECK_STR(why, "target not origin-form");
    proxy_upstream_free(u);
    CHECK(proxy_upstream_new("http://127.0.0.1:8000/x?y=1", err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "without a query");
    CHECK(proxy_upstream_new("not a url", err, sizeof err) == NULL);
    u = proxy_upstream_new("https://[::1]", err, sizeof err);
    REQUIRE(u);
    url = proxy_upstream_url(u, "/v1/x", &why);
    CHECK_STR(url, "https://[::1]/v1/x");
    curl_free(url);
    proxy_upstream_free(u);
    proxy_upstream_free(NULL);
}
