/* The one panel primitive: a box drawn with box-drawing lines in the
 * border colour, its title in the top line, and the rectangle inside it
 * that its content may use. The help overlay, the confirmation box and the
 * Overview's panels are panels. */
#ifndef QDECK_UI_PANEL_H
#define QDECK_UI_PANEL_H

#include "ui/theme.h"

struct panel {
    int top, left, height, width;   /* inside the border */
};

/* Draws the box (outer size height x width at top, left) with title in
 * the top border; returns the inside. A box smaller than 3x3 draws nothing
 * and has an empty inside. */
struct panel panel_draw(int top, int left, int height, int width, const char *title, enum theme_slot title_slot);
/* The help's form: the same box, the title in the title colour. */
void draw_box(int top, int left, int height, int width, const char *title);

#endif
