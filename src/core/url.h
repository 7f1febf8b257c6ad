/* Broker URLs: parsed with libcurl's curl_url, never by hand, and redacted
 * before anything shows them. A password becomes "***" on screen, in logs
 * and in --json; the original stays only in the connection code.
 *
 * Redis over a unix socket is written unix:///path/to/redis.sock[?db=N]; that
 * is a file path, not a network URL, and is split without curl_url (which
 * would take the first path segment for a host). */
#ifndef QDECK_URL_H
#define QDECK_URL_H

#include <stdbool.h>

struct broker_url {
    char *scheme;      /* "amqp", "amqps", "http", "https", "redis", "unix" */
    char *user;        /* decoded, NULL when absent */
    char *password;    /* decoded, NULL when absent */
    char *host;
    int port;          /* scheme default when absent */
    char *path;        /* decoded path without the leading '/', or socket path */
    int db;            /* redis database number */
    char *redacted;    /* the URL with the password as "***" */
};

/* 0 on success; -1 with a one-line reason in err. */
int broker_url_parse(const char *text, struct broker_url *out, char *err, unsigned errlen);
void broker_url_free(struct broker_url *u);

/* Which broker a URL is given for; each takes only its own schemes. */
enum url_role { URL_ROLE_AMQP, URL_ROLE_MGMT, URL_ROLE_REDIS };
/* 0 when text's scheme is one the role speaks (AMQP: amqp, amqps; management
 * API: http, https; Redis: redis, unix); else -1 with one line
 * naming the flag, the (redacted) URL and the schemes wanted. */
int broker_url_check_role(const char *text, enum url_role role, char *err, unsigned errlen);

/* Why a rediss:// URL is refused (after "URL: "): the hiredis qdeck is built
 * with has no TLS. */
#define URL_REDISS_REFUSAL "TLS to Redis needs hiredis >= 1.0 with SSL; Debian's hiredis 0.14 has none"

/* The URL with its password replaced by "***"; a new string. Unparseable
 * input is returned as "<invalid URL>" so nothing secret can leak. */
char *url_redact(const char *text);

/* Percent-encodes s for use in a URL path segment or userinfo; new string. */
char *url_escape(const char *s);

#endif
