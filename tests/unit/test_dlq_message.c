/* DLQ messages without a broker: base64 and UTF-8 checks, export/import
 * lines that keep every byte (binary bodies, AMQP header types, stream
 * fields), x-death / qdeck header / Celery decoding, and what a replay
 * changes (attempt restarted, replay counted, --set) and refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "dlq/amqp-table.h"
#include "dlq/dlq.h"

static struct dlq fake_dlq(enum queue_kind kind, char *name, char *display)
{
    struct dlq d = {0};
    d.addr.kind = kind;
    d.addr.name = name;
    d.display = display;
    return d;
}

static struct dlq_message *amqp_message(const char *headers_json, const char *body)
{
    struct dlq_message *m = calloc(1, sizeof *m);
    m->body_field = -1;
    dlq_bytes_set(&m->body, body, strlen(body));
    m->props = calloc(1, sizeof *m->props);
    m->props->has_delivery_mode = true;
    m->props->delivery_mode = 2;
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
    return m;
}

static void base64_round_trip(void **state)
{
    (void)state;
    const char data[] = {'\0', '\xff', 'a', '\x80', 'b'};
    for (size_t len = 0; len <= sizeof data; len++) {
        char *enc, *dec;
        size_t n;
        dlq_base64_encode(data, len, &enc);
        assert_int_equal(dlq_base64_decode(enc, &dec, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, data, len);
        free(enc);
        free(dec);
    }
    char *dec;
    size_t n;
    assert_int_equal(dlq_base64_decode("not base64!", &dec, &n), -1);
}

static void utf8_check(void **state)
{
    (void)state;
    assert_true(dlq_utf8_valid("plain", 5));
    assert_true(dlq_utf8_valid("\xc3\xbc", 2));
    assert_false(dlq_utf8_valid("\xc3", 1));
    assert_false(dlq_utf8_valid("\xff\xfe", 2));
    assert_false(dlq_utf8_valid("\xc0\x80", 2));
}

static void export_import_amqp_exact(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_AMQP, "orders.dlq", "amqp:orders.dlq");
    struct dlq_message *m = amqp_message("{\"x-death\":[{\"count\":3,\"reason\":\"rejected\",\"queue\":\"orders\"}]}", "x");
    /* a binary body and a timestamp header (type T) must survive */
    dlq_bytes_set(&m->body, "\x00\xff\x01", 3);
    amqp_field_value_t ts = {.kind = AMQP_FIELD_KIND_TIMESTAMP};
    ts.value.u64 = 1795588443;
    assert_int_equal(dlq_table_set(&m->props->headers, "x-when", ts), 0);
    dlq_decode(&d, m, false);
    char *line = dlq_export_line(&d, m);

    struct dlq_message *back;
    char *queue, err[128];
    assert_int_equal(dlq_import_line(line, &back, &queue, err, sizeof err), 0);
    assert_string_equal(queue, "amqp:orders.dlq");
    assert_int_equal(back->body.len, 3);
    assert_memory_equal(back->body.data, "\x00\xff\x01", 3);
    assert_int_equal(back->props->headers.len, m->props->headers.len);
    assert_memory_equal(back->props->headers.data, m->props->headers.data, m->props->headers.len);
    assert_true(back->props->has_delivery_mode);
    dlq_decode(&d, back, false);
    char *again = dlq_export_line(&d, back);
    assert_string_equal(line, again);
    free(again);
    free(line);
    free(queue);
    dlq_message_free(back);
    dlq_message_free(m);
}

static void export_import_stream_fields(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_STREAM, "ev:dlq", "stream:ev:dlq");
    const char *line = "{\"queue\":\"stream:ev:dlq\",\"id\":\"s1\",\"stream_id\":\"5-1\",\"fields\":"
                       "[[\"envelope\",\"{\\\"id\\\":\\\"s1\\\",\\\"type\\\":\\\"t\\\",\\\"payload\\\":{}}\"],"
                       "[\"blob\",{\"base64\":\"AP8=\"}]]}";
    struct dlq_message *m;
    char *queue, err[128];
    assert_int_equal(dlq_import_line(line, &m, &queue, err, sizeof err), 0);
    dlq_stream_pick_body(m);
    assert_int_equal(m->body_field, 0);
    assert_int_equal(m->fields[1].value.len, 2);
    dlq_decode(&d, m, false);
    assert_string_equal(m->info.id, "s1");
    assert_string_equal(m->info.original_queue, "ev");
    char *out = dlq_export_line(&d, m);
    assert_string_equal(out, line);
    free(out);
    free(queue);
    dlq_message_free(m);
    assert_int_equal(dlq_import_line("{\"queue\":\"x\"}", &m, &queue, err, sizeof err), -1);
    assert_int_equal(dlq_import_line("not json", &m, &queue, err, sizeof err), -1);
}

static void decode_x_death_and_qdeck_headers(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_AMQP, "any.dlq", "amqp:any.dlq");
    struct dlq_message *m = amqp_message(
        "{\"x-death\":[{\"count\":2,\"reason\":\"expired\",\"queue\":\"payments\",\"time\":200},"
        "{\"count\":1,\"reason\":\"rejected\",\"queue\":\"orders\",\"time\":100}]}",
        "{\"id\":\"t9\",\"type\":\"charge\",\"payload\":{},\"attempt\":4}");
    dlq_decode(&d, m, false);
    assert_string_equal(m->info.reason, "expired");
    assert_string_equal(m->info.original_queue, "payments");
    assert_int_equal(m->info.deaths, 3);
    assert_true(m->info.first_death == 100 && m->info.last_death == 200);
    assert_int_equal(m->info.attempts, 4);
    assert_string_equal(m->info.id, "t9");
    assert_string_equal(m->info.type, "charge");
    dlq_message_free(m);

    m = amqp_message("{\"x-qdeck-reason\":\"poison\",\"x-qdeck-attempts\":5,\"x-qdeck-error\":\"boom\","
                     "\"x-qdeck-original-queue\":\"jobs\",\"x-death\":[{\"count\":1,\"reason\":\"rejected\",\"queue\":\"q\"}]}",
                     "not json");
    dlq_decode(&d, m, false);
    assert_string_equal(m->info.reason, "poison");
    assert_string_equal(m->info.original_queue, "jobs");
    assert_int_equal(m->info.attempts, 5);
    assert_string_equal(m->info.last_error, "boom");
    assert_int_equal(m->info.format, ENVELOPE_TEXT);
    dlq_message_free(m);

    m = amqp_message("{\"task\":\"billing.charge\",\"id\":\"c-1\",\"retries\":2,\"argsrepr\":\"(42,)\"}",
                     "[[42], {}, {}]");
    dlq_decode(&d, m, false);
    assert_true(m->info.celery);
    assert_string_equal(m->info.type, "billing.charge");
    assert_string_equal(m->info.id, "c-1");
    assert_int_equal(m->info.celery_retries, 2);
    assert_string_equal(m->info.celery_argsrepr, "(42,)");
    assert_string_equal(m->info.original_queue, "any");
    dlq_message_free(m);
}

static void replay_changes_and_refusals(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_AMQP, "orders.dlq", "amqp:orders.dlq");
    struct dlq_message *m = amqp_message("{\"x-qdeck-attempts\":5,\"x-qdeck-replays\":1}",
                                         "{\"id\":\"t1\",\"type\":\"x\",\"payload\":{\"a\":1},\"attempt\":5}");
    dlq_decode(&d, m, false);
    char *sets[] = {"payload.a=2", "payload.b.c=\"s\"", "header:x-ticket=OPS-1"};
    struct dlq_replay rq = {.sets = sets, .nsets = 3};
    struct dlq_message *out;
    char target[64], why[256];
    assert_int_equal(dlq_prepare_replay(&d, &rq, m, &out, target, sizeof target, why, sizeof why), 0);
    assert_string_equal(target, "orders");
    cJSON *body = cJSON_ParseWithLength(out->body.data, out->body.len);
    assert_int_equal(cJSON_GetObjectItem(body, "attempt")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "payload"), "a")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "payload"), "b"), "c")->valuestring, "s");
    cJSON_Delete(body);
    cJSON *h = dlq_headers_json(out);
    assert_int_equal(cJSON_GetObjectItem(h, "x-qdeck-replays")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(h, "x-qdeck-attempts")->valueint, 0);
    assert_string_equal(cJSON_GetObjectItem(h, "x-ticket")->valuestring, "OPS-1");
    cJSON_Delete(h);
    dlq_message_free(out);

    rq.to = "orders.dlq";
    assert_int_equal(dlq_prepare_replay(&d, &rq, m, &out, target, sizeof target, why, sizeof why), 1);
    dlq_message_free(m);

    m = amqp_message(NULL, "\x01\x02 binary");
    dlq_decode(&d, m, false);
    char *bad[] = {"payload.a=1"};
    struct dlq_replay rq2 = {.sets = bad, .nsets = 1};
    assert_int_equal(dlq_prepare_replay(&d, &rq2, m, &out, target, sizeof target, why, sizeof why), -1);
    assert_non_null(strstr(why, "not JSON"));
    struct dlq_replay plain = {0};
    assert_int_equal(dlq_prepare_replay(&d, &plain, m, &out, target, sizeof target, why, sizeof why), 0);
    assert_int_equal(out->body.len, m->body.len);
    assert_memory_equal(out->body.data, m->body.data, m->body.len);   /* never rewritten */
    dlq_message_free(out);
    dlq_message_free(m);
}

static void selection(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_REDIS_LIST, "jobs:dlq", "redis:jobs:dlq");
    struct dlq_message *m = calloc(1, sizeof *m);
    m->body_field = -1;
    const char *body = "{\"id\":\"t5\",\"type\":\"Email\",\"payload\":{\"to\":\"Bob\"}}";
    dlq_bytes_set(&m->body, body, strlen(body));
    dlq_decode(&d, m, false);
    char *ids[] = {"t4", "t5"};
    struct dlq_select by_id = {.ids = ids, .nids = 2};
    assert_true(dlq_select_match(&by_id, m));
    struct dlq_select grep = {.grep = "bob"};
    assert_true(dlq_select_match(&grep, m));
    struct dlq_select miss = {.grep = "alice"};
    assert_false(dlq_select_match(&miss, m));
    struct dlq_select none = {0};
    assert_false(dlq_select_match(&none, m));
    dlq_message_free(m);
}

/* Inputs tests/fuzz/fuzz_import and fuzz_dlq_message found mishandled. */
static void import_refuses_what_it_cannot_keep(void **state)
{
    (void)state;
    struct dlq_message *m;
    char *queue, err[128] = "";
    assert_int_equal(dlq_import_line("{\"queue\":\"stream:ev:dlq\",\"properties\":{},\"body_base64\":\"e30=\","
                                     "\"fields\":[[\"task\",\"{}\"]]}", &m, &queue, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"fields\""));
    const char *bad[] = {"{\"properties\":{\"delivery_mode\":256},\"body_base64\":\"\"}",
                         "{\"properties\":{\"priority\":-1},\"body_base64\":\"\"}",
                         "{\"properties\":{\"priority\":1.5},\"body_base64\":\"\"}",
                         "{\"properties\":{\"timestamp\":1.8e88},\"body_base64\":\"\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(dlq_import_line(bad[i], &m, &queue, err, sizeof err), -1);
        assert_non_null(strstr(err, "bad property"));
    }
    assert_int_equal(dlq_import_line("{\"properties\":{\"timestamp\":18446744073709549568,\"priority\":255},"
                                     "\"body_base64\":\"\"}", &m, &queue, err, sizeof err), 0);
    assert_true(m->props->timestamp == 18446744073709549568ull && m->props->priority == 255);
    dlq_message_free(m);
}

static void replay_set_header_on_broken_table_says_why(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_AMQP, "orders.dlq", "amqp:orders.dlq");
    struct dlq_message *m = amqp_message(NULL, "{}");
    dlq_bytes_set(&m->props->headers, "\x00\x00\x01\x20garbage", 11);
    dlq_decode(&d, m, false);
    char *sets[] = {"header:x-ticket=1"};
    struct dlq_replay rq = {.to = "orders", .sets = sets, .nsets = 1};
    struct dlq_message *out;
    char target[64], why[256] = "";
    assert_int_equal(dlq_prepare_replay(&d, &rq, m, &out, target, sizeof target, why, sizeof why), -1);
    assert_non_null(strstr(why, "not a valid AMQP table"));
    dlq_message_free(m);
}

static void death_times_that_are_no_date_show_as_null(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_AMQP, "orders.dlq", "amqp:orders.dlq");
    struct dlq_message *m = amqp_message("{\"x-death\":[{\"count\":1,\"time\":1.8e109}]}", "{}");
    dlq_decode(&d, m, false);
    cJSON *j = dlq_message_json(m, false);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "last_death")));
    cJSON_Delete(j);
    dlq_message_free(m);
    char buf[32];
    format_time(1.8e109, "%Y", 1, buf, sizeof buf);
    assert_string_equal(buf, "?");
    format_time(0, "%Y", 1, buf, sizeof buf);
    assert_string_equal(buf, "1970");
    format_duration(INFINITY, buf, sizeof buf);
    assert_string_equal(buf, "?");
}

/* Found with probe inputs to fuzz_dlq_message: counts out of range were
 * cast to long (UB), and x-death counts summed without bound. */
static void counts_out_of_range_are_unknown(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_AMQP, "orders.dlq", "amqp:orders.dlq");
    struct dlq_message *m = amqp_message("{\"x-death\":[{\"count\":9e15},{\"count\":9e15},{\"count\":-4},"
                                         "{\"count\":1e300}],\"x-qdeck-replays\":1e300}",
                                         "{\"id\":\"t1\",\"type\":\"x\",\"payload\":{},\"attempt\":1e300}");
    dlq_decode(&d, m, false);
    assert_int_equal(m->info.deaths, 18000000000000002L);
    assert_int_equal(m->info.attempts, -1);
    assert_int_equal(m->info.replays, 0);
    dlq_message_free(m);
}

/* Found with a probe input to fuzz_amqp_table: with a key twice in the
 * headers, a replay set the last copy while everything reads the first, so
 * the replay counter never moved. */
static void replay_counts_with_duplicate_header_keys(void **state)
{
    (void)state;
    struct dlq d = fake_dlq(QUEUE_AMQP, "orders.dlq", "amqp:orders.dlq");
    struct dlq_message *m = amqp_message("{\"x-qdeck-replays\":1,\"x-qdeck-replays\":5}", "{}");
    dlq_decode(&d, m, false);
    assert_int_equal(m->info.replays, 1);
    struct dlq_replay rq = {.to = "orders"};
    struct dlq_message *out;
    char target[64], why[256] = "";
    assert_int_equal(dlq_prepare_replay(&d, &rq, m, &out, target, sizeof target, why, sizeof why), 0);
    dlq_decode(&d, out, false);
    assert_int_equal(out->info.replays, 2);
    dlq_message_free(out);
    dlq_message_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_round_trip),
        cmocka_unit_test(utf8_check),
        cmocka_unit_test(export_import_amqp_exact),
        cmocka_unit_test(export_import_stream_fields),
        cmocka_unit_test(decode_x_death_and_qdeck_headers),
        cmocka_unit_test(replay_changes_and_refusals),
        cmocka_unit_test(selection),
        cmocka_unit_test(import_refuses_what_it_cannot_keep),
        cmocka_unit_test(replay_set_header_on_broken_table_says_why),
        cmocka_unit_test(death_times_that_are_no_date_show_as_null),
        cmocka_unit_test(counts_out_of_range_are_unknown),
        cmocka_unit_test(replay_counts_with_duplicate_header_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
