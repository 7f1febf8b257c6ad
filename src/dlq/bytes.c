/* Byte strings that may hold anything, NUL included (struct dlq_bytes), and
 * their JSON form: a string when valid UTF-8 without NUL, else
 * {"base64": ...}. A leaf: every DLQ file uses it, it uses none of them.
 * Base64 is written here: a dozen lines, where linking libcrypto for it
 * would add a dependency to the build. */
#include "dlq/bytes.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

void dlq_bytes_free(struct dlq_bytes *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void dlq_bytes_set(struct dlq_bytes *b, const void *data, size_t len)
{
    char *copy = xmalloc(len + 1);
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    free(b->data);
    b->data = copy;
    b->len = len;
    b->set = true;
}

void dlq_bytes_copy(struct dlq_bytes *dst, const struct dlq_bytes *src)
{
    memset(dst, 0, sizeof *dst);
    if (src->set)
        dlq_bytes_set(dst, src->data, src->len);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t dlq_base64_encode(const void *data, size_t len, char **out)
{
    const unsigned char *p = data;
    char *s = xmalloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        s[o++] = b64[v >> 18 & 63];
        s[o++] = b64[v >> 12 & 63];
        s[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        s[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    s[o] = '\0';
    *out = s;
    return o;
}

int dlq_base64_decode(const char *text, char **out, size_t *outlen)
{
    size_t n = strlen(text);
    char *d = xmalloc(n / 4 * 3 + 3);
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (c == '=')
            break;
        const char *pos = c ? strchr(b64, c) : NULL;
        if (!pos) {
            free(d);
            return -1;
        }
        v = v << 6 | (unsigned)(pos - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (char)(v >> bits & 0xff);
        }
    }
    d[o] = '\0';
    *out = d;
    *outlen = o;
    return 0;
}

bool dlq_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!n || i + n > len || (n == 2 && c < 0xC2))
            return false;
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += n;
    }
    return true;
}

cJSON *dlq_bytes_json(const char *data, size_t len)
{
    if (!data)
        return cJSON_CreateString("");
    if (dlq_utf8_valid(data, len) && !memchr(data, '\0', len)) {
        char *s = xstrndup(data, len);
        cJSON *j = cJSON_CreateString(s);
        free(s);
        return j;
    }
    char *enc;
    dlq_base64_encode(data, len, &enc);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "base64", enc);
    free(enc);
    return o;
}

int dlq_bytes_from_json(const cJSON *j, struct dlq_bytes *out)
{
    memset(out, 0, sizeof *out);
    if (cJSON_IsString(j)) {
        dlq_bytes_set(out, j->valuestring, strlen(j->valuestring));
        return 0;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "base64");
    if (!cJSON_IsString(b))
        return -1;
    char *data;
    size_t len;
    if (dlq_base64_decode(b->valuestring, &data, &len) < 0)
        return -1;
    out->data = data;
    out->len = len;
    out->set = true;
    return 0;
}
