/* A dead letter as the lines the DLQ view shows (see dlq-text.h). */
#include "ui/dlq-text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static void add_line(struct text_lines *l, const char *s)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = xstrdup(s);
}

static void add_text(struct text_lines *l, const char *text)
{
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, n);
        for (char *c = line; *c; c++)
            if (*c == '\t')
                *c = ' ';
        add_line(l, line);
        free(line);
        p = nl ? nl + 1 : NULL;
    }
}

#define SCREEN_BODY_MAX 16384      /* bodies are cut on screen only */

static void body_lines(struct text_lines *l, const struct dlq_message *m)
{
    const struct dlq_bytes *b = &m->body;
    size_t shown = b->len < SCREEN_BODY_MAX ? b->len : SCREEN_BODY_MAX;
    cJSON *j = b->len && b->len <= 1 << 20 ? cJSON_ParseWithLength(b->data, b->len) : NULL;
    if (j) {
        char *text = cJSON_Print(j);
        if (strlen(text) > SCREEN_BODY_MAX)
            text[SCREEN_BODY_MAX] = '\0';
        add_text(l, text);
        cJSON_free(text);
        cJSON_Delete(j);
    } else if (m->info.format == ENVELOPE_BINARY || !dlq_utf8_valid(b->data, b->len)) {
        char line[128];
        for (size_t off = 0; off < shown; off += 16) {
            int n = snprintf(line, sizeof line, "%08zx  ", off);
            for (size_t i = 0; i < 16; i++)
                n += snprintf(line + n, sizeof line - (size_t)n, off + i < b->len ? "%02x " : "   ",
                              (unsigned char)(off + i < b->len ? b->data[off + i] : 0));
            n += snprintf(line + n, sizeof line - (size_t)n, " |");
            for (size_t i = 0; i < 16 && off + i < b->len; i++)
                line[n++] = isprint((unsigned char)b->data[off + i]) ? b->data[off + i] : '.';
            line[n++] = '|';
            line[n] = '\0';
            add_line(l, line);
        }
    } else {
        /* escaped text: control characters as \xNN */
        char *esc = xmalloc(shown * 4 + 1);
        size_t o = 0;
        for (size_t i = 0; i < shown; i++) {
            unsigned char c = (unsigned char)b->data[i];
            if (c == '\n' || c >= 0x20 || c == '\t')
                esc[o++] = (char)c;
            else
                o += (size_t)sprintf(esc + o, "\\x%02x", c);
        }
        esc[o] = '\0';
        add_text(l, esc);
        free(esc);
    }
    if (b->len > shown) {
        char more[96];
        snprintf(more, sizeof more, "… %zu more bytes not shown (replay and export keep them all)", b->len - shown);
        add_line(l, more);
    }
}

/* The task's record in a result store (qdeck:task:<id>, or Celery's
 * celery-task-meta-<id>: status, result, traceback, date_done), read on
 * the DLQ job thread: its fields, then the traceback line by line. */
static void result_lines(struct text_lines *l, const cJSON *result)
{
    if (!cJSON_IsObject(result))
        return;
    add_line(l, "");
    add_line(l, "result (the task's record in the result store)");
    const cJSON *v;
    cJSON_ArrayForEach(v, result)
    {
        if (!v->string || cJSON_IsNull(v) || strcmp(v->string, "traceback") == 0)
            continue;
        char *text = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
        char line[2048];
        snprintf(line, sizeof line, "  %-13s %s", v->string, cJSON_IsString(v) ? v->valuestring : text);
        add_line(l, line);
        cJSON_free(text);
    }
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive(result, "traceback");
    if (cJSON_IsString(tb) && tb->valuestring[0]) {
        add_line(l, "  traceback");
        add_text(l, tb->valuestring);
    }
}

void dlq_message_lines(const struct dlq_message *m, struct text_lines *l)
{
    cJSON *j = dlq_message_json(m, false);
    static const char *const keys[] = {"id", "type", "original_queue", "reason", "deaths", "first_death",
                                       "last_death", "attempts", "replays", "last_error", "format", "size",
                                       "stream_id", "celery"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (!v || cJSON_IsNull(v))
            continue;
        char *text = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
        char line[2048];
        snprintf(line, sizeof line, "%-15s %s", keys[i], cJSON_IsString(v) ? v->valuestring : text);
        add_line(l, line);
        cJSON_free(text);
    }
    result_lines(l, cJSON_GetObjectItemCaseSensitive(j, "result"));
    cJSON_Delete(j);
    j = dlq_message_json(m, true);
    static const char *const sections[] = {"properties", "headers", "fields"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, sections[i]);
        if (!v)
            continue;
        add_line(l, "");
        add_line(l, sections[i]);
        char *text = cJSON_Print(v);
        add_text(l, text);
        cJSON_free(text);
    }
    cJSON_Delete(j);
    add_line(l, "");
    add_line(l, "body");
    body_lines(l, m);
}

void text_lines_free(struct text_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
