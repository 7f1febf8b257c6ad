/* TLS options and TLS failures for rabbitmq-c and libcurl (see tls.h). */
#include "net/tls.h"

#include <amqp_ssl_socket.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

/* The key a client certificate's private key comes from: tls_key, else the
 * certificate's own file (one PEM holding both). */
static const char *key_file(const struct tls_options *tls)
{
    return tls->key ? tls->key : tls->cert;
}

static int readable(const char *key, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f) {
        fclose(f);
        return 0;
    }
    snprintf(err, errlen, "%s = %s: cannot read: %s", key, path, strerror(errno));
    return -1;
}

/* OpenSSL's reason for the last error of this thread, or NULL. */
static const char *openssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    return reason && *reason ? reason : NULL;
}

/* An encrypted key is refused rather than asked for on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *user)
{
    (void)buf; (void)size; (void)rwflag; (void)user;
    return 0;
}

/* Loads the files as a connection would: what OpenSSL cannot use, or a
 * key that is not the certificate's, is said here, before any network. */
static int openssl_check(const struct tls_options *tls, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot set up OpenSSL: %s", openssl_reason() ? openssl_reason() : "out of memory");
        return -1;
    }
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    ERR_clear_error();
    int rc = -1;
    if (tls->ca && SSL_CTX_load_verify_locations(ctx, tls->ca, NULL) != 1)
        snprintf(err, errlen, "tls_ca = %s: not a PEM CA certificate (%s)", tls->ca,
                 openssl_reason() ? openssl_reason() : "unusable");
    else if (tls->cert && SSL_CTX_use_certificate_chain_file(ctx, tls->cert) != 1)
        snprintf(err, errlen, "tls_cert = %s: not a PEM certificate (%s)", tls->cert,
                 openssl_reason() ? openssl_reason() : "unusable");
    else if (tls->cert && !tls->key && SSL_CTX_use_PrivateKey_file(ctx, tls->cert, SSL_FILETYPE_PEM) != 1)
        snprintf(err, errlen, "tls_cert = %s holds no unencrypted private key, and tls_key is not set (%s)",
                 tls->cert, openssl_reason() ? openssl_reason() : "unusable");
    else if (tls->key && SSL_CTX_use_PrivateKey_file(ctx, tls->key, SSL_FILETYPE_PEM) != 1)
        snprintf(err, errlen, "tls_key = %s: not the unencrypted PEM private key of tls_cert = %s (%s)", tls->key,
                 tls->cert, openssl_reason() ? openssl_reason() : "unusable");
    else
        rc = 0;
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return rc;
}

int tls_check_files(const struct tls_options *tls, char *err, size_t errlen)
{
    if (tls->key && !tls->cert) {
        snprintf(err, errlen, "tls_key = %s is set without tls_cert (the client certificate it belongs to)",
                 tls->key);
        return -1;
    }
    if (tls->ca && readable("tls_ca", tls->ca, err, errlen) < 0)
        return -1;
    if (tls->cert && readable("tls_cert", tls->cert, err, errlen) < 0)
        return -1;
    if (tls->key && readable("tls_key", tls->key, err, errlen) < 0)
        return -1;
    return openssl_check(tls, err, errlen);
}

/* Records the first certificate the check refused; the verdict is left to
 * rabbitmq-c (it reads SSL_get_verify_result after the handshake). */
static int on_verify(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls_check *check = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    if (!ok && check && check->verify_error == X509_V_OK)
        check->verify_error = X509_STORE_CTX_get_error(store);
    return ok;
}

amqp_socket_t *tls_amqp_socket(amqp_connection_state_t conn, const struct tls_options *tls, struct tls_check *check,
                               char *err, size_t errlen)
{
    check->verify_error = X509_V_OK;
    if (tls_check_files(tls, err, errlen) < 0)
        return NULL;
    amqp_socket_t *sock = amqp_ssl_socket_new(conn);
    if (!sock) {
        snprintf(err, errlen, "cannot create a TLS socket: %s", openssl_reason() ? openssl_reason() : "out of memory");
        return NULL;
    }
    SSL_CTX *ctx = amqp_ssl_socket_get_context(sock);
    SSL_CTX_set_app_data(ctx, check);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, on_verify);
    ERR_clear_error();
    if (tls->ca ? amqp_ssl_socket_set_cacert(sock, tls->ca) != AMQP_STATUS_OK
                : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errlen, "tls_ca = %s: not a PEM CA certificate (%s)", tls->ca ? tls->ca : "(the system's)",
                 openssl_reason() ? openssl_reason() : "unusable");
        return NULL;
    }
    if (tls->cert && amqp_ssl_socket_set_key(sock, tls->cert, key_file(tls)) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "tls_cert = %s, tls_key = %s: not a PEM certificate and its unencrypted key (%s)",
                 tls->cert, key_file(tls), openssl_reason() ? openssl_reason() : "unusable");
        return NULL;
    }
    amqp_ssl_socket_set_verify_peer(sock, tls->verify);
    amqp_ssl_socket_set_verify_hostname(sock, tls->verify);
    ERR_clear_error();   /* what the login meets later is then the connection's own */
    return sock;
}

/* The hint after a refused certificate: which CA it was checked against. */
static void ca_hint(const struct tls_options *tls, char *buf, size_t len)
{
    if (tls->ca)
        snprintf(buf, len, "tls_ca = %s", tls->ca);
    else
        snprintf(buf, len, "tls_ca not set: checked against the system's CAs");
}

/* A handshake the broker (or the protocol) refused: its reason, and which
 * client certificate went with it. */
static void handshake_failure(const char *reason, const struct tls_options *tls, char *why, size_t len)
{
    if (tls->cert)
        snprintf(why, len, "TLS handshake failed: %s (tls_cert = %s)", reason, tls->cert);
    else if (strstr(reason, "certificate") || strstr(reason, "handshake failure"))
        snprintf(why, len, "TLS handshake failed: %s (no tls_cert given: does the broker want a client "
                           "certificate?)", reason);
    else if (strstr(reason, "wrong version number") || strstr(reason, "packet length too long"))
        snprintf(why, len, "TLS handshake failed: %s (is the port a TLS port?)", reason);
    else
        snprintf(why, len, "TLS handshake failed: %s", reason);
}

enum tls_failure tls_amqp_failure(int status, const struct tls_check *check, const struct tls_options *tls,
                                  char *why, size_t len)
{
    char hint[512];
    ca_hint(tls, hint, sizeof hint);
    const char *reason = openssl_reason();
    switch (status) {
    case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
        if (check->verify_error != X509_V_OK)
            snprintf(why, len, "certificate verify failed: %s (%s)", X509_verify_cert_error_string(check->verify_error),
                     hint);
        else
            snprintf(why, len, "certificate verify failed: the broker sent no certificate (%s)", hint);
        return TLS_REFUSED;
    case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
        snprintf(why, len, "certificate verify failed: the broker's certificate does not name the host of the URL "
                           "(rabbitmq-c reads DNS names only, not IP entries, of its subjectAltName; "
                           "tls_verify = false skips this check)");
        return TLS_REFUSED;
    case AMQP_STATUS_SSL_CONNECTION_FAILED:
        if (!reason) {
            snprintf(why, len, "the peer closed the connection during the TLS handshake (is the port a TLS port?)");
            return TLS_CLOSED;
        }
        handshake_failure(reason, tls, why, len);
        return TLS_REFUSED;
    case AMQP_STATUS_SSL_ERROR:   /* TLS 1.3: the broker checks a client certificate after the handshake */
        if (reason) {
            handshake_failure(reason, tls, why, len);
            return TLS_REFUSED;
        }
        if (tls->cert)
            snprintf(why, len, "the broker closed the TLS connection after the handshake: it refused the client "
                               "certificate (tls_cert = %s)?", tls->cert);
        else
            snprintf(why, len, "the broker closed the TLS connection after the handshake: does it want a client "
                               "certificate (tls_cert, tls_key)?");
        return TLS_CLOSED;
    default:
        if (!reason)
            return TLS_NOT_THE_CAUSE;
        handshake_failure(reason, tls, why, len);   /* an alert read after the handshake (TLS 1.3) */
        return TLS_REFUSED;
    }
}

void tls_curl_apply(CURL *c, const struct tls_options *tls, char *errbuf)
{
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (tls->ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, tls->ca);
    if (tls->cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, tls->cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key_file(tls));
    }
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, tls->verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, tls->verify ? 2L : 0L);
}

/* curl's "OpenSSL SSL_read: error:0A000418:SSL routines::tlsv1 alert
 * unknown ca, errno 0" without OpenSSL's codes: "tlsv1 alert unknown ca". */
static const char *openssl_detail(const char *detail, char *buf, size_t len)
{
    const char *routines = strstr(detail, "::");
    snprintf(buf, len, "%s", routines ? routines + 2 : detail);
    char *errno_part = strstr(buf, ", errno");
    if (errno_part)
        *errno_part = '\0';
    return buf;
}

bool tls_curl_failure(CURLcode rc, const char *errbuf, const struct tls_options *tls, char *why, size_t len,
                      bool *config)
{
    static const char problem[] = "SSL certificate problem: ";
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
    char hint[512], reason[CURL_ERROR_SIZE];
    ca_hint(tls, hint, sizeof hint);
    *config = false;
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        if (strncmp(detail, problem, sizeof problem - 1) == 0)
            snprintf(why, len, "certificate verify failed: %s (%s)", detail + sizeof problem - 1, hint);
        else
            snprintf(why, len, "certificate verify failed: %s (tls_verify = false skips this check)", detail);
        return true;
    case CURLE_SSL_CACERT_BADFILE:
        *config = true;
        snprintf(why, len, "%s: %s", hint, detail);
        return true;
    case CURLE_SSL_CERTPROBLEM:
        *config = true;
        snprintf(why, len, "tls_cert = %s, tls_key = %s: %s", tls->cert ? tls->cert : "-",
                 tls->cert ? key_file(tls) : "-", detail);
        return true;
    case CURLE_RECV_ERROR:   /* TLS 1.3: the broker's alert on the client certificate comes after the handshake */
    case CURLE_SEND_ERROR:
        if (!strstr(detail, "SSL"))
            return false;
        handshake_failure(openssl_detail(detail, reason, sizeof reason), tls, why, len);
        return true;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_INITFAILED:
        handshake_failure(detail, tls, why, len);
        return true;
    default:
        return false;
    }
}
