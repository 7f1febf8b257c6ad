/* Signals while the console owns the terminal: SIGINT, SIGTERM and SIGHUP
 * ask the loop to quit, SIGWINCH reaches ncurses and wakes the loop, and
 * SIGPIPE is ignored. Each wakes the loop through a pipe it polls. */
#ifndef QDECK_UI_SIGNALS_H
#define QDECK_UI_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

struct ui_signals {
    struct sigaction intr, term, hup;
};

/* Installs the quit handlers (the previous ones go to saved). 0, or -1
 * with errno when the pipe cannot be made. */
int ui_signals_install(struct ui_signals *saved);
/* After crt_init: ncurses has installed its SIGWINCH handler by then. */
void ui_signals_chain_winch(void);
void ui_signals_restore(const struct ui_signals *saved);
/* The pipe's read end, for poll(); drain it when readable. */
int ui_signals_fd(void);
/* A quit signal arrived. */
bool ui_signals_quit(void);

#endif
