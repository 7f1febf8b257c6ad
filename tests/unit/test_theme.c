/* Themes: tmux-style style strings, theme files parsed with inih (every
 * error names file:line and the slot), the shipped themes (complete, and
 * monochrome without colours), and the search path ($QDECK_THEME_DIR first,
 * $XDG_CONFIG_HOME/qdeck/themes last). tests/run.sh sets QDECK_THEME_DIR to
 * the repository's themes/; run by hand from the repository, ./themes is
 * found instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ui/theme.h"

static const char *const shipped[] = {"dark", "loud", "light", "high-contrast", "monochrome"};
#define NSHIPPED (sizeof shipped / sizeof shipped[0])

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/qdeck-test-theme.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

/* Parses text as a theme file; returns the error ("" on success) with the
 * temporary path replaced by "F" so expectations can be exact. */
static int parse_text(const char *text, struct theme *t, char *err, size_t errlen)
{
    char *path = write_temp(text);
    char raw[1024] = "";
    int rc = theme_parse_file(path, t, raw, sizeof raw);
    err[0] = '\0';
    if (rc < 0) {
        size_t n = strlen(path);
        assert_memory_equal(raw, path, n);
        snprintf(err, errlen, "F%s", raw + n);
    }
    remove_temp(path);
    return rc;
}

static void style_strings_parse(void **state)
{
    (void)state;
    struct theme_style s;
    char err[256];
    assert_int_equal(theme_parse_style("fg=cyan,bg=default,bold", &s, err, sizeof err), 0);
    assert_int_equal(s.fg, 6);
    assert_int_equal(s.bg, -1);
    assert_int_equal(s.attrs, THEME_ATTR_BOLD);

    assert_int_equal(theme_parse_style("fg=brightred,bg=236,reverse,underline,dim", &s, err, sizeof err), 0);
    assert_int_equal(s.fg, 9);
    assert_int_equal(s.bg, 236);
    assert_int_equal(s.attrs, THEME_ATTR_REVERSE | THEME_ATTR_UNDERLINE | THEME_ATTR_DIM);

    assert_int_equal(theme_parse_style("fg=0, bg=brightwhite", &s, err, sizeof err), 0);
    assert_int_equal(s.fg, 0);
    assert_int_equal(s.bg, 15);
    assert_int_equal(s.attrs, 0);

    assert_int_equal(theme_parse_style("none", &s, err, sizeof err), 0);
    assert_int_equal(s.fg, -1);
    assert_int_equal(s.bg, -1);
    assert_int_equal(s.attrs, 0);
}

static void style_strings_refuse_bad_words(void **state)
{
    (void)state;
    struct theme_style s = {3, 4, THEME_ATTR_BOLD};
    char err[256];
    static const char *const bad[] = {"fg=chartreuse", "bg=256", "fg=-1", "fg=", "blink", "fg=red,italic",
                                      "colour=red"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(theme_parse_style(bad[i], &s, err, sizeof err), -1);
        assert_non_null(strstr(err, "is not a colour or attribute"));
    }
    assert_int_equal(theme_parse_style("fg=red,italic", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "'italic'"));            /* names the word, not the whole style */
    assert_int_equal(s.fg, 3);                           /* a refused style leaves *out alone */
    assert_int_equal(s.attrs, THEME_ATTR_BOLD);
}

static void file_with_comments_and_defaults(void **state)
{
    (void)state;
    struct theme t;
    char err[1024];
    assert_int_equal(parse_text("# a comment\n"
                                "; another\n"
                                "\n"
                                "default = fg=white\n"
                                "crit = fg=red,bold   ; inline comment\n"
                                "breaker.half_open = fg=yellow\n",
                                &t, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(t.styles[SLOT_CRIT].fg, 1);
    assert_int_equal(t.styles[SLOT_CRIT].attrs, THEME_ATTR_BOLD);
    assert_int_equal(t.styles[SLOT_BREAKER_HALF_OPEN].fg, 3);
    /* a slot the file leaves out takes the file's default style */
    assert_int_equal(t.styles[SLOT_OK].fg, 7);
    assert_int_equal(t.styles[SLOT_OK].bg, -1);
    assert_int_equal(t.styles[SLOT_BORDER].fg, 7);
}

static void file_errors_name_file_line_and_slot(void **state)
{
    (void)state;
    struct theme t;
    char err[1024];

    assert_int_equal(parse_text("ok = fg=green\n\ncirt = fg=red\n", &t, err, sizeof err), -1);
    assert_string_equal(err, "F:3: unknown slot 'cirt'");

    assert_int_equal(parse_text("ok = fg=grean\n", &t, err, sizeof err), -1);
    assert_string_equal(err, "F:1: ok: 'fg=grean' is not a colour or attribute "
                             "(fg=COLOUR, bg=COLOUR, bold, dim, reverse, underline)");

    assert_int_equal(parse_text("# x\nheader =\n", &t, err, sizeof err), -1);
    assert_string_equal(err, "F:2: header: empty style (use 'none' for the terminal's default)");

    assert_int_equal(parse_text("[colours]\nok = fg=green\n", &t, err, sizeof err), -1);
    assert_string_equal(err, "F:2: themes have no sections ([colours])");

    assert_int_equal(parse_text("ok = fg=green\nthis line has no equals sign\n", &t, err, sizeof err), -1);
    assert_string_equal(err, "F:2: not a 'slot = style' line");

    /* inih reports the first bad line; the message must be about that line,
     * not about a later one the handler also refused */
    assert_int_equal(parse_text("ok = fg=green\ngarbage\nwarn = fg=yellow\nnope = bold\n", &t, err, sizeof err),
                     -1);
    assert_string_equal(err, "F:2: not a 'slot = style' line");

    assert_int_equal(theme_parse_file("/nonexistent/x.theme", &t, err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/x.theme: cannot read theme");
}

/* The X-macro is the only list of slots: every name is distinct, and a
 * file naming each slot gives each its own style. */
static void every_slot_is_settable_by_name(void **state)
{
    (void)state;
    char text[4096] = "";
    for (int i = 0; i < SLOT_COUNT; i++) {
        for (int j = 0; j < i; j++)
            assert_string_not_equal(theme_slot_name((enum theme_slot)i), theme_slot_name((enum theme_slot)j));
        char line[128];
        snprintf(line, sizeof line, "%s = fg=%d\n", theme_slot_name((enum theme_slot)i), 100 + i);
        strcat(text, line);
    }
    struct theme t;
    char err[1024];
    assert_int_equal(parse_text(text, &t, err, sizeof err), 0);
    for (int i = 0; i < SLOT_COUNT; i++)
        assert_int_equal(t.styles[i].fg, 100 + i);
    assert_string_equal(theme_slot_name(SLOT_BREAKER_OPEN), "breaker.open");
    assert_string_equal(theme_slot_name(SLOT_TAB_ACTIVE), "tab.active");
}

static void shipped_themes_load_and_are_complete(void **state)
{
    (void)state;
    char err[1024], path[PATH_MAX + 32];
    for (size_t i = 0; i < NSHIPPED; i++) {
        struct theme t;
        if (theme_load(shipped[i], &t, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_string_equal(t.name, shipped[i]);
        assert_int_equal(theme_check(shipped[i], err, sizeof err), 0);

        /* complete: every slot is written out, none silently inherited */
        assert_int_equal(theme_find(shipped[i], path, sizeof path), 0);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char line[512];
        bool seen[SLOT_COUNT] = {false};
        while (fgets(line, sizeof line, f))
            for (int s = 0; s < SLOT_COUNT; s++) {
                size_t n = strlen(theme_slot_name((enum theme_slot)s));
                if (!strncmp(line, theme_slot_name((enum theme_slot)s), n) && (line[n] == ' ' || line[n] == '='))
                    seen[s] = true;
            }
        fclose(f);
        for (int s = 0; s < SLOT_COUNT; s++)
            if (!seen[s])
                fail_msg("%s does not set slot %s", path, theme_slot_name((enum theme_slot)s));
    }
}

/* NO_COLOR falls back to monochrome, so it must carry no colour at all and
 * still tell the selection and errors apart by attributes. */
static void monochrome_is_attributes_only(void **state)
{
    (void)state;
    struct theme mono;
    char err[1024];
    assert_int_equal(theme_load("monochrome", &mono, err, sizeof err), 0);
    for (int s = 0; s < SLOT_COUNT; s++) {
        assert_int_equal(mono.styles[s].fg, -1);
        assert_int_equal(mono.styles[s].bg, -1);
    }
    assert_true(mono.styles[SLOT_SELECTION].attrs & THEME_ATTR_REVERSE);
    assert_true(mono.styles[SLOT_CRIT].attrs != 0);
}

static void unknown_and_unsafe_names_are_refused(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(theme_check("no-such-theme", err, sizeof err), -1);
    assert_non_null(strstr(err, "no theme 'no-such-theme'"));
    assert_int_equal(theme_check("../etc/passwd", err, sizeof err), -1);
    assert_int_equal(theme_check("", err, sizeof err), -1);
    assert_int_equal(theme_check(NULL, err, sizeof err), -1);
}

static void search_path_order(void **state)
{
    (void)state;
    char *saved_dir = getenv("QDECK_THEME_DIR") ? strdup(getenv("QDECK_THEME_DIR")) : NULL;
    char *saved_xdg = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
    char root[] = "/tmp/qdeck-test-themes.XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[256], xdg[256], file[PATH_MAX];

    /* $QDECK_THEME_DIR wins over the shipped dark theme */
    snprintf(dir, sizeof dir, "%s/env", root);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(file, sizeof file, "%s/dark.theme", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("default = fg=201\n", f);
    fclose(f);
    setenv("QDECK_THEME_DIR", dir, 1);
    struct theme t;
    char err[1024];
    assert_int_equal(theme_load("dark", &t, err, sizeof err), 0);
    assert_int_equal(t.styles[SLOT_DEFAULT].fg, 201);

    /* $XDG_CONFIG_HOME/qdeck/themes is searched last */
    snprintf(xdg, sizeof xdg, "%s/xdg", root);
    snprintf(file, sizeof file, "%s/qdeck", xdg);
    assert_int_equal(mkdir(xdg, 0700), 0);
    assert_int_equal(mkdir(file, 0700), 0);
    snprintf(file, sizeof file, "%s/qdeck/themes", xdg);
    assert_int_equal(mkdir(file, 0700), 0);
    snprintf(file, sizeof file, "%s/qdeck/themes/mine-only-here.theme", xdg);
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("ok = fg=brightgreen\n", f);
    fclose(f);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    assert_int_equal(theme_load("mine-only-here", &t, err, sizeof err), 0);
    assert_int_equal(t.styles[SLOT_OK].fg, 10);

    unlink(file);
    snprintf(file, sizeof file, "%s/qdeck/themes", xdg);
    rmdir(file);
    snprintf(file, sizeof file, "%s/qdeck", xdg);
    rmdir(file);
    rmdir(xdg);
    snprintf(file, sizeof file, "%s/dark.theme", dir);
    unlink(file);
    rmdir(dir);
    rmdir(root);
    if (saved_dir)
        setenv("QDECK_THEME_DIR", saved_dir, 1);
    else
        unsetenv("QDECK_THEME_DIR");
    if (saved_xdg)
        setenv("XDG_CONFIG_HOME", saved_xdg, 1);
    else
        unsetenv("XDG_CONFIG_HOME");
    free(saved_dir);
    free(saved_xdg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(style_strings_parse),
        cmocka_unit_test(style_strings_refuse_bad_words),
        cmocka_unit_test(file_with_comments_and_defaults),
        cmocka_unit_test(file_errors_name_file_line_and_slot),
        cmocka_unit_test(every_slot_is_settable_by_name),
        cmocka_unit_test(shipped_themes_load_and_are_complete),
        cmocka_unit_test(monochrome_is_attributes_only),
        cmocka_unit_test(unknown_and_unsafe_names_are_refused),
        cmocka_unit_test(search_path_order),
    };
    return cmocka_run_group_tests_name("themes", tests, NULL, NULL);
}
