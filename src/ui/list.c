/* The list widget (see list.h): order, filter, sort, selection, marks. */
#include "ui/list.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "ui/format.h"

void list_init(struct list *l, const struct list_column *columns, int ncolumns, int sort)
{
    memset(l, 0, sizeof *l);
    l->columns = columns;
    l->ncolumns = ncolumns;
    l->sort = sort;
    l->ascending = sort < 0 || !columns[sort].numbers;
    l->page = 10;
}

void list_free(struct list *l)
{
    free(l->order);
    list_clear_marks(l);
    free(l->marks);
    memset(l, 0, sizeof *l);
}

struct sort_arg {
    const struct list *l;
};

static int compare_rows(const void *a, const void *b, void *arg)
{
    const struct list *l = ((const struct sort_arg *)arg)->l;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = l->model->compare(l->ctx, x, y, l->sort);
    if (!l->ascending)
        c = -c;
    if (!c && l->model->key)   /* ties read A→Z either way, so equal rows do not jump around */
        c = strcmp(l->model->key(l->ctx, x), l->model->key(l->ctx, y));
    return c ? c : (x > y) - (x < y);
}

static void clamp(struct list *l)
{
    if (l->selected >= (int)l->n)
        l->selected = (int)l->n - 1;
    if (l->selected < 0)
        l->selected = 0;
}

void list_build(struct list *l, const struct list_model *m, void *ctx)
{
    l->model = m;
    l->ctx = ctx;
    size_t count = m->count(ctx);
    if (count > l->cap) {
        l->cap = count + count / 2 + 16;
        l->order = xrealloc(l->order, l->cap * sizeof *l->order);
    }
    l->n = 0;
    for (size_t i = 0; i < count; i++)
        if (!l->filter[0] || !m->matches || m->matches(ctx, i, l->filter))
            l->order[l->n++] = i;
    if (l->sort >= 0 && m->compare && l->n > 1) {
        struct sort_arg arg = {l};
        qsort_r(l->order, l->n, sizeof *l->order, compare_rows, &arg);
    }
    if (l->selected_key[0] && m->key)
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(m->key(ctx, l->order[i]), l->selected_key) == 0) {
                l->selected = (int)i;
                break;
            }
    clamp(l);
}

size_t list_row(const struct list *l, size_t i) { return l->order[i]; }

bool list_selected(const struct list *l, size_t *row)
{
    if (!l->n || l->selected < 0 || l->selected >= (int)l->n)
        return false;
    *row = l->order[l->selected];
    return true;
}

void list_scroll(struct list *l, int rows)
{
    l->page = rows > 1 ? rows - 1 : 1;
    l->top = scroll_top(l->top, l->selected, rows, (int)l->n);
}

void list_select(struct list *l, int i)
{
    l->selected = i;
    clamp(l);
    if (l->n && l->model && l->model->key)
        snprintf(l->selected_key, sizeof l->selected_key, "%s", l->model->key(l->ctx, l->order[l->selected]));
}

bool list_move_key(struct list *l, int key)
{
    switch (key) {
    case KEY_DOWN: case 'j': list_select(l, l->selected + 1); return true;
    case KEY_UP: case 'k': list_select(l, l->selected - 1); return true;
    case KEY_NPAGE: list_select(l, l->selected + l->page); return true;
    case KEY_PPAGE: list_select(l, l->selected - l->page); return true;
    case KEY_HOME: case 'g': list_select(l, 0); return true;
    case KEY_END: case 'G': list_select(l, (int)l->n - 1); return true;
    default: return false;
    }
}

void list_reset(struct list *l)
{
    l->n = 0;
    l->selected = l->top = 0;
    l->selected_key[0] = '\0';
}

void list_set_filter(struct list *l, const char *text)
{
    if (strcmp(l->filter, text) == 0)
        return;
    snprintf(l->filter, sizeof l->filter, "%s", text);
    l->selected = l->top = 0;
    l->selected_key[0] = '\0';
}

static int first_name(const char *names, char *out, size_t len)
{
    size_t n = strcspn(names, " ");
    return snprintf(out, len, "%.*s", (int)n, names);
}

void list_sort_said(const struct list *l, char *msg, size_t len)
{
    if (l->sort < 0) {
        snprintf(msg, len, "in the view's own order");
        return;
    }
    char name[64];
    first_name(l->columns[l->sort].names, name, sizeof name);
    snprintf(msg, len, "sorted by %s, %s", name, l->ascending ? "ascending" : "descending");
}

static void sort_by(struct list *l, int c, char *msg, size_t len)
{
    l->sort = c;
    l->ascending = !l->columns[c].numbers;
    list_sort_said(l, msg, len);
}

void list_sort_step(struct list *l, int step, char *msg, size_t len)
{
    if (l->ncolumns <= 0) {
        snprintf(msg, len, "this view has no column to sort by");
        return;
    }
    int c = l->sort < 0 ? (step > 0 ? 0 : l->ncolumns - 1) : (l->sort + step + l->ncolumns) % l->ncolumns;
    sort_by(l, c, msg, len);
}

void list_invert(struct list *l, char *msg, size_t len)
{
    if (l->sort < 0 && l->ncolumns > 0) {
        sort_by(l, 0, msg, len);
        return;
    }
    l->ascending = !l->ascending;
    list_sort_said(l, msg, len);
}

bool list_sort_named(struct list *l, const char *name, char *msg, size_t len)
{
    size_t want = strlen(name);
    for (int c = 0; c < l->ncolumns; c++)
        for (const char *p = l->columns[c].names; *p;) {
            size_t n = strcspn(p, " ");
            if (n == want && strncasecmp(p, name, n) == 0) {
                sort_by(l, c, msg, len);
                return true;
            }
            p += n;
            p += strspn(p, " ");
        }
    size_t used = (size_t)snprintf(msg, len, "no column '%s' here (", name);
    for (int c = 0; c < l->ncolumns && used < len; c++) {
        char first[64];
        first_name(l->columns[c].names, first, sizeof first);
        used += (size_t)snprintf(msg + used, len - used, "%s%s", c ? " " : "", first);
    }
    if (used < len)
        snprintf(msg + used, len - used, "%s", l->ncolumns ? ")" : "no sortable column)");
    return false;
}

const char *list_arrow(const struct list *l, int column)
{
    if (column < 0 || column != l->sort)
        return "";
    return l->ascending ? "↑" : "↓";
}

void list_each_sort_name(const struct list *l, void (*fn)(const char *name, void *arg), void *arg)
{
    for (int c = 0; c < l->ncolumns; c++)
        for (const char *p = l->columns[c].names; *p;) {
            size_t n = strcspn(p, " ");
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)n, p);
            fn(name, arg);
            p += n;
            p += strspn(p, " ");
        }
}

static long mark_index(const struct list *l, const char *key)
{
    for (size_t i = 0; i < l->nmarks; i++)
        if (strcmp(l->marks[i], key) == 0)
            return (long)i;
    return -1;
}

bool list_marked(const struct list *l, const char *key) { return mark_index(l, key) >= 0; }

void list_toggle_mark(struct list *l, const char *key)
{
    long i = mark_index(l, key);
    if (i >= 0) {
        free(l->marks[i]);
        l->marks[i] = l->marks[--l->nmarks];
        return;
    }
    l->marks = xrealloc(l->marks, (l->nmarks + 1) * sizeof *l->marks);
    l->marks[l->nmarks++] = xstrdup(key);
}

void list_clear_marks(struct list *l)
{
    for (size_t i = 0; i < l->nmarks; i++)
        free(l->marks[i]);
    l->nmarks = 0;
}
