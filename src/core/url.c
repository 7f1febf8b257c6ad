/* Parse and redact broker URLs with curl_url. */
#include "core/url.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static const struct { const char *scheme; int port; } default_ports[] = {
    {"amqp", 5672}, {"amqps", 5671}, {"http", 80}, {"https", 443},
    {"redis", 6379}, {"rediss", 6379},
};

static int scheme_default_port(const char *scheme)
{
    for (size_t i = 0; i < sizeof default_ports / sizeof default_ports[0]; i++)
        if (strcmp(default_ports[i].scheme, scheme) == 0)
            return default_ports[i].port;
    return 0;
}

static char *url_part(CURLU *h, CURLUPart part, unsigned flags)
{
    char *v = NULL;
    if (curl_url_get(h, part, &v, flags) != CURLUE_OK || !v)
        return NULL;
    char *copy = xstrdup(v);
    curl_free(v);
    return copy;
}

static int parse_db(const char *s, int *db)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 65535)
        return -1;
    *db = (int)v;
    return 0;
}

static int parse_unix_socket(const char *text, struct broker_url *out, char *err, unsigned errlen)
{
    const char *path = text + strlen("unix://");
    const char *q = strchr(path, '?');
    out->scheme = xstrdup("unix");
    out->path = q ? xstrndup(path, (size_t)(q - path)) : xstrdup(path);
    if (out->path[0] != '/') {
        snprintf(err, errlen, "unix socket URL needs an absolute path: unix:///path/to/socket");
        return -1;
    }
    if (q && strncmp(q, "?db=", 4) == 0) {
        if (parse_db(q + 4, &out->db) < 0) {
            snprintf(err, errlen, "bad database number in '%s'", text);
            return -1;
        }
    } else if (q) {
        snprintf(err, errlen, "unix socket URL accepts only ?db=N");
        return -1;
    }
    out->host = xstrdup("localhost");
    out->redacted = xstrdup(text);
    return 0;
}

int broker_url_parse(const char *text, struct broker_url *out, char *err, unsigned errlen)
{
    memset(out, 0, sizeof *out);
    if (strncmp(text, "unix://", 7) == 0) {
        if (parse_unix_socket(text, out, err, errlen) < 0) {
            broker_url_free(out);
            return -1;
        }
        return 0;
    }

    CURLU *h = curl_url();
    if (!h) {
        snprintf(err, errlen, "out of memory parsing URL");
        return -1;
    }
    CURLUcode rc = curl_url_set(h, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        snprintf(err, errlen, "cannot parse URL: %s", curl_url_strerror(rc));
        curl_url_cleanup(h);
        return -1;
    }
    out->scheme = url_part(h, CURLUPART_SCHEME, 0);
    out->user = url_part(h, CURLUPART_USER, CURLU_URLDECODE);
    out->password = url_part(h, CURLUPART_PASSWORD, CURLU_URLDECODE);
    out->host = url_part(h, CURLUPART_HOST, 0);
    char *port = url_part(h, CURLUPART_PORT, 0);
    out->port = port ? atoi(port) : scheme_default_port(out->scheme);
    free(port);
    char *path = url_part(h, CURLUPART_PATH, CURLU_URLDECODE);
    out->path = xstrdup(path && path[0] == '/' ? path + 1 : (path ? path : ""));
    free(path);

    if (out->password)
        curl_url_set(h, CURLUPART_PASSWORD, "***", 0);
    out->redacted = url_part(h, CURLUPART_URL, 0);
    curl_url_cleanup(h);

    if (!out->host || !out->host[0]) {
        snprintf(err, errlen, "URL has no host: %s", out->redacted ? out->redacted : "");
        broker_url_free(out);
        return -1;
    }
    if (strcmp(out->scheme, "redis") == 0 || strcmp(out->scheme, "rediss") == 0) {
        if (out->path[0] && parse_db(out->path, &out->db) < 0) {
            snprintf(err, errlen, "bad Redis database '%s' in %s", out->path, out->redacted);
            broker_url_free(out);
            return -1;
        }
    }
    return 0;
}

void broker_url_free(struct broker_url *u)
{
    free(u->scheme);
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->path);
    free(u->redacted);
    memset(u, 0, sizeof *u);
}

char *url_redact(const char *text)
{
    struct broker_url u;
    char err[256];
    if (!text)
        return xstrdup("");
    if (broker_url_parse(text, &u, err, sizeof err) < 0)
        return xstrdup("<invalid URL>");
    char *r = xstrdup(u.redacted);
    broker_url_free(&u);
    return r;
}

char *url_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        return xstrdup("");
    char *copy = xstrdup(e);
    curl_free(e);
    return copy;
}
