/* The replay journal without a broker: a confirmed twin is remembered
 * across runs and used up once; an unconfirmed one, or a line of the old
 * shape, never allows a drop; a copy without a death mark is never proven;
 * the same task dead again (new token, new dead-at) is a different copy;
 * lines of a wrong shape or older than two days are ignored, and a rewrite
 * keeps each entry's time; and the summary line names what it dropped and
 * what an interrupt left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlq/amqp-table.h"
#include "dlq/dlq.h"
#include "dlq/journal.h"

static struct dlq fake_dlq(char *name, char *display)
{
    struct dlq d = {0};
    d.addr.kind = QUEUE_AMQP;
    d.addr.name = name;
    d.display = display;
    return d;
}

static struct dlq_message *dead_letter(struct dlq *d, const char *headers_json, const char *body)
{
    struct dlq_message *m = calloc(1, sizeof *m);
    m->body_field = -1;
    dlq_bytes_set(&m->body, body, strlen(body));
    m->props = calloc(1, sizeof *m->props);
    dlq_bytes_set(&m->props->message_id, "task-1", 6);
    if (headers_json) {
        cJSON *j = cJSON_Parse(headers_json);
        amqp_pool_t pool;
        init_amqp_pool(&pool, 4096);
        amqp_table_t t;
        assert_int_equal(dlq_table_from_json(j, &pool, &t), 0);
        assert_int_equal(dlq_table_encode(&t, &m->props->headers), 0);
        empty_amqp_pool(&pool);
        cJSON_Delete(j);
    }
    dlq_decode(d, m, false);
    return m;
}

static char *temp_path(void)
{
    char *path = strdup("/tmp/qdeck-journal-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

static void death_marks(void **state)
{
    (void)state;
    struct dlq d = fake_dlq("q.dlq", "amqp:q.dlq");
    struct dlq_message *worker = dead_letter(&d, "{\"x-qdeck-reason\":\"failed\",\"x-qdeck-dead-at\":1764770000123}",
                                             "{\"id\":\"task-1\"}");
    struct dlq_message *broker = dead_letter(
        &d, "{\"x-death\":[{\"count\":2,\"reason\":\"rejected\",\"queue\":\"q\",\"time\":1764770000}]}", "{}");
    struct dlq_message *replayed = dead_letter(&d, "{\"x-qdeck-replay\":\"00ff.7\"}", "{}");
    struct dlq_message *plain = dead_letter(&d, NULL, "{\"n\":1}");
    assert_true(dlq_message_has_death_mark(worker));
    assert_true(dlq_message_has_death_mark(broker));
    assert_true(dlq_message_has_death_mark(replayed));
    assert_false(dlq_message_has_death_mark(plain));
    char token[DLQ_TOKEN_LEN];
    dlq_message_token(replayed, token, sizeof token);
    assert_string_equal(token, "00ff.7");
    dlq_message_token(worker, token, sizeof token);
    assert_string_equal(token, "");
    dlq_message_free(worker);
    dlq_message_free(broker);
    dlq_message_free(replayed);
    dlq_message_free(plain);
}

static void dead_again_is_another_copy(void **state)
{
    (void)state;
    struct dlq d = fake_dlq("q.dlq", "amqp:q.dlq");
    const char *body = "{\"id\":\"task-1\",\"attempt\":1,\"dead_reason\":\"max_attempts\"}";
    struct dlq_message *first = dead_letter(&d, "{\"x-qdeck-dead-at\":1000}", body);
    struct dlq_message *same = dead_letter(&d, "{\"x-qdeck-dead-at\":1000}", body);
    struct dlq_message *again = dead_letter(&d, "{\"x-qdeck-dead-at\":2000,\"x-qdeck-replay\":\"ab.1\"}", body);
    struct dlq_message *again_same_ms = dead_letter(&d, "{\"x-qdeck-dead-at\":1000,\"x-qdeck-replay\":\"ab.1\"}", body);
    assert_true(dlq_message_identity(&d, first) == dlq_message_identity(&d, same));
    assert_true(dlq_message_identity(&d, first) != dlq_message_identity(&d, again));
    /* the token alone tells them apart */
    assert_true(dlq_message_identity(&d, first) != dlq_message_identity(&d, again_same_ms));
    struct dlq other = fake_dlq("p.dlq", "amqp:p.dlq");
    assert_true(dlq_message_identity(&d, first) != dlq_message_identity(&other, first));
    dlq_message_free(first);
    dlq_message_free(same);
    dlq_message_free(again);
    dlq_message_free(again_same_ms);
}

static void only_confirmed_twins_are_taken(void **state)
{
    (void)state;
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    /* the old shape proves nothing */
    fprintf(f, "%016llx %lld\n", 0x1234ull, (long long)time(NULL));
    fclose(f);
    struct dlq_journal *j;
    char err[256];
    assert_int_equal(dlq_journal_open(path, &j, err, sizeof err), 0);
    assert_false(dlq_journal_take(j, 0x1234, NULL, 0));
    struct dlq_journal_entry e[3] = {
        {.identity = 0xaaaa, .token = "r.1", .confirmed = true},
        {.identity = 0xbbbb, .token = "r.2", .confirmed = false},
        {.identity = 0xaaaa, .token = "r.3", .confirmed = true},
    };
    assert_int_equal(dlq_journal_append(j, e, 3), 0);
    dlq_journal_close(j);

    assert_int_equal(dlq_journal_open(path, &j, err, sizeof err), 0);
    assert_true(dlq_journal_has_confirmed(j, 0xaaaa));
    assert_false(dlq_journal_has_confirmed(j, 0xbbbb));
    assert_false(dlq_journal_take(j, 0xbbbb, NULL, 0));
    char token[DLQ_TOKEN_LEN];
    assert_true(dlq_journal_take(j, 0xaaaa, token, sizeof token));
    assert_string_equal(token, "r.3");
    assert_true(dlq_journal_take(j, 0xaaaa, NULL, 0));   /* two confirmed twins: two copies */
    assert_false(dlq_journal_take(j, 0xaaaa, NULL, 0));
    assert_false(dlq_journal_take(j, 0xcccc, NULL, 0));
    dlq_journal_close(j);
    unlink(path);
    free(path);
}

/* a replay killed between publish and confirm: the next one is told, once */
static void killed_mid_publish_is_reported_once(void **state)
{
    (void)state;
    char *path = temp_path();
    struct dlq_journal *j;
    char err[256];
    assert_int_equal(dlq_journal_open(path, &j, err, sizeof err), 0);
    assert_int_equal(dlq_journal_publishing(j, 0xdddd, "k.1"), 0);
    assert_int_equal(dlq_journal_publishing(j, 0xeeee, "k.2"), 0);
    struct dlq_journal_entry settled = {.identity = 0xeeee, .token = "k.2", .confirmed = false};
    assert_int_equal(dlq_journal_append(j, &settled, 1), 0);
    dlq_journal_close(j);      /* as if killed: no settle line for 0xdddd */

    assert_int_equal(dlq_journal_open(path, &j, err, sizeof err), 0);
    assert_false(dlq_journal_take_unsettled(j, 0xeeee));
    assert_false(dlq_journal_take(j, 0xdddd, NULL, 0));   /* never confirmed: never dropped */
    assert_true(dlq_journal_take_unsettled(j, 0xdddd));
    assert_false(dlq_journal_take_unsettled(j, 0xdddd));
    dlq_journal_close(j);
    assert_int_equal(dlq_journal_open(path, &j, err, sizeof err), 0);
    assert_false(dlq_journal_take_unsettled(j, 0xdddd));   /* reported once, also across runs */
    dlq_journal_close(j);
    unlink(path);
    free(path);
}

/* Lines of a wrong shape prove nothing; lines older than two days are
 * ignored; and when the file is mostly such old lines it is rewritten with
 * the live entries, each keeping its own time (a rewrite must not make an
 * entry young again). */
static void old_and_malformed_lines(void **state)
{
    (void)state;
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    long long now = (long long)time(NULL), old = now - 3 * 86400, recent = now - 86400;
    fprintf(f, "00000000000000a1 %lld tok.1 c\n", recent);      /* live */
    fprintf(f, "00000000000000a2 %lld tok.2 c\n", old);         /* expired */
    fprintf(f, "00000000000000a3 %lld\n", recent);              /* the older shape */
    fprintf(f, "00000000000000a4 %lld tok.4 x\n", recent);      /* no such state */
    fprintf(f, "00000000000000a5 %lld tok.5 cc\n", recent);     /* state of two letters */
    fprintf(f, "zz %lld tok.6 c\n", recent);                    /* not hex */
    fprintf(f, "0000000000000000 %lld tok.7 c\n", recent);      /* identity 0 */
    fprintf(f, "00000000000000a8 %lld %s c\n", recent,
            "a-token-far-longer-than-forty-characters-is-not-one");
    for (int i = 0; i < 10001; i++)                               /* mostly old: a rewrite */
        fprintf(f, "%016x %lld t.%d c\n", 0x100000 + i, old, i);
    fclose(f);

    struct dlq_journal *j;
    char err[256], token[DLQ_TOKEN_LEN];
    assert_int_equal(dlq_journal_open(path, &j, err, sizeof err), 0);
    assert_true(dlq_journal_has_confirmed(j, 0xa1));
    for (uint64_t k = 0xa2; k <= 0xa8; k++)
        assert_false(dlq_journal_has_confirmed(j, k));
    assert_false(dlq_journal_has_confirmed(j, 0x100000));
    assert_true(dlq_journal_take(j, 0xa1, token, sizeof token));
    assert_string_equal(token, "tok.1");
    dlq_journal_close(j);

    /* rewritten: the live line alone, with its own time */
    f = fopen(path, "r");
    char line[256];
    int lines = 0;
    long long when = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        assert_int_equal(sscanf(line, "%*x %lld", &when), 1);
    }
    fclose(f);
    assert_int_equal(lines, 1);
    assert_true(when == recent);
    unlink(path);
    free(path);
}

static void tokens_differ(void **state)
{
    (void)state;
    uint64_t run = dlq_token_run();
    char a[DLQ_TOKEN_LEN], b[DLQ_TOKEN_LEN];
    dlq_new_token(run, 1, a, sizeof a);
    dlq_new_token(run, 2, b, sizeof b);
    assert_string_not_equal(a, b);
    assert_true(strlen(a) < DLQ_TOKEN_LEN - 1);
}

static void summary_names_drops_and_interrupts(void **state)
{
    (void)state;
    struct dlq_tally t = {.moved = 5};
    char line[2048];
    dlq_replay_summary(&t, false, false, -1, line, sizeof line);
    assert_string_equal(line, "moved 5, failed 0, skipped 0");
    dlq_tally_dropped(&t, "sha:01");
    dlq_tally_dropped(&t, "task-7");
    dlq_replay_summary(&t, false, false, -1, line, sizeof line);
    assert_string_equal(line,
                        "moved 5, failed 0, skipped 0, dropped 2 (copies whose replayed twin was confirmed): sha:01 task-7");
    struct dlq_tally i = {.moved = 208, .interrupted = true};
    dlq_replay_summary(&i, false, false, 1792, line, sizeof line);
    assert_string_equal(line,
                        "interrupted: moved 208, duplicated 0 (every confirm in flight was settled), left 1792");
    i.in_doubt = 40;
    dlq_replay_summary(&i, false, false, 1792, line, sizeof line);
    assert_string_equal(line, "interrupted: moved 208, duplicated 40 (published, unconfirmed when the connection was "
                              "lost), left 1792");
    /* many drops: every one counted, the list cut with … */
    struct dlq_tally many = {0};
    char id[32];
    for (int k = 0; k < 500; k++) {
        snprintf(id, sizeof id, "sha:%016x", k);
        dlq_tally_dropped(&many, id);
    }
    assert_int_equal(many.deduped, 500);
    assert_true(strlen(many.dropped) < sizeof many.dropped);
    assert_non_null(strstr(many.dropped, "…"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(death_marks),
        cmocka_unit_test(dead_again_is_another_copy),
        cmocka_unit_test(only_confirmed_twins_are_taken),
        cmocka_unit_test(killed_mid_publish_is_reported_once),
        cmocka_unit_test(old_and_malformed_lines),
        cmocka_unit_test(tokens_differ),
        cmocka_unit_test(summary_names_drops_and_interrupts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
