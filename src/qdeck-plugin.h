/* qdeck-plugin.h: the one header a handler plugin builds against.
 *
 * A plugin is a shared object in plugins/ exporting one symbol,
 * QDECK_PLUGIN_ENTRY, a function returning a pointer to a constant
 * struct qdeck_plugin. qdeck checks `abi` (must equal QDECK_PLUGIN_ABI) and
 * `size` (at least the size of the fields it reads); fields are only ever
 * appended, so an older plugin keeps loading (Redis modules do the same).
 *
 * One plugin serves many task types: create() makes an instance per
 * [task TYPE] from its `args` string ("k=v,k=v"). A plugin implements
 * either run() (blocking: qdeck calls it on one of its worker slot threads)
 * or submit() (asynchronous: it returns at once and calls done() later from
 * any thread, e.g. one libcurl multi loop driving hundreds of calls).
 *
 * Cancellation: qdeck sets *task->cancelled to non-zero when the watchdog's
 * timeout passes or the worker shuts down; run() must notice within a
 * moment and return QDECK_RETRY with an error, and an asynchronous plugin
 * gets cancel() and must still call done() exactly once.
 *
 * Plugins never touch the screen and never exit the process. */
#ifndef QDECK_PLUGIN_H
#define QDECK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define QDECK_PLUGIN_ABI 1
#define QDECK_PLUGIN_ENTRY "qdeck_plugin_entry"

enum qdeck_outcome {
    QDECK_OK = 0,       /* done; result (optional) is kept in the result store */
    QDECK_RETRY = 1,    /* transient failure: retried with backoff, DLQ after max attempts */
    QDECK_FAIL = 2,     /* permanent failure: straight to the DLQ */
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
    const volatile int *cancelled;  /* non-zero: stop as soon as possible */
};

struct qdeck_result {
    enum qdeck_outcome outcome;
    char *result;                 /* malloc'd JSON text or NULL; qdeck frees it */
    char error[256];              /* why, when outcome is not QDECK_OK */
};

typedef void (*qdeck_done_fn)(void *cookie, struct qdeck_result *res);

struct qdeck_plugin {
    uint32_t abi;                 /* QDECK_PLUGIN_ABI */
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
