/* `qdeck dlq export QUEUE`: every dead message as one JSON line
 * (docs/formats.md), to stdout or --out FILE (written to a temporary file,
 * then renamed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/dlq-cli.h"
#include "core/xalloc.h"

const struct arg_option dlq_export_options[] = {
    OPT_STRING("out", 0, "FILE", "write to FILE instead of stdout"),
    OPT_END,
};

struct export_state {
    struct dlq *d;
    FILE *out;
    long n, total;
    struct progress prog;
    bool write_failed;
    int write_errno;
};

static int export_visit(struct dlq_message *m, void *arg)
{
    struct export_state *st = arg;
    dlq_decode(st->d, m, false);
    char *line = dlq_export_line(st->d, m);
    if (fputs(line, st->out) == EOF || fputc('\n', st->out) == EOF) {
        st->write_failed = true;
        st->write_errno = errno;
    }
    free(line);
    dlq_message_free(m);
    st->n++;
    dlq_cli_progress_draw(&st->prog, st->n, st->total, "exported", false);
    return st->write_failed;
}

static int run_export(struct app *app, const struct dlq_args *a)
{
    struct dlq *d;
    int rc = dlq_cli_open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    struct export_state st = {.d = d, .out = stdout, .prog = {.tty = isatty(STDERR_FILENO), .verb = "export"}};
    char *tmp = NULL;
    if (a->out) {
        tmp = xasprintf("%s.tmp.%d", a->out, (int)getpid());
        if (!(st.out = fopen(tmp, "w"))) {
            rc = fail(EXIT_FAILED, "cannot write %s: %s", tmp, strerror(errno));
            free(tmp);
            dlq_close(d);
            return rc;
        }
    }
    d->ops->count(d, &st.total);
    int r = d->ops->scan(d, 0, export_visit, &st);
    dlq_cli_progress_end(&st.prog);
    if (a->out) {
        bool bad = fclose(st.out) != 0 || r < 0 || st.write_failed;
        if (!bad && rename(tmp, a->out) < 0)
            bad = true;
        if (bad)
            unlink(tmp);
        free(tmp);
    } else if (!st.write_failed && fflush(stdout) != 0) {
        st.write_failed = true;
        st.write_errno = errno;
    }
    if (r < 0)
        rc = fail(dlq_cli_failure_code(d), "%s", d->err);
    else if (st.write_failed && st.write_errno == EPIPE && !a->out)
        rc = EXIT_OK;   /* the reader has what it wanted (| head): not an error */
    else if (st.write_failed)
        rc = fail(EXIT_FAILED, "writing the export failed: %s", strerror(st.write_errno));
    else
        fprintf(stderr, "exported %ld message%s from %s\n", st.n, st.n == 1 ? "" : "s", d->display);
    dlq_close(d);
    return rc;
}

int cmd_dlq_export(struct app *app, const struct args *args)
{
    struct dlq_args a;
    int rc = dlq_cli_args(app, args, 1, &a);
    return rc == EXIT_OK ? run_export(app, &a) : rc;
}
