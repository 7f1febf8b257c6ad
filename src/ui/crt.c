/* ncurses set-up, theme colour pairs and width-aware text.
 *
 * newterm() rather than initscr(): initscr() exits the process when $TERM is
 * unknown, skipping every clean-up. setupterm() is asked first because a
 * failing newterm() leaks its half-built screen, while setupterm() fails
 * cleanly and says why. The xalloc fatal hook restores the terminal before an out-of-memory
 * abort, as htop's fail() calls CRT_done(). */
#include "ui/crt.h"

#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <unistd.h>
#include <wchar.h>

#include "core/log.h"
#include "core/xalloc.h"

static SCREEN *screen;
static bool crt_active;
static bool colour;
static bool default_colours;   /* the terminal accepts -1 as "its own colour" */
static bool utf8;
static attr_t slot_attrs[SLOT_COUNT];

static void restore_terminal(void) { crt_done(); }

int crt_init(char *err, size_t errlen)
{
    setlocale(LC_ALL, "");
    utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    const char *term = getenv("TERM");
    int why = 0;
    if (setupterm(NULL, STDOUT_FILENO, &why) != OK) {
        snprintf(err, errlen, "cannot use the terminal: %s (TERM=%s)",
                 why == 0 ? "no terminfo entry" : "it cannot address the cursor", term ? term : "(unset)");
        return -1;
    }
    del_curterm(cur_term);
    screen = newterm(NULL, stdout, stdin);
    if (!screen) {
        snprintf(err, errlen, "cannot use the terminal (TERM=%s)", term ? term : "(unset)");
        return -1;
    }
    set_term(screen);
    cbreak();                 /* not raw(): Ctrl-C still raises SIGINT */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    const char *no_colour = getenv("NO_COLOR");
    colour = has_colors() && !(no_colour && *no_colour);
    if (colour) {
        start_color();
        default_colours = use_default_colors() == OK;
    }
    crt_active = true;
    log_to_terminal(false);
    xalloc_set_fatal_hook(restore_terminal);
    return 0;
}

void crt_done(void)
{
    if (!crt_active)
        return;
    crt_active = false;
    curs_set(1);
    endwin();
    log_to_terminal(true);
}

void crt_release(void)
{
    crt_done();
    xalloc_set_fatal_hook(NULL);
    if (screen) {
        delscreen(screen);
        screen = NULL;
    }
}

bool crt_has_colour(void) { return colour; }
bool crt_utf8(void) { return utf8; }

static attr_t style_attrs(const struct theme_style *s)
{
    attr_t a = A_NORMAL;
    if (s->attrs & THEME_ATTR_BOLD) a |= A_BOLD;
    if (s->attrs & THEME_ATTR_DIM) a |= A_DIM;
    if (s->attrs & THEME_ATTR_REVERSE) a |= A_REVERSE;
    if (s->attrs & THEME_ATTR_UNDERLINE) a |= A_UNDERLINE;
    return a;
}

void crt_apply_theme(const struct theme *t)
{
    for (int i = 0; i < SLOT_COUNT; i++) {
        const struct theme_style *s = &t->styles[i];
        slot_attrs[i] = style_attrs(s);
        if (!colour)
            continue;
        short fg = s->fg >= COLORS ? (short)(s->fg % 8) : s->fg;
        short bg = s->bg >= COLORS ? (short)(s->bg % 8) : s->bg;
        if (!default_colours) {
            fg = fg < 0 ? COLOR_WHITE : fg;
            bg = bg < 0 ? COLOR_BLACK : bg;
        }
        init_pair((short)(i + 1), fg, bg);
        slot_attrs[i] |= COLOR_PAIR(i + 1);
    }
    bkgdset(' ' | slot_attrs[SLOT_DEFAULT]);
}

attr_t crt_attr(enum theme_slot slot) { return slot_attrs[slot]; }

/* Decodes the next character of a UTF-8 string and advances past it; an
 * invalid or cut sequence counts as one byte shown as '?'. False at the end. */
/* In a terminal that is not UTF-8, each UTF-8 character of the console's
 * own text (and of names from outside) becomes one ASCII column, so the
 * layout is the same: a separator ' · ' shows as ' . ', not as '??'. */
static const struct {
    unsigned cp;
    char ascii;
} ascii_of[] = {
    {0x00B7, '.'}, {0x2014, '-'}, {0x2026, '~'}, {0x2588, '#'}, {0x2581, '_'}, {0x2582, '_'}, {0x2583, '-'},
    {0x2584, '-'}, {0x2585, '='}, {0x2586, '='}, {0x2587, '#'}, {0x2524, '|'}, {0x2192, '>'}, {0x2191, '^'},
    {0x2193, 'v'}, {0x2265, '>'}, {0x00D7, 'x'}, {0x00B5, 'u'}, {0x03BC, 'u'}, {0x03BB, 'L'}, {0x03C1, 'p'},
};

/* One UTF-8 character at *p as ASCII: its bytes in *n (1 for a byte that
 * starts none). */
static wchar_t utf8_as_ascii(const unsigned char *p, size_t left, size_t *n)
{
    unsigned cp = p[0];
    size_t len = cp < 0x80 ? 1 : (cp & 0xE0) == 0xC0 ? 2 : (cp & 0xF0) == 0xE0 ? 3 : (cp & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 1 || len == 0 || len > left) {
        *n = 1;
        return len == 1 ? (wchar_t)cp : L'?';
    }
    cp &= 0x7F >> len;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *n = 1;
            return L'?';
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *n = len;
    for (size_t i = 0; i < sizeof ascii_of / sizeof ascii_of[0]; i++)
        if (ascii_of[i].cp == cp)
            return (wchar_t)ascii_of[i].ascii;
    return L'?';
}

/* Whether text is UTF-8 here: the locale's, read per string (crt_init has
 * not always run: the unit tests measure text without a terminal). */
static bool text_utf8(void) { return strcmp(nl_langinfo(CODESET), "UTF-8") == 0; }

static bool next_char(const char **p, size_t *left, mbstate_t *st, bool in_utf8, wchar_t *wc)
{
    if (*left == 0)
        return false;
    if (!in_utf8) {
        size_t n;
        *wc = utf8_as_ascii((const unsigned char *)*p, *left, &n);
        *p += n;
        *left -= n;
        return true;
    }
    size_t n = mbrtowc(wc, *p, *left, st);
    if (n == (size_t)-1 || n == (size_t)-2) {
        memset(st, 0, sizeof *st);
        n = 1;
        *wc = L'?';
    } else if (n == 0) {
        n = 1;
    }
    *p += n;
    *left -= n;
    return true;
}

int crt_width(const char *s)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    bool in_utf8 = text_utf8();
    int cols = 0;
    size_t left = strlen(s);
    wchar_t wc;
    while (next_char(&s, &left, &st, in_utf8, &wc)) {
        int w = wcwidth(wc);
        cols += w > 0 ? w : 0;
    }
    return cols;
}

size_t crt_wrap_line(const char *s, int width, const char **next)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    bool in_utf8 = text_utf8();
    size_t left = strlen(s), brk = 0;
    const char *p = s;
    int cols = 0;
    bool text = false;          /* an indent is no place to break */
    wchar_t wc;
    if (width < 1)
        width = 1;
    for (;;) {
        const char *at = p;
        if (!next_char(&p, &left, &st, in_utf8, &wc)) {      /* all of it fits */
            *next = p;
            return (size_t)(p - s);
        }
        int w = wcwidth(wc);
        w = w < 0 ? 1 : w;
        if (cols + w > width) {
            size_t cut = wc == L' ' && text ? (size_t)(at - s) : brk ? brk : (size_t)(at - s);
            if (!cut)                               /* one character wider than the line */
                cut = (size_t)(p - s);
            const char *n = s + cut;
            while (*n == ' ')
                n++;
            *next = n;
            return cut;
        }
        if (wc != L' ')
            text = true;
        else if (text)
            brk = (size_t)(at - s);
        cols += w;
    }
}

int crt_put_wrapped(int y, int x, int width, int max_lines, enum theme_slot slot, const char *s)
{
    int drawn = 0;
    char line[1024];
    if (max_lines < 1)
        return 0;
    do {
        const char *next;
        size_t n = crt_wrap_line(s, width, &next);
        if (drawn + 1 == max_lines && *next) {     /* the last line: what is left, cut */
            crt_put(y + drawn, x, width, ALIGN_LEFT, slot, s);
            return max_lines;
        }
        snprintf(line, sizeof line, "%.*s", (int)n, s);
        crt_put(y + drawn++, x, width, ALIGN_LEFT, slot, line);
        s = next;
    } while (*s && drawn < max_lines);
    return drawn;
}

void crt_fill(int y, int x, int width, enum theme_slot slot)
{
    if (width <= 0)
        return;
    attrset(slot_attrs[slot]);
    mvhline(y, x, ' ', width);
}

int crt_put(int y, int x, int width, enum crt_align align, enum theme_slot slot, const char *s)
{
    if (width <= 0)
        return 0;
    attrset(slot_attrs[slot]);
    int total = crt_width(s);
    int room = total <= width ? total : width - 1;   /* keep a column for the ellipsis */
    int pad = width - (total <= width ? total : width);
    int col = x;
    if (align == ALIGN_RIGHT && pad > 0) {
        mvhline(y, col, ' ', pad);
        col += pad;
    }
    move(y, col);
    mbstate_t st;
    memset(&st, 0, sizeof st);
    bool in_utf8 = text_utf8();
    size_t left = strlen(s);
    int used = 0;
    wchar_t wc;
    while (next_char(&s, &left, &st, in_utf8, &wc)) {
        int w = wcwidth(wc);
        if (w < 0) {
            wc = L'?';
            w = 1;
        }
        if (used + w > room)
            break;
        wchar_t one[2] = {wc, 0};
        addnwstr(one, 1);
        used += w;
    }
    if (total > width) {
        addstr(utf8 ? "…" : "~");
        used++;
        for (; used < width; used++)
            addch(' ');
    } else if (align == ALIGN_LEFT && pad > 0) {
        hline(' ', pad);
    }
    move(y, x + width);
    return width;
}
