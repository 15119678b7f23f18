/* test_xfer.c — outcomes of replay/xfer.c that the conformance transcripts
 * do not reach: an in-process engine's own abort. */
#include "tests/unit/unit.h"
#include "replay/xfer.h"
#include "replay/replay_int.h"

#include <stdlib.h>

static void no_op_done(void *owner, xfer *x)
{
    (void)owner;
    (void)x;
}

/* An engine that ends a request with finish_reason "abort" on its own (not
 * asked to by a stall or an operator) failed it: class aborted, like a
 * server's abort over HTTP. */
TEST(xfer_engine_abort_is_class_aborted)
{
    client_opts co = {0};
    char err[256];
    client *cl = client_new(client_find("gateway", NULL), &co, err, sizeof err);
    REQUIRE(cl);
    replay_opts o = {0};
    rq q = {0};
    const char *line = "{\"t_us\":0,\"id\":\"e\",\"api\":\"chat\",\"input_tokens\":4,\"output_tokens\":3}";
    REQUIRE(trace_rec_parse(&q.rec, line, strlen(line), 0, err, sizeof err) == 0);
    xfer *x = xfer_new(cl, NULL, &o);
    x->q = &q;
    x->t_send = x->t_first_byte = x->t_first_tok = x->t_last_tok = x->t_end = -1;
    x->prompt_tokens = x->usage_tokens = x->ct_last = -1;
    x->on_inproc_done = no_op_done;
    x->inproc = 1;
    client_sink_tokens((client_sink *)x, 1, "a", 1, -1);
    client_done d;
    client_done_clear(&d);
    d.finish_reason = "abort";
    client_sink_done((client_sink *)x, &d);
    xfer_complete_inproc(x);
    strbuf b = {0};
    xfer_format(x, &b);
    CHECK_CONTAINS(b.buf, "\"class\":\"aborted\"");
    CHECK_CONTAINS(b.buf, "\"finish_reason\":\"abort\"");
    CHECK_CONTAINS(b.buf, "\"n\":1,\"events\":1");
    sb_free(&b);
    xfer_recycle(x);
    xfer_free(x);
    trace_rec_clear(&q.rec);
    client_free(cl);
}
