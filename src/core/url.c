/* Parse and redact broker URLs with curl_url. */
#include "core/url.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/number.h"
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
    long v;
    if (number_parse_long(s, 0, 65535, &v) < 0)
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
    long port_number = scheme_default_port(out->scheme);
    if (port && number_parse_long(port, 1, 65535, &port_number) < 0)
        port_number = 0;   /* curl_url already refuses ports that are not 1..65535 */
    out->port = (int)port_number;
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

static const struct {
    const char *label;
    const char *schemes[4];
    const char *want;
} roles[] = {
    [URL_ROLE_AMQP] = {"AMQP URL (--amqp)", {"amqp", "amqps"}, "amqp:// or amqps://"},
    [URL_ROLE_MGMT] = {"management API URL (--mgmt)", {"http", "https"}, "http:// or https://"},
    [URL_ROLE_REDIS] = {"Redis URL (--redis)", {"redis", "unix"}, "redis:// or unix://"},
};

/* The scheme of text as curl_url reads it (lower case), or NULL. */
static char *scheme_of(const char *text)
{
    if (strncmp(text, "unix://", 7) == 0)
        return xstrdup("unix");
    CURLU *h = curl_url();
    if (!h)
        return NULL;
    char *scheme = NULL;
    if (curl_url_set(h, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK)
        scheme = url_part(h, CURLUPART_SCHEME, 0);
    curl_url_cleanup(h);
    return scheme;
}

int broker_url_check_role(const char *text, enum url_role role, char *err, unsigned errlen)
{
    char *scheme = scheme_of(text);
    if (!scheme) {
        char *shown = url_redact(text);
        snprintf(err, errlen, "%s %s is not a URL: want %s", roles[role].label, shown, roles[role].want);
        free(shown);
        return -1;
    }
    for (size_t i = 0; i < sizeof roles[role].schemes / sizeof roles[role].schemes[0]; i++)
        if (roles[role].schemes[i] && strcmp(scheme, roles[role].schemes[i]) == 0) {
            free(scheme);
            return 0;
        }
    char *shown = url_redact(text);
    if (role == URL_ROLE_REDIS && strcmp(scheme, "rediss") == 0) {
        snprintf(err, errlen, "%s: %s", shown, URL_REDISS_REFUSAL);
        free(shown);
        free(scheme);
        return -1;
    }
    const char *hint = "";
    if (role == URL_ROLE_AMQP && (!strcmp(scheme, "http") || !strcmp(scheme, "https")))
        hint = " (a management API URL belongs to --mgmt)";
    else if (role == URL_ROLE_MGMT && (!strcmp(scheme, "amqp") || !strcmp(scheme, "amqps")))
        hint = " (an AMQP URL belongs to --amqp)";
    snprintf(err, errlen, "%s %s must be %s, not %s://%s", roles[role].label, shown, roles[role].want, scheme,
             hint);
    free(shown);
    free(scheme);
    return -1;
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
