/* `qdeck dlq show QUEUE ID`: one dead message in full: decoded fields,
 * properties, headers and body (JSON pretty-printed, binary as hex). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/dlq-cli.h"
#include "dlq/bytes.h"

const struct arg_option dlq_show_options[] = {
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_END,
};

struct find_state {
    struct dlq *d;
    const char *id;
    struct dlq_message *found;
};

static int find_visit(struct dlq_message *m, void *arg)
{
    struct find_state *st = arg;
    dlq_decode(st->d, m, false);
    char *ids[] = {(char *)st->id};
    struct dlq_select sel = {.ids = ids, .nids = 1};
    if (dlq_select_match(&sel, m)) {
        st->found = m;
        return 1;
    }
    dlq_message_free(m);
    return 0;
}

static void print_hex(const char *data, size_t len, size_t max)
{
    for (size_t off = 0; off < len && off < max; off += 16) {
        printf("  %08zx  ", off);
        for (size_t i = 0; i < 16; i++)
            if (off + i < len) printf("%02x ", (unsigned char)data[off + i]);
            else printf("   ");
        printf(" |");
        for (size_t i = 0; i < 16 && off + i < len; i++)
            putchar(isprint((unsigned char)data[off + i]) ? data[off + i] : '.');
        printf("|\n");
    }
}

static void print_body(const struct dlq_message *m)
{
    const struct dlq_bytes *b = &m->body;
    cJSON *j = b->len ? cJSON_ParseWithLength(b->data, b->len) : NULL;
    if (j) {
        print_json(j);
    } else if (m->info.format == ENVELOPE_BINARY || !dlq_utf8_valid(b->data, b->len)) {
        printf("(binary, %zu bytes)\n", b->len);
        print_hex(b->data, b->len, SIZE_MAX);
    } else {
        fwrite(b->data, 1, b->len, stdout);
        putchar('\n');
    }
}

static int run_show(struct app *app, const struct dlq_args *a)
{
    struct dlq *d;
    int rc = dlq_cli_open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    struct find_state st = {.d = d, .id = a->id};
    if (d->ops->scan(d, 0, find_visit, &st) < 0) {
        rc = fail(dlq_cli_failure_code(d), "%s", d->err);
        dlq_close(d);
        return rc;
    }
    if (!st.found) {
        rc = fail(EXIT_FAILED, "%s: no message with id '%s'", d->display, a->id);
        dlq_close(d);
        return rc;
    }
    struct dlq_message *m = st.found;
    dlq_decode(d, m, true);
    cJSON *j = dlq_message_json(m, true);
    if (a->json) {
        cJSON_AddStringToObject(j, "queue", d->display);
        char *text = cJSON_Print(j);
        puts(text);
        cJSON_free(text);
    } else {
        const char *keys[] = {"id", "type", "original_queue", "reason", "deaths", "first_death", "last_death",
                              "attempts", "replays", "last_error", "format", "position", "stream_id", "size"};
        printf("%s\n", d->display);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
            if (!v)
                continue;
            char *text = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
            printf("  %-15s %s\n", keys[i], cJSON_IsString(v) ? v->valuestring : text);
            cJSON_free(text);
        }
        const char *sections[] = {"celery", "result", "properties", "headers", "fields"};
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, sections[i]);
            if (!v || cJSON_IsNull(v))
                continue;
            char *text = cJSON_Print(v);
            printf("%s:\n%s\n", sections[i], text);
            cJSON_free(text);
        }
        printf("body:\n");
        print_body(m);
    }
    cJSON_Delete(j);
    dlq_message_free(m);
    dlq_close(d);
    return EXIT_OK;
}

int cmd_dlq_show(struct app *app, const struct args *args)
{
    struct dlq_args a;
    int rc = dlq_cli_args(app, args, 2, &a);
    return rc == EXIT_OK ? run_show(app, &a) : rc;
}
