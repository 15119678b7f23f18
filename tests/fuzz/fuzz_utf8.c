/* fuzz_utf8.c — libFuzzer target for common/utf8: whatever the bytes, the
 * valid prefix it reports decodes, by an independent decoder, into code
 * points that are in range, not surrogates and minimally encoded, and the
 * byte after it does not start a valid sequence. Never a crash. */
#include "common/utf8.h"

#include <stdint.h>
#include <stddef.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes one sequence at p (left bytes): its length, or 0 when invalid. */
static size_t decode(const uint8_t *p, size_t left)
{
    size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
               : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || len > left) return 0;
    uint32_t cp = len == 1 ? p[0] : p[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t good = utf8_valid_prefix(s, size);
    if (good > size) __builtin_trap();
    size_t i = 0;
    while (i < good) {
        size_t k = decode(data + i, good - i);
        if (!k) __builtin_trap();                /* accepted something invalid */
        i += k;
    }
    if (i != good) __builtin_trap();
    if (good < size && decode(data + good, size - good)) __builtin_trap();   /* refused a valid one */
    if (utf8_valid(s, size) != (good == size)) __builtin_trap();
    return 0;
}
