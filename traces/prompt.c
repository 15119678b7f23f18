/* prompt.c — see prompt.h. The vocabulary below was chosen by tokenizing
 * every candidate with the cl100k_base, o200k_base, Llama 2 and Llama 3
 * tokenizers (with and without a leading space) and keeping, in cl100k merge
 * order, the first 512 dictionary words of 3-6 lowercase letters that are
 * one token in all of them, minus code keywords, fragments and offensive
 * words (docs/prompt-synthesis.md; Qwen 3 also counts each as one token).
 * bench/prompt_tokens.sh re-measures the generated text. Do not reorder the
 * table: the words a seed gives depend on it. */
#include "traces/prompt.h"
#include "common/rng.h"

#include <string.h>

/* Each word with its leading space, zero-padded to 8 bytes so it can be
 * copied with one 8-byte store. */
static const char prompt_words[PROMPT_VOCAB_SIZE][8] = {
    " the", " and", " for", " this", " that", " with", " return", " you",
    " new", " from", " are", " class", " not", " was", " public", " have",
    " get", " can", " all", " will", " your", " out", " has", " but",
    " set", " else", " more", " his", " they", " per", " data", " one",
    " name", " true", " end", " their", " who", " time", " man", " which",
    " any", " false", " value", " about", " add", " over", " type", " part",
    " work", " when", " use", " off", " other", " been", " had", " were",
    " file", " would", " our", " year", " some", " there", " said", " her",
    " like", " let", " also", " than", " just", " result", " them", " into",
    " what", " list", " case", " first", " import", " act", " only", " print",
    " its", " back", " need", " start", " user", " under", " then", " may",
    " how", " people", " should", " test", " make", " after", " right", " long",
    " array", " she", " read", " form", " want", " number", " key", " two",
    " size", " where", " while", " look", " could", " know", " hand", " most",
    " try", " now", " him", " break", " every", " point", " error", " text",
    " show", " find", " used", " play", " log", " see", " help", " these",
    " pass", " down", " even", " item", " don", " did", " last", " event",
    " again", " high", " line", " does", " before", " state", " here", " final",
    " run", " very", " model", " way", " call", " well", " object", " years",
    " view", " many", " being", " good", " using", " child", " person", " style",
    " method", " expect", " found", " post", " such", " think", " much", " count",
    " check", " open", " next", " follow", " car", " game", " path", " each",
    " own", " sign", " those", " system", " best", " same", " create", " made",
    " mark", " group", " world", " main", " color", " report", " take", " day",
    " top", " free", " action", " index", " real", " max", " build", " input",
    " art", " table", " head", " must", " order", " say", " double", " place",
    " week", " prop", " code", " still", " cap", " field", " team", " second",
    " going", " range", " fact", " home", " left", " direct", " allow", " page",
    " around", " really", " image", " target", " both", " put", " level", " local",
    " quest", " too", " great", " month", " super", " title", " met", " life",
    " pay", " change", " old", " book", " three", " law", " base", " during",
    " power", " width", " label", " date", " big", " map", " pop", " few",
    " match", " node", " sit", " care", " effect", " fun", " leg", " since",
    " full", " turn", " body", " stand", " block", " keep", " things", " red",
    " come", " source", " mill", " ask", " output", " email", " disc", " might",
    " never", " hard", " called", " height", " small", " access", " job", " sum",
    " little", " port", " status", " update", " link", " given", " better", " feel",
    " always", " parent", " got", " less", " lot", " valid", " bit", " sure",
    " search", " invest", " rest", " site", " values", " won", " video", " cell",
    " player", " cost", " hum", " total", " stat", " load", " clear", " row",
    " short", " done", " health", " days", " online", " reason", " within", " design",
    " cent", " school", " stop", " later", " client", " love", " able", " men",
    " give", " copy", " either", " lead", " family", " option", " exist", " offer",
    " water", " step", " times", " four", " far", " room", " once", " talk",
    " grow", " mass", " mean", " until", " market", " area", " length", " kind",
    " light", " side", " camp", " miss", " based", " plan", " away", " button",
    " render", " near", " author", " along", " begin", " win", " thing", " why",
    " single", " rights", " women", " season", " sent", " recent", " money", " query",
    " window", " least", " column", " record", " making", " close", " past", " write",
    " move", " pat", " city", " tell", " select", " font", " course", " late",
    " amount", " hold", " pot", " low", " price", " today", " attack", " means",
    " story", " meet", " den", " sort", " task", " review", " switch", " above",
    " word", " cover", " having", " large", " host", " role", " web", " deal",
    " press", " though", " points", " ever", " server", " files", " often", " info",
    " space", " store", " format", " face", " save", " items", " social", " major",
    " yet", " food", " bar", " send", " diff", " makes", " global", " except",
    " news", " device", " below", " media", " fail", " black", " added", " buy",
    " came", " delete", " card", " root", " handle", " claim", " air", " enter",
    " night", " doing", " pick", " watch", " human", " tax", " box", " strong",
    " house", " track", " pack", " wait", " terms", " apply", " others", " fund",
    " users", " future", " mode", " games", " bad", " needs", " known", " seen",
    " border", " live", " hope", " young", " study", " limit", " cut", " went",
    " fire", " visit", " token", " months", " learn", " mind", " quick", " admin",
    " series", " hot", " bill", " frame", " draw", " comes", " filter", " remove",
};

/* Salts of the generator streams: blocks by hash id, the record's own tail. */
#define PROMPT_BLOCK_SALT UINT64_C(0x70726f6d70742d62)   /* "prompt-b" */
#define PROMPT_TAIL_STREAM UINT64_C(0x7461696c)         /* "tail" */

/* Length of each entry, leading space included. */
static const unsigned char prompt_lens[PROMPT_VOCAB_SIZE] = {
    4, 4, 4, 5, 5, 5, 7, 4, 4, 5, 4, 6, 4, 4, 7, 5,
    4, 4, 4, 5, 5, 4, 4, 4, 4, 5, 5, 4, 5, 4, 5, 4,
    5, 5, 4, 6, 4, 5, 4, 6, 4, 6, 6, 6, 4, 5, 5, 5,
    5, 5, 4, 4, 6, 5, 4, 5, 5, 6, 4, 5, 5, 6, 5, 4,
    5, 4, 5, 5, 5, 7, 5, 5, 5, 5, 5, 6, 7, 4, 5, 6,
    4, 5, 5, 6, 5, 6, 5, 4, 4, 7, 7, 5, 5, 6, 6, 5,
    6, 4, 5, 5, 5, 7, 4, 4, 5, 6, 6, 5, 6, 5, 5, 5,
    4, 4, 4, 6, 6, 6, 6, 5, 5, 5, 5, 5, 4, 4, 5, 6,
    5, 5, 5, 5, 4, 4, 5, 6, 6, 5, 5, 5, 7, 6, 5, 6,
    4, 5, 6, 4, 5, 5, 7, 6, 5, 5, 6, 5, 6, 6, 7, 6,
    7, 7, 6, 5, 5, 6, 5, 6, 6, 5, 5, 7, 4, 5, 5, 5,
    4, 5, 6, 7, 5, 5, 7, 5, 5, 6, 6, 5, 6, 7, 5, 4,
    4, 5, 7, 6, 5, 4, 6, 6, 4, 6, 5, 5, 6, 4, 7, 6,
    5, 5, 5, 6, 4, 6, 5, 7, 6, 6, 5, 5, 5, 7, 6, 5,
    7, 7, 6, 7, 5, 4, 6, 6, 6, 4, 6, 6, 6, 6, 4, 5,
    4, 7, 4, 5, 6, 4, 5, 7, 6, 6, 6, 5, 4, 4, 4, 4,
    6, 5, 4, 5, 7, 4, 4, 6, 5, 5, 5, 6, 6, 5, 7, 4,
    5, 7, 5, 4, 7, 6, 5, 6, 6, 5, 7, 7, 6, 7, 4, 4,
    7, 5, 7, 7, 5, 6, 7, 5, 7, 7, 4, 5, 4, 6, 4, 5,
    7, 7, 5, 5, 7, 4, 6, 5, 7, 5, 4, 6, 5, 5, 6, 4,
    6, 5, 7, 5, 7, 7, 7, 7, 5, 7, 5, 6, 7, 5, 5, 4,
    5, 5, 7, 5, 7, 7, 6, 6, 6, 5, 6, 5, 4, 5, 5, 5,
    5, 5, 5, 6, 7, 5, 7, 5, 6, 5, 5, 5, 6, 5, 5, 7,
    7, 5, 7, 6, 6, 4, 6, 4, 7, 7, 6, 7, 5, 7, 6, 6,
    7, 6, 7, 7, 7, 6, 5, 6, 5, 4, 5, 5, 7, 5, 7, 5,
    7, 5, 4, 4, 6, 6, 7, 6, 6, 5, 4, 5, 5, 7, 7, 6,
    5, 6, 7, 6, 5, 5, 4, 5, 6, 7, 7, 5, 7, 6, 6, 5,
    6, 6, 7, 5, 5, 6, 7, 6, 4, 5, 4, 5, 5, 6, 7, 7,
    5, 7, 6, 6, 5, 6, 6, 4, 5, 7, 5, 5, 7, 6, 4, 6,
    6, 6, 5, 6, 6, 4, 4, 7, 6, 6, 5, 5, 6, 6, 7, 5,
    6, 7, 5, 6, 4, 6, 6, 5, 7, 5, 5, 6, 6, 6, 4, 5,
    5, 6, 6, 7, 6, 5, 6, 6, 7, 4, 5, 6, 5, 6, 7, 7,
};

/* Writes n words drawn from r at p (which has n * 7 + 8 bytes of room) and
 * returns the new end. drop_space: the first word goes without its space.
 * 9 bits choose a word, 7 words per 64-bit draw. */
static char *emit_words(char *p, rng *r, int64_t n, int drop_space)
{
    uint64_t bits = 0;
    int left = 0;
    int64_t i = 0;
    if (drop_space && n > 0) {
        bits = rng_u64(r);
        left = 6;
        unsigned w = (unsigned)(bits & 511);
        bits >>= 9;
        memcpy(p, prompt_words[w] + 1, 7);
        p += prompt_lens[w] - 1;
        i = 1;
    }
    for (; i < n; i++) {
        if (!left) {
            bits = rng_u64(r);
            left = 7;
        }
        unsigned w = (unsigned)(bits & 511);
        bits >>= 9;
        left--;
        memcpy(p, prompt_words[w], 8);
        p += prompt_lens[w];
    }
    return p;
}

static void block_rng(rng *r, int64_t hash_id)
{
    rng_seed2(r, PROMPT_BLOCK_SALT, (uint64_t)hash_id);
}

void prompt_block(strbuf *out, int64_t hash_id, int64_t tokens)
{
    if (tokens <= 0) return;
    rng r;
    block_rng(&r, hash_id);
    sb_reserve(out, (size_t)tokens * PROMPT_MAX_WORD_BYTES + 8);
    char *end = emit_words(out->buf + out->len, &r, tokens, 0);
    out->len = (size_t)(end - out->buf);
    out->buf[out->len] = '\0';
}

int prompt_synth(strbuf *out, int64_t tokens, const cJSON *hash_ids,
                 int64_t block_size, uint64_t seed)
{
    if (tokens < 0 || tokens > PROMPT_MAX_TOKENS) return ERR_USAGE;
    if (hash_ids && (!cJSON_IsArray(hash_ids) || block_size < 1)) return ERR_USAGE;
    sb_reserve(out, (size_t)tokens * PROMPT_MAX_WORD_BYTES + 8);
    char *p = out->buf + out->len;
    int64_t left = tokens;
    int first = 1;
    rng r;
    if (hash_ids) {
        for (const cJSON *e = hash_ids->child; e && left > 0; e = e->next) {
            /* Ids outside +-2^62 cannot come from a valid trace record. */
            if (!cJSON_IsNumber(e) || !(e->valuedouble > -4.6e18 && e->valuedouble < 4.6e18)) {
                out->buf[out->len] = '\0';   /* nothing appended */
                return ERR_USAGE;
            }
            int64_t k = left < block_size ? left : block_size;
            block_rng(&r, (int64_t)e->valuedouble);
            p = emit_words(p, &r, k, first);
            first = 0;
            left -= k;
        }
    }
    if (left > 0) {
        rng_seed2(&r, seed, PROMPT_TAIL_STREAM);
        p = emit_words(p, &r, left, first);
    }
    out->len = (size_t)(p - out->buf);
    out->buf[out->len] = '\0';
    return 0;
}

uint64_t prompt_record_seed(const trace_rec *r, uint64_t seed)
{
    /* FNV-1a over the id, then mixed with the seed. */
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const unsigned char *s = (const unsigned char *)(r->id ? r->id : ""); *s; s++)
        h = (h ^ *s) * UINT64_C(0x100000001b3);
    return mix64(seed ^ mix64(h));
}

/* The message below names the limit in words. */
_Static_assert(PROMPT_MAX_TOKENS == 10000000, "prompt_refusal's text names PROMPT_MAX_TOKENS");

const char *prompt_refusal(const trace_rec *r)
{
    if (r->input_tokens < 0) return "field 'input_tokens': missing (a record without a body needs it)";
    if (r->input_tokens > PROMPT_MAX_TOKENS)
        return "field 'input_tokens': more than the 10,000,000 tokens a prompt is synthesised for";
    return "field 'hash_ids': not an array of integers with a block_size of at least 1";
}

cJSON *prompt_make_body(const trace_rec *r, const char *api, const char *model,
                        uint64_t seed)
{
    if (r->input_tokens < 0) return NULL;
    if (!api) api = r->api ? r->api : "chat";
    if (!model) model = r->model;
    strbuf text = {0};
    if (prompt_synth(&text, r->input_tokens, r->hash_ids, r->block_size,
                     prompt_record_seed(r, seed)) < 0) {
        sb_free(&text);
        return NULL;
    }
    cJSON *body = cJSON_CreateObject();
    if (model) cJSON_AddStringToObject(body, "model", model);
    const char *t = text.buf ? text.buf : "";
    if (!strcmp(api, "chat")) {
        cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", t);
        cJSON_AddItemToArray(msgs, m);
    } else if (!strcmp(api, "embeddings")) {
        cJSON_AddStringToObject(body, "input", t);
    } else {
        cJSON_AddStringToObject(body, "prompt", t);
    }
    if (r->output_tokens > 0 && strcmp(api, "embeddings"))
        trace_add_int(body, "max_tokens", r->output_tokens);
    sb_free(&text);
    return body;
}
