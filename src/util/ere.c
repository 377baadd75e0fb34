/* util/ere: a recursive-descent walk of a POSIX ERE that refuses what makes
 * glibc's regcomp blow up (see ere.h). Sizes saturate just above the cap. */
#include "util/ere.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct ere_state {
    const char *p;
    size_t n;
    size_t i;
    int depth;
    char *err;
    size_t errlen;
    bool failed;
} ere_state;

#define ERE_SAT (ERE_MAX_COPIES + 1u)

static unsigned long ere_add(unsigned long a, unsigned long b) { return a + b > ERE_SAT ? ERE_SAT : a + b; }

static unsigned long ere_mul(unsigned long a, unsigned long b)
{
    if (a == 0 || b == 0)
        return 0;
    return a > ERE_SAT / b ? ERE_SAT : a * b > ERE_SAT ? ERE_SAT : a * b;
}

static void ere_fail(ere_state *s, size_t at, const char *what)
{
    if (!s->failed && s->errlen > 0)
        snprintf(s->err, s->errlen, "%s at offset %zu", what, at);
    s->failed = true;
}

static bool ere_is_quant(char c) { return c == '*' || c == '+' || c == '?' || c == '{'; }

/* A bracket expression starting at s->i ('['); leaves s->i after its ']'. */
static void ere_bracket(ere_state *s)
{
    size_t start = s->i, j = s->i + 1;
    if (j < s->n && s->p[j] == '^')
        j++;
    if (j < s->n && s->p[j] == ']')
        j++; /* a ']' first is a member */
    while (j < s->n && s->p[j] != ']') {
        if (s->p[j] == '[' && j + 1 < s->n && (s->p[j + 1] == ':' || s->p[j + 1] == '.' || s->p[j + 1] == '=')) {
            char close = s->p[j + 1];
            size_t k = j + 2;
            while (k + 1 < s->n && !(s->p[k] == close && s->p[k + 1] == ']'))
                k++;
            if (k + 1 >= s->n) {
                ere_fail(s, j, "unterminated [: :], [. .] or [= =] in a bracket expression");
                return;
            }
            j = k + 2;
        } else {
            j++;
        }
    }
    if (j >= s->n) {
        ere_fail(s, start, "unterminated bracket expression '['");
        return;
    }
    s->i = j + 1;
}

/* Reads up to three decimal digits at s->i; -1 when there are none. */
static long ere_number(ere_state *s)
{
    long v = -1;
    while (s->i < s->n && s->p[s->i] >= '0' && s->p[s->i] <= '9') {
        v = (v < 0 ? 0 : v) * 10 + (s->p[s->i] - '0');
        s->i++;
        if (v > 255)
            return 256;
    }
    return v;
}

/* A repetition at s->i: sets *factor (copies glibc makes) and *zero (may
 * repeat zero times). */
static void ere_quant(ere_state *s, unsigned long *factor, bool *zero)
{
    size_t at = s->i;
    char c = s->p[s->i++];
    if (c == '*' || c == '?') {
        *factor = 1;
        *zero = true;
        return;
    }
    if (c == '+') {
        *factor = 2;
        *zero = false;
        return;
    }
    long lo = ere_number(s), hi = lo;
    if (s->i < s->n && s->p[s->i] == ',') {
        s->i++;
        hi = ere_number(s);
        if (hi < 0)
            hi = lo + 1; /* {n,}: n copies and a star */
        else if (hi < lo)
            lo = -1;
    }
    if (lo < 0 || lo > 255 || hi > 255 || s->i >= s->n || s->p[s->i] != '}') {
        ere_fail(s, at, "an interval must be {n}, {n,} or {n,m} with n <= m <= 255 (write \\{ for a literal brace)");
        return;
    }
    s->i++;
    *factor = hi > 0 ? (unsigned long)hi : 1;
    *zero = lo == 0;
}

static void ere_regex(ere_state *s, unsigned long *size, bool *nullable);

/* One atom at s->i (not a repetition, '|' or ')'). */
static void ere_atom(ere_state *s, unsigned long *size, bool *nullable)
{
    size_t at = s->i;
    char c = s->p[s->i];
    *size = 1;
    *nullable = false;
    if (c == '(') {
        if (++s->depth > ERE_MAX_DEPTH) {
            ere_fail(s, at, "more than 32 nested groups");
            return;
        }
        s->i++;
        ere_regex(s, size, nullable);
        if (s->failed)
            return;
        if (s->i >= s->n || s->p[s->i] != ')') {
            ere_fail(s, at, "unbalanced '(': no matching ')'");
            return;
        }
        s->i++;
        s->depth--;
        *size = ere_add(*size, 1);
    } else if (c == '[') {
        ere_bracket(s);
    } else if (c == '\\') {
        if (s->i + 1 >= s->n) {
            ere_fail(s, at, "a trailing '\\'");
            return;
        }
        char e = s->p[s->i + 1];
        if (e >= '1' && e <= '9') {
            ere_fail(s, at, "back-references (\\1 ... \\9) are not supported");
            return;
        }
        /* glibc's zero-width escapes: word boundaries, buffer start and end */
        *nullable = e == 'b' || e == 'B' || e == '<' || e == '>' || e == '`' || e == '\'';
        s->i += 2;
    } else {
        *nullable = c == '^' || c == '$';
        s->i++;
    }
}

/* A piece: an atom and at most one repetition. */
static void ere_piece(ere_state *s, unsigned long *size, bool *nullable)
{
    size_t at = s->i;
    if (ere_is_quant(s->p[s->i])) {
        ere_fail(s, at, "a repetition (*, +, ?, {n,m}) with nothing before it");
        return;
    }
    ere_atom(s, size, nullable);
    if (s->failed || s->i >= s->n || !ere_is_quant(s->p[s->i]))
        return;
    size_t qat = s->i;
    if (*nullable) {
        ere_fail(s, qat, "a repetition of something that can match the empty string (such as \"()*\", \"(a*)+\", "
                         "\"(a|)+\" or \"^*\")");
        return;
    }
    unsigned long factor = 1;
    bool zero = false;
    ere_quant(s, &factor, &zero);
    if (s->failed)
        return;
    if (s->i < s->n && ere_is_quant(s->p[s->i])) {
        ere_fail(s, s->i, "stacked repetitions (such as \"a**\" or \"a+{2}\"); use one");
        return;
    }
    *size = ere_mul(*size, factor);
    *nullable = zero;
}

/* Branches separated by '|', up to a ')' or the end. */
static void ere_regex(ere_state *s, unsigned long *size, bool *nullable)
{
    *size = 0;
    *nullable = false;
    for (;;) {
        bool branch_nullable = true;
        while (s->i < s->n && s->p[s->i] != '|' && s->p[s->i] != ')') {
            unsigned long ps = 0;
            bool pn = false;
            ere_piece(s, &ps, &pn);
            if (s->failed)
                return;
            *size = ere_add(*size, ps);
            branch_nullable = branch_nullable && pn;
        }
        *nullable = *nullable || branch_nullable;
        if (s->i >= s->n || s->p[s->i] != '|')
            return;
        s->i++;
    }
}

int ere_check(const char *pattern, size_t n, char *err, size_t errlen)
{
    ere_state s = {.p = pattern, .n = n, .err = err, .errlen = errlen};
    unsigned long size = 0;
    bool nullable = false;
    ere_regex(&s, &size, &nullable);
    if (!s.failed && s.i < n)
        ere_fail(&s, s.i, "unbalanced ')': no matching '('");
    if (!s.failed && size > ERE_MAX_COPIES)
        ere_fail(&s, 0, "the repetitions ({n,m}, +) expand to more than 4096 copies");
    return s.failed ? -1 : 0;
}
