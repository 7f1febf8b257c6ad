/* qdeck-plugin.h: the one header a handler plugin builds against.
 *
 * A plugin is a shared object in plugins/ exporting one symbol,
 * QDECK_PLUGIN_ENTRY, a function returning a pointer to a constant
 * struct qdeck_plugin. qdeck checks `abi` (QDECK_PLUGIN_ABI_MIN up to
 * QDECK_PLUGIN_ABI) and `size` (at least the size of the fields it reads);
 * fields are only ever appended, so an older plugin keeps loading (Redis
 * modules do the same). docs/plugin-abi.md has the whole contract.
 *
 * ABI versions:
 *   1  task->cancelled is `const volatile int *`.
 *   2  task->cancelled is `const atomic_int *`: the flag is written by the
 *      watchdog's thread and read by the handler's, which under C11 needs
 *      an atomic (a volatile int is a data race). Nothing else changed:
 *      the pointer has the same size and place, and an atomic_int has the
 *      size and representation of an int on every platform qdeck builds
 *      for, so qdeck still loads ABI 1 plugins and hands them the same
 *      pointer; their volatile reads see the flag as before.
 *   3  task->usage (appended): where any handler reports the tokens its
 *      upstream call used (tokens_in, tokens_out), for cost and the
 *      trace. qdeck zeroes it before each run. Older plugins never see
 *      it (it is past the fields they know) and report nothing.
 *
 * One plugin serves many task types: create() makes an instance per
 * [task TYPE] from its `args` string ("k=v,k=v"). A plugin implements
 * either run() (blocking: qdeck calls it on one of its worker slot threads)
 * or submit() (asynchronous: it returns at once and calls done() later from
 * any thread, e.g. one libcurl multi loop driving hundreds of calls).
 *
 * Cancellation: qdeck sets *task->cancelled (atomically) to non-zero when the watchdog's
 * timeout passes or the worker shuts down; run() must notice within a
 * moment and return QDECK_RETRY with an error, and an asynchronous plugin
 * gets cancel() and must still call done() exactly once.
 *
 * Plugins never touch the screen and never exit the process. */
#ifndef QDECK_PLUGIN_H
#define QDECK_PLUGIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define QDECK_PLUGIN_ABI 3        /* what this header builds */
#define QDECK_PLUGIN_ABI_MIN 1    /* the oldest ABI qdeck still loads */
#define QDECK_PLUGIN_ENTRY "qdeck_plugin_entry"

enum qdeck_outcome {
    QDECK_OK = 0,       /* done; result (optional) is kept in the result store */
    QDECK_RETRY = 1,    /* transient failure: retried with backoff, DLQ after max attempts */
    QDECK_FAIL = 2,     /* permanent failure: straight to the DLQ */
};

/* Token usage of one run (ABI 3), e.g. an LLM answer's usage object. */
struct qdeck_usage {
    long tokens_in;               /* prompt / input tokens */
    long tokens_out;              /* completion / output tokens */
};

struct qdeck_task {
    const char *id;
    const char *type;
    const char *payload;          /* the envelope's payload as JSON text, NUL-terminated */
    size_t payload_len;
    int attempt;                  /* 1 on the first run */
    int max_attempts;
    int priority;
    double deadline;              /* epoch seconds the task must finish by, 0: none */
    long max_response_tokens;     /* budget guardrail, -1: off */
    const atomic_int *cancelled;  /* non-zero: stop as soon as possible (ABI 2; 1: volatile int) */
    struct qdeck_usage *usage;    /* ABI 3: tokens this run used; write them before returning / done() */
};

struct qdeck_result {
    enum qdeck_outcome outcome;
    char *result;                 /* malloc'd JSON text or NULL; qdeck frees it */
    char error[256];              /* why, when outcome is not QDECK_OK */
};

typedef void (*qdeck_done_fn)(void *cookie, struct qdeck_result *res);

struct qdeck_plugin {
    uint32_t abi;                 /* QDECK_PLUGIN_ABI when built */
    uint32_t size;                /* sizeof(struct qdeck_plugin) the plugin was built with */
    const char *name;
    const char *version;
    /* An instance for one task type; NULL with a reason in err. */
    void *(*create)(const char *args, char *err, size_t errlen);
    void (*destroy)(void *instance);
    /* Blocking handler, or NULL. Fills res. */
    void (*run)(void *instance, const struct qdeck_task *task, struct qdeck_result *res);
    /* Asynchronous handler, or NULL: returns 0 and later calls done(cookie,
     * res) exactly once, or returns -1 (then done is never called). The
     * task's strings live until done is called. */
    int (*submit)(void *instance, const struct qdeck_task *task, qdeck_done_fn done, void *cookie);
    /* Asks an asynchronous call to end early (done() still follows). */
    void (*cancel)(void *instance, void *cookie);
};

typedef const struct qdeck_plugin *(*qdeck_plugin_entry_fn)(void);

/* Helper for plugins: the value of key in an "k=v,k=v" args string, copied
 * into out; 0 when found, -1 when not. */
static inline int qdeck_plugin_arg(const char *args, const char *key, char *out, size_t outlen)
{
    size_t klen = 0;
    while (key[klen])
        klen++;
    for (const char *p = args; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        size_t i = 0;
        while (i < klen && p + i < end && p[i] == key[i])
            i++;
        if (i == klen && p + i < end && p[i] == '=') {
            size_t n = (size_t)(end - (p + i + 1));
            if (n >= outlen)
                n = outlen - 1;
            for (size_t j = 0; j < n; j++)
                out[j] = p[i + 1 + j];
            out[n] = '\0';
            return 0;
        }
        p = end;
    }
    return -1;
}

#endif
