/* Chart drawing with crt: chart_render's rows behind a y axis of labels. */
#include "ui/chart-draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "ui/crt.h"

#define AXIS_W 10   /* "179.2ms ┤" */

void chart_draw(const struct chart_box *c, int top, int left, int height, int width)
{
    for (int y = top; y < top + height; y++)
        crt_fill(y, left, width, SLOT_DEFAULT);
    if (height < 3 || width < AXIS_W + 4)
        return;
    int rows_h = height - 2, cells = width - AXIS_W - 1;
    bool utf8 = crt_utf8();
    char **rows = xcalloc((size_t)rows_h, sizeof *rows);
    for (int r = 0; r < rows_h; r++)
        rows[r] = xcalloc(1, CHART_ROW_BYTES(cells));
    double hi = chart_render(c->values, c->n, c->slots, cells, rows_h, utf8, c->merge, rows);
    void (*format)(double, char *, size_t) = c->format ? c->format : chart_format_number;

    char span[32], top_label[32], now_label[32], title[256];
    chart_format_span(c->span, span, sizeof span);
    format(hi, top_label, sizeof top_label);
    size_t known = 0;
    for (size_t i = 0; i < c->n; i++)
        known += !isnan(c->values[i]);
    double latest = c->n ? c->values[c->n - 1] : 0;
    if (c->n && !isnan(latest))
        format(latest, now_label, sizeof now_label);
    else
        snprintf(now_label, sizeof now_label, "-");
    snprintf(title, sizeof title, "%s  now %s  max %s", c->title, now_label, known ? top_label : "-");
    if (crt_width(title) > width)   /* narrow: the same, tighter */
        snprintf(title, sizeof title, "%s %s max %s", c->title, now_label, known ? top_label : "-");
    crt_put(top, left, width, ALIGN_LEFT, SLOT_LABEL, title);

    const char *tick = utf8 ? "┤" : "|";
    for (int r = 0; r < rows_h; r++) {
        int y = top + 1 + r;
        char label[48];
        snprintf(label, sizeof label, "%s %s", r == 0 ? top_label : r == rows_h - 1 ? "0" : "", tick);
        crt_put(y, left, AXIS_W, ALIGN_RIGHT, SLOT_DIM, label);
        crt_put(y, left + AXIS_W + 1, cells, ALIGN_LEFT, c->slot, rows[r]);
        free(rows[r]);
    }
    free(rows);
    char from[40];
    snprintf(from, sizeof from, "-%s", span);
    int y = top + height - 1;
    crt_put(y, left + AXIS_W + 1, cells - 3, ALIGN_LEFT, SLOT_DIM, from);
    crt_put(y, left + AXIS_W + cells - 2, 3, ALIGN_LEFT, SLOT_DIM, "now");
}
