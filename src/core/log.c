/* One log sink shared by all threads; a line is written with one fprintf
 * under a mutex so lines from collectors never interleave. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_min_level = LOG_WARN;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static bool log_terminal = true;
static bool log_json;

void log_set_json(bool enabled) { log_json = enabled; }

/* msg as the inside of a JSON string. */
static void json_escape(const char *msg, char *out, size_t len)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 7 < len; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

int log_open(const char *path)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    pthread_mutex_lock(&log_lock);
    if (log_file)
        fclose(log_file);
    log_file = f;
    pthread_mutex_unlock(&log_lock);
    return 0;
}

void log_to_terminal(bool enabled)
{
    pthread_mutex_lock(&log_lock);
    log_terminal = enabled;
    pthread_mutex_unlock(&log_lock);
}

void log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_file)
        fclose(log_file);
    log_file = NULL;
    pthread_mutex_unlock(&log_lock);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    pthread_mutex_lock(&log_lock);
    FILE *out = log_file ? log_file : (log_terminal ? stderr : NULL);
    if (out && log_json) {
        char esc[2 * sizeof msg];
        json_escape(msg, esc, sizeof esc);
        fprintf(out, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\"}\n", when,
                (long)(tv.tv_usec / 1000), names[level], esc);
    } else if (out) {
        fprintf(out, "%s.%03ldZ %s %s\n", when, (long)(tv.tv_usec / 1000), names[level], msg);
    }
    pthread_mutex_unlock(&log_lock);
}
