/* TLS to the brokers, in one place: every amqps:// connection (rabbitmq-c
 * with OpenSSL) and every https:// management API handle (libcurl) takes the
 * context's tls_ca, tls_cert, tls_key and tls_verify from here, and every
 * TLS failure is explained here, in one line that names the certificate
 * problem and the key that set the file ("certificate verify failed: unable
 * to get local issuer certificate (tls_ca = /etc/qdeck/ca.pem)").
 *
 * rabbitmq-c checks the peer's certificate only after the handshake and
 * keeps the reason to itself, so a verify callback on the socket's SSL_CTX
 * records OpenSSL's first verification error; it changes no decision.
 * Files are checked before any connection: one that cannot be read, or
 * that OpenSSL cannot use, is a configuration error (retrying won't help),
 * told apart from a broker whose certificate fails the check. */
#ifndef QDECK_NET_TLS_H
#define QDECK_NET_TLS_H

#include <amqp.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

/* What the certificate check of one handshake found. */
struct tls_check {
    long verify_error;     /* OpenSSL's X509_V_* code of the first failure, 0 (X509_V_OK): none */
};

/* Checks that the files tls names can be read, are what OpenSSL wants
 * (PEM; an unencrypted key) and that the key is the certificate's. 0, or
 * -1 with one line in err naming the key and the file. */
int tls_check_files(const struct tls_options *tls, char *err, size_t errlen);

/* A new amqps socket of conn with the CA (else the system's CAs), the client
 * certificate and key, and verification of peer and host name as tls says;
 * check is filled by the handshake. NULL with one line in err when a file
 * cannot be used (the connection is left without a socket). */
amqp_socket_t *tls_amqp_socket(amqp_connection_state_t conn, const struct tls_options *tls, struct tls_check *check,
                               char *err, size_t errlen);

/* What a failed amqps connection says about TLS. */
enum tls_failure {
    TLS_NOT_THE_CAUSE,
    TLS_REFUSED,    /* the certificate check or the handshake failed: retrying will not help */
    TLS_CLOSED,     /* the peer closed the connection in the handshake without a reason (may pass) */
};

/* After an amqps open failed with status (an AMQP_STATUS_*), or the login
 * on it failed (status = the login's library error): whether TLS was the
 * cause, and if so one line in why naming it. Reads this thread's OpenSSL
 * error queue, so call it right after the failure. */
enum tls_failure tls_amqp_failure(int status, const struct tls_check *check, const struct tls_options *tls,
                                  char *why, size_t len);

/* Sets CA, client certificate and key, and verification on a libcurl
 * handle; errbuf (CURL_ERROR_SIZE bytes, owned by the caller for the
 * handle's life) receives curl's detail for tls_curl_failure. */
void tls_curl_apply(CURL *c, const struct tls_options *tls, char *errbuf);

/* After curl_easy_perform failed with rc: whether TLS was the cause, and if
 * so one line in why; *config is true when a file is unusable. */
bool tls_curl_failure(CURLcode rc, const char *errbuf, const struct tls_options *tls, char *why, size_t len,
                      bool *config);

#endif
