/* route: model-name resolution, revision choice and replica order for the
 * cluster router (see route.h). */
#include "route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int route_resolve(const struct route_model *ms, int n, const char *req, char *err, size_t errlen)
{
    const char *slash = strchr(req, '/');
    if (slash) {
        size_t nl = (size_t)(slash - req);
        for (int i = 0; i < n; i++)
            if (strlen(ms[i].ns) == nl && strncmp(ms[i].ns, req, nl) == 0 &&
                strcmp(ms[i].name, slash + 1) == 0)
                return i;
        snprintf(err, errlen, "The model '%s' does not exist", req);
        return ROUTE_ERR_NOTFOUND;
    }
    int found = -1, count = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(ms[i].name, req) == 0) {
            if (found < 0) found = i;
            count++;
        }
    if (count == 1) return found;
    if (count == 0) {
        snprintf(err, errlen, "The model '%s' does not exist", req);
        return ROUTE_ERR_NOTFOUND;
    }
    int off = snprintf(err, errlen, "model '%s' is ambiguous; use one of:", req);
    for (int i = 0; i < n && off >= 0 && (size_t)off < errlen; i++)
        if (strcmp(ms[i].name, req) == 0)
            off += snprintf(err + off, errlen - (size_t)off, " %s/%s", ms[i].ns, ms[i].name);
    return ROUTE_ERR_AMBIGUOUS;
}

int32_t route_pick_revision(const struct route_model *m, const char *pin, double u)
{
    if (pin && pin[0]) {
        if (strcmp(pin, "stable") == 0) return m->stable_rev;
        if (strcmp(pin, "canary") == 0) return m->canary_rev ? m->canary_rev : m->stable_rev;
        char *end = NULL;
        errno = 0;
        long v = strtol(pin, &end, 10);
        if (errno || end == pin || *end || v < 1 || v > INT32_MAX) return ROUTE_ERR_BADPIN;
        return (int32_t)v;
    }
    if (!m->stable_rev) return m->canary_rev;
    if (m->canary_rev && m->canary_rev != m->stable_rev && m->canary_weight > 0 &&
        u * 100.0 < (double)m->canary_weight)
        return m->canary_rev;
    return m->stable_rev;
}

static bool route_before(const struct route_replica *a, const struct route_replica *b)
{
    return (a->local && !b->local) || (a->local == b->local && a->load < b->load);
}

/* Adds to idx[base..cap) the replicas of m whose revision is rev (0: any)
 * or, with others, is not, local first, then by load; returns the new
 * count. An insertion sort keeping the best (ties keep table order). */
static int route_add(const struct route_replica *rs, int n, const struct route_model *m,
                     int32_t rev, bool others, int *idx, int base, int cap)
{
    int k = base;
    for (int i = 0; i < n; i++) {
        const struct route_replica *r = &rs[i];
        if (strcmp(r->ns, m->ns) != 0 || strcmp(r->model, m->name) != 0) continue;
        if ((!rev || r->revision == rev) == others) continue;
        if (k == cap && (k == base || !route_before(r, &rs[idx[k - 1]]))) continue;
        int j = k < cap ? k++ : cap - 1;
        while (j > base && route_before(r, &rs[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return k;
}

int route_order(const struct route_replica *rs, int n, const struct route_model *m, int32_t rev,
                bool fallback, int *idx, int cap)
{
    if (cap <= 0) return 0;
    int k = route_add(rs, n, m, rev, false, idx, 0, cap);
    if (fallback && rev) k = route_add(rs, n, m, rev, true, idx, k, cap);
    return k;
}
