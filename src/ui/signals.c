/* The console's signals (see signals.h). The collector threads were
 * started before the screen, so SIGINT or SIGWINCH may be delivered to one
 * of them and never interrupt the screen's poll(): the handlers write a
 * byte to a pipe the loop polls (the self-pipe trick), and SIGWINCH is
 * chained to ncurses' own handler. */
#include "ui/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static volatile sig_atomic_t quit_signal;
static int signal_pipe[2] = {-1, -1};
static struct sigaction curses_winch;   /* ncurses' SIGWINCH handler, chained */

static void wake_loop(void)
{
    int saved = errno;
    if (signal_pipe[1] >= 0) {
        ssize_t n = write(signal_pipe[1], "", 1);
        (void)n;                         /* a full pipe already wakes the loop */
    }
    errno = saved;
}

static void on_quit_signal(int sig)
{
    (void)sig;
    quit_signal = 1;
    wake_loop();
}

static void on_winch(int sig)
{
    if (curses_winch.sa_handler != SIG_DFL && curses_winch.sa_handler != SIG_IGN)
        curses_winch.sa_handler(sig);
    wake_loop();
}

/* Quit signals end the loop so the terminal is restored and ui_run returns.
 * SIGPIPE is ignored for good: a broker socket closing under a collector's
 * write must be an error return, not the death of the process with the
 * terminal left raw. */
int ui_signals_install(struct ui_signals *saved)
{
    if (pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    struct sigaction sa = {.sa_handler = on_quit_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved->intr);
    sigaction(SIGTERM, &sa, &saved->term);
    sigaction(SIGHUP, &sa, &saved->hup);
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, NULL);
    return 0;
}

/* After crt_init: ncurses has installed its SIGWINCH handler by then. */
void ui_signals_chain_winch(void)
{
    struct sigaction sa = {.sa_handler = on_winch, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, &curses_winch);
}

void ui_signals_restore(const struct ui_signals *saved)
{
    sigaction(SIGWINCH, &curses_winch, NULL);
    sigaction(SIGINT, &saved->intr, NULL);
    sigaction(SIGTERM, &saved->term, NULL);
    sigaction(SIGHUP, &saved->hup, NULL);
    int r = signal_pipe[0], w = signal_pipe[1];
    signal_pipe[0] = signal_pipe[1] = -1;
    close(r);
    close(w);
    quit_signal = 0;
}

int ui_signals_fd(void) { return signal_pipe[0]; }

bool ui_signals_quit(void) { return quit_signal != 0; }
