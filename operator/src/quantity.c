/* quantity.c: Kubernetes resource quantities as integers (op_quantity.h).
 * Exact integer arithmetic: mantissa digits, a power of ten and a power of
 * 1024, combined with overflow checks; no floating point, so "0.1" cpu is
 * exactly 100m. Also home of op_strerror for the op_* modules. */
#include "op_core.h"
#include "op_quantity.h"

#include <stddef.h>

const char *op_strerror(int status)
{
    switch (status) {
    case OP_OK: return "ok";
    case OP_EINVAL: return "invalid argument";
    case OP_ERANGE: return "value out of range";
    case OP_ENOFIT: return "no node fits";
    default: return "unknown error";
    }
}

static int q_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

/* *v *= m; 0 on overflow. */
static int q_mul(uint64_t *v, uint64_t m)
{
    if (*v != 0 && m > UINT64_MAX / *v) return 0;
    *v *= m;
    return 1;
}

/* Parses the suffix at p into a power of ten and a power of 1024; returns the
 * number of characters used, or -1 when p is not a valid suffix. */
static int q_suffix(const char *p, int *exp10, int *pow1024)
{
    static const char bin[] = "KMGTPE";
    int i, e = 0, neg = 0, n = 0;

    *exp10 = 0;
    *pow1024 = 0;
    if (p[0] == '\0') return 0;
    for (i = 0; bin[i]; i++) {
        if (p[0] == bin[i] && p[1] == 'i') {
            *pow1024 = i + 1;
            return 2;
        }
    }
    /* An exponent "e3", "E-2": e/E followed by an optional sign and digits. */
    if ((p[0] == 'e' || p[0] == 'E') &&
        (q_isdigit(p[1]) || ((p[1] == '+' || p[1] == '-') && q_isdigit(p[2])))) {
        n = 1;
        if (p[n] == '+' || p[n] == '-') neg = p[n++] == '-';
        while (q_isdigit(p[n])) {
            if (e > 100) return -1;
            e = e * 10 + (p[n++] - '0');
        }
        *exp10 = neg ? -e : e;
        return n;
    }
    switch (p[0]) {
    case 'n': *exp10 = -9; return 1;
    case 'u': *exp10 = -6; return 1;
    case 'm': *exp10 = -3; return 1;
    case 'k': *exp10 = 3; return 1;
    case 'M': *exp10 = 6; return 1;
    case 'G': *exp10 = 9; return 1;
    case 'T': *exp10 = 12; return 1;
    case 'P': *exp10 = 15; return 1;
    case 'E': *exp10 = 18; return 1;
    default: return -1;
    }
}

int op_quantity_parse_milli(const char *s, int64_t *out_milli)
{
    uint64_t mant = 0;
    int exp10 = 3; /* we count thousandths */
    int sexp = 0, pow1024 = 0, ndigits = 0, inexact = 0, used, i;
    const char *p = s;

    if (!s || !out_milli) return OP_EINVAL;
    if (*p == '+') p++;
    while (q_isdigit(*p)) {
        if (mant > (UINT64_MAX - 9) / 10) return OP_ERANGE;
        mant = mant * 10 + (uint64_t)(*p++ - '0');
        ndigits++;
    }
    if (*p == '.') {
        p++;
        while (q_isdigit(*p)) {
            /* Keep 17 significant digits; beyond that only note a remainder. */
            if (mant < 100000000000000000ULL) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                exp10--;
            } else if (*p != '0') {
                inexact = 1;
            }
            p++;
            ndigits++;
        }
    }
    if (ndigits == 0) return OP_EINVAL;
    used = q_suffix(p, &sexp, &pow1024);
    if (used < 0 || p[used] != '\0') return OP_EINVAL;
    exp10 += sexp;
    for (i = 0; i < pow1024; i++)
        if (!q_mul(&mant, 1024)) return OP_ERANGE;
    if (exp10 >= 0) {
        for (i = 0; i < exp10; i++)
            if (mant != 0 && !q_mul(&mant, 10)) return OP_ERANGE;
        if (inexact && mant == UINT64_MAX) return OP_ERANGE;
        mant += (uint64_t)inexact;
    } else if (-exp10 > 19) {
        mant = (mant != 0 || inexact) ? 1 : 0; /* below one thousandth: round up */
    } else {
        uint64_t div = 1, q;
        for (i = 0; i < -exp10; i++) div *= 10;
        q = mant / div;
        if (mant % div != 0 || inexact) q++;
        mant = q;
    }
    if (mant > (uint64_t)INT64_MAX) return OP_ERANGE;
    *out_milli = (int64_t)mant;
    return OP_OK;
}

int op_quantity_parse_units(const char *s, int64_t *out_units)
{
    int64_t milli = 0;
    int rc;

    if (!out_units) return OP_EINVAL;
    rc = op_quantity_parse_milli(s, &milli);
    if (rc != OP_OK) return rc;
    *out_units = milli / 1000 + (milli % 1000 != 0);
    return OP_OK;
}
