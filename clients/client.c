/* client.c — the client registry and instance lifetime. */
#include "clients/client.h"

#include <stdlib.h>
#include <string.h>

extern const client_ops client_gateway, client_vllm, client_lmdeploy, client_sagellm;

const client_ops *const client_registry[] = {
    &client_gateway, &client_vllm, &client_lmdeploy, &client_sagellm, NULL,
};

const client_ops *client_find(const char *name, int *renamed)
{
    if (renamed) *renamed = 0;
    if (!strcmp(name, "openai")) {
        if (renamed) *renamed = 1;
        name = "gateway";
    }
    for (int i = 0; client_registry[i]; i++)
        if (!strcmp(client_registry[i]->name, name)) return client_registry[i];
    return NULL;
}

client *client_new(const client_ops *ops, const client_opts *opts, char *err, size_t errlen)
{
    client *c = xcalloc(1, sizeof *c);
    c->ops = ops;
    c->opt = *opts;
    if (ops->init && ops->init(c, err, errlen) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

void client_free(client *c)
{
    if (!c) return;
    if (c->ops->cleanup) c->ops->cleanup(c);
    free(c);
}

void client_done_clear(client_done *d)
{
    memset(d, 0, sizeof *d);
    d->prompt_tokens = d->completion_tokens = -1;
    d->t_queued_ns = d->t_scheduled_ns = d->t_first_token_ns = d->t_finished_ns = -1;
    d->queue_ns = d->prefill_ns = d->decode_ns = -1;
}

void client_event_clear(client_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->tokens_delta = ev->completion_tokens = ev->prompt_tokens = -1;
}

void client_request_set_model(client_request *r, const char *model)
{
    free(r->model);
    r->model = model && *model ? xstrdup(model) : NULL;
}

void client_request_free(client_request *r)
{
    sb_free(&r->body);
    sb_free(&r->edits);
    free(r->model);
    r->model = NULL;
}
