/* op_plan: JSON in, decision structs out, JSON back (see op_plan.h). */
#include "op_plan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "op_core.h"
#include "op_quantity.h"
#include "op_spec.h"

const cJSON *op_json_at(const cJSON *obj, const char *path)
{
    const cJSON *cur = obj;
    const char *p = path;

    while (cur && p && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char key[128];
        if (len == 0 || len >= sizeof(key)) return NULL;
        memcpy(key, p, len);
        key[len] = '\0';
        if (!cJSON_IsObject(cur)) return NULL;
        cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        p = dot ? dot + 1 : NULL;
    }
    return cur;
}

int64_t op_json_int(const cJSON *obj, const char *path, int64_t def)
{
    const cJSON *v = op_json_at(obj, path);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return def;
    return (int64_t)v->valuedouble;
}

const char *op_json_str(const cJSON *obj, const char *path)
{
    const cJSON *v = op_json_at(obj, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void op_time_format(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!buf || cap == 0) return;
    buf[0] = '\0';
    if (!gmtime_r(&t, &tm)) return;
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int pl_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return OP_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return OP_OK;
}

int op_time_parse(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, frac_ms = 0, off_min = 0;
    const char *p;
    time_t t;

    if (!s || !ms || strlen(s) < 20) return OP_EINVAL;
    if (pl_digits(s, 4, &y) || s[4] != '-' || pl_digits(s + 5, 2, &mo) || s[7] != '-' ||
        pl_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || pl_digits(s + 11, 2, &h) ||
        s[13] != ':' || pl_digits(s + 14, 2, &mi) || s[16] != ':' || pl_digits(s + 17, 2, &sec))
        return OP_EINVAL;
    p = s + 19;
    if (*p == '.') {
        int scale = 100;
        p++;
        if (*p < '0' || *p > '9') return OP_EINVAL;
        while (*p >= '0' && *p <= '9') {
            frac_ms += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (pl_digits(p + 1, 2, &oh) || p[3] != ':' || pl_digits(p + 4, 2, &om)) return OP_EINVAL;
        off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return OP_EINVAL;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return OP_EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    *ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
    return OP_OK;
}

int op_plan_rollout_spec(const cJSON *model, int32_t replicas, struct op_rollout_step *steps,
                         struct op_rollout_spec *spec)
{
    const cJSON *arr = op_json_at(model, "spec.rollout.steps");
    const cJSON *it;
    size_t n = 0;

    if (!model || !steps || !spec) return OP_EINVAL;
    memset(spec, 0, sizeof(*spec));
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(it, "setWeight");
        const cJSON *pause = cJSON_GetObjectItemCaseSensitive(it, "pause");
        if (n >= OP_MAX_STEPS) return OP_EINVAL;
        memset(&steps[n], 0, sizeof(steps[n]));
        if (cJSON_IsNumber(w)) {
            if (w->valuedouble < 0 || w->valuedouble > 100) return OP_EINVAL;
            steps[n].kind = OP_STEP_SET_WEIGHT;
            steps[n].weight = (int32_t)w->valuedouble;
        } else if (cJSON_IsObject(pause)) {
            const char *dur = op_json_str(pause, "duration");
            steps[n].kind = OP_STEP_PAUSE;
            steps[n].pause_ms = -1;
            if (dur && op_duration_parse_ms(dur, &steps[n].pause_ms)) return OP_EINVAL;
        } else {
            return OP_EINVAL;
        }
        n++;
    }
    spec->steps = n ? steps : NULL;
    spec->n_steps = n;
    spec->replicas = replicas < 0 ? 0 : replicas;
    spec->progress_deadline_ms =
        op_json_int(model, "spec.rollout.progressDeadlineSeconds", 600) * 1000;
    if (spec->progress_deadline_ms <= 0) spec->progress_deadline_ms = 600000;
    return OP_OK;
}

void op_plan_rollout_state(const cJSON *model, const struct op_rollout_spec *spec,
                           struct op_rollout_state *st)
{
    const char *phase = op_json_str(model, "status.phase");
    const char *started = op_json_str(model, "status.stepStartedAt");
    int64_t step = op_json_int(model, "status.currentStep", 0);

    memset(st, 0, sizeof(*st));
    st->phase = OP_ROLLOUT_PROGRESSING;
    if (phase && strcmp(phase, "Paused") == 0) st->phase = OP_ROLLOUT_PAUSED;
    if (phase && strcmp(phase, "RolledBack") == 0) st->phase = OP_ROLLOUT_ABORTED;
    if (step < 0) step = 0;
    if ((size_t)step > spec->n_steps) step = (int64_t)spec->n_steps;
    st->step = (int32_t)step;
    st->weight = (int32_t)op_json_int(model, "status.canaryWeight", 0);
    if (st->weight < 0 || st->weight > 100) st->weight = 0;
    for (size_t i = 0; i < (size_t)st->step && i < spec->n_steps; i++)
        if (spec->steps[i].kind == OP_STEP_SET_WEIGHT) st->step_weight = spec->steps[i].weight;
    if (!started || op_time_parse(started, &st->step_started_ms)) st->step_started_ms = 0;
}

const char *op_plan_phase_name(enum op_rollout_phase p, const char *idle_phase)
{
    switch (p) {
    case OP_ROLLOUT_PROGRESSING: return "Progressing";
    case OP_ROLLOUT_PAUSED: return "Paused";
    case OP_ROLLOUT_ABORTED: return "RolledBack";
    case OP_ROLLOUT_IDLE:
    case OP_ROLLOUT_COMPLETE:
    default: return idle_phase;
    }
}

/* Engine with the CRD defaults filled in, so that a Model written before
 * the API server defaulted it compares equal to its revision. */
static cJSON *pl_engine_new(const cJSON *obj)
{
    cJSON *e = cJSON_CreateObject();
    if (!e) return NULL;
    cJSON_AddNumberToObject(e, "contextSize", (double)op_json_int(obj, "contextSize", 2048));
    cJSON_AddNumberToObject(e, "parallel", (double)op_json_int(obj, "parallel", 4));
    cJSON_AddNumberToObject(e, "threads", (double)op_json_int(obj, "threads", 0));
    return e;
}

static bool pl_str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

bool op_plan_same_template(const cJSON *model, const cJSON *obj)
{
    cJSON *a, *b;
    bool same;

    if (!pl_str_eq(op_json_str(model, "spec.source.uri"), op_json_str(obj, "spec.source.uri")) ||
        !pl_str_eq(op_json_str(model, "spec.source.sha256"),
                   op_json_str(obj, "spec.source.sha256")))
        return false;
    a = pl_engine_new(op_json_at(model, "spec.engine"));
    b = pl_engine_new(op_json_at(obj, "spec.engine"));
    same = a && b && cJSON_Compare(a, b, true);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return same;
}

static cJSON *pl_source_new(const cJSON *from)
{
    cJSON *s = cJSON_CreateObject();
    const char *uri = op_json_str(from, "spec.source.uri");
    const char *sha = op_json_str(from, "spec.source.sha256");
    if (!s) return NULL;
    if (uri) cJSON_AddStringToObject(s, "uri", uri);
    if (sha && sha[0]) cJSON_AddStringToObject(s, "sha256", sha);
    return s;
}

/* metadata with name, namespace, labels and the Model as controller owner. */
static cJSON *pl_meta_new(const cJSON *model, const char *name, int32_t rev)
{
    cJSON *meta = cJSON_CreateObject(), *labels, *owners, *own;
    char revs[16];
    const char *mname = op_json_str(model, "metadata.name");
    const char *uid = op_json_str(model, "metadata.uid");

    if (!meta) return NULL;
    snprintf(revs, sizeof(revs), "%d", (int)rev);
    cJSON_AddStringToObject(meta, "name", name);
    if (op_json_str(model, "metadata.namespace"))
        cJSON_AddStringToObject(meta, "namespace", op_json_str(model, "metadata.namespace"));
    labels = cJSON_AddObjectToObject(meta, "labels");
    if (labels && mname) cJSON_AddStringToObject(labels, OP_LABEL_MODEL, mname);
    if (labels) cJSON_AddStringToObject(labels, OP_LABEL_REVISION, revs);
    owners = cJSON_AddArrayToObject(meta, "ownerReferences");
    own = cJSON_CreateObject();
    if (!owners || !own || !mname || !uid) {
        cJSON_Delete(own);
        cJSON_Delete(meta);
        return NULL;
    }
    cJSON_AddStringToObject(own, "apiVersion", "kllm.io/v1alpha1");
    cJSON_AddStringToObject(own, "kind", "Model");
    cJSON_AddStringToObject(own, "name", mname);
    cJSON_AddStringToObject(own, "uid", uid);
    cJSON_AddBoolToObject(own, "controller", 1);
    cJSON_AddBoolToObject(own, "blockOwnerDeletion", 1);
    cJSON_AddItemToArray(owners, own);
    return meta;
}

cJSON *op_plan_revision_new(const cJSON *model, int32_t n)
{
    cJSON *obj = NULL, *meta, *spec;
    const char *mname = op_json_str(model, "metadata.name");
    char name[300];

    if (!mname || n < 1) return NULL;
    snprintf(name, sizeof(name), "%s-%d", mname, (int)n);
    obj = cJSON_CreateObject();
    meta = pl_meta_new(model, name, n);
    if (!obj || !meta) goto fail;
    cJSON_AddStringToObject(obj, "apiVersion", "kllm.io/v1alpha1");
    cJSON_AddStringToObject(obj, "kind", "ModelRevision");
    cJSON_AddItemToObject(obj, "metadata", meta);
    meta = NULL;
    spec = cJSON_AddObjectToObject(obj, "spec");
    if (!spec) goto fail;
    cJSON_AddStringToObject(spec, "model", mname);
    cJSON_AddNumberToObject(spec, "revision", n);
    cJSON_AddItemToObject(spec, "source", pl_source_new(model));
    cJSON_AddItemToObject(spec, "engine", pl_engine_new(op_json_at(model, "spec.engine")));
    return obj;
fail:
    cJSON_Delete(meta);
    cJSON_Delete(obj);
    return NULL;
}

cJSON *op_plan_replica_new(const cJSON *model, const cJSON *revision, int32_t idx, const char *node)
{
    cJSON *obj = NULL, *meta, *spec, *res, *labels;
    const char *mname = op_json_str(model, "metadata.name");
    int32_t rev = (int32_t)op_json_int(revision, "spec.revision", 0);
    const cJSON *mres = op_json_at(model, "spec.resources");
    char name[300];

    if (!mname || rev < 1 || idx < 0) return NULL;
    snprintf(name, sizeof(name), "%s-%d-%d", mname, (int)rev, (int)idx);
    obj = cJSON_CreateObject();
    meta = pl_meta_new(model, name, rev);
    if (!obj || !meta) goto fail;
    labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
    if (node && node[0]) cJSON_AddStringToObject(labels, OP_LABEL_NODE, node);
    cJSON_AddStringToObject(obj, "apiVersion", "kllm.io/v1alpha1");
    cJSON_AddStringToObject(obj, "kind", "ModelReplica");
    cJSON_AddItemToObject(obj, "metadata", meta);
    meta = NULL;
    spec = cJSON_AddObjectToObject(obj, "spec");
    if (!spec) goto fail;
    cJSON_AddStringToObject(spec, "model", mname);
    cJSON_AddNumberToObject(spec, "revision", rev);
    if (node && node[0]) cJSON_AddStringToObject(spec, "nodeName", node);
    cJSON_AddItemToObject(spec, "source", pl_source_new(revision));
    cJSON_AddItemToObject(spec, "engine", pl_engine_new(op_json_at(revision, "spec.engine")));
    res = cJSON_AddObjectToObject(spec, "resources");
    if (res && cJSON_IsObject(mres)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, mres)
        {
            if ((cJSON_IsString(it) && it->valuestring[0]) || cJSON_IsNumber(it))
                cJSON_AddItemToObject(res, it->string, cJSON_Duplicate(it, 1));
        }
    }
    return obj;
fail:
    cJSON_Delete(meta);
    cJSON_Delete(obj);
    return NULL;
}

/* A quantity that may be a JSON string or number. */
static int pl_quantity(const cJSON *v, bool milli, int64_t *out)
{
    char buf[64];
    const char *s = NULL;

    if (cJSON_IsString(v)) {
        s = v->valuestring;
    } else if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0) {
        snprintf(buf, sizeof(buf), "%.0f", v->valuedouble);
        s = buf;
    }
    if (!s) return OP_EINVAL;
    return milli ? op_quantity_parse_milli(s, out) : op_quantity_parse_units(s, out);
}

int op_plan_condition(const cJSON *conditions, const char *type)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, conditions)
    {
        const char *t = op_json_str(c, "type");
        const char *s = op_json_str(c, "status");
        if (!t || strcmp(t, type) != 0 || !s) continue;
        if (strcmp(s, "True") == 0) return 1;
        if (strcmp(s, "False") == 0) return 0;
        return -1;
    }
    return -1;
}

int op_plan_node(const cJSON *inode, struct op_node *node, const char **sha, size_t n_sha)
{
    const cJSON *c;
    const cJSON *unsched = op_json_at(inode, "spec.unschedulable");

    memset(node, 0, sizeof(*node));
    node->name = op_json_str(inode, "metadata.name");
    if (!node->name) return OP_EINVAL;
    node->ready = op_plan_condition(op_json_at(inode, "status.conditions"), "Ready") == 1;
    node->unschedulable = cJSON_IsTrue(unsched);
    if (pl_quantity(op_json_at(inode, "status.allocatable.cpu"), true, &node->alloc_cpu_milli))
        node->alloc_cpu_milli = 0;
    if (pl_quantity(op_json_at(inode, "status.allocatable.memory"), false, &node->alloc_mem_bytes))
        node->alloc_mem_bytes = 0;
    node->cached_sha256 = sha;
    cJSON_ArrayForEach(c, op_json_at(inode, "status.cachedModels"))
    {
        const char *s = op_json_str(c, "sha256");
        if (s && sha && node->n_cached < n_sha) sha[node->n_cached++] = s;
    }
    return OP_OK;
}

void op_plan_requests(const cJSON *obj, int64_t *cpu_milli, int64_t *mem_bytes)
{
    const cJSON *cpu = op_json_at(obj, "spec.resources.cpu");
    const cJSON *mem = op_json_at(obj, "spec.resources.memory");

    if (!cpu || pl_quantity(cpu, true, cpu_milli)) *cpu_milli = 1000;
    if (!mem || pl_quantity(mem, false, mem_bytes)) *mem_bytes = 0;
}

cJSON *op_plan_conditions_set_new(const cJSON *old, const char *type, bool status,
                                  const char *reason, const char *message, int64_t now_ms)
{
    cJSON *arr = cJSON_CreateArray(), *c;
    const cJSON *it;
    const char *want = status ? "True" : "False";
    char ts[40];
    bool found = false;

    if (!arr) return NULL;
    op_time_format(now_ms, ts, sizeof(ts));
    cJSON_ArrayForEach(it, old)
    {
        const char *t = op_json_str(it, "type");
        if (!t || strcmp(t, type) != 0) {
            cJSON_AddItemToArray(arr, cJSON_Duplicate(it, 1));
            continue;
        }
        found = true;
        c = cJSON_CreateObject();
        if (!c) goto fail;
        cJSON_AddStringToObject(c, "type", type);
        cJSON_AddStringToObject(c, "status", want);
        if (pl_str_eq(op_json_str(it, "status"), want) && op_json_str(it, "lastTransitionTime"))
            cJSON_AddStringToObject(c, "lastTransitionTime", op_json_str(it, "lastTransitionTime"));
        else
            cJSON_AddStringToObject(c, "lastTransitionTime", ts);
        cJSON_AddStringToObject(c, "reason", reason);
        if (message && message[0]) cJSON_AddStringToObject(c, "message", message);
        cJSON_AddItemToArray(arr, c);
    }
    if (!found) {
        c = cJSON_CreateObject();
        if (!c) goto fail;
        cJSON_AddStringToObject(c, "type", type);
        cJSON_AddStringToObject(c, "status", want);
        cJSON_AddStringToObject(c, "lastTransitionTime", ts);
        cJSON_AddStringToObject(c, "reason", reason);
        if (message && message[0]) cJSON_AddStringToObject(c, "message", message);
        cJSON_AddItemToArray(arr, c);
    }
    return arr;
fail:
    cJSON_Delete(arr);
    return NULL;
}

cJSON *op_plan_merge_patch_new(const cJSON *cur, const cJSON *want, int *err)
{
    cJSON *patch = cJSON_CreateObject();
    const cJSON *it;

    if (err) *err = 0;
    if (!patch) goto oom;
    cJSON_ArrayForEach(it, want)
    {
        const cJSON *old =
            cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, it->string) : NULL;
        if (old && cJSON_Compare(old, it, true)) continue;
        cJSON_AddItemToObject(patch, it->string, cJSON_Duplicate(it, 1));
    }
    if (cJSON_IsObject(cur)) {
        cJSON_ArrayForEach(it, cur)
        {
            if (!cJSON_GetObjectItemCaseSensitive(want, it->string))
                cJSON_AddNullToObject(patch, it->string);
        }
    }
    if (!patch->child) {
        cJSON_Delete(patch);
        return NULL;
    }
    return patch;
oom:
    if (err) *err = 1;
    return NULL;
}

void op_liveness_init(struct op_liveness *l)
{
    memset(l, 0, sizeof(*l));
}

static struct op_liveness_entry *pl_live_find(const struct op_liveness *l, const char *node)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].name, node) == 0) return (struct op_liveness_entry *)&l->e[i];
    return NULL;
}

int op_liveness_observe(struct op_liveness *l, const char *node, const char *lease_rv,
                        int64_t now_ms)
{
    struct op_liveness_entry *e;
    const char *rv = lease_rv ? lease_rv : "";

    if (!l || !node) return OP_EINVAL;
    e = pl_live_find(l, node);
    if (!e) {
        if (l->n >= OP_LIVENESS_MAX) return OP_ERANGE;
        e = &l->e[l->n++];
        memset(e, 0, sizeof(*e));
        snprintf(e->name, sizeof(e->name), "%s", node);
        snprintf(e->rv, sizeof(e->rv), "%s", rv);
        e->changed_ms = now_ms;
    } else if (strcmp(e->rv, rv) != 0) {
        snprintf(e->rv, sizeof(e->rv), "%s", rv);
        e->changed_ms = now_ms;
    }
    e->used = true;
    return OP_OK;
}

int64_t op_liveness_age(const struct op_liveness *l, const char *node, int64_t now_ms)
{
    const struct op_liveness_entry *e = l && node ? pl_live_find(l, node) : NULL;
    return e ? now_ms - e->changed_ms : -1;
}

void op_liveness_sweep(struct op_liveness *l)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!l->e[i].used) continue;
        l->e[w] = l->e[i];
        l->e[w].used = false;
        w++;
    }
    l->n = w;
}

/* One sample line of metric: true and *val when it matches. */
static bool pl_prom_line(const char *line, size_t len, const char *metric, size_t ml,
                         const char *label_sub, double *val)
{
    const char *v = line + ml, *lab_end = line + ml;
    char num[64], *end = NULL;
    size_t nl;

    if (len <= ml || strncmp(line, metric, ml) != 0 || (line[ml] != '{' && line[ml] != ' '))
        return false;
    if (*v == '{') {
        lab_end = memchr(v, '}', len - ml);
        if (!lab_end) return false;
        v = lab_end + 1;
    }
    if (label_sub) {
        size_t sl = strlen(label_sub);
        bool hit = false;
        for (const char *q = line + ml; q + sl <= lab_end && !hit; q++)
            hit = strncmp(q, label_sub, sl) == 0;
        if (!hit) return false;
    }
    nl = len - (size_t)(v - line);
    while (nl && *v == ' ') {
        v++;
        nl--;
    }
    if (nl == 0 || nl >= sizeof(num)) return false;
    memcpy(num, v, nl);
    num[nl] = '\0';
    *val = strtod(num, &end);
    return end != num && isfinite(*val);
}

double op_prom_sum(const char *text, const char *metric, const char *label_sub, int *found)
{
    double sum = 0, v;
    size_t ml = metric ? strlen(metric) : 0;
    const char *line = text;
    int n = 0;

    while (line && *line && ml) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (pl_prom_line(line, len, metric, ml, label_sub, &v)) {
            sum += v;
            n++;
        }
        line = eol ? eol + 1 : NULL;
    }
    if (found) *found = n;
    return sum;
}

/* Adds count to the bucket with upper bound le, keeping bounds ascending. */
static void pl_lat_add(struct op_agent_sample *s, double le, double count)
{
    int32_t i = 0;
    while (i < s->n_lat && s->lat_le[i] < le) i++;
    if (i < s->n_lat && s->lat_le[i] == le) {
        s->lat_cum[i] += count;
        return;
    }
    if (s->n_lat >= OP_LAT_BUCKETS) return;
    memmove(&s->lat_le[i + 1], &s->lat_le[i], sizeof(double) * (size_t)(s->n_lat - i));
    memmove(&s->lat_cum[i + 1], &s->lat_cum[i], sizeof(double) * (size_t)(s->n_lat - i));
    s->lat_le[i] = le;
    s->lat_cum[i] = count;
    s->n_lat++;
}

/* kllm_request_duration_seconds_bucket lines (of the selected model). */
static void pl_parse_latency(const char *text, const char *sel, struct op_agent_sample *out)
{
    static const char name[] = "kllm_request_duration_seconds_bucket{";
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len < 512 && strncmp(line, name, sizeof(name) - 1) == 0) {
            char one[512];
            memcpy(one, line, len);
            one[len] = '\0';
            const char *le = strstr(one, "le=\"");
            const char *val = strrchr(one, ' ');
            if ((!sel || strstr(one, sel)) && le && val) {
                char *end;
                double bound = strncmp(le + 4, "+Inf", 4) == 0 ? INFINITY : strtod(le + 4, &end);
                double v = strtod(val + 1, &end);
                if (bound > 0 && v >= 0 && end != val + 1) pl_lat_add(out, bound, v);
            }
        }
        line = eol ? eol + 1 : NULL;
    }
}

void op_agent_sample_add(struct op_agent_sample *sum, const struct op_agent_sample *one)
{
    sum->requests += one->requests;
    sum->errors += one->errors;
    sum->anomalies += one->anomalies;
    sum->in_flight += one->in_flight;
    sum->queued += one->queued;
    sum->gen_tokens += one->gen_tokens;
    for (int32_t i = 0; i < one->n_lat; i++) pl_lat_add(sum, one->lat_le[i], one->lat_cum[i]);
}

/* The 95th percentile (ms) of the bucket deltas cur - prev; 0 if unknown. */
static double pl_p95_ms(const struct op_agent_sample *prev, const struct op_agent_sample *cur)
{
    double d[OP_LAT_BUCKETS];
    for (int32_t i = 0; i < cur->n_lat; i++) {
        double p = 0;
        for (int32_t j = 0; j < prev->n_lat; j++)
            if (prev->lat_le[j] == cur->lat_le[i]) p = prev->lat_cum[j];
        d[i] = cur->lat_cum[i] >= p ? cur->lat_cum[i] - p : cur->lat_cum[i];
    }
    if (cur->n_lat == 0 || d[cur->n_lat - 1] < 1) return 0;
    double target = 0.95 * d[cur->n_lat - 1], lo = 0, lo_cum = 0;
    for (int32_t i = 0; i < cur->n_lat; i++) {
        if (d[i] >= target) {
            if (isinf(cur->lat_le[i])) return lo * 1000.0;
            double span = d[i] - lo_cum;
            double f = span > 0 ? (target - lo_cum) / span : 1.0;
            return (lo + (cur->lat_le[i] - lo) * f) * 1000.0;
        }
        lo = cur->lat_le[i];
        lo_cum = d[i];
    }
    return 0;
}

/* Sums the samples whose labels contain sel (NULL: all) into out. */
static void pl_sample_parse(const char *text, const char *sel, struct op_agent_sample *out);

void op_agent_sample_parse(const char *text, const char *model_key, struct op_agent_sample *out)
{
    char lab[600];
    const char *sel = NULL;

    memset(out, 0, sizeof(*out));
    if (!text) return;
    if (model_key) {
        snprintf(lab, sizeof(lab), "model=\"%s\"", model_key);
        if (strstr(text, lab)) sel = lab;
    }
    pl_sample_parse(text, sel, out);
}

void op_agent_sample_parse_rev(const char *text, const char *model_key, int32_t rev,
                               struct op_agent_sample *out)
{
    char lab[640];

    if (text && model_key && rev > 0) {
        /* The agent writes model first, then revision (agent/src/metrics.c). */
        snprintf(lab, sizeof(lab), "model=\"%s\",revision=\"%d\"", model_key, (int)rev);
        memset(out, 0, sizeof(*out));
        if (strstr(text, lab)) {
            pl_sample_parse(text, lab, out);
            return;
        }
        /* Revision series for the model, none for rev: nothing of rev here. */
        snprintf(lab, sizeof(lab), "model=\"%s\",revision=\"", model_key);
        if (strstr(text, lab)) return;
    }
    op_agent_sample_parse(text, model_key, out);
}

static void pl_sample_parse(const char *text, const char *sel, struct op_agent_sample *out)
{
    static const char *const codes5xx[] = {"code=\"500\"", "code=\"501\"", "code=\"502\"",
                                           "code=\"503\"", "code=\"504\"", NULL};

    out->requests = op_prom_sum(text, "kllm_requests_total", sel, NULL);
    for (size_t i = 0; codes5xx[i]; i++) {
        /* Both the model and the code must match: filter the lines twice. */
        const char *line = text;
        while (line && *line) {
            const char *eol = strchr(line, '\n');
            size_t len = eol ? (size_t)(eol - line) : strlen(line);
            double v;
            if (len < 512) {
                char one[512];
                memcpy(one, line, len);
                one[len] = '\0';
                if ((!sel || strstr(one, sel)) &&
                    pl_prom_line(one, len, "kllm_requests_total", 19, codes5xx[i], &v))
                    out->errors += v;
            }
            line = eol ? eol + 1 : NULL;
        }
    }
    out->anomalies = op_prom_sum(text, "kllm_anomalies_total", sel, NULL);
    out->in_flight = op_prom_sum(text, "kllm_requests_in_flight", sel, NULL);
    out->queued = op_prom_sum(text, "kllm_requests_queued", sel, NULL);
    out->gen_tokens = op_prom_sum(text, "kllm_generated_tokens_total", sel, NULL);
    pl_parse_latency(text, sel, out);
}

static double pl_delta(double prev, double cur)
{
    return cur >= prev ? cur - prev : cur;
}

void op_snapshot_delta(const struct op_agent_sample *prev, const struct op_agent_sample *cur,
                       struct op_metrics_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    if (!prev || !cur) return;
    out->valid = true;
    out->requests = pl_delta(prev->requests, cur->requests);
    out->errors = pl_delta(prev->errors, cur->errors);
    if (out->errors > out->requests) out->errors = out->requests;
    out->anomalies = pl_delta(prev->anomalies, cur->anomalies);
    out->p95_ms = pl_p95_ms(prev, cur);
}

void op_plan_analysis_spec(const cJSON *model, struct op_analysis_spec *spec)
{
    const cJSON *a = op_json_at(model, "spec.rollout.analysis");
    const cJSON *v;

    op_analysis_spec_default(spec);
    v = op_json_at(a, "maxErrorRate");
    if (cJSON_IsNumber(v)) spec->max_error_rate = v->valuedouble;
    v = op_json_at(a, "maxP95LatencyRatio");
    if (cJSON_IsNumber(v)) spec->max_p95_ratio = v->valuedouble;
    spec->failure_limit = (int32_t)op_json_int(a, "failureLimit", spec->failure_limit);
}

int op_plan_autoscale_spec(const cJSON *model, struct op_autoscale_spec *spec,
                           enum op_scale_metric *metric)
{
    const cJSON *a = op_json_at(model, "spec.autoscaling");
    const char *m = op_json_str(a, "metric");
    const cJSON *t = op_json_at(a, "target");

    if (!cJSON_IsObject(a)) return OP_EINVAL;
    op_autoscale_spec_default(spec);
    spec->min_replicas = (int32_t)op_json_int(a, "minReplicas", 1);
    spec->max_replicas = (int32_t)op_json_int(a, "maxReplicas", spec->min_replicas);
    spec->target = cJSON_IsNumber(t) ? t->valuedouble : 4;
    spec->scale_down_delay_ms = op_json_int(a, "scaleDownDelaySeconds", 300) * 1000;
    *metric = OP_METRIC_CONCURRENCY;
    if (m && !strcmp(m, "queueDepth")) *metric = OP_METRIC_QUEUE_DEPTH;
    if (m && !strcmp(m, "tokensPerSecond")) *metric = OP_METRIC_TOKENS_PER_SECOND;
    return op_autoscale_spec_check(spec);
}

char *op_golden_request_new(const char *model_key, const char *prompt, int32_t max_tokens)
{
    cJSON *req = cJSON_CreateObject();
    char *out = NULL;

    if (!req || !model_key || !prompt) goto out;
    cJSON_AddStringToObject(req, "model", model_key);
    cJSON_AddStringToObject(req, "prompt", prompt);
    cJSON_AddNumberToObject(req, "max_tokens", max_tokens > 0 ? max_tokens : 16);
    cJSON_AddNumberToObject(req, "temperature", 0);
    out = cJSON_PrintUnformatted(req);
out:
    cJSON_Delete(req);
    return out;
}

int op_golden_check(const char *body, const char *expect)
{
    cJSON *resp = body ? cJSON_Parse(body) : NULL;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "choices"), 0), "text");
    int rc = OP_EINVAL;

    if (cJSON_IsString(text) && expect) rc = strstr(text->valuestring, expect) ? 1 : 0;
    cJSON_Delete(resp);
    return rc;
}
