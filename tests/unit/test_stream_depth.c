/* Stream depth for max_depth from XLEN and XINFO GROUPS replies: a group's
 * lag, the fallbacks when Redis cannot tell it (nil lag: XLEN -
 * entries-read, then XLEN), the most-behind group when none is named, and
 * the whole stream for a group not created yet. The replies are built as
 * hiredis would parse them from Redis 7.0 (RESP2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "broker/stream-depth.h"

#define MAX_NODES 64

/* A tiny arena of reply nodes, reset per test. */
static redisReply nodes[MAX_NODES];
static redisReply *children[MAX_NODES][12];
static size_t used;

static redisReply *node(int type)
{
    assert_true(used < MAX_NODES);
    redisReply *r = &nodes[used];
    *r = (redisReply){.type = type, .element = children[used]};
    used++;
    return r;
}

static redisReply *integer(long long v)
{
    redisReply *r = node(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
}

static redisReply *string(const char *s)
{
    redisReply *r = node(REDIS_REPLY_STRING);
    r->str = (char *)s;
    r->len = strlen(s);
    return r;
}

static void push(redisReply *array, redisReply *item)
{
    assert_true(array->elements < 12);
    array->element[array->elements++] = item;
}

/* One XINFO GROUPS entry; entries_read / lag < 0 stand for nil. */
static redisReply *group(const char *name, long long entries_read, long long lag)
{
    redisReply *g = node(REDIS_REPLY_ARRAY);
    push(g, string("name"));
    push(g, string(name));
    push(g, string("consumers"));
    push(g, integer(1));
    push(g, string("pending"));
    push(g, integer(0));
    push(g, string("last-delivered-id"));
    push(g, string("1-0"));
    push(g, string("entries-read"));
    push(g, entries_read < 0 ? node(REDIS_REPLY_NIL) : integer(entries_read));
    push(g, string("lag"));
    push(g, lag < 0 ? node(REDIS_REPLY_NIL) : integer(lag));
    return g;
}

static int reset(void **state)
{
    (void)state;
    used = 0;
    return 0;
}

static void lag_of_the_named_group(void **state)
{
    (void)state;
    redisReply *groups = node(REDIS_REPLY_ARRAY);
    push(groups, group("a", 50, 0));
    push(groups, group("b", 20, 30));
    assert_int_equal(stream_depth_from_replies(integer(50), groups, "a"), 0);
    assert_int_equal(stream_depth_from_replies(integer(50), groups, "b"), 30);
}

static void nil_lag_falls_back_to_xlen_minus_entries_read(void **state)
{
    (void)state;
    redisReply *groups = node(REDIS_REPLY_ARRAY);
    push(groups, group("g", 85, -1));
    assert_int_equal(stream_depth_from_replies(integer(94), groups, "g"), 9);
    /* trimmed below what the group read: not negative */
    assert_int_equal(stream_depth_from_replies(integer(40), groups, "g"), 0);
}

static void nil_lag_and_entries_read_fall_back_to_xlen(void **state)
{
    (void)state;
    redisReply *groups = node(REDIS_REPLY_ARRAY);
    push(groups, group("g", -1, -1));
    assert_int_equal(stream_depth_from_replies(integer(77), groups, "g"), 77);
}

static void no_group_named_takes_the_most_behind(void **state)
{
    (void)state;
    redisReply *groups = node(REDIS_REPLY_ARRAY);
    push(groups, group("a", 50, 3));
    push(groups, group("b", 10, 40));
    push(groups, group("c", 45, 5));
    assert_int_equal(stream_depth_from_replies(integer(50), groups, NULL), 40);
}

static void without_groups_the_whole_stream_waits(void **state)
{
    (void)state;
    redisReply *empty = node(REDIS_REPLY_ARRAY);
    assert_int_equal(stream_depth_from_replies(integer(12), empty, NULL), 12);
    redisReply *groups = node(REDIS_REPLY_ARRAY);
    push(groups, group("other", 12, 0));
    assert_int_equal(stream_depth_from_replies(integer(12), groups, "g"), 12);   /* g would be created at 0 */
}

static void missing_key_and_bad_replies(void **state)
{
    (void)state;
    redisReply *nokey = node(REDIS_REPLY_ERROR);
    nokey->str = (char *)"ERR no such key";
    nokey->len = strlen(nokey->str);
    assert_int_equal(stream_depth_from_replies(integer(0), nokey, "g"), 0);
    assert_int_equal(stream_depth_from_replies(nokey, nokey, "g"), -1);
    assert_int_equal(stream_depth_from_replies(NULL, NULL, "g"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(lag_of_the_named_group, reset),
        cmocka_unit_test_setup(nil_lag_falls_back_to_xlen_minus_entries_read, reset),
        cmocka_unit_test_setup(nil_lag_and_entries_read_fall_back_to_xlen, reset),
        cmocka_unit_test_setup(no_group_named_takes_the_most_behind, reset),
        cmocka_unit_test_setup(without_groups_the_whole_stream_waits, reset),
        cmocka_unit_test_setup(missing_key_and_bad_replies, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
