/* Panels (see panel.h): curses' line-drawing characters, which ncurses
 * draws as box-drawing glyphs on a UTF-8 terminal and as +-| elsewhere. */
#include "ui/panel.h"

#include "ui/crt.h"

struct panel panel_draw(int top, int left, int height, int width, const char *title, enum theme_slot title_slot)
{
    struct panel inside = {top + 1, left + 1, height - 2, width - 2};
    if (height < 3 || width < 3)
        return (struct panel){top, left, 0, 0};
    attrset(crt_attr(SLOT_BORDER));
    mvhline(top, left + 1, ACS_HLINE, width - 2);
    mvhline(top + height - 1, left + 1, ACS_HLINE, width - 2);
    mvvline(top + 1, left, ACS_VLINE, height - 2);
    mvvline(top + 1, left + width - 1, ACS_VLINE, height - 2);
    mvaddch(top, left, ACS_ULCORNER);
    mvaddch(top, left + width - 1, ACS_URCORNER);
    mvaddch(top + height - 1, left, ACS_LLCORNER);
    mvaddch(top + height - 1, left + width - 1, ACS_LRCORNER);
    attrset(A_NORMAL);
    if (title && title[0] && width > 6) {
        int w = crt_width(title);
        if (w > width - 4)
            w = width - 4;
        crt_put(top, left + 2, w, ALIGN_LEFT, title_slot, title);
    }
    return inside;
}

void draw_box(int top, int left, int height, int width, const char *title)
{
    panel_draw(top, left, height, width, title, SLOT_TITLE);
}
