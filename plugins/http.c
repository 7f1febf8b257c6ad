/* http: calls an HTTP endpoint per task, asynchronously. One background
 * thread per instance drives every in-flight transfer through one libcurl
 * multi handle (curl_multi_poll, woken by curl_multi_wakeup when a task is
 * submitted or cancelled), so hundreds of calls wait on one thread, not on
 * hundreds of worker slots.
 *
 *   args url=http://host:port/path      parsed and checked with curl_url
 *        method=POST|GET|PUT            default POST; the body is the task's payload
 *        timeout=SECS                   whole call (default 30)
 *        connect_timeout=SECS           connecting only (default 5)
 *
 * Outcome:
 *   2xx                                QDECK_OK; the response body is the result
 *                                      (as is when it is JSON, else a JSON string)
 *   429, 5xx, timeouts, connection     QDECK_RETRY
 *   errors, cancel, shutdown
 *   other statuses (4xx, 3xx)          QDECK_FAIL
 *   a response over 16 MiB             QDECK_FAIL
 *
 * Token usage (plugin ABI 3, task->usage): a JSON answer's "usage" object
 * is read, OpenAI-style (prompt_tokens, completion_tokens) or
 * Anthropic-style (input_tokens, output_tokens), and reported to qdeck.
 *
 * Every request carries X-Qdeck-Task-Id. When task->max_response_tokens is
 * >= 0 and the payload is a JSON object, its "max_tokens" is set to that
 * budget (or lowered to it), so an LLM-style API cannot spend more.
 *
 * Threads: submit() and cancel() may come from any thread; they only touch
 * the instance's lists under its mutex and wake the loop. Only the loop
 * thread touches the multi handle, and it calls done() exactly once per
 * accepted submit, never while holding the mutex (done may submit again).
 * destroy() stops the loop, which first ends every transfer still in flight
 * with QDECK_RETRY ("shutting down"). CURLOPT_NOSIGNAL is set on every
 * handle: timeouts never raise signals in a threaded worker.
 *
 * Many sockets: create() raises the soft RLIMIT_NOFILE to the hard limit,
 * since 1,000 calls in flight need more than the usual 1,024 descriptors. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "qdeck-plugin.h"

#define MAX_RESPONSE (16u << 20)
#define POLL_MS 1000

struct transfer {
    struct transfer *prev, *next;   /* in the instance's incoming or active list */
    struct http_instance *inst;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    size_t body_len;
    char *resp;
    size_t resp_len, resp_cap;
    bool too_large;
    bool cancel_requested;
    qdeck_done_fn done;
    void *cookie;
    struct qdeck_usage *usage;      /* the task's (ABI 3): filled from the answer */
    char curl_err[CURL_ERROR_SIZE];
};

struct transfer_list {
    struct transfer *head;
};

struct http_instance {
    char *url;
    enum { METHOD_POST, METHOD_GET, METHOD_PUT } method;
    long timeout_ms, connect_timeout_ms;
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock;
    struct transfer_list incoming;  /* submitted, not yet in the multi handle */
    struct transfer_list active;    /* in the multi handle */
    bool cancels_pending;
    bool stopping;
};

static void list_push(struct transfer_list *l, struct transfer *t)
{
    t->prev = NULL;
    t->next = l->head;
    if (l->head)
        l->head->prev = t;
    l->head = t;
}

static void list_remove(struct transfer_list *l, struct transfer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

static int parse_seconds(const char *args, const char *key, long *ms, char *err, size_t errlen)
{
    char val[32], *end;
    if (qdeck_plugin_arg(args, key, val, sizeof val) != 0)
        return 0;
    errno = 0;
    double s = strtod(val, &end);
    if (errno || end == val || *end || !(s > 0 && s <= 86400)) {
        snprintf(err, errlen, "http: %s='%s' is not a number of seconds from 0 to 86400", key, val);
        return -1;
    }
    *ms = (long)(s * 1000.0);
    return 0;
}

/* url must parse and be http or https; the canonical form goes in *out. */
static int check_url(const char *text, char **out, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *full = NULL;
    int rc = -1;
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, text, 0) : CURLUE_OUT_OF_MEMORY;
    if (uc != CURLUE_OK) {
        snprintf(err, errlen, "http: url is not a valid URL: %s", curl_url_strerror(uc));
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(err, errlen, "http: url must be http:// or https://");
    } else if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
        snprintf(err, errlen, "http: url cannot be rebuilt");
    } else if (!(*out = strdup(full))) {
        snprintf(err, errlen, "http: out of memory");
    } else {
        rc = 0;
    }
    curl_free(scheme);
    curl_free(full);
    curl_url_cleanup(u);
    return rc;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void *loop_main(void *arg);

static void *http_create(const char *args, char *err, size_t errlen)
{
    char url[2048], method[16];
    if (qdeck_plugin_arg(args, "url", url, sizeof url) != 0 || !url[0]) {
        snprintf(err, errlen, "http: args need url=http://host/path");
        return NULL;
    }
    struct http_instance *inst = calloc(1, sizeof *inst);
    if (!inst) {
        snprintf(err, errlen, "http: out of memory");
        return NULL;
    }
    inst->timeout_ms = 30000;
    inst->connect_timeout_ms = 5000;
    inst->method = METHOD_POST;
    if (qdeck_plugin_arg(args, "method", method, sizeof method) == 0) {
        if (strcmp(method, "POST") == 0 || strcmp(method, "post") == 0)
            inst->method = METHOD_POST;
        else if (strcmp(method, "GET") == 0 || strcmp(method, "get") == 0)
            inst->method = METHOD_GET;
        else if (strcmp(method, "PUT") == 0 || strcmp(method, "put") == 0)
            inst->method = METHOD_PUT;
        else {
            snprintf(err, errlen, "http: method='%s' is not POST, GET or PUT", method);
            free(inst);
            return NULL;
        }
    }
    if (parse_seconds(args, "timeout", &inst->timeout_ms, err, errlen) != 0 ||
        parse_seconds(args, "connect_timeout", &inst->connect_timeout_ms, err, errlen) != 0) {
        free(inst);
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "http: libcurl failed to initialise");
        free(inst);
        return NULL;
    }
    if (check_url(url, &inst->url, err, errlen) != 0)
        goto fail_global;
    if (!(inst->multi = curl_multi_init())) {
        snprintf(err, errlen, "http: cannot create a libcurl multi handle");
        goto fail_url;
    }
    pthread_mutex_init(&inst->lock, NULL);
    int rc = pthread_create(&inst->thread, NULL, loop_main, inst);
    if (rc != 0) {
        snprintf(err, errlen, "http: cannot start its thread: %s", strerror(rc));
        pthread_mutex_destroy(&inst->lock);
        curl_multi_cleanup(inst->multi);
        goto fail_url;
    }
    raise_fd_limit();
    return inst;
fail_url:
    free(inst->url);
fail_global:
    curl_global_cleanup();
    free(inst);
    return NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct transfer *t = userp;
    size_t n = size * nmemb;
    if (t->resp_len + n > MAX_RESPONSE) {
        t->too_large = true;
        return 0; /* CURLE_WRITE_ERROR ends the transfer */
    }
    if (t->resp_len + n + 1 > t->resp_cap) {
        size_t cap = t->resp_cap ? t->resp_cap * 2 : 1024;
        while (cap < t->resp_len + n + 1)
            cap *= 2;
        char *p = realloc(t->resp, cap);
        if (!p) {
            t->too_large = true;
            return 0;
        }
        t->resp = p;
        t->resp_cap = cap;
    }
    memcpy(t->resp + t->resp_len, data, n);
    t->resp_len += n;
    t->resp[t->resp_len] = '\0';
    return n;
}

/* The request body: the payload, with "max_tokens" capped to the budget. */
static char *request_body(const struct qdeck_task *task, size_t *len)
{
    const char *payload = task->payload ? task->payload : "";
    size_t plen = task->payload ? task->payload_len : 0;
    if (task->max_response_tokens >= 0) {
        cJSON *doc = cJSON_ParseWithLength(payload, plen);
        if (cJSON_IsObject(doc)) {
            const cJSON *cur = cJSON_GetObjectItemCaseSensitive(doc, "max_tokens");
            if (!cJSON_IsNumber(cur) || cur->valuedouble > (double)task->max_response_tokens) {
                cJSON_DeleteItemFromObjectCaseSensitive(doc, "max_tokens");
                cJSON_AddNumberToObject(doc, "max_tokens", (double)task->max_response_tokens);
            }
            char *text = cJSON_PrintUnformatted(doc);
            cJSON_Delete(doc);
            if (text) {
                *len = strlen(text);
                return text;
            }
        } else {
            cJSON_Delete(doc);
        }
    }
    char *copy = malloc(plen + 1);
    if (copy) {
        memcpy(copy, payload, plen);
        copy[plen] = '\0';
        *len = plen;
    }
    return copy;
}

static void transfer_free(struct transfer *t)
{
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->body);
    free(t->resp);
    free(t);
}

static int http_submit(void *instance, const struct qdeck_task *task, qdeck_done_fn done, void *cookie)
{
    struct http_instance *inst = instance;
    struct transfer *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->inst = inst;
    t->done = done;
    t->cookie = cookie;
    t->usage = task->usage;
    char idh[320];
    snprintf(idh, sizeof idh, "X-Qdeck-Task-Id: %s", task->id ? task->id : "");
    for (char *p = idh; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' '; /* an id cannot add headers */
    struct curl_slist *h1 = curl_slist_append(NULL, idh);
    struct curl_slist *h2 = h1 ? curl_slist_append(h1, "Content-Type: application/json") : NULL;
    struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
    t->headers = h3 ? h3 : h2 ? h2 : h1;
    if (!h3 || !(t->easy = curl_easy_init()) || !(t->body = request_body(task, &t->body_len))) {
        transfer_free(t);
        return -1;
    }
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, inst->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_err);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, inst->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, inst->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);   /* 1,000 in flight: 4 MB, not 16 */
    curl_easy_setopt(e, CURLOPT_USERAGENT, "qdeck-http/1");
    if (inst->method == METHOD_GET) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
        if (inst->method == METHOD_PUT)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    }
    pthread_mutex_lock(&inst->lock);
    bool accepted = !inst->stopping;
    if (accepted)
        list_push(&inst->incoming, t);
    pthread_mutex_unlock(&inst->lock);
    if (!accepted) {
        transfer_free(t);
        return -1;
    }
    curl_multi_wakeup(inst->multi);
    return 0;
}

static void http_cancel(void *instance, void *cookie)
{
    struct http_instance *inst = instance;
    bool found = false;
    pthread_mutex_lock(&inst->lock);
    for (struct transfer_list *l = &inst->incoming;; l = &inst->active) {
        for (struct transfer *t = l->head; t; t = t->next)
            if (t->cookie == cookie) {
                t->cancel_requested = true;
                found = true;
            }
        if (l == &inst->active)
            break;
    }
    if (found)
        inst->cancels_pending = true;
    pthread_mutex_unlock(&inst->lock);
    if (found)
        curl_multi_wakeup(inst->multi);
}

static long usage_field(const cJSON *usage, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, a);
    if (!cJSON_IsNumber(v))
        v = cJSON_GetObjectItemCaseSensitive(usage, b);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e15 ? (long)v->valuedouble : 0;
}

/* The answer's "usage": OpenAI prompt_tokens / completion_tokens or
 * Anthropic input_tokens / output_tokens. */
static void read_usage(const cJSON *doc, struct qdeck_usage *u)
{
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(doc, "usage");
    if (!u || !cJSON_IsObject(usage))
        return;
    u->tokens_in = usage_field(usage, "prompt_tokens", "input_tokens");
    u->tokens_out = usage_field(usage, "completion_tokens", "output_tokens");
}

/* A JSON result from a response body: itself when JSON, else a string;
 * its usage object (if any) goes to the task's usage. */
static char *body_result(struct transfer *t)
{
    if (t->resp_len == 0)
        return NULL;
    cJSON *doc = cJSON_ParseWithLength(t->resp, t->resp_len);
    read_usage(doc, t->usage);
    if (!doc)
        doc = cJSON_CreateString(t->resp);
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    return text;
}

/* One-line, bounded snippet of the response for an error message. */
static void snippet(const struct transfer *t, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; i < t->resp_len && n + 1 < outlen && n < 120; i++)
        out[n++] = (t->resp[i] == '\n' || t->resp[i] == '\r' || t->resp[i] == '\t') ? ' ' : t->resp[i];
    out[n] = '\0';
}

static void classify(struct transfer *t, CURLcode cc, struct qdeck_result *res)
{
    long status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    char snip[128];
    snippet(t, snip, sizeof snip);
    if (cc == CURLE_OK && status >= 200 && status < 300) {
        res->outcome = QDECK_OK;
        res->result = body_result(t);
    } else if (cc == CURLE_OK) {
        res->outcome = (status == 429 || status >= 500) ? QDECK_RETRY : QDECK_FAIL;
        snprintf(res->error, sizeof res->error, "http: HTTP %ld%s%s", status, snip[0] ? ": " : "", snip);
    } else if (t->too_large) {
        res->outcome = QDECK_FAIL;
        snprintf(res->error, sizeof res->error, "http: response larger than %u bytes", MAX_RESPONSE);
    } else {
        res->outcome = QDECK_RETRY;
        snprintf(res->error, sizeof res->error, "http: %.200s",
                 t->curl_err[0] ? t->curl_err : curl_easy_strerror(cc));
    }
}

/* Calls done() and frees the transfer; it is in no list any more. */
static void finish(struct transfer *t, struct qdeck_result *res)
{
    qdeck_done_fn done = t->done;
    void *cookie = t->cookie;
    transfer_free(t);
    done(cookie, res);
}

static void finish_with(struct transfer *t, enum qdeck_outcome outcome, const char *why)
{
    struct qdeck_result res = {.outcome = outcome};
    snprintf(res.error, sizeof res.error, "http: %s", why);
    finish(t, &res);
}

/* Takes new transfers into the multi handle and ends cancelled ones. */
static bool take_requests(struct http_instance *inst)
{
    struct transfer_list cancelled = {NULL};
    pthread_mutex_lock(&inst->lock);
    bool stopping = inst->stopping;
    while (inst->incoming.head) {
        struct transfer *t = inst->incoming.head;
        list_remove(&inst->incoming, t);
        list_push(&inst->active, t);
        curl_multi_add_handle(inst->multi, t->easy);
    }
    if (inst->cancels_pending || stopping) {
        for (struct transfer *t = inst->active.head, *next; t; t = next) {
            next = t->next;
            if (t->cancel_requested || stopping) {
                list_remove(&inst->active, t);
                curl_multi_remove_handle(inst->multi, t->easy);
                list_push(&cancelled, t);
            }
        }
        inst->cancels_pending = false;
    }
    pthread_mutex_unlock(&inst->lock);
    while (cancelled.head) {
        struct transfer *t = cancelled.head;
        list_remove(&cancelled, t);
        finish_with(t, QDECK_RETRY, t->cancel_requested ? "cancelled" : "worker shutting down");
    }
    return stopping;
}

static void take_finished(struct http_instance *inst)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(inst->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode cc = msg->data.result;
        struct transfer *t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        pthread_mutex_lock(&inst->lock);
        list_remove(&inst->active, t);
        pthread_mutex_unlock(&inst->lock);
        curl_multi_remove_handle(inst->multi, easy);
        struct qdeck_result res = {.outcome = QDECK_RETRY};
        classify(t, cc, &res);
        finish(t, &res);
    }
}

static void *loop_main(void *arg)
{
    struct http_instance *inst = arg;
    for (;;) {
        if (take_requests(inst))
            break;
        int running = 0;
        curl_multi_perform(inst->multi, &running);
        take_finished(inst);
        curl_multi_poll(inst->multi, NULL, 0, POLL_MS, NULL);
    }
    return NULL;
}

static void http_destroy(void *instance)
{
    struct http_instance *inst = instance;
    if (!inst)
        return;
    pthread_mutex_lock(&inst->lock);
    inst->stopping = true;
    pthread_mutex_unlock(&inst->lock);
    curl_multi_wakeup(inst->multi);
    pthread_join(inst->thread, NULL);
    /* the loop ended everything active; a submit racing the stop may have
     * left something in incoming, never added to the multi handle */
    while (inst->incoming.head) {
        struct transfer *t = inst->incoming.head;
        list_remove(&inst->incoming, t);
        finish_with(t, QDECK_RETRY, "worker shutting down");
    }
    curl_multi_cleanup(inst->multi);
    pthread_mutex_destroy(&inst->lock);
    free(inst->url);
    free(inst);
    curl_global_cleanup();
}

static const struct qdeck_plugin http_plugin = {
    .abi = QDECK_PLUGIN_ABI,
    .size = sizeof(struct qdeck_plugin),
    .name = "http",
    .version = "1",
    .create = http_create,
    .destroy = http_destroy,
    .submit = http_submit,
    .cancel = http_cancel,
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return &http_plugin;
}
