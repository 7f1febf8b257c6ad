/* The table of views, in tab order, and ui_run, which hands it to the
 * screen loop. The loop (screen.c) reaches a view only through this table,
 * so the views may use the screen's helpers without a circle: adding a
 * view is adding its file and a row here. */
#include "ui/screen.h"

extern const struct view_ops overview_view;
extern const struct view_ops queues_view;
extern const struct view_ops guardrails_view;
extern const struct view_ops events_view;
extern const struct view_ops workers_view;
extern const struct view_ops latency_view;
extern const struct view_ops breakers_view;
extern const struct view_ops scheduler_view;
extern const struct view_ops dlq_view;
extern const struct view_ops capacity_view;

static const struct view_ops *const views[] = {&overview_view, &queues_view, &workers_view, &latency_view,
                                               &breakers_view, &dlq_view,
                                               &guardrails_view, &scheduler_view, &events_view, &capacity_view};

int ui_run(const struct ui_options *opt)
{
    return screen_run(opt, views, sizeof views / sizeof views[0]);
}

void ui_each_key(void (*fn)(const char *label, const char *help, void *arg), void *arg)
{
    screen_each_key(views, sizeof views / sizeof views[0], fn, arg);
}
