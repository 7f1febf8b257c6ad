/* A time-series chart on screen: a title line ("done/s  now 9  max 12"),
 * the chart rows (chart.h) with the y axis labelled at the top (the
 * window's maximum) and the bottom (0), and the time axis below, its span
 * on the left ("-10m ... now"). */
#ifndef QDECK_CHART_DRAW_H
#define QDECK_CHART_DRAW_H

#include <stddef.h>

#include "ui/chart.h"
#include "ui/theme.h"

struct chart_box {
    const char *title;          /* "done/s" */
    const double *values;       /* oldest first, NAN unknown */
    size_t n, slots;            /* samples; samples the x axis holds */
    double span;                /* seconds `slots` samples cover */
    enum chart_merge merge;
    /* the y axis label of a value (NULL: chart_format_number) */
    void (*format)(double v, char *buf, size_t len);
    enum theme_slot slot;       /* the chart's colour */
};

/* Draws into rows top .. top + height - 1, columns left .. left + width - 1.
 * Needs height >= 3 (title, one chart row, the time axis). */
void chart_draw(const struct chart_box *c, int top, int left, int height, int width);

#endif
