/* The local audit file: one JSON object per action, every field present,
 * appended, never rewritten. (The qdeck:audit stream half is exercised by
 * the integration tests of the commands that record actions.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "control/audit.h"

static char *read_line(FILE *f)
{
    static char line[4096];
    return fgets(line, sizeof line, f) ? line : NULL;
}

static void appends_one_record_per_action(void **state)
{
    (void)state;
    char dir[] = "/tmp/qdeck-audit-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct config cfg;
    config_defaults(&cfg);
    free(cfg.audit_log);
    cfg.audit_log = NULL;
    char path[256];
    snprintf(path, sizeof path, "%s/nested/audit.jsonl", dir);
    cfg.audit_log = strdup(path);

    char err[256];
    struct audit_entry set = {"policy.set", "shed.priority_below", "off", "3", "ok"};
    struct audit_entry purge = {"dlq.purge", "amqp:orders.dlq", NULL, NULL, "purged 12"};
    assert_int_equal(audit_record(&cfg, "prod", NULL, &set, err, sizeof err), 0);
    assert_int_equal(audit_record(&cfg, "prod", NULL, &purge, err, sizeof err), 0);

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    cJSON *first = cJSON_Parse(read_line(f));
    cJSON *second = cJSON_Parse(read_line(f));
    assert_null(read_line(f));
    fclose(f);
    assert_non_null(first);
    assert_non_null(second);
    const char *keys[] = {"time", "user", "host", "context", "action", "target", "old", "new", "result"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_non_null(cJSON_GetObjectItemCaseSensitive(first, keys[i]));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(second, keys[i]));
    }
    assert_string_equal(cJSON_GetObjectItem(first, "action")->valuestring, "policy.set");
    assert_string_equal(cJSON_GetObjectItem(first, "old")->valuestring, "off");
    assert_string_equal(cJSON_GetObjectItem(first, "new")->valuestring, "3");
    assert_string_equal(cJSON_GetObjectItem(first, "context")->valuestring, "prod");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(second, "old")));
    assert_string_equal(cJSON_GetObjectItem(second, "result")->valuestring, "purged 12");
    cJSON_Delete(first);
    cJSON_Delete(second);

    unlink(path);
    snprintf(path, sizeof path, "%s/nested", dir);
    rmdir(path);
    rmdir(dir);
    config_free(&cfg);
}

static void reports_an_unwritable_file(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    free(cfg.audit_log);
    cfg.audit_log = strdup("/proc/qdeck-no-such-dir/audit.jsonl");
    char err[256];
    struct audit_entry e = {"breaker.open", "llm-api", "CLOSED", "FORCED_OPEN", "ok"};
    assert_int_equal(audit_record(&cfg, "prod", NULL, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "audit log /proc/qdeck-no-such-dir/audit.jsonl"));
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_one_record_per_action),
        cmocka_unit_test(reports_an_unwritable_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
