/* Who is acting: the one name qdeck gives the person (or service) behind
 * a change, in the audit trail, the guardrail's "set by", and anywhere else
 * an actor is named. It comes from the password database entry of the
 * effective uid (never $USER, which may be unset or say anything), plus
 * the host name, so every place agrees. */
#ifndef QDECK_CORE_IDENTITY_H
#define QDECK_CORE_IDENTITY_H

#include <stddef.h>

/* The user name of geteuid(), or "uid N" when it has no passwd entry. */
void identity_user(char *out, size_t len);
/* gethostname(), or "unknown". */
void identity_host(char *out, size_t len);
/* "user@host". */
void identity_actor(char *out, size_t len);

#endif
