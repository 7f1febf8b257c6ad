/* Strict whole-number parsing (see number.h): strtol with a check that it
 * consumed everything, that there was something to consume, that nothing
 * overflowed, and that the value is in range. */
#include "core/number.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int number_parse_long(const char *text, long min, long max, long *out)
{
    if (!text)
        return -1;
    const char *digits = text + (*text == '-' || *text == '+');
    if (!isdigit((unsigned char)*digits))
        return -1;   /* also refuses "", " 5" and "0x10"'s cousins like "+-5" */
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno == ERANGE || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int number_parse_flag(const char *what, const char *text, long min, long max, long *out, char *why, size_t whylen)
{
    if (number_parse_long(text, min, max, out) == 0)
        return 0;
    snprintf(why, whylen, "%s wants a whole number from %ld to %ld, got '%s'", what, min, max, text ? text : "");
    return -1;
}
