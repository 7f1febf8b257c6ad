/* Chart rendering: samples are grouped into points (one per braille dot
 * column, or per ASCII cell), each point's level is its share of the
 * largest point, and each row shows the part of every point's column that
 * falls inside it. Braille dots are bits of U+2800: left column 1,2,3,7 and
 * right column 4,5,6,8, top to bottom. */
#include "ui/chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POINTS 1024

static void put_braille(char *out, size_t *pos, unsigned bits)
{
    unsigned cp = 0x2800 + bits;
    out[(*pos)++] = (char)0xE2;
    out[(*pos)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*pos)++] = (char)(0x80 | (cp & 0x3F));
}

double chart_render(const double *values, size_t n, size_t slots, int width, int height, bool utf8,
                    enum chart_merge merge, char **rows)
{
    for (int r = 0; r < height; r++)
        rows[r][0] = '\0';
    if (width <= 0 || height <= 0)
        return 0;
    size_t points = (size_t)width * (utf8 ? 2 : 1);
    if (points > MAX_POINTS)
        points = MAX_POINTS;
    if (slots < n)
        slots = n;
    double sum[MAX_POINTS], top[MAX_POINTS];
    size_t count[MAX_POINTS] = {0};
    for (size_t i = slots - n; i < slots; i++) {
        size_t p = slots <= points ? points - slots + i : i * points / slots;
        double v = values[i - (slots - n)];
        if (isnan(v))
            continue;
        if (v < 0)
            v = 0;
        sum[p] = count[p] ? sum[p] + v : v;
        top[p] = count[p] && top[p] > v ? top[p] : v;
        count[p]++;
    }
    /* the y axis reaches the largest sample, so the label is a value that was seen */
    double hi = 0, point[MAX_POINTS];
    for (size_t p = 0; p < points; p++) {
        point[p] = !count[p] ? NAN : merge == CHART_MAX ? top[p] : sum[p] / (double)count[p];
        if (count[p] && top[p] > hi)
            hi = top[p];
    }
    int per_row = utf8 ? 4 : 2;
    int levels = height * per_row;
    int level[MAX_POINTS];
    for (size_t p = 0; p < points; p++) {
        level[p] = 0;
        if (isnan(point[p]) || hi <= 0)
            continue;
        level[p] = (int)lround(point[p] / hi * levels);
        if (point[p] > 0 && level[p] == 0)
            level[p] = 1;
    }
    static const unsigned left_bits[4] = {0x40, 0x04, 0x02, 0x01};   /* bottom up */
    static const unsigned right_bits[4] = {0x80, 0x20, 0x10, 0x08};
    for (int r = 0; r < height; r++) {
        int floor_level = (height - 1 - r) * per_row;
        size_t pos = 0;
        for (int cell = 0; cell < width; cell++) {
            if (utf8) {
                unsigned bits = 0;
                for (int half = 0; half < 2; half++) {
                    size_t p = (size_t)cell * 2 + (size_t)half;
                    if (p >= points)
                        continue;
                    int dots = level[p] - floor_level;
                    for (int d = 0; d < per_row && d < dots; d++)
                        bits |= half ? right_bits[d] : left_bits[d];
                }
                if (bits)
                    put_braille(rows[r], &pos, bits);
                else
                    rows[r][pos++] = ' ';
            } else {
                size_t p = (size_t)cell;
                int dots = p < points ? level[p] - floor_level : 0;
                rows[r][pos++] = dots >= 2 ? '#' : dots == 1 ? '.' : ' ';
            }
        }
        rows[r][pos] = '\0';
    }
    return hi;
}

void chart_format_number(double v, char *buf, size_t len)
{
    double a = fabs(v);
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (a >= 1e6)
        snprintf(buf, len, "%.1fM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, len, "%.0fk", v / 1e3);
    else if (a >= 1e3)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else if (a >= 10 || a == floor(a))
        snprintf(buf, len, "%.0f", v);
    else if (a >= 1)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.2f", v);
}

void chart_format_span(double seconds, char *buf, size_t len)
{
    long s = lround(seconds < 0 ? 0 : seconds);
    if (s < 60)
        snprintf(buf, len, "%lds", s);
    else if (s < 3600 && s % 60)
        snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
    else if (s < 3600)
        snprintf(buf, len, "%ldm", s / 60);
    else
        snprintf(buf, len, "%ldh%02ldm", s / 3600, s / 60 % 60);
}
