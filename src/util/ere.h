/* util/ere: decides whether a POSIX extended regular expression from the
 * configuration is safe to hand to glibc's regcomp.
 *
 * glibc compiles "x+" as "xx*" and "x{n,m}" as m copies of x, and computes
 * epsilon closures recursively, so stacked or nested repetitions and
 * repetitions of subexpressions that can match the empty string make
 * regcomp take gigabytes or hours (found by fuzz_input: "a++++…",
 * "()++++++++++++"). A table pattern never needs them. ere_check parses the
 * pattern by the ERE grammar and refuses, with a message:
 *   - unbalanced parentheses (a ')' would also escape the ^(…)$ anchoring),
 *   - a repetition with nothing before it, or directly after another one
 *     ("a**", "a+{2}": undefined in POSIX),
 *   - a repetition of something that can match the empty string ("()*",
 *     "(a*)+", "(a|)+", "^*"),
 *   - an interval that is not {n}, {n,} or {n,m} with n <= m <= 255,
 *   - back-references ("\1": exponential matching) and a trailing '\',
 *   - an unterminated bracket expression,
 *   - more than 32 nested groups, or more than ERE_MAX_COPIES atom copies
 *     after glibc's expansion.
 * Pure: no allocation, no I/O. */
#ifndef CE_UTIL_ERE_H
#define CE_UTIL_ERE_H

#include <stddef.h>

#define ERE_MAX_COPIES 4096u
#define ERE_MAX_DEPTH 32

/* 0 when pattern[0, n) is safe to compile; -1 with err otherwise. */
int ere_check(const char *pattern, size_t n, char *err, size_t errlen);

#endif
