/* Alerts: the [alerts] thresholds of the config checked against what the
 * console sees — queue depth, the oldest message's age, how fast a
 * dead-letter queue grows; and from the workers' heartbeats, open
 * breakers, end-to-end p99 and the fleet's error rate — after every
 * refresh. Alerts are highlighted on
 * the Overview and counted in the header; a new one rings the terminal
 * bell when [alerts] bell = true. Nothing is written anywhere: a console
 * that watches is not an actor. */
#ifndef QDECK_ALERTS_H
#define QDECK_ALERTS_H

#include <stdbool.h>
#include <stddef.h>

struct alert {
    char key[300];        /* what it is about, stable across refreshes: "depth amqp:orders" */
    char text[300];       /* one line for the screen */
};

struct alert_set {
    struct alert *items;
    size_t n, cap;
};

struct ui;

/* Rebuilds ui->alerts; true when an alert appeared that was not there before. */
bool alerts_evaluate(struct ui *ui);
void alerts_free(struct alert_set *set);
/* Whether address names a dead-letter queue (".dlq" or ":dlq" at the end). */
bool queue_is_dlq(const char *addr);

#endif
