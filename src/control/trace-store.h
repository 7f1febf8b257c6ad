/* Reading the qdeck:trace stream (control/keys.h): one record per finished
 * attempt, written by the workers (worker/results.h, results_append_trace)
 * in the same pipeline as the result writes. Records come back as JSON
 * objects in the JSONL shape `qdeck sim` reads:
 *   {"t", "type", "queue", "priority", "wait", "service", "e2e", "outcome",
 *    "attempt", "tokens_in", "tokens_out", "id", "payload"?}
 * with numbers as numbers, t in wall seconds (the caller rebases it) and
 * payload as the task's JSON when the worker kept it (small payloads). */
#ifndef QDECK_CONTROL_TRACE_STORE_H
#define QDECK_CONTROL_TRACE_STORE_H

#include <cJSON.h>
#include <hiredis.h>
#include <stddef.h>

#define TRACE_CHUNK 1000   /* entries per XRANGE */

/* One stream entry's fields (alternating name, value) as a record; NULL
 * when the entry lacks t, type or service. */
cJSON *trace_record_from_fields(const redisReply *fields);

/* Calls fn for every record whose entry was written at or after since_wall
 * (0: all) and whose type is type (NULL: any), oldest first, reading the
 * stream TRACE_CHUNK entries per round trip. fn owns the record. Returns
 * the number of records, or -1 with err. */
typedef void (*trace_record_fn)(cJSON *record, void *arg);
long trace_read(redisContext *c, double since_wall, const char *type, trace_record_fn fn, void *arg, char *err,
                size_t errlen);

/* One line of a trace file as `qdeck trace replay` reads it. */
struct trace_line {
    double t;              /* seconds from the trace's start, >= 0 */
    char *type;
    char *payload;         /* JSON text ("{}" when the record has none) */
    char *id;              /* the recorded task's id, or NULL */
    int priority;          /* -1: not in the record */
    int attempt;           /* 1 when not in the record */
};

/* 1 with *out filled, 0 for a blank line, -1 with *why ("not a JSON
 * object", "no \"t\" (seconds, >= 0)", "no \"type\""). */
int trace_parse_line(const char *line, struct trace_line *out, const char **why);
void trace_line_free(struct trace_line *l);

/* "90", "90s", "15m", "2h", "1d" -> seconds; -1 when it is not one. */
int trace_parse_duration(const char *text, double *out);

#endif
