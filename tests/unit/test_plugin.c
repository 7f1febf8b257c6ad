/* Handler plugins, loaded for real from the build directory through
 * src/worker/plugin.c: the loader's refusals (fixtures in tests/plugins/),
 * and the shipped plugins doing their job: sleep (and its cancel latency),
 * fail (rates, determinism, overrides), exec (real child processes: results,
 * exit codes, signals, timeouts that kill the whole process group, no
 * zombies) and http (against a libmicrohttpd server started here on an
 * ephemeral loopback port: statuses, timeouts, cancel, destroy with calls in
 * flight, and 500 concurrent calls each answered after 200 ms).
 *
 * The plugin directories are found from /proc/self/exe: BUILD/tests/test_plugin
 * loads BUILD/plugins/ and BUILD/tests/plugins/ (build/ or build-san/).
 *
 * The test process makes itself a child subreaper, so a grandchild orphaned
 * by an exec task is re-parented here and its fate (killed by SIGKILL) can be
 * read with waitpid instead of guessed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker/plugin.h"

static char build_dir[PATH_MAX];
static char plugin_dir[PATH_MAX + 16];
static char fixture_dir[PATH_MAX + 32];
static char scratch[64];   /* temp dir for exec's scripts */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* BUILD from BUILD/tests/test_plugin. */
static int find_dirs(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return -1;
        *slash = '\0';
    }
    snprintf(build_dir, sizeof build_dir, "%s", exe);
    snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins", build_dir);
    snprintf(fixture_dir, sizeof fixture_dir, "%s/tests/plugins", build_dir);
    return 0;
}

static struct plugin *must_load(const char *dir, const char *name)
{
    char err[512] = "";
    struct plugin *p = plugin_load(dir, name, err, sizeof err);
    if (!p)
        fail_msg("loading %s from %s: %s (run `make plugins`?)", name, dir, err);
    return p;
}

static void *must_create(struct plugin *p, const char *args)
{
    char err[512] = "";
    void *inst = p->api->create(args, err, sizeof err);
    if (!inst)
        fail_msg("%s create(\"%s\"): %s", p->name, args, err);
    return inst;
}

static struct qdeck_task make_task(const char *id, const char *payload, const atomic_int *cancelled)
{
    return (struct qdeck_task){.id = id, .type = "t", .payload = payload, .payload_len = strlen(payload),
                               .attempt = 1, .max_attempts = 5, .max_response_tokens = -1,
                               .cancelled = cancelled};
}

/* ------------------------------------------------------------ the loader */

static void expect_refusal(const char *dir, const char *name, const char *reason)
{
    char err[512] = "";
    struct plugin *p = plugin_load(dir, name, err, sizeof err);
    assert_null(p);
    if (!strstr(err, reason))
        fail_msg("refusal of %s: wanted '%s' in: %s", name, reason, err);
    assert_non_null(strstr(err, name));
}

static void loader_refuses_broken_plugins(void **state)
{
    (void)state;
    expect_refusal(fixture_dir, "wrong-abi", "built for plugin ABI 999, this qdeck speaks 3 (and loads 1 to 3)");
    expect_refusal(fixture_dir, "no-entry", "has no entry symbol qdeck_plugin_entry");
    expect_refusal(fixture_dir, "null-entry", "entry returned NULL");
    expect_refusal(fixture_dir, "too-small", "declares size 16, smaller than");
    expect_refusal(fixture_dir, "not-there", "cannot load");
    expect_refusal(fixture_dir, "../plugins/noop", "is not a plain name");
}

static void loader_reports_failing_create(void **state)
{
    (void)state;
    struct plugin *p = must_load(fixture_dir, "init-fails");
    char err[256] = "";
    assert_null(p->api->create("region=eu", err, sizeof err));
    assert_string_equal(err, "init-fails: cannot reach the licence server (args 'region=eu')");
    plugin_unload(p);
}

/* A plugin built for ABI 1 (tests/plugins/old-abi.c: cancelled was a
 * `const volatile int *`) still loads, runs, and sees the atomic flag. */
static void loader_still_runs_abi_1_plugins(void **state)
{
    (void)state;
    struct plugin *p = must_load(fixture_dir, "old-abi");
    assert_int_equal(p->api->abi, 1);
    void *inst = must_create(p, "");
    atomic_int cancelled = 0;
    struct qdeck_task t = make_task("old-1", "{}", &cancelled);
    struct qdeck_result res = {.outcome = QDECK_FAIL};
    p->api->run(inst, &t, &res);
    assert_int_equal(res.outcome, QDECK_OK);
    assert_non_null(res.result);
    assert_string_equal(res.result, "\"old-1\"");
    free(res.result);
    atomic_store(&cancelled, 1);
    res = (struct qdeck_result){.outcome = QDECK_OK};
    p->api->run(inst, &t, &res);
    assert_int_equal(res.outcome, QDECK_RETRY);
    assert_string_equal(res.error, "old-abi: cancelled");
    plugin_unload(p);
}

static void every_shipped_plugin_loads(void **state)
{
    (void)state;
    const char *names[] = {"noop", "sleep", "fail", "exec", "http"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct plugin *p = must_load(plugin_dir, names[i]);
        assert_string_equal(p->api->name, names[i]);
        assert_int_equal(p->api->abi, QDECK_PLUGIN_ABI);
        /* exactly one of the two calling conventions */
        assert_true((p->api->run != NULL) != (p->api->submit != NULL));
        plugin_unload(p);
    }
}

/* ----------------------------------------------------------------- sleep */

struct canceller {
    atomic_int *flag;
    long after_ms;
    const char *after_file;   /* first wait for this file to exist, or NULL */
    double fired_at;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    for (int i = 0; c->after_file && i < 1000 && access(c->after_file, F_OK) != 0; i++)
        sleep_ms(10);
    sleep_ms(c->after_ms);
    c->fired_at = now();
    atomic_store(c->flag, 1);
    return NULL;
}

static void sleep_waits_and_honours_cancel(void **state)
{
    (void)state;
    struct plugin *p = must_load(plugin_dir, "sleep");
    char err[256] = "";
    assert_null(p->api->create("ms=soon", err, sizeof err));
    assert_non_null(strstr(err, "ms='soon'"));
    void *inst = must_create(p, "ms=60");
    atomic_int cancelled = 0;

    struct qdeck_task t = make_task("s1", "{}", &cancelled);
    struct qdeck_result res = {.outcome = QDECK_FAIL};
    double t0 = now();
    p->api->run(inst, &t, &res);
    double took = now() - t0;
    assert_int_equal(res.outcome, QDECK_OK);
    assert_true(took >= 0.060 && took < 1.0);

    t = make_task("s2", "{\"ms\": 10}", &cancelled);  /* the payload wins */
    t0 = now();
    p->api->run(inst, &t, &res);
    took = now() - t0;
    assert_int_equal(res.outcome, QDECK_OK);
    assert_true(took >= 0.010 && took < 0.055);

    t = make_task("s3", "{\"ms\": 10000}", &cancelled);
    struct canceller c = {.flag = &cancelled, .after_ms = 50};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &c);
    res = (struct qdeck_result){.outcome = QDECK_OK};
    p->api->run(inst, &t, &res);
    double late = now() - c.fired_at;
    pthread_join(th, NULL);
    assert_int_equal(res.outcome, QDECK_RETRY);
    assert_non_null(strstr(res.error, "cancelled"));
    if (late > 0.050)   /* 5 ms slices; generous for a loaded, sanitized run */
        fail_msg("sleep noticed the cancel after %.1f ms", late * 1000);
    p->api->destroy(inst);
    plugin_unload(p);
}

/* ------------------------------------------------------------------ fail */

static enum qdeck_outcome fail_once(struct plugin *p, void *inst, const char *id, int attempt, const char *payload)
{
    struct qdeck_task t = make_task(id, payload, NULL);
    t.attempt = attempt;
    struct qdeck_result res = {.outcome = QDECK_OK};
    p->api->run(inst, &t, &res);
    if (res.outcome != QDECK_OK)
        assert_non_null(strstr(res.error, "fail:"));
    return res.outcome;
}

static void fail_rate_is_deterministic_with_a_seed(void **state)
{
    (void)state;
    struct plugin *p = must_load(plugin_dir, "fail");
    void *a = must_create(p, "rate=0.3,seed=42");
    void *b = must_create(p, "seed=42, rate=0.3");
    void *other = must_create(p, "rate=0.3,seed=43");
    int failed = 0, differs = 0;
    char id[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "task-%d", i);
        enum qdeck_outcome oa = fail_once(p, a, id, 1, "{}");
        assert_int_equal(oa, fail_once(p, b, id, 1, "{}"));
        assert_true(oa == QDECK_OK || oa == QDECK_RETRY);
        failed += oa == QDECK_RETRY;
        differs += oa != fail_once(p, other, id, 1, "{}");
    }
    /* 30 % of 2,000 = 600, sd ~20 */
    if (failed < 500 || failed > 700)
        fail_msg("rate=0.3 failed %d of 2000", failed);
    assert_true(differs > 200);   /* another seed, other draws */
    /* a retry of the same task draws again */
    int changed = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "task-%d", i);
        changed += fail_once(p, a, id, 1, "{}") != fail_once(p, a, id, 2, "{}");
    }
    assert_true(changed > 20);
    p->api->destroy(a);
    p->api->destroy(b);
    p->api->destroy(other);
    plugin_unload(p);
}

static void fail_always_and_payload_overrides(void **state)
{
    (void)state;
    struct plugin *p = must_load(plugin_dir, "fail");
    char err[256] = "";
    assert_null(p->api->create("rate=1.5", err, sizeof err));
    assert_non_null(strstr(err, "rate='1.5'"));
    void *always = must_create(p, "always=true");
    void *perm = must_create(p, "permanent=true");
    void *never = must_create(p, "");
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        assert_int_equal(fail_once(p, always, id, 1, "{}"), QDECK_FAIL);
        assert_int_equal(fail_once(p, perm, id, 1, "{}"), QDECK_FAIL);
        assert_int_equal(fail_once(p, never, id, 1, "{}"), QDECK_OK);
    }
    assert_int_equal(fail_once(p, never, "y", 1, "{\"fail\": true}"), QDECK_FAIL);
    assert_int_equal(fail_once(p, never, "y", 1, "{\"fail\": \"retry\"}"), QDECK_RETRY);
    assert_int_equal(fail_once(p, always, "y", 1, "{\"fail\": false}"), QDECK_OK);
    assert_int_equal(fail_once(p, always, "y", 1, "not json"), QDECK_FAIL);
    p->api->destroy(always);
    p->api->destroy(perm);
    p->api->destroy(never);
    plugin_unload(p);
}

/* ------------------------------------------------------------------ exec */

static char *script(const char *name, const char *body)
{
    char *path = malloc(strlen(scratch) + strlen(name) + 2);
    sprintf(path, "%s/%s", scratch, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
    return path;
}

struct exec_case {
    struct qdeck_result res;
    double took;
};

static struct exec_case exec_once(struct plugin *p, const char *args, const char *payload, const atomic_int *cancelled)
{
    void *inst = must_create(p, args);
    struct qdeck_task t = make_task("exec-42", payload, cancelled);
    struct exec_case c = {.res = {.outcome = QDECK_FAIL}};
    double t0 = now();
    p->api->run(inst, &t, &c.res);
    c.took = now() - t0;
    p->api->destroy(inst);
    return c;
}

/* Zombie children of this process (the plugin's own children would be
 * here if it forgot to reap one). */
static int count_zombie_children(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], line[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(line, sizeof line, f)) {
            char *rp = strrchr(line, ')');
            char st;
            int ppid;
            if (rp && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == getpid() && st == 'Z')
                n++;
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

static void exec_results_and_exit_codes(void **state)
{
    (void)state;
    struct plugin *p = must_load(plugin_dir, "exec");
    char args[600];
    char err[512] = "";
    assert_null(p->api->create("timeout=5", err, sizeof err));
    assert_non_null(strstr(err, "cmd="));
    assert_null(p->api->create("cmd=bin/true", err, sizeof err));
    assert_non_null(strstr(err, "absolute path"));
    assert_null(p->api->create("cmd=/nonexistent/prog", err, sizeof err));
    assert_non_null(strstr(err, "not executable"));

    char *cat = script("cat.sh", "exec cat");
    snprintf(args, sizeof args, "cmd=%s", cat);
    struct exec_case c = exec_once(p, args, "{\"a\": [1, 2], \"b\": \"x\"}", NULL);
    assert_int_equal(c.res.outcome, QDECK_OK);
    assert_string_equal(c.res.result, "{\"a\":[1,2],\"b\":\"x\"}");
    free(c.res.result);

    char *text = script("text.sh", "echo \"hello $QDECK_TASK_ID attempt $QDECK_ATTEMPT\"");
    snprintf(args, sizeof args, "cmd=%s", text);
    c = exec_once(p, args, "{}", NULL);
    assert_int_equal(c.res.outcome, QDECK_OK);
    assert_string_equal(c.res.result, "\"hello exec-42 attempt 1\"");
    free(c.res.result);

    char *words = script("words.sh", "echo \"[\\\"$1\\\",\\\"$2\\\"]\"");
    snprintf(args, sizeof args, "cmd=%s one two", words);
    c = exec_once(p, args, "{}", NULL);
    assert_int_equal(c.res.outcome, QDECK_OK);
    assert_string_equal(c.res.result, "[\"one\",\"two\"]");
    free(c.res.result);

    char *boom = script("boom.sh", "echo partial; echo 'first line' >&2; echo 'boom: disk on fire' >&2; exit 1");
    snprintf(args, sizeof args, "cmd=%s", boom);
    c = exec_once(p, args, "{}", NULL);
    assert_int_equal(c.res.outcome, QDECK_RETRY);
    assert_null(c.res.result);
    assert_non_null(strstr(c.res.error, "exit 1: "));
    assert_non_null(strstr(c.res.error, "boom: disk on fire"));

    char *perm = script("perm.sh", "echo 'bad input' >&2; exit 3");
    snprintf(args, sizeof args, "cmd=%s", perm);
    c = exec_once(p, args, "{}", NULL);
    assert_int_equal(c.res.outcome, QDECK_FAIL);
    assert_non_null(strstr(c.res.error, "exit 3 (permanent failure): bad input"));

    char *crash = script("crash.sh", "kill -SEGV $$");
    snprintf(args, sizeof args, "cmd=%s", crash);
    c = exec_once(p, args, "{}", NULL);
    assert_int_equal(c.res.outcome, QDECK_RETRY);
    assert_non_null(strstr(c.res.error, "killed by signal 11"));

    /* a child that never reads a 2 MB payload: EPIPE, not SIGPIPE here */
    size_t big = 2u << 20;
    char *payload = malloc(big + 3);
    payload[0] = '"';
    memset(payload + 1, 'x', big);
    payload[big + 1] = '"';
    payload[big + 2] = '\0';
    char *deaf = script("deaf.sh", "echo '{\"ok\":true}'");
    snprintf(args, sizeof args, "cmd=%s", deaf);
    c = exec_once(p, args, payload, NULL);
    assert_int_equal(c.res.outcome, QDECK_OK);
    assert_string_equal(c.res.result, "{\"ok\":true}");
    free(c.res.result);
    /* and one that reads it all */
    snprintf(args, sizeof args, "cmd=%s", cat);
    c = exec_once(p, args, payload, NULL);
    assert_int_equal(c.res.outcome, QDECK_OK);
    assert_int_equal(strlen(c.res.result), big + 2);
    free(c.res.result);
    free(payload);

    assert_int_equal(count_zombie_children(), 0);
    free(cat), free(text), free(words), free(boom), free(perm), free(crash), free(deaf);
    plugin_unload(p);
}

static pid_t read_pid_file(const char *path)
{
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(path, "r");
        int pid = 0;
        if (f) {
            int ok = fscanf(f, "%d", &pid);
            fclose(f);
            if (ok == 1 && pid > 0)
                return pid;
        }
        sleep_ms(10);
    }
    return -1;
}

/* The grandchild must be gone: not running, not a zombie. Usually it was
 * re-parented to us (subreaper) and we reap it here and see it died of
 * SIGKILL; but when it died first, its own shell may have reaped it in the
 * instant before the shell's SIGKILL took effect (a wait4 in progress
 * returns a zombie before a pending signal is acted on), and then it is
 * simply gone from /proc. Still running after 2 s is the failure. */
static void expect_killed_grandchild(pid_t gpid, const char *stage)
{
    assert_true(gpid > 0);
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/stat", gpid);
    for (int i = 0; i < 200; i++) {
        int st = 0;
        pid_t w = waitpid(gpid, &st, WNOHANG);
        if (w == gpid) {
            if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
                fail_msg("%s: grandchild %d ended with status 0x%x, not SIGKILL", stage, gpid, st);
            return;
        }
        if (w < 0 && errno == ECHILD && access(path, F_OK) != 0)
            return;   /* reaped by its own parent, after it was killed */
        sleep_ms(10);
    }
    FILE *f = fopen(path, "r");
    if (!f || !fgets(line, sizeof line, f))
        snprintf(line, sizeof line, "(unreadable)");
    if (f)
        fclose(f);
    fail_msg("%s: grandchild %d still there 2 s after the task ended: %s", stage, gpid, line);
}

static void exec_timeout_kills_the_process_group(void **state)
{
    (void)state;
    struct plugin *p = must_load(plugin_dir, "exec");
    char args[600], body[600], pidfile[200];
    snprintf(pidfile, sizeof pidfile, "%s/grandchild.pid", scratch);

    /* a child that starts a grandchild and then hangs */
    unlink(pidfile);
    snprintf(body, sizeof body, "sleep 300 &\necho $! > %s\nsleep 300", pidfile);
    char *hang = script("hang.sh", body);
    snprintf(args, sizeof args, "cmd=%s,timeout=1", hang);
    struct exec_case c = exec_once(p, args, "{}", NULL);
    assert_int_equal(c.res.outcome, QDECK_RETRY);
    assert_non_null(strstr(c.res.error, "timed out"));
    assert_true(c.took >= 1.0 && c.took < 3.0);
    int child = 0;
    assert_int_equal(sscanf(strstr(c.res.error, "process group ") + 14, "%d", &child), 1);
    assert_int_equal(kill(child, 0), -1);   /* reaped: not even a zombie */
    assert_int_equal(errno, ESRCH);
    expect_killed_grandchild(read_pid_file(pidfile), "timeout");

    /* the same through *task->cancelled */
    unlink(pidfile);
    snprintf(args, sizeof args, "cmd=%s,timeout=60", hang);
    atomic_int cancelled = 0;
    struct canceller k = {.flag = &cancelled, .after_ms = 50, .after_file = pidfile};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &k);
    c = exec_once(p, args, "{}", &cancelled);
    double late = now() - k.fired_at;
    pthread_join(th, NULL);
    assert_int_equal(c.res.outcome, QDECK_RETRY);
    assert_non_null(strstr(c.res.error, "cancelled"));
    if (late > 0.5)
        fail_msg("exec noticed the cancel after %.0f ms", late * 1000);
    expect_killed_grandchild(read_pid_file(pidfile), "cancel");

    /* a child that exits at once but leaves a grandchild holding stdout:
     * the task ends with the child, and the grandchild goes with it */
    unlink(pidfile);
    snprintf(body, sizeof body, "sleep 300 &\necho $! > %s\necho '{\"done\":1}'", pidfile);
    char *leaver = script("leaver.sh", body);
    snprintf(args, sizeof args, "cmd=%s,timeout=30", leaver);
    c = exec_once(p, args, "{}", NULL);
    assert_int_equal(c.res.outcome, QDECK_OK);
    assert_string_equal(c.res.result, "{\"done\":1}");
    assert_true(c.took < 2.0);
    free(c.res.result);
    expect_killed_grandchild(read_pid_file(pidfile), "leaver");

    /* every other orphan of those groups (hang.sh's foreground sleep, when
     * it had started) came here too, and each died of SIGKILL */
    int st;
    pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0)
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
            fail_msg("orphan %d ended with status 0x%x, not SIGKILL", w, st);
    assert_int_equal(count_zombie_children(), 0);
    free(hang), free(leaver);
    plugin_unload(p);
}

/* ------------------------------------------------------------------ http */

/* The test's upstream: routes by path.
 *   /echo   200 {"body": <request body as JSON>, "task": "<X-Qdeck-Task-Id>"}
 *   /text   200 plain text
 *   /status/N  status N
 *   /slow   200 after 200 ms
 *   /gather 200 once `gather` requests have been in flight at once (or
 *           after 20 s): a caller that sends them together gets its
 *           answers at once, one that sends them in turn waits 20 s each,
 *           whatever the machine's speed
 *   /hang   200 after 10 s (or when the server stops)
 *   /openai, /anthropic  200 with an LLM-style usage object */
struct upstream {
    struct MHD_Daemon *d;
    int port;
    atomic_int in_flight, peak, requests;
    atomic_int gather;
    atomic_bool stopping;
};

struct req_body {
    char *data;
    size_t len;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result upstream_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                        const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)method, (void)version;
    struct upstream *up = cls;
    struct req_body *b = *con_cls;
    if (!b) {
        *con_cls = calloc(1, sizeof *b);
        return MHD_YES;
    }
    if (*upload_size) {
        b->data = realloc(b->data, b->len + *upload_size + 1);
        memcpy(b->data + b->len, upload, *upload_size);
        b->len += *upload_size;
        b->data[b->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&up->requests, 1);
    int now_in = atomic_fetch_add(&up->in_flight, 1) + 1;
    int peak = atomic_load(&up->peak);
    while (now_in > peak && !atomic_compare_exchange_weak(&up->peak, &peak, now_in))
        ;
    enum MHD_Result ret;
    if (strcmp(url, "/echo") == 0) {
        const char *task = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Qdeck-Task-Id");
        char *out = malloc(b->len + 300);
        sprintf(out, "{\"body\": %s, \"task\": \"%s\"}", b->len ? b->data : "null", task ? task : "");
        ret = reply(conn, 200, out, "application/json");
        free(out);
    } else if (strcmp(url, "/text") == 0) {
        ret = reply(conn, 200, "plain words", "text/plain");
    } else if (strncmp(url, "/status/", 8) == 0) {
        ret = reply(conn, (unsigned)atoi(url + 8), "{\"error\":\"as asked\"}", "application/json");
    } else if (strcmp(url, "/slow") == 0) {
        sleep_ms(200);
        ret = reply(conn, 200, "{\"slow\":true}", "application/json");
    } else if (strcmp(url, "/gather") == 0) {
        for (int i = 0; i < 2000 && atomic_load(&up->peak) < atomic_load(&up->gather) && !atomic_load(&up->stopping); i++)
            sleep_ms(10);
        ret = reply(conn, 200, "{\"gathered\":true}", "application/json");
    } else if (strcmp(url, "/openai") == 0) {
        ret = reply(conn, 200, "{\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":22}}",
                    "application/json");
    } else if (strcmp(url, "/anthropic") == 0) {
        ret = reply(conn, 200, "{\"content\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":7}}",
                    "application/json");
    } else if (strcmp(url, "/hang") == 0) {
        for (int i = 0; i < 1000 && !atomic_load(&up->stopping); i++)
            sleep_ms(10);
        ret = reply(conn, 200, "{}", "application/json");
    } else {
        ret = reply(conn, 404, "no such route", "text/plain");
    }
    atomic_fetch_sub(&up->in_flight, 1);
    return ret;
}

static void upstream_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    struct req_body *b = *con_cls;
    if (b) {
        free(b->data);
        free(b);
    }
    *con_cls = NULL;
}

static void upstream_start(struct upstream *up)
{
    memset(up, 0, sizeof *up);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    up->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
                             NULL, NULL, upstream_handler, up, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_CONNECTION_LIMIT, 2000u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                             MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_THREAD_STACK_SIZE, (size_t)256 * 1024,
                             MHD_OPTION_NOTIFY_COMPLETED, upstream_done, up, MHD_OPTION_END);
    assert_non_null(up->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(up->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    up->port = info->port;
    assert_true(up->port > 0);
}

static void upstream_stop(struct upstream *up)
{
    atomic_store(&up->stopping, true);
    MHD_stop_daemon(up->d);
}

/* done() bookkeeping: how often each cookie was finished, and how. */
#define MAX_CALLS 600
struct calls {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done_count[MAX_CALLS];
    struct qdeck_result res[MAX_CALLS];
    double at[MAX_CALLS];
    int total;
};

static struct calls calls;

static void calls_reset(void)
{
    pthread_mutex_lock(&calls.lock);
    for (int i = 0; i < MAX_CALLS; i++)
        free(calls.res[i].result);
    memset(calls.done_count, 0, sizeof calls.done_count);
    memset(calls.res, 0, sizeof calls.res);
    calls.total = 0;
    pthread_mutex_unlock(&calls.lock);
}

static void on_done(void *cookie, struct qdeck_result *res)
{
    int i = (int)(intptr_t)cookie;
    pthread_mutex_lock(&calls.lock);
    if (calls.done_count[i]++ == 0) {
        calls.res[i] = *res;
    } else {
        free(res->result);
    }
    calls.at[i] = now();
    calls.total++;
    pthread_cond_broadcast(&calls.cond);
    pthread_mutex_unlock(&calls.lock);
}

/* Waits until total done() calls reach n, at most secs; returns the total. */
static int calls_wait(int n, double secs)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)secs;
    pthread_mutex_lock(&calls.lock);
    while (calls.total < n && pthread_cond_timedwait(&calls.cond, &calls.lock, &until) == 0)
        ;
    int total = calls.total;
    pthread_mutex_unlock(&calls.lock);
    return total;
}

struct http_env {
    struct upstream up;
    struct plugin *p;
};

static void *http_for(struct http_env *env, const char *path, const char *extra)
{
    char args[400];
    snprintf(args, sizeof args, "url=http://127.0.0.1:%d%s%s%s", env->up.port, path, extra ? "," : "",
             extra ? extra : "");
    return must_create(env->p, args);
}

static int http_setup(void **state)
{
    struct http_env *env = calloc(1, sizeof *env);
    upstream_start(&env->up);
    env->p = must_load(plugin_dir, "http");
    calls_reset();
    *state = env;
    return 0;
}

static int http_teardown(void **state)
{
    struct http_env *env = *state;
    plugin_unload(env->p);
    upstream_stop(&env->up);
    calls_reset();
    free(env);
    return 0;
}

static void submit_ok(struct plugin *p, void *inst, int i, const char *id, const char *payload, long max_tokens)
{
    struct qdeck_task t = make_task(id, payload, NULL);
    t.max_response_tokens = max_tokens;
    assert_int_equal(p->api->submit(inst, &t, on_done, (void *)(intptr_t)i), 0);
}

static void http_statuses_and_results(void **state)
{
    struct http_env *env = *state;
    struct plugin *p = env->p;
    char err[256] = "";
    assert_null(p->api->create("method=POST", err, sizeof err));
    assert_non_null(strstr(err, "url="));
    assert_null(p->api->create("url=ftp://127.0.0.1/x", err, sizeof err));
    assert_non_null(strstr(err, "http:// or https://"));
    assert_null(p->api->create("url=http://127.0.0.1/x,method=PATCH", err, sizeof err));
    assert_non_null(strstr(err, "method='PATCH'"));

    void *echo = http_for(env, "/echo", NULL);
    void *text = http_for(env, "/text", "method=GET");
    void *s500 = http_for(env, "/status/500", NULL);
    void *s503 = http_for(env, "/status/503", NULL);
    void *s429 = http_for(env, "/status/429", NULL);
    void *s404 = http_for(env, "/status/404", NULL);
    void *s400 = http_for(env, "/status/400", NULL);
    void *hang = http_for(env, "/hang", "timeout=0.3");
    /* a port nobody listens on: the upstream's, after a fresh bind/close */
    struct upstream gone;
    upstream_start(&gone);
    int dead_port = gone.port;
    upstream_stop(&gone);
    char args[200];
    snprintf(args, sizeof args, "url=http://127.0.0.1:%d/x,connect_timeout=1", dead_port);
    void *refused = must_create(p, args);

    submit_ok(p, echo, 0, "t-echo", "{\"prompt\":\"hi\",\"max_tokens\":5000}", 100);
    submit_ok(p, echo, 1, "t-echo2", "{\"prompt\":\"hi\"}", -1);
    submit_ok(p, text, 2, "t-text", "", -1);
    submit_ok(p, s500, 3, "t-500", "{}", -1);
    submit_ok(p, s503, 4, "t-503", "{}", -1);
    submit_ok(p, s429, 5, "t-429", "{}", -1);
    submit_ok(p, s404, 6, "t-404", "{}", -1);
    submit_ok(p, s400, 7, "t-400", "{}", -1);
    submit_ok(p, hang, 8, "t-hang", "{}", -1);
    submit_ok(p, refused, 9, "t-refused", "{}", -1);
    assert_int_equal(calls_wait(10, 15), 10);

    assert_int_equal(calls.res[0].outcome, QDECK_OK);
    assert_string_equal(calls.res[0].result, "{\"body\":{\"prompt\":\"hi\",\"max_tokens\":100},\"task\":\"t-echo\"}");
    assert_int_equal(calls.res[1].outcome, QDECK_OK);
    assert_string_equal(calls.res[1].result, "{\"body\":{\"prompt\":\"hi\"},\"task\":\"t-echo2\"}");
    assert_int_equal(calls.res[2].outcome, QDECK_OK);
    assert_string_equal(calls.res[2].result, "\"plain words\"");
    assert_int_equal(calls.res[3].outcome, QDECK_RETRY);
    assert_non_null(strstr(calls.res[3].error, "HTTP 500: {\"error\":\"as asked\"}"));
    assert_int_equal(calls.res[4].outcome, QDECK_RETRY);
    assert_int_equal(calls.res[5].outcome, QDECK_RETRY);
    assert_non_null(strstr(calls.res[5].error, "HTTP 429"));
    assert_int_equal(calls.res[6].outcome, QDECK_FAIL);
    assert_non_null(strstr(calls.res[6].error, "HTTP 404"));
    assert_int_equal(calls.res[7].outcome, QDECK_FAIL);
    assert_int_equal(calls.res[8].outcome, QDECK_RETRY);
    assert_non_null(strstr(calls.res[8].error, "imed out"));
    assert_int_equal(calls.res[9].outcome, QDECK_RETRY);
    for (int i = 0; i < 10; i++)
        assert_int_equal(calls.done_count[i], 1);

    void *all[] = {echo, text, s500, s503, s429, s404, s400, hang, refused};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        p->api->destroy(all[i]);
    assert_int_equal(calls.total, 10);   /* nothing more after destroy */
}

/* ABI 3: the http plugin reports an answer's usage, OpenAI- or
 * Anthropic-style, through task->usage; an answer without one reports 0. */
static void http_reports_token_usage(void **state)
{
    struct http_env *env = *state;
    struct plugin *p = env->p;
    void *openai = http_for(env, "/openai", NULL), *anthropic = http_for(env, "/anthropic", NULL);
    void *echo = http_for(env, "/echo", NULL);
    struct qdeck_usage usage[3] = {{-1, -1}, {-1, -1}, {0, 0}};
    void *inst[3] = {openai, anthropic, echo};
    for (int i = 0; i < 3; i++) {
        struct qdeck_task t = make_task("t-usage", "{}", NULL);
        t.usage = &usage[i];
        assert_int_equal(p->api->submit(inst[i], &t, on_done, (void *)(intptr_t)i), 0);
    }
    assert_int_equal(calls_wait(3, 15), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(calls.res[i].outcome, QDECK_OK);
    assert_int_equal(usage[0].tokens_in, 11);
    assert_int_equal(usage[0].tokens_out, 22);
    assert_int_equal(usage[1].tokens_in, 5);
    assert_int_equal(usage[1].tokens_out, 7);
    assert_int_equal(usage[2].tokens_in, 0);
    assert_int_equal(usage[2].tokens_out, 0);
    for (int i = 0; i < 3; i++)
        p->api->destroy(inst[i]);
}

static void http_cancel_and_destroy_in_flight(void **state)
{
    struct http_env *env = *state;
    struct plugin *p = env->p;
    void *hang = http_for(env, "/hang", "timeout=60");
    for (int i = 0; i < 5; i++)
        submit_ok(p, hang, i, "t-hang", "{}", -1);
    /* wait until the server holds all five */
    for (int i = 0; i < 500 && atomic_load(&env->up.in_flight) < 5; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&env->up.in_flight), 5);
    double t0 = now();
    p->api->cancel(hang, (void *)(intptr_t)2);
    assert_int_equal(calls_wait(1, 5), 1);
    assert_int_equal(calls.done_count[2], 1);
    assert_true(calls.at[2] - t0 < 0.5);
    assert_int_equal(calls.res[2].outcome, QDECK_RETRY);
    assert_non_null(strstr(calls.res[2].error, "cancelled"));
    p->api->cancel(hang, (void *)(intptr_t)2);   /* already finished: nothing */
    p->api->cancel(hang, (void *)(intptr_t)77);  /* never submitted: nothing */

    /* destroy with four still in flight: each finished exactly once */
    p->api->destroy(hang);
    assert_int_equal(calls.total, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(calls.done_count[i], 1);
        assert_int_equal(calls.res[i].outcome, QDECK_RETRY);
    }
    assert_non_null(strstr(calls.res[0].error, "shutting down"));
}

static void http_500_concurrent_calls(void **state)
{
    struct http_env *env = *state;
    struct plugin *p = env->p;
    enum { N = 500 };
    atomic_store(&env->up.gather, N / 2);
    void *slow = http_for(env, "/gather", "timeout=30,connect_timeout=10");
    static char ids[N][16];
    double t0 = now();
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "c-%d", i);
        submit_ok(p, slow, i, ids[i], "{\"n\":1}", -1);
    }
    int total = calls_wait(N, 60);
    double took = now() - t0;
    assert_int_equal(total, N);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(calls.done_count[i], 1);
        if (calls.res[i].outcome == QDECK_OK)
            ok++;
        else
            print_message("call %d: %s\n", i, calls.res[i].error);
    }
    assert_int_equal(ok, N);
    assert_int_equal(atomic_load(&env->up.requests), N);
    /* they were really in flight together, not one after another */
    int peak = atomic_load(&env->up.peak);
    print_message("500 calls held until 250 were in flight: %.2f s wall, %d at once at the upstream\n", took, peak);
    assert_true(peak >= N / 2);
    p->api->destroy(slow);
    assert_int_equal(calls.total, N);
}

int main(void)
{
    if (find_dirs() != 0) {
        fprintf(stderr, "test_plugin: cannot find the build directory from /proc/self/exe\n");
        return 1;
    }
    snprintf(scratch, sizeof scratch, "/tmp/qdeck-test-plugin.XXXXXX");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 1;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {   /* 500 calls: both ends live here */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    pthread_mutex_init(&calls.lock, NULL);
    pthread_cond_init(&calls.cond, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loader_refuses_broken_plugins),
        cmocka_unit_test(loader_reports_failing_create),
        cmocka_unit_test(loader_still_runs_abi_1_plugins),
        cmocka_unit_test(every_shipped_plugin_loads),
        cmocka_unit_test(sleep_waits_and_honours_cancel),
        cmocka_unit_test(fail_rate_is_deterministic_with_a_seed),
        cmocka_unit_test(fail_always_and_payload_overrides),
        cmocka_unit_test(exec_results_and_exit_codes),
        cmocka_unit_test(exec_timeout_kills_the_process_group),
        cmocka_unit_test_setup_teardown(http_statuses_and_results, http_setup, http_teardown),
        cmocka_unit_test_setup_teardown(http_reports_token_usage, http_setup, http_teardown),
        cmocka_unit_test_setup_teardown(http_cancel_and_destroy_in_flight, http_setup, http_teardown),
        cmocka_unit_test_setup_teardown(http_500_concurrent_calls, http_setup, http_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "test_plugin: could not remove %s\n", scratch);
    return failed;
}
