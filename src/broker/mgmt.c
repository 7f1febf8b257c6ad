/* RabbitMQ through its management HTTP API (libcurl + cJSON).
 *
 * One refresh is one paged request for all queues of the vhost:
 *   GET /api/queues/{vhost}?page=N&page_size=500&columns=...
 * never one request per queue. The column list keeps the response small.
 * Every 30 s (and after a reconnect) two cheap extra requests refresh the
 * server version (/api/overview) and the bindings used to resolve where a
 * queue's dead letters end up.
 *
 * The queue list is polled no faster than RabbitMQ refreshes it: the
 * management plugin recomputes its statistics once per
 * collect_statistics_interval (5 s by default), and asking more often costs
 * the broker as much each time and learns nothing new (1,000 queues at a
 * 1 s poll: 14.5 % of a core against 3.75 % at 5 s). RabbitMQ 3.10's HTTP
 * API does not expose that interval (not in /api/overview, /api/nodes or
 * the definitions), so it is taken as 5 s, RabbitMQ's default, unless the
 * context's mgmt_interval says otherwise. A broker with many queues takes
 * long to answer a poll (1,000 queues: about 0.2 s of its CPU for the two
 * pages, most of it listing every queue for each page), so the poll also
 * waits until the broker's time spent answering it (from the request sent
 * to the last byte received, the console's own parsing left out) is at
 * most MGMT_BUSY_SHARE of the time: 1,000 queues are listed every 10-20 s,
 * 100 every 5 s. Between polls every refresh reuses the last list.
 *
 * The queues on screen (source_set_focus) are read exactly with a passive
 * queue.declare over AMQP (amqp-peek.h), on this collector thread. Each has
 * its own timer: the selected row, and a row whose count changed or whose
 * statistics show traffic, every PEEK_GAP_MIN; a quiet row backs off to
 * PEEK_GAP_MAX. A declare costs the broker about 0.3-0.6 ms, so a full
 * screen of 45 rows read every second cost it more than the polls did
 * (2.7 points of a core against 0.8, measured with BENCH_ONLY=broker
 * tests/bench/bench_monitor.sh).
 *
 * The curl handle lives on the collector thread and is reused, so the TCP
 * connection stays open between refreshes. Failures are classified for the
 * operator: refused, hung, auth, or "not the management API" (HTML from a
 * proxy, truncated JSON). */
#include <cJSON.h>
#include <curl/curl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/amqp-peek.h"
#include "broker/mgmt.h"
#include "broker/source.h"
#include "core/clock.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "net/tls.h"

#define MGMT_PAGE_SIZE 500
#define MGMT_MAX_BODY (256u << 20)
#define MGMT_SIDE_REFRESH 30.0
#define MGMT_DEFAULT_INTERVAL 5.0   /* RabbitMQ's default collect_statistics_interval */
#define MGMT_BUSY_SHARE 0.01   /* of the management API's time, at most */
#define PEEK_GAP_MIN 1.0       /* seconds: a changing or selected queue on screen */
#define PEEK_GAP_MAX 4.0       /* a quiet one */

static const char queue_columns[] =
    "name,type,state,messages,messages_ready,messages_unacknowledged,consumers,"
    "consumer_capacity,consumer_utilisation,head_message_timestamp,arguments,"
    "effective_policy_definition,"
    "message_stats.publish_details.rate,message_stats.deliver_get_details.rate,"
    "message_stats.ack_details.rate,message_stats.redeliver_details.rate";

struct mgmt {
    CURL *curl;
    char *base;             /* scheme://host:port/prefix/ without credentials */
    char *vhost_escaped;
    char *user, *password;
    char *server;           /* "RabbitMQ 3.10.8 (cluster)" */
    struct mgmt_binding_view *bindings;
    size_t nbindings;
    double side_refreshed;  /* monotonic time of the last overview/bindings */
    char *body;
    size_t body_len;
    const struct tls_options *tls;   /* the context's, for https:// */
    char curl_error[CURL_ERROR_SIZE];
    double timeout;
    double interval;        /* seconds between polls of the queue list */
    double polled_at;       /* monotonic time of the last poll */
    double poll_seconds;    /* how long the broker took to answer it */
    double answer_seconds;  /* the same, summed over the pages of a poll */
    struct snapshot *polled;   /* what that poll read (sealed; ref held) */
    struct amqp_peek *peek;    /* NULL without a plain amqp:// URL */
    struct peek_plan *plans;   /* the queues on screen */
    size_t nplans;
    double polled_mono;        /* monotonic time the last poll ended */
    unsigned seed;             /* jitter of the peek gaps */
};

/* When to read one queue on screen exactly, and what was read. */
struct peek_plan {
    char *name;
    int64_t ready;          /* -1: not read (or gone) */
    int consumers;
    double read_at;         /* monotonic */
    double gap;             /* seconds between reads now */
    double next_at;         /* monotonic */
};

struct mgmt_response {
    long status;
    char content_type[64];
};

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    struct mgmt *m = user;
    size_t len = size * n;
    if (m->body_len + len > MGMT_MAX_BODY)
        return 0;
    m->body = xrealloc(m->body, m->body_len + len + 1);
    memcpy(m->body + m->body_len, data, len);
    m->body_len += len;
    m->body[m->body_len] = '\0';
    return len;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
    struct source *src = user;
    return source_stopping(src) ? 1 : 0;
}

void mgmt_bindings_free(struct mgmt_binding_view *bindings, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(bindings[i].exchange);
        free(bindings[i].queue);
        free(bindings[i].routing_key);
    }
    free(bindings);
}

static void mgmt_free_bindings(struct mgmt *m)
{
    mgmt_bindings_free(m->bindings, m->nbindings);
    m->bindings = NULL;
    m->nbindings = 0;
}

static const struct tls_options system_cas = {.verify = true};

static int mgmt_init(struct source *src, char *err, size_t errlen)
{
    struct broker_url u;
    if (broker_url_parse(src->url, &u, err, errlen) < 0)
        return -1;
    if (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0) {
        snprintf(err, errlen, "management URL must be http:// or https://, got %s", u.redacted);
        broker_url_free(&u);
        return -1;
    }
    struct mgmt *m = xcalloc(1, sizeof *m);
    const char *prefix = u.path;
    size_t plen = strlen(prefix);
    m->base = xasprintf("%s://%s:%d/%s%s", u.scheme, u.host, u.port, prefix,
                        plen && prefix[plen - 1] != '/' ? "/" : "");
    m->user = xstrdup(u.user ? u.user : "guest");
    m->password = xstrdup(u.password ? u.password : "guest");
    broker_url_free(&u);

    const char *vhost = "/";
    struct broker_url amqp;
    char ignored[256];
    bool have_amqp = src->ctx && src->ctx->amqp &&
                     broker_url_parse(src->ctx->amqp, &amqp, ignored, sizeof ignored) == 0;
    if (have_amqp && amqp.path[0])
        vhost = amqp.path;
    m->vhost_escaped = url_escape(vhost);
    if (have_amqp)
        broker_url_free(&amqp);
    m->timeout = src->ctx ? src->ctx->timeout : 5;
    m->tls = src->ctx ? &src->ctx->tls : &system_cas;
    m->side_refreshed = -INFINITY;
    m->interval = src->ctx && src->ctx->mgmt_interval > 0 ? src->ctx->mgmt_interval : MGMT_DEFAULT_INTERVAL;
    m->polled_at = -INFINITY;
    m->seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)m;
    m->peek = amqp_peek_new(src->ctx ? src->ctx->amqp : NULL, src->ctx ? &src->ctx->tls : NULL, m->timeout);
    src->priv = m;
    return 0;
}

static void mgmt_disconnect(struct source *src)
{
    struct mgmt *m = src->priv;
    if (m->curl)
        curl_easy_cleanup(m->curl);
    m->curl = NULL;
    free(m->server);
    m->server = NULL;
    m->side_refreshed = -INFINITY;
    m->polled_at = -INFINITY;
}

static void forget_plans(struct mgmt *m)
{
    for (size_t i = 0; i < m->nplans; i++)
        free(m->plans[i].name);
    free(m->plans);
    m->plans = NULL;
    m->nplans = 0;
}

static void mgmt_fini(struct source *src)
{
    struct mgmt *m = src->priv;
    mgmt_disconnect(src);
    snapshot_unref(m->polled);
    amqp_peek_free(m->peek);
    forget_plans(m);
    mgmt_free_bindings(m);
    free(m->base);
    free(m->vhost_escaped);
    free(m->user);
    free(m->password);
    free(m->body);
    free(m);
    src->priv = NULL;
}

static void mgmt_interrupt(struct source *src)
{
    (void)src; /* the progress callback polls source_stopping() */
}

static CURL *mgmt_handle(struct source *src)
{
    struct mgmt *m = src->priv;
    if (m->curl)
        return m->curl;
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERNAME, m->user);
    curl_easy_setopt(c, CURLOPT_PASSWORD, m->password);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, src);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(m->timeout * 1000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(m->timeout * 1000));
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "qdeck");
    tls_curl_apply(c, m->tls, m->curl_error);
    m->curl = c;
    return c;
}

/* Performs GET base+path into m->body. SOURCE_OK with a JSON body for one
 * of the parsers below, or a failure status with a reason. */
static enum source_status mgmt_get(struct source *src, const char *path, char *err, size_t errlen)
{
    struct mgmt *m = src->priv;
    CURL *c = mgmt_handle(src);
    if (!c) {
        snprintf(err, errlen, "cannot create HTTP handle");
        return SOURCE_DOWN;
    }
    char *url = xasprintf("%s%s", m->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    free(url);
    m->body_len = 0;
    if (m->body)
        m->body[0] = '\0';

    CURLcode rc = curl_easy_perform(c);
    bool tls_config;
    if (rc != CURLE_OK && tls_curl_failure(rc, m->curl_error, m->tls, err, errlen, &tls_config))
        return tls_config ? SOURCE_CONFIG_ERROR : SOURCE_DOWN;
    if (rc != CURLE_OK) {
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
            snprintf(err, errlen, "management API did not answer within %gs", m->timeout);
            return SOURCE_TIMEOUT;
        case CURLE_COULDNT_CONNECT:
            snprintf(err, errlen, "connection refused by management API");
            return SOURCE_DOWN;
        case CURLE_WRITE_ERROR:
            snprintf(err, errlen, "management API response larger than %u MiB", MGMT_MAX_BODY >> 20);
            return SOURCE_BAD_RESPONSE;
        default:
            snprintf(err, errlen, "management API: %s", curl_easy_strerror(rc));
            return SOURCE_DOWN;
        }
    }
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
    if (status == 401 || status == 403) {
        snprintf(err, errlen, "%ld from management API: check user and password", status);
        return SOURCE_AUTH_FAILED;
    }
    if (status == 404) {
        snprintf(err, errlen, "404 from management API for %s (wrong vhost or URL prefix?)", path);
        return SOURCE_CONFIG_ERROR;
    }
    if (status != 200) {
        snprintf(err, errlen, "bad response from management API: HTTP %ld", status);
        return SOURCE_BAD_RESPONSE;
    }
    if (!ctype || !strstr(ctype, "json")) {
        snprintf(err, errlen, "bad response from management API: %s, not JSON",
                 ctype ? ctype : "no content type");
        return SOURCE_BAD_RESPONSE;
    }
    curl_off_t total = 0, pre = 0;
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
    if (total > pre)
        m->answer_seconds += (double)(total - pre) / 1e6;
    return SOURCE_OK;
}

static enum source_status parse_json(const char *body, size_t len, cJSON **json, char *err, size_t errlen)
{
    *json = cJSON_ParseWithLength(body ? body : "", len);
    if (!*json) {
        snprintf(err, errlen, "bad response from management API: invalid or truncated JSON (%zu bytes)", len);
        return SOURCE_BAD_RESPONSE;
    }
    return SOURCE_OK;
}

static double number_or_nan(const cJSON *j)
{
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

/* -1 (unknown) unless a count an int64_t holds: never a cast out of range. */
static int64_t count_or_unknown(const cJSON *j)
{
    return cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble < 9223372036854775808.0
               ? (int64_t)j->valuedouble : -1;
}

static const char *string_or_null(const cJSON *j)
{
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* A message_stats rate. The API leaves out the details of an operation
 * that never happened on the queue: that is a rate of 0, not unknown. */
static double stat_rate(const cJSON *stats, const char *name)
{
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(stats, name);
    if (!details)
        return 0;
    return number_or_nan(cJSON_GetObjectItemCaseSensitive(details, "rate"));
}

/* Where a queue's dead letters go, as an address: through the default
 * exchange straight to the queue named by the routing key; through a named
 * exchange to the queue bound with that key (or '#'); else the exchange. */
char *mgmt_dead_letter_target(const char *queue, const char *dlx, const char *dlrk,
                              const struct mgmt_binding_view *bindings, size_t n)
{
    if (!dlx)
        return NULL;
    const char *key = dlrk ? dlrk : queue;
    if (dlx[0] == '\0')
        return xasprintf("amqp:%s", key);
    for (size_t i = 0; i < n; i++)
        if (strcmp(bindings[i].exchange, dlx) == 0 &&
            (strcmp(bindings[i].routing_key, key) == 0 || strcmp(bindings[i].routing_key, "#") == 0))
            return xasprintf("amqp:%s", bindings[i].queue);
    return xasprintf("exchange:%s", dlx);
}

static void queue_from_json(struct snapshot *snap, const cJSON *item, double now,
                            const struct mgmt_binding_view *bindings, size_t nbindings)
{
    const char *name = string_or_null(cJSON_GetObjectItemCaseSensitive(item, "name"));
    if (!name)
        return;
    struct queue_stat *q = snapshot_add(snap, QUEUE_AMQP, name);
    q->ready = count_or_unknown(cJSON_GetObjectItemCaseSensitive(item, "messages_ready"));
    q->unacked = count_or_unknown(cJSON_GetObjectItemCaseSensitive(item, "messages_unacknowledged"));
    q->total = count_or_unknown(cJSON_GetObjectItemCaseSensitive(item, "messages"));
    int64_t consumers = count_or_unknown(cJSON_GetObjectItemCaseSensitive(item, "consumers"));
    q->consumers = consumers > INT_MAX ? INT_MAX : (int)consumers;
    q->utilisation = number_or_nan(cJSON_GetObjectItemCaseSensitive(item, "consumer_capacity"));
    if (isnan(q->utilisation))
        q->utilisation = number_or_nan(cJSON_GetObjectItemCaseSensitive(item, "consumer_utilisation"));
    double head_ts = number_or_nan(cJSON_GetObjectItemCaseSensitive(item, "head_message_timestamp"));
    if (!isnan(head_ts) && q->ready > 0)
        q->head_age = now > head_ts ? now - head_ts : 0;
    const char *state = string_or_null(cJSON_GetObjectItemCaseSensitive(item, "state"));
    if (state)
        q->state = xstrdup(state);

    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(item, "message_stats");
    if (cJSON_IsObject(stats)) {
        q->rate_in = stat_rate(stats, "publish_details");
        q->rate_out = stat_rate(stats, "deliver_get_details");
        q->rate_ack = stat_rate(stats, "ack_details");
        q->rate_redeliver = stat_rate(stats, "redeliver_details");
    } else if (q->total >= 0) {
        q->rate_in = q->rate_out = q->rate_ack = q->rate_redeliver = 0;
    }

    const cJSON *args = cJSON_GetObjectItemCaseSensitive(item, "arguments");
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(item, "effective_policy_definition");
    const char *dlx = string_or_null(cJSON_GetObjectItemCaseSensitive(args, "x-dead-letter-exchange"));
    const char *dlrk = string_or_null(cJSON_GetObjectItemCaseSensitive(args, "x-dead-letter-routing-key"));
    if (!dlx)
        dlx = string_or_null(cJSON_GetObjectItemCaseSensitive(policy, "dead-letter-exchange"));
    if (!dlrk)
        dlrk = string_or_null(cJSON_GetObjectItemCaseSensitive(policy, "dead-letter-routing-key"));
    q->dead_letter_to = mgmt_dead_letter_target(name, dlx, dlrk, bindings, nbindings);
}

enum source_status mgmt_parse_queue_page(const char *body, size_t len, double now,
                                         const struct mgmt_binding_view *bindings, size_t nbindings,
                                         struct snapshot *snap, int *page_count, char *err, size_t errlen)
{
    cJSON *json;
    if (parse_json(body, len, &json, err, errlen) != SOURCE_OK)
        return SOURCE_BAD_RESPONSE;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(json, "items");
    const cJSON *pages = cJSON_GetObjectItemCaseSensitive(json, "page_count");
    if (!cJSON_IsArray(items) || !cJSON_IsNumber(pages)) {
        snprintf(err, errlen, "bad response from management API: no paged queue list");
        cJSON_Delete(json);
        return SOURCE_BAD_RESPONSE;
    }
    *page_count = pages->valueint;
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
        queue_from_json(snap, item, now, bindings, nbindings);
    cJSON_Delete(json);
    return SOURCE_OK;
}

enum source_status mgmt_parse_overview(const char *body, size_t len, char **server, char *err, size_t errlen)
{
    cJSON *json;
    if (parse_json(body, len, &json, err, errlen) != SOURCE_OK)
        return SOURCE_BAD_RESPONSE;
    const char *version = string_or_null(cJSON_GetObjectItemCaseSensitive(json, "rabbitmq_version"));
    *server = xasprintf("RabbitMQ %s", version ? version : "?");
    cJSON_Delete(json);
    return SOURCE_OK;
}

enum source_status mgmt_parse_bindings(const char *body, size_t len, struct mgmt_binding_view **bindings,
                                       size_t *n, char *err, size_t errlen)
{
    *bindings = NULL;
    *n = 0;
    cJSON *json;
    if (parse_json(body, len, &json, err, errlen) != SOURCE_OK)
        return SOURCE_BAD_RESPONSE;
    const cJSON *b;
    cJSON_ArrayForEach(b, json) {
        const char *from = string_or_null(cJSON_GetObjectItemCaseSensitive(b, "source"));
        const char *to = string_or_null(cJSON_GetObjectItemCaseSensitive(b, "destination"));
        const char *type = string_or_null(cJSON_GetObjectItemCaseSensitive(b, "destination_type"));
        const char *rk = string_or_null(cJSON_GetObjectItemCaseSensitive(b, "routing_key"));
        if (!from || !from[0] || !to || !rk || !type || strcmp(type, "queue") != 0)
            continue;
        *bindings = xrealloc(*bindings, (*n + 1) * sizeof **bindings);
        (*bindings)[(*n)++] = (struct mgmt_binding_view){xstrdup(from), xstrdup(to), xstrdup(rk)};
    }
    cJSON_Delete(json);
    return SOURCE_OK;
}

/* Version and bindings: not every refresh, only every MGMT_SIDE_REFRESH s. */
static enum source_status mgmt_refresh_side(struct source *src, char *err, size_t errlen)
{
    struct mgmt *m = src->priv;
    if (clock_mono() - m->side_refreshed < MGMT_SIDE_REFRESH)
        return SOURCE_OK;
    enum source_status st = mgmt_get(src, "api/overview?columns=rabbitmq_version,cluster_name", err, errlen);
    if (st != SOURCE_OK)
        return st;
    char *server;
    st = mgmt_parse_overview(m->body, m->body_len, &server, err, errlen);
    if (st != SOURCE_OK)
        return st;
    free(m->server);
    m->server = server;

    char *path = xasprintf("api/bindings/%s?columns=source,destination,destination_type,routing_key",
                           m->vhost_escaped);
    st = mgmt_get(src, path, err, errlen);
    free(path);
    if (st != SOURCE_OK)
        return st;
    struct mgmt_binding_view *bindings;
    size_t nbindings;
    st = mgmt_parse_bindings(m->body, m->body_len, &bindings, &nbindings, err, errlen);
    if (st != SOURCE_OK)
        return st;
    mgmt_free_bindings(m);
    m->bindings = bindings;
    m->nbindings = nbindings;
    m->side_refreshed = clock_mono();
    return SOURCE_OK;
}

/* Every page of the queue list into a new sealed snapshot. */
static enum source_status poll_queues(struct source *src, const struct snapshot *prev, struct snapshot **out,
                                      char *err, size_t errlen)
{
    struct mgmt *m = src->priv;
    struct snapshot *snap = snapshot_new(prev ? prev->nqueues + 16 : 64);
    double now = clock_wall();
    int page = 1, page_count = 1;
    enum source_status st;
    do {
        char *path = xasprintf("api/queues/%s?page=%d&page_size=%d&columns=%s", m->vhost_escaped,
                               page, MGMT_PAGE_SIZE, queue_columns);
        st = mgmt_get(src, path, err, errlen);
        free(path);
        if (st == SOURCE_OK)
            st = mgmt_parse_queue_page(m->body, m->body_len, now, m->bindings, m->nbindings, snap, &page_count,
                                       err, errlen);
        if (st != SOURCE_OK) {
            snapshot_unref(snap);
            return st;
        }
    } while (++page <= page_count && !source_stopping(src));
    if (source_stopping(src)) {
        snprintf(err, errlen, "stopped");
        snapshot_unref(snap);
        return SOURCE_DOWN;
    }
    snap->taken_at = now;
    snapshot_seal(snap);
    *out = snap;
    return SOURCE_OK;
}

static struct peek_plan *plan_of(struct mgmt *m, const char *name)
{
    for (size_t i = 0; i < m->nplans; i++)
        if (strcmp(m->plans[i].name, name) == 0)
            return &m->plans[i];
    m->plans = xrealloc(m->plans, (m->nplans + 1) * sizeof *m->plans);
    m->plans[m->nplans] = (struct peek_plan){.name = xstrdup(name), .ready = -1, .consumers = -1,
                                             .gap = PEEK_GAP_MIN, .next_at = -INFINITY};
    return &m->plans[m->nplans++];
}

/* Plans for queues that left the screen are dropped: a queue that comes
 * back is read at once. */
static void forget_unfocused(struct mgmt *m, char *const *names, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->nplans; i++) {
        bool focused = false;
        for (size_t j = 0; j < n && !focused; j++)
            focused = strcmp(m->plans[i].name, names[j]) == 0;
        if (focused)
            m->plans[kept++] = m->plans[i];
        else
            free(m->plans[i].name);
    }
    m->nplans = kept;
}

static void apply_exact(struct queue_stat *q, int64_t ready, int consumers)
{
    q->ready = ready;
    q->consumers = consumers;
    if (ready == 0)
        q->head_age = NAN;
    if (q->unacked >= 0)
        q->total = ready + q->unacked;
}

static struct queue_stat *find_row(struct snapshot *snap, const char *name)
{
    for (size_t i = 0; i < snap->nqueues; i++)
        if (snap->queues[i].kind == QUEUE_AMQP && strcmp(snap->queues[i].name, name) == 0)
            return &snap->queues[i];
    return NULL;
}

static bool moving(const struct queue_stat *q)
{
    return (q->rate_in > 0) || (q->rate_out > 0) || (q->unacked > 0);
}

/* Reads one planned queue and sets when to read it next: in PEEK_GAP_MIN
 * while it changes, moves (rates or unacked in the statistics) or is the
 * selected row; otherwise the gap doubles up to PEEK_GAP_MAX, with jitter,
 * so a screen of quiet queues costs the broker a few declares a second,
 * not one per row. -1 when RabbitMQ cannot be asked now. */
static int peek_planned(struct mgmt *m, struct peek_plan *p, const struct queue_stat *q, bool selected, double now)
{
    int64_t ready;
    int consumers;
    char err[256];
    int rc = amqp_peek_queue(m->peek, p->name, &ready, &consumers, err, sizeof err);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        p->ready = -1;
        p->next_at = now + PEEK_GAP_MAX;
        return 0;
    }
    bool changed = ready != p->ready || consumers != p->consumers;
    p->ready = ready;
    p->consumers = consumers;
    p->read_at = now;
    if (changed || selected || moving(q))
        p->gap = PEEK_GAP_MIN;
    else if ((p->gap *= 2) > PEEK_GAP_MAX)
        p->gap = PEEK_GAP_MAX;
    double jitter = p->gap > PEEK_GAP_MIN ? p->gap * 0.25 * ((double)rand_r(&m->seed) / RAND_MAX) : 0;
    p->next_at = now + p->gap - jitter;
    return 0;
}

/* The queues on screen, exactly: ready and consumers from a passive
 * declare; the total follows (unacked stays the statistics' figure). A
 * reading newer than the last poll outranks it, also between its reads. */
static void peek_focus(struct source *src, struct snapshot *snap)
{
    struct mgmt *m = src->priv;
    if (!m->peek)
        return;
    char **names;
    size_t n = source_focus(src, &names);
    forget_unfocused(m, names, n);
    double now = clock_mono();
    for (size_t i = 0; i < n && !source_stopping(src); i++) {
        const struct queue_stat *q = find_row(snap, names[i]);
        if (!q)
            continue;
        struct peek_plan *p = plan_of(m, names[i]);
        if (now >= p->next_at && peek_planned(m, p, q, i == 0, now) < 0)
            break;   /* the statistics alone this time; the peek retries on its timer */
    }
    free_list(names, n);
    for (size_t i = 0; i < m->nplans; i++) {
        struct queue_stat *q = find_row(snap, m->plans[i].name);
        if (q && m->plans[i].ready >= 0 && m->plans[i].read_at > m->polled_mono)
            apply_exact(q, m->plans[i].ready, m->plans[i].consumers);
    }
}

static enum source_status mgmt_collect(struct source *src, const struct snapshot *prev,
                                       struct snapshot **out, char *err, size_t errlen)
{
    struct mgmt *m = src->priv;
    double started = clock_mono();
    enum source_status st = mgmt_refresh_side(src, err, errlen);
    if (st != SOURCE_OK)
        return st;
    double wait = fmax(m->interval, m->poll_seconds / MGMT_BUSY_SHARE);
    if (!m->polled || src->single_pass || started - m->polled_at >= wait) {
        struct snapshot *polled;
        m->answer_seconds = 0;
        if ((st = poll_queues(src, prev, &polled, err, errlen)) != SOURCE_OK)
            return st;
        snapshot_unref(m->polled);
        m->polled = polled;
        m->polled_at = started;
        m->poll_seconds = m->answer_seconds;
        m->polled_mono = clock_mono();
    }
    struct snapshot *snap = snapshot_copy_rows(m->polled);
    double aged = clock_wall() - m->polled->taken_at;   /* the oldest message has waited this much longer */
    for (size_t i = 0; i < snap->nqueues; i++)
        if (!isnan(snap->queues[i].head_age) && aged > 0)
            snap->queues[i].head_age += aged;
    peek_focus(src, snap);
    snap->server = xstrdup(m->server ? m->server : "RabbitMQ");
    snap->taken_at = clock_wall();
    snap->collect_seconds = clock_mono() - started;
    snapshot_seal(snap);
    *out = snap;
    return SOURCE_OK;
}

const struct source_ops mgmt_source_ops = {
    .kind = "rabbitmq",
    .init = mgmt_init,
    .collect = mgmt_collect,
    .disconnect = mgmt_disconnect,
    .interrupt = mgmt_interrupt,
    .fini = mgmt_fini,
};
