/* Levelled logging to a file (or stderr when no curses screen is up).
 * The macros test the level before formatting, as Redis' serverLog does, so
 * a disabled debug line costs one comparison. Nothing is ever written to the
 * terminal while curses owns it: log_to_terminal(false) turns that off. */
#ifndef QDECK_LOG_H
#define QDECK_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

int log_open(const char *path);          /* append to path; 0 or -1 */
void log_to_terminal(bool enabled);      /* stderr fallback when no file */
void log_close(void);
/* One JSON object per line ({"ts","level","msg"}) instead of text. */
void log_set_json(bool enabled);
void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_AT(level, ...) \
    do { if ((level) >= log_min_level) log_write((level), __VA_ARGS__); } while (0)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)

#endif
