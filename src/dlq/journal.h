/* The replay journal (see journal.c): which DLQ copies a replay republished,
 * under which replay token, and whether the broker confirmed it, kept on
 * disk so a broker crash that un-acks a confirmed copy does not get it
 * replayed twice, while a task that died again is never taken for one. */
#ifndef QDECK_DLQ_JOURNAL_H
#define QDECK_DLQ_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "dlq/dlq.h"

#define DLQ_REPLAY_TOKEN_HEADER "x-qdeck-replay"
#define DLQ_TOKEN_LEN 40

struct dlq_journal;

struct dlq_journal_entry {
    uint64_t identity;              /* dlq_message_identity() of the DLQ copy */
    char token[DLQ_TOKEN_LEN];      /* the token its republished twin carries */
    bool confirmed;                 /* the broker confirmed that twin */
};

/* Of m as a message of DLQ d: address, headers (x-death, tokens), message
 * id, timestamp and body. */
uint64_t dlq_message_identity(const struct dlq *d, const struct dlq_message *m);
/* True when m carries something that changes with every death: x-death
 * time, qdeck's dead_at / x-qdeck-dead-at, or a replay token. Only such a
 * copy can be told from the same task dead again. */
bool dlq_message_has_death_mark(const struct dlq_message *m);
/* The replay token m carries (from the replay it came out of), "" none. */
void dlq_message_token(const struct dlq_message *m, char *out, size_t len);
/* A fresh token: 16 random hex digits, then '.' and seq. */
void dlq_new_token(uint64_t run, unsigned long seq, char *out, size_t len);
uint64_t dlq_token_run(void);

/* Reads the file (creating it and its directory). -1 with err. */
int dlq_journal_open(const char *path, struct dlq_journal **out, char *err, size_t errlen);
/* True (and uses the entry up) when the copy with this identity was
 * republished and CONFIRMED before; token gets that twin's token. */
bool dlq_journal_take(struct dlq_journal *j, uint64_t identity, char *token, size_t len);
/* Before publishing the twin of the copy with this identity: a "p" line. */
int dlq_journal_publishing(struct dlq_journal *j, uint64_t identity, const char *token);
/* True (once) when a replay published a twin of this copy and never
 * learned whether it was confirmed (it was killed): the copy may now be
 * duplicated by replaying it. */
bool dlq_journal_take_unsettled(struct dlq_journal *j, uint64_t identity);
/* Whether take would be true, without using the entry up. */
bool dlq_journal_has_confirmed(struct dlq_journal *j, uint64_t identity);
/* Appends and fdatasyncs; -1 when the disk refused. */
int dlq_journal_append(struct dlq_journal *j, const struct dlq_journal_entry *e, size_t n);
void dlq_journal_close(struct dlq_journal *j);

#endif
