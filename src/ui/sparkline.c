/* Sparkline rendering; the scale runs from 0 (or the minimum, if negative)
 * to the maximum of the visible window, so a flat non-zero series shows as
 * full bars and an empty queue as the lowest bar. */
#include "ui/sparkline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sparkline_render(const double *values, size_t n, int width, bool utf8, char *out, size_t outlen)
{
    static const char *const blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    static const char ascii[] = "_.-=#";
    size_t pos = 0;
    out[0] = '\0';
    if (width <= 0)
        return;
    size_t shown = n < (size_t)width ? n : (size_t)width;
    const double *v = values + (n - shown);
    double lo = 0, hi = 0;
    for (size_t i = 0; i < shown; i++) {
        if (isnan(v[i]))
            continue;
        if (v[i] > hi) hi = v[i];
        if (v[i] < lo) lo = v[i];
    }
    for (int i = 0; i < width - (int)shown && pos + 1 < outlen; i++)
        out[pos++] = ' ';
    for (size_t i = 0; i < shown; i++) {
        const char *cell;
        char one[2] = {' ', 0};
        if (isnan(v[i])) {
            cell = one;
        } else {
            double frac = hi > lo ? (v[i] - lo) / (hi - lo) : (hi > 0 ? 1.0 : 0.0);
            if (utf8) {
                cell = blocks[(int)lround(frac * 7)];
            } else {
                one[0] = ascii[(int)lround(frac * 4)];
                cell = one;
            }
        }
        size_t len = strlen(cell);
        if (pos + len + 1 > outlen)
            break;
        memcpy(out + pos, cell, len);
        pos += len;
    }
    out[pos] = '\0';
}

void sparkline_render_fit(const double *values, size_t n, int width, bool utf8, char *out, size_t outlen)
{
    if (width <= 0 || n <= (size_t)width) {
        sparkline_render(values, n, width, utf8, out, outlen);
        return;
    }
    double *cells = malloc((size_t)width * sizeof *cells);
    if (!cells) {
        out[0] = '\0';
        return;
    }
    for (size_t c = 0; c < (size_t)width; c++) {
        cells[c] = NAN;
        for (size_t i = c * n / (size_t)width; i < (c + 1) * n / (size_t)width; i++)
            if (!isnan(values[i]) && (isnan(cells[c]) || values[i] > cells[c]))
                cells[c] = values[i];
    }
    sparkline_render(cells, (size_t)width, width, utf8, out, outlen);
    free(cells);
}
