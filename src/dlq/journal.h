/* The replay journal (see journal.c): identities of messages whose replay
 * the broker confirmed, kept on disk so a broker crash that un-acks their
 * DLQ copies does not get them replayed twice. */
#ifndef QDECK_DLQ_JOURNAL_H
#define QDECK_DLQ_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "dlq/dlq.h"

struct dlq_journal;

/* Of m as a message of DLQ d (the queue name is part of it). */
uint64_t dlq_message_identity(const struct dlq *d, const struct dlq_message *m);
/* Reads the file (creating it and its directory). -1 with err. */
int dlq_journal_open(const char *path, struct dlq_journal **out, char *err, size_t errlen);
/* True (and counts it used) when key was replayed before. */
bool dlq_journal_take(struct dlq_journal *j, uint64_t key);
/* Appends and fdatasyncs; -1 when the disk refused. */
int dlq_journal_append(struct dlq_journal *j, const uint64_t *keys, size_t n);
void dlq_journal_close(struct dlq_journal *j);

#endif
