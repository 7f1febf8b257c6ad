/* Config parsing: the option table, contexts, errors with file:line: key,
 * and the precedence flags > environment > file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

static char *write_temp(const char *text, mode_t mode)
{
    char *path = strdup("/tmp/qdeck-test-config.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
    return path;
}

static void contexts_and_defaults(void **state)
{
    (void)state;
    char *path = write_temp("[qdeck]\ncontext = prod\nrefresh = 2.5\n"
                            "[context prod]\namqp = amqp://u:p@rabbit:5672/%2F\nredis = redis://r:6379/1\n"
                            "read_only = yes\n"
                            "[context staging]\nredis = redis://s\nredis_keys = jobs:*, celery\n", 0600);
    struct config cfg;
    char err[512];
    struct config_overrides ov = {.config_path = path};
    unsetenv("QDECK_AMQP_URL");
    unsetenv("QDECK_MGMT_URL");
    unsetenv("QDECK_REDIS_URL");
    unsetenv("QDECK_CONTEXT");
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.ncontexts, 2);
    assert_true(cfg.refresh == 2.5);
    const struct context_config *c = config_active_context(&cfg);
    assert_string_equal(c->name, "prod");
    assert_true(c->read_only);
    assert_string_equal(c->redis_keys, "*");
    assert_int_equal(c->redis_scan_cap, 10000);
    assert_int_equal(c->redis_scan_rate, 2000);          /* the discovery budget */
    assert_true(c->mgmt_interval == 5);                 /* RabbitMQ's default collect_statistics_interval */
    assert_string_equal(cfg.contexts[1].redis_keys, "jobs:*, celery");
    assert_false(cfg.contexts[1].read_only);
    config_free(&cfg);
    unlink(path);
    free(path);
}

static void unknown_key_names_file_line_key(void **state)
{
    (void)state;
    char *path = write_temp("[context a]\nredis = redis://x\n\nreddis = redis://typo\n", 0600);
    struct config cfg;
    char err[512], want[600];
    config_defaults(&cfg);
    assert_int_equal(config_parse_file(path, &cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:4: unknown key 'reddis' in [context a]", path);
    assert_string_equal(err, want);
    config_free(&cfg);
    unlink(path);
    free(path);
}

static void unknown_section_and_bad_value(void **state)
{
    (void)state;
    char *path = write_temp("[qdeck]\nrefresh = fast\n", 0600);
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    assert_int_equal(config_parse_file(path, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: refresh: 'fast' is not a number"));
    config_free(&cfg);
    unlink(path);
    free(path);

    path = write_temp("[contxt a]\nredis = redis://x\n", 0600);
    config_defaults(&cfg);
    assert_int_equal(config_parse_file(path, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: unknown section [contxt a]"));
    config_free(&cfg);
    unlink(path);
    free(path);
}

static void duplicate_context_refused(void **state)
{
    (void)state;
    char *path = write_temp("[context a]\nredis = redis://x\n[qdeck]\ntheme = light\n[context a]\nredis = redis://y\n", 0600);
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    assert_int_equal(config_parse_file(path, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, ":6: context 'a' is defined twice"));
    config_free(&cfg);
    unlink(path);
    free(path);
}

static void flags_beat_environment_beat_file(void **state)
{
    (void)state;
    char *path = write_temp("[context only]\nredis = redis://file\n", 0600);
    struct config cfg;
    char err[512];
    setenv("QDECK_REDIS_URL", "redis://env", 1);
    struct config_overrides ov = {.config_path = path};
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), 0);
    assert_string_equal(config_active_context(&cfg)->redis, "redis://env");
    config_free(&cfg);
    ov.redis = "redis://flag";
    ov.read_only = true;
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), 0);
    assert_string_equal(config_active_context(&cfg)->redis, "redis://flag");
    assert_true(config_active_context(&cfg)->read_only);
    config_free(&cfg);
    unsetenv("QDECK_REDIS_URL");
    unlink(path);
    free(path);
}

static void missing_context_is_an_error(void **state)
{
    (void)state;
    char *path = write_temp("[context a]\nredis = redis://x\n", 0600);
    struct config cfg;
    char err[512];
    struct config_overrides ov = {.config_path = path, .context = "b"};
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "no context 'b'"));
    config_free(&cfg);
    unlink(path);
    free(path);
}

static void world_readable_secrets_warn(void **state)
{
    (void)state;
    char *path = write_temp("[context a]\namqp = amqp://u:secret@h/\n", 0644);
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    assert_int_equal(config_parse_file(path, &cfg, err, sizeof err), 0);
    char *w = config_permission_warning(path, &cfg);
    assert_non_null(w);
    assert_non_null(strstr(w, "chmod 600"));
    assert_null(strstr(w, "secret"));
    free(w);
    chmod(path, 0600);
    assert_null(config_permission_warning(path, &cfg));
    config_free(&cfg);
    unlink(path);
    free(path);
}

static void split_list_trims(void **state)
{
    (void)state;
    char **items;
    size_t n = split_list(" a, b ,,c ", &items);
    assert_int_equal(n, 3);
    assert_string_equal(items[0], "a");
    assert_string_equal(items[1], "b");
    assert_string_equal(items[2], "c");
    free_list(items, n);
}

static void parses_worker_sections_from_a_string(void **state)
{
    (void)state;
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    const char *text = "[worker]\nqueues = redis:a, amqp:b\nconcurrency = 16\n"
                       "[task llm.summarize]\nhandler = http\nargs = url=http://127.0.0.1:1/llm\ntimeout = 2.5\n"
                       "[dependency llm-api]\nfailure_rate = 40\nwindow_type = time\n"
                       "[schedule nightly]\ncron = 0 3 * * *\naction = trim\n"
                       "[alerts]\ndepth = 1000\nbell = true\n";
    assert_int_equal(config_parse_string(text, "demo", &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.worker.queues, "redis:a, amqp:b");
    assert_int_equal(cfg.worker.concurrency, 16);
    assert_int_equal(cfg.worker.max_attempts, 5);            /* default kept */
    const struct task_config *t = config_task(&cfg, "llm.summarize");
    assert_non_null(t);
    assert_string_equal(t->handler, "http");
    assert_true(t->timeout == 2.5);
    assert_int_equal(t->priority, 5);                         /* default */
    const struct dependency_config *d = config_dependency(&cfg, "llm-api");
    assert_non_null(d);
    assert_true(d->failure_rate == 40);
    assert_string_equal(d->window_type, "time");
    assert_int_equal(d->minimum_calls, 20);
    assert_non_null(config_schedule(&cfg, "nightly"));
    assert_null(config_schedule(&cfg, "hourly"));
    assert_int_equal(cfg.alerts.depth, 1000);
    assert_true(cfg.alerts.bell);
    config_free(&cfg);

    config_defaults(&cfg);
    assert_int_equal(config_parse_string("[task x]\ntimeot = 3\n", "demo", &cfg, err, sizeof err), -1);
    assert_string_equal(err, "demo:2: unknown key 'timeot' in [task x]");
    config_free(&cfg);
    config_defaults(&cfg);
    assert_int_equal(config_parse_string("[task x]\nhandler = a\n[worker]\nconcurrency = 2\n[task x]\nhandler = y\n",
                                         "demo", &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "task 'x' is defined twice"));
    config_free(&cfg);
}

/* tls_* keys per context; --tls-* flags beat QDECK_TLS_* beat the file;
 * tls_verify is on unless turned off; a bad boolean names where it came from. */
static void tls_keys_and_their_overrides(void **state)
{
    (void)state;
    char *path = write_temp("[context a]\namqp = amqps://u:p@rabbit:5671/%2F\ntls_ca = /file/ca.pem\n"
                            "tls_cert = /file/c.pem\ntls_key = /file/c.key\n"
                            "[context b]\namqp = amqps://rabbit-b\n", 0600);
    struct config cfg;
    char err[512];
    struct config_overrides ov = {.config_path = path, .context = "a"};
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), 0);
    const struct context_config *a = config_active_context(&cfg);
    assert_string_equal(a->tls.ca, "/file/ca.pem");
    assert_string_equal(a->tls.cert, "/file/c.pem");
    assert_string_equal(a->tls.key, "/file/c.key");
    assert_true(a->tls.verify);
    assert_null(cfg.contexts[1].tls.ca);
    assert_true(cfg.contexts[1].tls.verify);
    struct context_config copy;
    config_context_copy(&copy, a);
    assert_string_equal(copy.name, "a");
    assert_string_equal(copy.amqp, a->amqp);
    assert_ptr_not_equal(copy.tls.key, a->tls.key);
    assert_string_equal(copy.tls.key, "/file/c.key");
    assert_true(copy.tls.verify);
    config_context_free(&copy);
    config_free(&cfg);

    setenv("QDECK_TLS_CA", "/env/ca.pem", 1);
    setenv("QDECK_TLS_VERIFY", "false", 1);
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), 0);
    assert_string_equal(config_active_context(&cfg)->tls.ca, "/env/ca.pem");
    assert_false(config_active_context(&cfg)->tls.verify);
    config_free(&cfg);

    ov.tls_ca = "/flag/ca.pem";
    ov.tls_verify = "yes";
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), 0);
    assert_string_equal(config_active_context(&cfg)->tls.ca, "/flag/ca.pem");
    assert_true(config_active_context(&cfg)->tls.verify);
    assert_string_equal(config_active_context(&cfg)->tls.key, "/file/c.key");
    config_free(&cfg);

    ov.tls_verify = "maybe";
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), -1);
    assert_string_equal(err, "--tls-verify: 'maybe' is not a boolean (true/false)");
    config_free(&cfg);
    ov.tls_verify = NULL;
    setenv("QDECK_TLS_VERIFY", "nope", 1);
    assert_int_equal(config_load(&ov, &cfg, err, sizeof err), -1);
    assert_string_equal(err, "QDECK_TLS_VERIFY: 'nope' is not a boolean (true/false)");
    config_free(&cfg);
    unsetenv("QDECK_TLS_CA");
    unsetenv("QDECK_TLS_VERIFY");
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_worker_sections_from_a_string),
        cmocka_unit_test(contexts_and_defaults),
        cmocka_unit_test(unknown_key_names_file_line_key),
        cmocka_unit_test(unknown_section_and_bad_value),
        cmocka_unit_test(duplicate_context_refused),
        cmocka_unit_test(flags_beat_environment_beat_file),
        cmocka_unit_test(missing_context_is_an_error),
        cmocka_unit_test(world_readable_secrets_warn),
        cmocka_unit_test(split_list_trims),
        cmocka_unit_test(tls_keys_and_their_overrides),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
