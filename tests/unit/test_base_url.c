/* test_base_url.c — the --url rule (clients/base_url.h): with or without
 * /v1, under a gateway's path prefix, and the mistakes users make. */
#include "tests/unit/unit.h"
#include "clients/base_url.h"
#include "common/util.h"

static void check_split(const char *url, const char *api, const char *root)
{
    base_url b;
    char err[256] = "";
    int rc = base_url_parse(url, &b, err, sizeof err);
    CHECK_INT(rc, 0);
    if (rc) return;
    CHECK_STR(b.api, api);
    CHECK_STR(b.root, root);
    base_url_clear(&b);
}

TEST(base_url_with_and_without_v1)
{
    check_split("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1", "http://127.0.0.1:8000");
    check_split("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1", "http://127.0.0.1:8000");
    check_split("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1", "http://127.0.0.1:8000");
    check_split("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1", "http://127.0.0.1:8000");
    check_split("https://[::1]:8443/v2", "https://[::1]:8443/v2", "https://[::1]:8443");
}

TEST(base_url_path_prefixes)
{
    check_split("https://gw.example/openai/v1", "https://gw.example/openai/v1", "https://gw.example/openai");
    check_split("http://h/api/v1/", "http://h/api/v1", "http://h/api");
    check_split("http://h:9/llm", "http://h:9/llm/v1", "http://h:9/llm");
    check_split("http://u:p@h:9/x/v1", "http://u:p@h:9/x/v1", "http://u:p@h:9/x");
    /* "v1beta" or "version" are prefixes, not versions. */
    check_split("http://h/v1beta", "http://h/v1beta/v1", "http://h/v1beta");
}

TEST(base_url_refuses_endpoints_and_junk)
{
    static const char *const bad[] = {
        "http://h:8000/v1/chat/completions", "http://h:8000/v1/completions",
        "http://h:8000/v1/models", "http://h:8000/generate", "ftp://h/v1", "h:8000",
        "http://h:8000/v1?key=1", "http://", NULL,
    };
    for (int i = 0; bad[i]; i++) {
        base_url b;
        char err[256] = "";
        CHECK_INT(base_url_parse(bad[i], &b, err, sizeof err), ERR_USAGE);
        CHECK(err[0] != '\0');
    }
    base_url b;
    char err[256];
    base_url_parse("http://h:8000/v1/chat/completions", &b, err, sizeof err);
    CHECK_CONTAINS(err, "base URL");
}
