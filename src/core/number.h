/* Strict whole numbers from text, for every flag and config value that
 * takes one. strtol would take "12abc" as 12, "1e9" as 1 and " -1" as -1;
 * here the whole text must be an optional sign and decimal digits, and the
 * value must lie in [min, max], or the caller gets a reason to print. */
#ifndef QDECK_NUMBER_H
#define QDECK_NUMBER_H

#include <stddef.h>

/* 0 with *out set; -1 when text is not a whole number or lies outside
 * [min, max]. *out is untouched on failure. */
int number_parse_long(const char *text, long min, long max, long *out);

/* Same, and on failure writes one line into why naming what and the text:
 * "--count wants a whole number from 1 to 1000000000, got '1e9'". */
int number_parse_flag(const char *what, const char *text, long min, long max, long *out, char *why, size_t whylen);

#endif
