/* A dead letter's body through $EDITOR (see dlq-edit.h). */
#include "ui/dlq-edit.h"

#include <curses.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"

int dlq_edit_body(const struct dlq_message *m, struct dlq_bytes *out, char *why, size_t len)
{
    char path[] = "/tmp/qdeck-edit-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(why, len, "cannot create a temporary file for the editor");
        return -1;
    }
    cJSON *j = m->body.len ? cJSON_ParseWithLength(m->body.data, m->body.len) : NULL;
    char *pretty = j ? cJSON_Print(j) : NULL;
    const char *text = pretty ? pretty : m->body.data;
    size_t tlen = pretty ? strlen(pretty) : m->body.len;
    bool wrote = write(fd, text ? text : "", tlen) == (ssize_t)tlen;
    close(fd);
    const char *editor = getenv("EDITOR");
    if (!editor || !*editor)
        editor = getenv("VISUAL");
    if (!editor || !*editor)
        editor = "vi";
    char *cmd = xasprintf("%s '%s'", editor, path);
    def_prog_mode();
    endwin();
    int rc = wrote ? system(cmd) : -1;
    reset_prog_mode();
    refresh();
    free(cmd);
    FILE *f = fopen(path, "r");
    char *edited = NULL;
    size_t elen = 0;
    if (f) {
        size_t cap = 0;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
            edited = xrealloc(edited, cap = elen + n + 1);
            memcpy(edited + elen, buf, n);
            elen += n;
        }
        (void)cap;
        fclose(f);
    }
    unlink(path);
    cJSON *e = NULL;
    int ok = -1;
    if (rc != 0 || !f) {
        snprintf(why, len, "editor failed (%s): nothing replayed", editor);
    } else if (elen == tlen && (!elen || memcmp(edited, text, tlen) == 0)) {
        snprintf(why, len, "body unchanged: nothing replayed (r replays as is)");
    } else if (j && !(e = cJSON_ParseWithLength(edited ? edited : "", elen))) {
        snprintf(why, len, "the edited body is not valid JSON: nothing replayed");
    } else {
        /* JSON goes out compact again, as it came */
        char *compact = e ? cJSON_PrintUnformatted(e) : NULL;
        dlq_bytes_set(out, compact ? compact : (edited ? edited : ""), compact ? strlen(compact) : elen);
        cJSON_free(compact);
        ok = 0;
    }
    cJSON_Delete(e);
    free(edited);
    cJSON_free(pretty);
    cJSON_Delete(j);
    return ok;
}
