/* The one list widget every table view is built on (htop's Panel is the
 * model): the rows a view's model holds, filtered by the view's own text,
 * sorted by one of its columns, with a selection that follows the chosen
 * row (by its key) across refreshes, scrolling, and marks. The view keeps
 * the data and draws the cells; the list keeps the order, the selection,
 * the filter, the sort and the marks, and answers the table keys (Up/Down,
 * PgUp/PgDn, Home/End, g/G, s, <, >, i, /, :sort) the same way in every
 * view. Main thread only. */
#ifndef QDECK_UI_LIST_H
#define QDECK_UI_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* A column `:sort NAME` and `s` know. */
struct list_column {
    const char *names;         /* what :sort takes, space-separated; the first is said in messages */
    bool numbers;              /* sorts largest first when chosen (names A→Z) */
};

/* What a view's data answers about its rows (indices 0..count-1). */
struct list_model {
    size_t (*count)(void *ctx);
    /* The row's identity: the selection and the marks follow it. */
    const char *(*key)(void *ctx, size_t row);
    /* NULL: every row matches (the view filters elsewhere, e.g. a server-side search). */
    bool (*matches)(void *ctx, size_t row, const char *filter);
    /* a before b in ascending order of column c: <0, 0, >0. NULL: the model's order only. */
    int (*compare)(void *ctx, size_t a, size_t b, int column);
};

struct list {
    const struct list_column *columns;
    int ncolumns;
    int sort;                  /* index into columns, or -1: the model's own order */
    bool ascending;
    char filter[256];
    size_t *order;             /* the rows shown, model indices, in order */
    size_t n, cap;
    int selected, top;
    int page;                  /* rows the last draw showed: PgUp/PgDn move by it */
    char selected_key[512];    /* "" until the operator moves: then the selection follows it */
    char **marks;
    size_t nmarks;
    const struct list_model *model;   /* of the last build, for the keys */
    void *ctx;
};

void list_init(struct list *l, const struct list_column *columns, int ncolumns, int sort);
void list_free(struct list *l);
/* Rebuilds the order from the model: filter, sort, selection follows its key. */
void list_build(struct list *l, const struct list_model *m, void *ctx);
/* Model index of the i-th row shown. */
size_t list_row(const struct list *l, size_t i);
/* The selected row's model index; false when the list is empty. */
bool list_selected(const struct list *l, size_t *row);
/* Makes the selection visible in a window of `rows` rows; sets l->top. */
void list_scroll(struct list *l, int rows);
/* Selects the i-th row shown (clamped) and remembers its key. */
void list_select(struct list *l, int i);
/* The table keys: Up/Down j/k, PgUp/PgDn, Home/End g/G. */
bool list_move_key(struct list *l, int key);
/* The rows are gone (another queue opened): empty, selection at the top. */
void list_reset(struct list *l);
/* A new filter: the selection goes back to the top. */
void list_set_filter(struct list *l, const char *text);
/* s/>: next sortable column (+1) or < (-1); the message said, in msg. */
void list_sort_step(struct list *l, int step, char *msg, size_t len);
void list_invert(struct list *l, char *msg, size_t len);
/* :sort NAME: false (with the names it knows in msg) when no column has it. */
bool list_sort_named(struct list *l, const char *name, char *msg, size_t len);
/* "sorted by depth, descending" */
void list_sort_said(const struct list *l, char *msg, size_t len);
/* Does column c's title get the sort arrow: "↑", "↓" or "". */
const char *list_arrow(const struct list *l, int column);
/* Every name :sort takes, for completion: fn once per name. */
void list_each_sort_name(const struct list *l, void (*fn)(const char *name, void *arg), void *arg);

/* Marks, by key. */
bool list_marked(const struct list *l, const char *key);
void list_toggle_mark(struct list *l, const char *key);
void list_clear_marks(struct list *l);

#endif
