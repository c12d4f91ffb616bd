/* api: OpenAI request parsing/validation and response building (see api.h). */
#include "api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "abuf.h"

#define MODEL_NAME_MAX 256

static int fail(char *err, size_t errlen, const char **param, const char *p, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    *param = p;
    return -1;
}

static int failf_type(char *err, size_t errlen, const char **param, const char *p, const char *what)
{
    snprintf(err, errlen, "'%s' must be %s", p, what);
    *param = p;
    return -1;
}

/* A failure of field `messages[i]<sub>`; the name lives in a per-thread
 * buffer until the next failure on this thread (the caller sends it at
 * once). */
static int failf_at(char *err, size_t errlen, const char **param, int i, const char *sub,
                    const char *what)
{
    static _Thread_local char name[64];
    snprintf(name, sizeof name, "messages[%d]%s", i, sub);
    snprintf(err, errlen, "'%s' %s", name, what);
    *param = name;
    return -1;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *dup_s(const char *s)
{
    return dup_n(s, strlen(s));
}

/* An integral JSON number within [lo, hi]. */
static bool get_int(const cJSON *v, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > hi) return false;
    *out = (int64_t)d;
    return true;
}

/* Message content: a string, null, or an array of {"type":"text","text":..}
 * parts (what newer SDKs send), concatenated. */
/* The text of a message's content: a string or an array of text parts.
 * Returns 0, -1 for a content of another kind, -(3 + i) for a bad part i,
 * or -2 when out of memory. A missing or null content is "" here (the
 * caller decides whether the role allows that). */
static int get_content(const cJSON *c, char **out)
{
    if (cJSON_IsNull(c) || !c) {
        *out = dup_s("");
        return *out ? 0 : -2;
    }
    if (cJSON_IsString(c)) {
        *out = dup_s(c->valuestring);
        return *out ? 0 : -2;
    }
    if (!cJSON_IsArray(c)) return -1;
    struct abuf b;
    abuf_init(&b, 0);
    const cJSON *part;
    int i = 0;
    cJSON_ArrayForEach(part, c)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 ||
            !cJSON_IsString(text)) {
            abuf_deinit(&b);
            return -3 - i;
        }
        i++;
        if (abuf_puts(&b, text->valuestring) < 0) {
            abuf_deinit(&b);
            return -2;
        }
    }
    *out = abuf_take(&b);
    return *out ? 0 : -2;
}

static int parse_messages(const cJSON *msgs, struct api_req *r, char *err, size_t errlen,
                          const char **param)
{
    if (!msgs) return fail(err, errlen, param, "messages", "'messages' is required");
    if (!cJSON_IsArray(msgs)) return failf_type(err, errlen, param, "messages", "an array");
    int n = cJSON_GetArraySize(msgs);
    if (n < 1) return fail(err, errlen, param, "messages", "'messages' must not be empty");
    if (n > API_MAX_MESSAGES)
        return fail(err, errlen, param, "messages", "'messages' has too many entries");
    r->msgs = calloc((size_t)n, sizeof *r->msgs);
    if (!r->msgs) return fail(err, errlen, param, NULL, "out of memory");
    const cJSON *m;
    int i = 0;
    cJSON_ArrayForEach(m, msgs)
    {
        /* the offending field is named as OpenAI names it: messages[i].content */
        if (!cJSON_IsObject(m)) return failf_at(err, errlen, param, i, "", "must be an object");
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role))
            return failf_at(err, errlen, param, i, ".role", "is required (a string)");
        const char *rs = role->valuestring;
        if (strcmp(rs, "developer") == 0) rs = "system";
        if (strcmp(rs, "system") != 0 && strcmp(rs, "user") != 0 && strcmp(rs, "assistant") != 0)
            return failf_at(err, errlen, param, i, ".role",
                            "must be one of system, developer, user, assistant");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        /* only an assistant turn may come without content (OpenAI allows
         * it there, for tool calls) */
        if ((!content || cJSON_IsNull(content)) && strcmp(rs, "assistant") != 0)
            return failf_at(err, errlen, param, i, ".content",
                            "is required for a system or user message");
        struct api_msg *dst = &r->msgs[r->n_msgs++];
        dst->role = dup_s(rs);
        int rc = get_content(content, &dst->content);
        if (rc == -1)
            return failf_at(err, errlen, param, i, ".content",
                            "must be a string or an array of text parts");
        if (rc <= -3) {
            char field[32];
            snprintf(field, sizeof field, ".content[%d]", -3 - rc);
            return failf_at(err, errlen, param, i, field,
                            "must be a text part ({\"type\":\"text\",\"text\":...}); only "
                            "text is supported");
        }
        if (rc < 0 || !dst->role) return fail(err, errlen, param, NULL, "out of memory");
        i++;
    }
    return 0;
}

/* logit_bias: {"<token id>": bias, ...}, ids non-negative decimal integers,
 * biases numbers in [-100, 100], as OpenAI validates them. */
static int parse_logit_bias(const cJSON *v, struct api_req *r, char *err, size_t errlen,
                            const char **param)
{
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsObject(v))
        return failf_type(err, errlen, param, "logit_bias", "an object of token ids to numbers");
    int n = cJSON_GetArraySize(v);
    if (n > API_MAX_LOGIT_BIAS) {
        snprintf(err, errlen, "'logit_bias' may hold at most %d entries", API_MAX_LOGIT_BIAS);
        *param = "logit_bias";
        return -1;
    }
    if (n == 0) return 0;
    r->bias = calloc((size_t)n, sizeof *r->bias);
    if (!r->bias) return fail(err, errlen, param, NULL, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        const char *k = e->string;
        size_t kl = k ? strlen(k) : 0;
        long long id = 0;
        int ok = kl >= 1 && kl <= 10;
        for (size_t i = 0; ok && i < kl; i++) {
            ok = k[i] >= '0' && k[i] <= '9';
            id = id * 10 + (k[i] - '0');
        }
        if (!ok || id > 2147483647LL) {
            snprintf(err, errlen,
                     "invalid key in 'logit_bias': '%.40s' (keys are token ids, non-negative "
                     "integers)",
                     k ? k : "");
            *param = "logit_bias";
            return -1;
        }
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= -100.0 && e->valuedouble <= 100.0)) {
            snprintf(err, errlen,
                     "'logit_bias' value for token %lld must be a number between -100 and 100", id);
            *param = "logit_bias";
            return -1;
        }
        r->bias[r->n_bias++] = (struct api_bias){(int32_t)id, (float)e->valuedouble};
    }
    return 0;
}

static int parse_stop(const cJSON *stop, struct api_req *r, char *err, size_t errlen,
                      const char **param)
{
    if (!stop || cJSON_IsNull(stop)) return 0;
    const cJSON *one[1] = {stop};
    int n = 1;
    if (cJSON_IsArray(stop)) {
        n = cJSON_GetArraySize(stop);
        if (n > API_MAX_STOP)
            return fail(err, errlen, param, "stop", "'stop' may hold at most 4 sequences");
    } else if (!cJSON_IsString(stop)) {
        return failf_type(err, errlen, param, "stop", "a string or an array of strings");
    }
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_IsArray(stop) ? cJSON_GetArrayItem(stop, i) : one[0];
        if (!cJSON_IsString(s))
            return failf_type(err, errlen, param, "stop", "a string or an array of strings");
        size_t len = strlen(s->valuestring);
        if (len == 0) return fail(err, errlen, param, "stop", "'stop' sequences must not be empty");
        if (len > API_MAX_STOP_BYTES)
            return fail(err, errlen, param, "stop", "'stop' sequence is too long");
        r->stop[r->n_stop] = dup_s(s->valuestring);
        if (!r->stop[r->n_stop]) return fail(err, errlen, param, NULL, "out of memory");
        r->n_stop++;
    }
    return 0;
}

static int parse_prompt(const cJSON *p, struct api_req *r, char *err, size_t errlen,
                        const char **param)
{
    if (!p) return fail(err, errlen, param, "prompt", "'prompt' is required");
    if (cJSON_IsArray(p)) {
        if (cJSON_GetArraySize(p) != 1 || !cJSON_IsString(cJSON_GetArrayItem(p, 0)))
            return fail(err, errlen, param, "prompt",
                        "'prompt' must be a string or an array of exactly one string");
        p = cJSON_GetArrayItem(p, 0);
    }
    if (!cJSON_IsString(p)) return failf_type(err, errlen, param, "prompt", "a string");
    r->prompt = dup_s(p->valuestring);
    if (!r->prompt) return fail(err, errlen, param, NULL, "out of memory");
    return 0;
}

static int parse_body(const cJSON *root, const struct api_limits *lim, struct api_req *r, char *err,
                      size_t errlen, const char **param)
{
    if (!cJSON_IsObject(root))
        return fail(err, errlen, param, NULL, "request body must be a JSON object");

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!v) return fail(err, errlen, param, "model", "'model' is required");
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
        return failf_type(err, errlen, param, "model", "a non-empty string");
    if (strlen(v->valuestring) > MODEL_NAME_MAX)
        return fail(err, errlen, param, "model", "'model' is too long");
    r->model = dup_s(v->valuestring);
    if (!r->model) return fail(err, errlen, param, NULL, "out of memory");

    int rc =
        r->kind == API_CHAT
            ? parse_messages(cJSON_GetObjectItemCaseSensitive(root, "messages"), r, err, errlen,
                             param)
            : parse_prompt(cJSON_GetObjectItemCaseSensitive(root, "prompt"), r, err, errlen, param);
    if (rc < 0) return rc;

    int64_t iv = 0;
    const char *mt_name = "max_tokens";
    v = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if ((!v || cJSON_IsNull(v)) && r->kind == API_CHAT) {
        mt_name = "max_completion_tokens";
        v = cJSON_GetObjectItemCaseSensitive(root, mt_name);
    }
    r->max_tokens = r->kind == API_CHAT ? lim->max_tokens : lim->default_max_tokens;
    if (r->max_tokens > lim->max_tokens) r->max_tokens = lim->max_tokens;
    if (v && !cJSON_IsNull(v)) {
        if (!get_int(v, 1, 2147483647.0, &iv))
            return failf_type(err, errlen, param, mt_name, "an integer >= 1");
        if (iv > lim->max_tokens) {
            snprintf(err, errlen, "'%s' is %lld, more than this server's limit of %d", mt_name,
                     (long long)iv, (int)lim->max_tokens);
            *param = mt_name;
            return -1;
        }
        r->max_tokens = (int32_t)iv;
        r->max_tokens_set = true;
    }

    r->temperature = 1.0f;
    v = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 2))
            return failf_type(err, errlen, param, "temperature", "a number between 0 and 2");
        r->temperature = (float)v->valuedouble;
    }
    r->top_p = 1.0f;
    v = cJSON_GetObjectItemCaseSensitive(root, "top_p");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1))
            return failf_type(err, errlen, param, "top_p", "a number between 0 and 1");
        r->top_p = (float)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "n");
    if (v && !cJSON_IsNull(v)) {
        if (!get_int(v, -1e18, 1e18, &iv)) return failf_type(err, errlen, param, "n", "an integer");
        if (iv != 1) return fail(err, errlen, param, "n", "only n=1 is supported");
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (v && !cJSON_IsNull(v)) {
        if (!get_int(v, -9.2e18, 9.2e18, &iv))
            return failf_type(err, errlen, param, "seed", "an integer");
        r->seed = (uint64_t)iv;
        r->has_seed = true;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v)) return failf_type(err, errlen, param, "stream", "a boolean");
        r->stream = cJSON_IsTrue(v);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsObject(v))
            return failf_type(err, errlen, param, "stream_options", "an object");
        const cJSON *iu = cJSON_GetObjectItemCaseSensitive(v, "include_usage");
        if (iu && !cJSON_IsBool(iu))
            return failf_type(err, errlen, param, "stream_options.include_usage", "a boolean");
        r->include_usage = cJSON_IsTrue(iu);
    }
    if (parse_logit_bias(cJSON_GetObjectItemCaseSensitive(root, "logit_bias"), r, err, errlen,
                         param) < 0)
        return -1;
    return parse_stop(cJSON_GetObjectItemCaseSensitive(root, "stop"), r, err, errlen, param);
}

int api_req_parse(enum api_kind kind, const char *body, size_t len, const struct api_limits *lim,
                  struct api_req *out, char *err, size_t errlen, const char **param)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    *param = NULL;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) return fail(err, errlen, param, NULL, "request body is not valid JSON");
    int rc = parse_body(root, lim, out, err, errlen, param);
    cJSON_Delete(root);
    if (rc < 0) api_req_deinit(out);
    return rc;
}

void api_req_deinit(struct api_req *r)
{
    free(r->model);
    free(r->prompt);
    for (int i = 0; i < r->n_msgs; i++) {
        free(r->msgs[i].role);
        free(r->msgs[i].content);
    }
    free(r->msgs);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->bias);
    memset(r, 0, sizeof *r);
}

/* ---- responses ---- */

static char *print_free(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

char *api_error_json(const char *message, const char *type, const char *param, const char *code)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    if (!e) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddItemToObject(e, "param", str_or_null(param));
    cJSON_AddItemToObject(e, "code", str_or_null(code));
    return print_free(root);
}

const char *api_error_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 405: return "invalid_request_error";
    case 413: return "invalid_request_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable_error";
    default: return "server_error";
    }
}

const char *api_finish_name(enum api_finish f)
{
    switch (f) {
    case API_FINISH_STOP: return "stop";
    case API_FINISH_LENGTH: return "length";
    default: return NULL;
    }
}

static cJSON *meta_object(const struct api_resp_meta *m, bool chunk)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    const char *object = m->kind == API_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                             : "text_completion";
    cJSON_AddStringToObject(o, "id", m->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)m->created);
    cJSON_AddStringToObject(o, "model", m->model);
    return o;
}

static void add_usage(cJSON *o, const struct api_usage *u)
{
    cJSON *us = cJSON_AddObjectToObject(o, "usage");
    if (!us) return;
    cJSON_AddNumberToObject(us, "prompt_tokens", u->prompt_tokens);
    cJSON_AddNumberToObject(us, "completion_tokens", u->completion_tokens);
    cJSON_AddNumberToObject(us, "total_tokens", u->prompt_tokens + u->completion_tokens);
}

/* cJSON strings are NUL-terminated; the text is copied into one. */
static cJSON *text_item(const char *text, size_t len)
{
    char *t = dup_n(text ? text : "", text ? len : 0);
    if (!t) return NULL;
    cJSON *s = cJSON_CreateString(t);
    free(t);
    return s;
}

char *api_resp_full(const struct api_resp_meta *m, const char *text, size_t len,
                    enum api_finish fin, const struct api_usage *u)
{
    cJSON *o = meta_object(m, false);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c = cJSON_CreateObject();
    if (!choices || !c) {
        cJSON_Delete(c);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    if (m->kind == API_CHAT) {
        cJSON *msg = cJSON_AddObjectToObject(c, "message");
        if (msg) {
            cJSON_AddStringToObject(msg, "role", "assistant");
            cJSON_AddItemToObject(msg, "content", text_item(text, len));
        }
    } else {
        cJSON_AddItemToObject(c, "text", text_item(text, len));
    }
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddItemToObject(c, "finish_reason", str_or_null(api_finish_name(fin)));
    add_usage(o, u);
    return print_free(o);
}

char *api_resp_chunk(const struct api_resp_meta *m, const char *text, size_t len, bool role_first,
                     enum api_finish fin, const struct api_usage *usage)
{
    cJSON *o = meta_object(m, true);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    if (!choices) {
        cJSON_Delete(o);
        return NULL;
    }
    if (usage) {
        add_usage(o, usage);
        return print_free(o);
    }
    cJSON *c = cJSON_CreateObject();
    if (!c) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    if (m->kind == API_CHAT) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (d && role_first) cJSON_AddStringToObject(d, "role", "assistant");
        if (d && (text || role_first)) cJSON_AddItemToObject(d, "content", text_item(text, len));
    } else {
        cJSON_AddItemToObject(c, "text", text_item(text, len));
    }
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddItemToObject(c, "finish_reason", str_or_null(api_finish_name(fin)));
    return print_free(o);
}

static cJSON *model_object(const char *id, int64_t created)
{
    cJSON *m = cJSON_CreateObject();
    if (!m) return NULL;
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)created);
    cJSON_AddStringToObject(m, "owned_by", "kllm");
    return m;
}

char *api_model_json(const char *id, int64_t created)
{
    return print_free(model_object(id, created));
}

char *api_models_json(const char *const *ids, int n, int64_t created)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    if (!data) {
        cJSON_Delete(o);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        cJSON *m = model_object(ids[i], created);
        if (!m) break;
        cJSON_AddItemToArray(data, m);
    }
    return print_free(o);
}
