/* Small formatters the views, the header and the alerts share (see
 * format.h). Pure functions: no screen, no struct ui. */
#include "ui/format.h"

#include <math.h>
#include <stdio.h>

#include "core/clock.h"

void fmt_count(char *buf, size_t len, int64_t v)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else if (v < 1000000)
        snprintf(buf, len, "%lld", (long long)v);
    else
        snprintf(buf, len, "%.1fM", (double)v / 1e6);
}

void fmt_rate(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (v < 1000)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.1fk", v / 1000);
}

int scroll_top(int top, int selected, int rows, int n)
{
    if (rows <= 0)
        return top;
    if (selected < top)
        top = selected;
    if (selected >= top + rows)
        top = selected - rows + 1;
    if (top > n - rows)
        top = n - rows;
    return top > 0 ? top : 0;
}

void fmt_age(char *buf, size_t len, double seconds, bool at_least)
{
    char d[32];
    format_duration(seconds, d, sizeof d);
    snprintf(buf, len, "%s%s", at_least && !isnan(seconds) ? "≥" : "", d);
}

void fmt_source_status(const struct feed_view *v, char *buf, size_t len)
{
    if (v->status == SOURCE_OK || v->status == SOURCE_CONNECTING) {
        snprintf(buf, len, "%s", source_status_name(v->status));
        return;
    }
    char d[32];
    format_duration(clock_wall() - v->status_since, d, sizeof d);
    snprintf(buf, len, "%s %s", source_status_name(v->status), d);
}

double queue_depth(const struct queue_stat *q)
{
    return q->total >= 0 ? (double)q->total : (q->ready >= 0 ? (double)q->ready : NAN);
}
