/* Broker URL parsing and redaction: passwords never survive redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/url.h"

static void amqp_url_parts(void **state)
{
    (void)state;
    struct broker_url u;
    char err[256];
    assert_int_equal(broker_url_parse("amqp://guest:se%40cret@127.0.0.1:5673/%2F", &u, err, sizeof err), 0);
    assert_string_equal(u.scheme, "amqp");
    assert_string_equal(u.user, "guest");
    assert_string_equal(u.password, "se@cret");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 5673);
    assert_string_equal(u.path, "/");
    assert_null(strstr(u.redacted, "cret"));
    assert_string_equal(u.redacted, "amqp://guest:***@127.0.0.1:5673/%2F");
    broker_url_free(&u);
}

static void default_ports(void **state)
{
    (void)state;
    struct broker_url u;
    char err[256];
    assert_int_equal(broker_url_parse("amqps://h/", &u, err, sizeof err), 0);
    assert_int_equal(u.port, 5671);
    broker_url_free(&u);
    assert_int_equal(broker_url_parse("redis://h", &u, err, sizeof err), 0);
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    broker_url_free(&u);
}

static void redis_db_and_password(void **state)
{
    (void)state;
    struct broker_url u;
    char err[256];
    assert_int_equal(broker_url_parse("redis://:pw@localhost:6390/3", &u, err, sizeof err), 0);
    assert_int_equal(u.db, 3);
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.redacted, "redis://:***@localhost:6390/3");
    broker_url_free(&u);
    assert_int_equal(broker_url_parse("redis://localhost/notanumber", &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "notanumber"));
}

static void unix_socket(void **state)
{
    (void)state;
    struct broker_url u;
    char err[256];
    assert_int_equal(broker_url_parse("unix:///tmp/x y/redis.sock?db=2", &u, err, sizeof err), 0);
    assert_string_equal(u.scheme, "unix");
    assert_string_equal(u.path, "/tmp/x y/redis.sock");
    assert_int_equal(u.db, 2);
    broker_url_free(&u);
    assert_int_equal(broker_url_parse("unix://relative.sock", &u, err, sizeof err), -1);
}

static void redact_never_leaks(void **state)
{
    (void)state;
    char *r = url_redact("http://admin:hunter2@mgmt.example:15672/");
    assert_null(strstr(r, "hunter2"));
    assert_non_null(strstr(r, "admin:***@"));
    free(r);
    r = url_redact("::not a url hunter2");
    assert_null(strstr(r, "hunter2"));
    free(r);
    r = url_redact("http://host:15672/");
    assert_string_equal(r, "http://host:15672/");
    free(r);
}

static void escape_path_segment(void **state)
{
    (void)state;
    char *e = url_escape("/");
    assert_string_equal(e, "%2F");
    free(e);
    e = url_escape("a b");
    assert_string_equal(e, "a%20b");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(amqp_url_parts),
        cmocka_unit_test(default_ports),
        cmocka_unit_test(redis_db_and_password),
        cmocka_unit_test(unix_socket),
        cmocka_unit_test(redact_never_leaks),
        cmocka_unit_test(escape_path_segment),
    };
    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
