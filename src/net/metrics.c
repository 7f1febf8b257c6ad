/* /healthz, /readyz, /metrics and / over libmicrohttpd (see the header). We
 * bind the listening socket ourselves and hand it to MHD, so a taken port
 * is reported with its errno instead of a bare failure; MHD then serves it
 * from one internal polling thread. */
#include "net/metrics.h"

#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/xalloc.h"

/* ---------------------------------------------------------- exposition */

static void reserve(struct metrics_text *t, size_t more)
{
    if (t->len + more + 1 <= t->cap)
        return;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + more + 1)
        cap *= 2;
    t->buf = xrealloc(t->buf, cap);
    t->cap = cap;
}

static void append(struct metrics_text *t, const char *s, size_t n)
{
    reserve(t, n);
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void append_str(struct metrics_text *t, const char *s) { append(t, s, strlen(s)); }

void metrics_printf(struct metrics_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    reserve(t, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void metrics_text_free(struct metrics_text *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

/* HELP text escapes \ and newline; label values also escape ". */
static void append_escaped(struct metrics_text *t, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            append_str(t, "\\\\");
        else if (*s == '\n')
            append_str(t, "\\n");
        else if (quote && *s == '"')
            append_str(t, "\\\"");
        else
            append(t, s, 1);
    }
}

void metrics_family(struct metrics_text *t, const char *name, const char *type, const char *help)
{
    metrics_printf(t, "# HELP %s ", name);
    append_escaped(t, help ? help : "", false);
    metrics_printf(t, "\n# TYPE %s %s\n", name, type);
}

static void append_value(struct metrics_text *t, double v)
{
    if (isnan(v))
        append_str(t, "NaN");
    else if (isinf(v))
        append_str(t, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        metrics_printf(t, "%.0f", v);
    else {
        /* the shortest form that reads back exactly: 0.1, not 0.10000000000000001 */
        char buf[40];
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(buf, sizeof buf, "%.*g", digits, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        append_str(t, buf);
    }
}

/* {k="v",...,extra_key="extra_value"}; nothing when there are no labels. */
static void append_labels(struct metrics_text *t, const char *const *labels, const char *extra_key,
                          const char *extra_value)
{
    bool any = false;
    for (size_t i = 0; labels && labels[i]; i += 2) {
        append_str(t, any ? "," : "{");
        metrics_printf(t, "%s=\"", labels[i]);
        append_escaped(t, labels[i + 1] ? labels[i + 1] : "", true);
        append_str(t, "\"");
        any = true;
    }
    if (extra_key) {
        append_str(t, any ? "," : "{");
        metrics_printf(t, "%s=\"%s\"", extra_key, extra_value);
        any = true;
    }
    if (any)
        append_str(t, "}");
}

void metrics_sample(struct metrics_text *t, const char *name, const char *const *labels, double value)
{
    append_str(t, name);
    append_labels(t, labels, NULL, NULL);
    append_str(t, " ");
    append_value(t, value);
    append_str(t, "\n");
}

void metrics_histogram(struct metrics_text *t, const char *name, const char *const *labels,
                       const double *bounds, const uint64_t *cumulative, size_t nbounds, double sum,
                       uint64_t count)
{
    char le[64];
    for (size_t i = 0; i < nbounds; i++) {
        struct metrics_text v = {0};
        append_value(&v, bounds[i]);
        snprintf(le, sizeof le, "%s", v.buf);
        metrics_text_free(&v);
        metrics_printf(t, "%s_bucket", name);
        append_labels(t, labels, "le", le);
        metrics_printf(t, " %llu\n", (unsigned long long)cumulative[i]);
    }
    metrics_printf(t, "%s_bucket", name);
    append_labels(t, labels, "le", "+Inf");
    metrics_printf(t, " %llu\n", (unsigned long long)count);
    metrics_printf(t, "%s_sum", name);
    append_labels(t, labels, NULL, NULL);
    append_str(t, " ");
    append_value(t, sum);
    metrics_printf(t, "\n%s_count", name);
    append_labels(t, labels, NULL, NULL);
    metrics_printf(t, " %llu\n", (unsigned long long)count);
}

static const double latency_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,   5,    10,    30,   60,  300};
#define NBOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])

void metrics_latency_histogram(struct metrics_text *t, const char *name, const char *const *labels,
                               const struct histogram *h)
{
    uint64_t cumulative[NBOUNDS] = {0};
    for (size_t b = 0; b < HISTOGRAM_BUCKETS; b++) {
        uint64_t n = atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
        if (!n)
            continue;
        uint64_t lo, hi;
        histogram_bucket_range(b, &lo, &hi);
        for (size_t i = 0; i < NBOUNDS; i++)
            if ((double)hi <= latency_bounds[i] * 1e6)
                cumulative[i] += n;
    }
    uint64_t count = histogram_count(h);
    double sum = (double)atomic_load_explicit(&h->sum, memory_order_relaxed) / 1e6;
    for (size_t i = 0; i < NBOUNDS; i++)
        if (cumulative[i] > count)
            cumulative[i] = count;   /* a torn read must still be monotone up to +Inf */
    metrics_histogram(t, name, labels, latency_bounds, cumulative, NBOUNDS, sum, count);
}

/* ---------------------------------------------------------- server */

struct metrics_server {
    struct MHD_Daemon *daemon;
    int fd;
    int port;
    struct metrics_options opt;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
                               size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    struct metrics_server *s = cls;
    static const char text_type[] = "text/plain; charset=utf-8";
    if (*upload_data_size) {
        *upload_data_size = 0;   /* no body is wanted; swallow it */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text_type, xstrdup("only GET\n"), 9);
    if (strcmp(url, "/healthz") == 0)
        return respond(conn, MHD_HTTP_OK, text_type, xstrdup("ok\n"), 3);
    if (strcmp(url, "/readyz") == 0) {
        char reason[512] = "";
        bool ready = s->opt.ready ? s->opt.ready(s->opt.ctx, reason, sizeof reason) : true;
        char *body = ready ? xstrdup("ready\n") : xasprintf("not ready: %s\n", reason[0] ? reason : "unknown");
        return respond(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text_type, body, strlen(body));
    }
    if (strcmp(url, "/metrics") == 0) {
        struct metrics_text t = {0};
        metrics_family(&t, "qdeck_up", "gauge", "1 while the qdeck process serves metrics");
        metrics_sample(&t, "qdeck_up", NULL, 1);
        if (s->opt.collect)
            s->opt.collect(s->opt.ctx, &t);
        return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", t.buf, t.len);
    }
    if (strcmp(url, "/") == 0 && s->opt.index) {
        struct metrics_text t = {0};
        s->opt.index(s->opt.ctx, &t);
        if (!t.buf)
            t.buf = xstrdup("");
        return respond(conn, MHD_HTTP_OK, "text/html; charset=utf-8", t.buf, t.len);
    }
    return respond(conn, MHD_HTTP_NOT_FOUND, text_type, xstrdup("not found: /healthz /readyz /metrics\n"), 36);
}

/* Splits "host:port" / "[v6]:port" and binds a listening socket. */
static int bind_addr(const char *addr, int *port_out, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1]) {
        snprintf(err, errlen, "metrics address '%s' wants host:port (e.g. 127.0.0.1:9187)", addr);
        return -1;
    }
    size_t hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']')
        snprintf(host, sizeof host, "%.*s", (int)hl - 2, addr + 1);
    else
        snprintf(host, sizeof host, "%.*s", (int)hl, addr);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "metrics address '%s': %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "metrics address %s: %s", addr, strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

struct metrics_server *metrics_start(const struct metrics_options *opt, char *err, size_t errlen)
{
    if (!opt->addr || !*opt->addr) {
        snprintf(err, errlen, "no metrics address given");
        return NULL;
    }
    struct metrics_server *s = xcalloc(1, sizeof *s);
    s->opt = *opt;
    s->fd = bind_addr(opt->addr, &s->port, err, errlen);
    if (s->fd < 0) {
        free(s);
        return NULL;
    }
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0, NULL, NULL, handle, s,
                                 MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "metrics address %s: libmicrohttpd could not start", opt->addr);
        close(s->fd);   /* not MHD's: it never started */
        free(s);
        return NULL;
    }
    return s;
}

void metrics_stop(struct metrics_server *s)
{
    if (!s)
        return;
    /* Quiesced, MHD hands the listening socket back instead of closing it
     * itself; either way it is closed exactly once. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    MHD_stop_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(s);
}

int metrics_port(const struct metrics_server *s) { return s->port; }
