/* tmpl: recognise and render the chat templates of the common model
 * families (see tmpl.h).
 *
 * Each renderer is the Jinja source of its family's reference template
 * (agent/tests/data/tmpl/README.md names them) evaluated for plain system /
 * user / assistant messages with add_generation_prompt set. Where a Jinja
 * source raises for a system message (Gemma 2, Mistral v0.1) the system
 * text is merged the way the family's newer template does it. Jinja's
 * trim / strip() are applied to ASCII whitespace only.
 */
#include "tmpl.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[TMPL_N_KINDS] = {
    [TMPL_NONE] = "none",
    [TMPL_LLAMA2] = "llama2",
    [TMPL_CHATML] = "chatml",
    [TMPL_LLAMA3] = "llama3",
    [TMPL_MISTRAL] = "mistral",
    [TMPL_ZEPHYR] = "zephyr",
    [TMPL_MISTRAL_V01] = "mistral-v0.1",
    [TMPL_MISTRAL_V1] = "mistral-v1",
    [TMPL_MISTRAL_V3] = "mistral-v3",
    [TMPL_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
    [TMPL_MISTRAL_V7] = "mistral-v7",
    [TMPL_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
    [TMPL_QWEN2] = "qwen2",
    [TMPL_QWEN3] = "qwen3",
    [TMPL_LLAMA31] = "llama3.1",
    [TMPL_PHI3] = "phi3",
    [TMPL_GEMMA] = "gemma",
    [TMPL_DEEPSEEK3] = "deepseek3",
    [TMPL_DEEPSEEK_R1] = "deepseek-r1",
};

/* The DeepSeek markers use fullwidth bars (U+FF5C) and U+2581, spelled out
 * so the source stays ASCII. */
#define DS_USER "<\xef\xbd\x9cUser\xef\xbd\x9c>"
#define DS_ASSISTANT                                                                               \
    "<\xef\xbd\x9c"                                                                                \
    "Assistant\xef\xbd\x9c>"
#define DS_EOS                                                                                     \
    "<\xef\xbd\x9c"                                                                                \
    "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"

/* ---- detection ---- */

static int has(const char *j, const char *s)
{
    return strstr(j, s) != NULL;
}

/* The [INST] families. Which one is decided by how the source glues the
 * system message and the spaces around the markers: the same facts
 * llama.cpp's detection reads, narrowed to sources whose rendering we know
 * exactly. */
static enum tmpl_kind detect_inst(const char *j)
{
    if (has(j, "[SYSTEM_PROMPT]"))
        return has(j, "'[SYSTEM_PROMPT] '") ? TMPL_MISTRAL_V7 : TMPL_MISTRAL_V7_TEKKEN;
    if (has(j, "<<SYS>>"))
        return has(j, "bos_token + '[INST] '") && has(j, "content.strip()") ? TMPL_LLAMA2
                                                                            : TMPL_NONE;
    if (has(j, "' [INST] ' + system_message")) return TMPL_MISTRAL_V1;
    if (has(j, "'[INST] ' + system_message")) return TMPL_MISTRAL_V3;
    if (has(j, "\"[INST]\" + system_message")) return TMPL_MISTRAL_V3_TEKKEN;
    /* Other sources that know a system message (e.g. the v0.3 tools
     * template, which drops it) render in ways we do not reproduce. */
    if (has(j, "system_message") || has(j, "[AVAILABLE_TOOLS]")) return TMPL_NONE;
    if (has(j, "'[INST] ' + message['content'] + ' [/INST]'"))
        return has(j, "eos_token + ' '") ? TMPL_MISTRAL_V01 : TMPL_MISTRAL;
    return TMPL_NONE;
}

enum tmpl_kind tmpl_detect(const char *j)
{
    if (!j) return TMPL_NONE;
    if (has(j, "<|im_start|>")) {
        /* Phi-4 (<|im_sep|>) and SmolVLM share the marker, not the format. */
        if (has(j, "<|im_sep|>") || has(j, "<end_of_utterance>")) return TMPL_NONE;
        if (has(j, "</think>")) return TMPL_QWEN3;
        if (has(j, "You are Qwen, created by Alibaba Cloud.")) return TMPL_QWEN2;
        return TMPL_CHATML;
    }
    if (has(j, "[INST]")) return detect_inst(j);
    if (has(j, "<|start_header_id|>") && has(j, "<|end_header_id|>"))
        return has(j, "Cutting Knowledge Date") ? TMPL_LLAMA31 : TMPL_LLAMA3;
    if (has(j, "<start_of_turn>")) return TMPL_GEMMA;
    if (has(j, "<|assistant|>") && has(j, "<|end|>")) return TMPL_PHI3;
    if (has(j, "<|user|>") && has(j, "<|assistant|>")) return TMPL_ZEPHYR;
    if (has(j, DS_USER) && has(j, DS_ASSISTANT))
        return has(j, "</think>") ? TMPL_DEEPSEEK_R1 : TMPL_DEEPSEEK3;
    return TMPL_NONE;
}

enum tmpl_kind tmpl_choose(const char *jinja, enum tmpl_kind override)
{
    return override != TMPL_NONE ? override : tmpl_detect(jinja);
}

/* Length of a marker token at s ("<|x|>", "<｜x｜>", "[X]", "<x_y>"), or 0. */
static size_t marker_len(const char *s)
{
    size_t max = 40, i;
    if (s[0] == '<' && (s[1] == '|' || strncmp(s + 1, "\xef\xbd\x9c", 3) == 0)) {
        for (i = 2; i < max && s[i]; i++)
            if (s[i] == '>' && (s[i - 1] == '|' || (i >= 4 && s[i - 1] == '\x9c'))) return i + 1;
        return 0;
    }
    if (s[0] == '[' || s[0] == '<') {
        char close = s[0] == '[' ? ']' : '>';
        int upper = s[0] == '[';
        for (i = 1; i < max && s[i]; i++) {
            char c = s[i];
            if (c == close) return i > 2 ? i + 1 : 0;
            int ok = c == '_' || c == '/' || (c >= '0' && c <= '9') ||
                     (upper ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z'));
            if (!ok) return 0;
        }
    }
    return 0;
}

void tmpl_markers(const char *j, char *buf, size_t cap)
{
    enum { MAX_SEEN = 5 };
    const char *seen[MAX_SEEN];
    size_t seen_len[MAX_SEEN], pos = 0;
    int n = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    for (const char *p = j; p && *p && n < MAX_SEEN; p++) {
        size_t len = marker_len(p);
        if (len == 0) continue;
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= seen_len[k] == len && memcmp(seen[k], p, len) == 0;
        if (!dup && pos + len + 3 < cap) {
            if (n > 0) {
                memcpy(buf + pos, ", ", 2);
                pos += 2;
            }
            memcpy(buf + pos, p, len);
            pos += len;
            buf[pos] = '\0';
            seen[n] = p;
            seen_len[n++] = len;
        }
        p += len - 1;
    }
}

int tmpl_parse(const char *name, enum tmpl_kind *out)
{
    for (int i = 1; i < TMPL_N_KINDS; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum tmpl_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *tmpl_name(enum tmpl_kind k)
{
    return (unsigned)k < TMPL_N_KINDS ? names[k] : "none";
}

const char *tmpl_names(void)
{
    return "llama2, llama3, llama3.1, chatml, qwen2, qwen3, mistral, mistral-v0.1, mistral-v1, "
           "mistral-v3, mistral-v3-tekken, mistral-v7, mistral-v7-tekken, phi3, gemma, zephyr, "
           "deepseek3, deepseek-r1";
}

const char *tmpl_stop(enum tmpl_kind k)
{
    switch (k) {
    case TMPL_CHATML:
    case TMPL_QWEN2:
    case TMPL_QWEN3: return "<|im_end|>";
    case TMPL_LLAMA3:
    case TMPL_LLAMA31: return "<|eot_id|>";
    case TMPL_ZEPHYR: return "</s>";
    case TMPL_PHI3: return "<|end|>";
    case TMPL_GEMMA: return "<end_of_turn>";
    case TMPL_DEEPSEEK3:
    case TMPL_DEEPSEEK_R1: return DS_EOS;
    default: return NULL;
    }
}

/* ---- output ---- */

void tmpl_out_init(struct tmpl_out *o, size_t max)
{
    memset(o, 0, sizeof *o);
    abuf_init(&o->text, max);
}

void tmpl_out_deinit(struct tmpl_out *o)
{
    abuf_deinit(&o->text);
    free(o->segs);
    memset(o, 0, sizeof *o);
}

static int emit_n(struct tmpl_out *o, uint32_t kind, const char *s, size_t len)
{
    if (len == 0) return 0;
    if (o->n_segs == o->cap_segs) {
        int cap = o->cap_segs ? o->cap_segs * 2 : 32;
        struct tmpl_seg *ns = realloc(o->segs, sizeof *ns * (size_t)cap);
        if (!ns) return ABUF_ERR_NOMEM;
        o->segs = ns;
        o->cap_segs = cap;
    }
    size_t off = o->text.len;
    int rc = abuf_append(&o->text, s, len);
    if (rc < 0) return rc;
    o->segs[o->n_segs++] = (struct tmpl_seg){.kind = kind, .off = off, .len = len};
    return 0;
}

static int emit(struct tmpl_out *o, uint32_t kind, const char *s)
{
    return emit_n(o, kind, s, strlen(s));
}

/* The renderers chain emits and stop at the first error. */
#define SP(s) (rc = rc ? rc : emit(o, TMPL_SEG_SPECIAL, (s)))
#define TX(s) (rc = rc ? rc : emit(o, TMPL_SEG_TEXT, (s)))
#define CT(s) (rc = rc ? rc : emit(o, TMPL_SEG_CONTENT, (s)))
#define CTN(s, n) (rc = rc ? rc : emit_n(o, TMPL_SEG_CONTENT, (s), (n)))

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Content with Jinja's trim (Python strip()) applied. */
static int emit_trimmed(struct tmpl_out *o, const char *s)
{
    size_t b = 0, e = strlen(s);
    while (b < e && is_ws(s[b])) b++;
    while (e > b && is_ws(s[e - 1])) e--;
    return emit_n(o, TMPL_SEG_CONTENT, s + b, e - b);
}

/* rstrip() of everything emitted since segment `from`: segments end where
 * the text ends, so trailing whitespace comes off the last ones. */
static void rstrip_from(struct tmpl_out *o, int from)
{
    while (o->n_segs > from) {
        struct tmpl_seg *s = &o->segs[o->n_segs - 1];
        while (s->len > 0 && is_ws(o->text.data[s->off + s->len - 1])) s->len--;
        o->text.len = s->off + s->len;
        o->text.data[o->text.len] = '\0';
        if (s->len > 0) return;
        o->n_segs--;
    }
}

static int is_role(const struct api_msg *m, const char *role)
{
    return strcmp(m->role, role) == 0;
}

/* ---- renderers ---- */

/* Llama-2-chat: the system block is part of the first turn's content, and
 * strip() applies to that whole content. */
static int render_llama2(const struct api_msg *m, int n, struct tmpl_out *o)
{
    int rc = 0, first = 0;
    const char *sys = NULL;
    if (n > 0 && is_role(&m[0], "system")) sys = m[first++].content;
    for (int i = first; i < n && rc == 0; i++) {
        int k = i - first;
        if (is_role(&m[i], "user")) {
            if (k > 0) SP("<s>");
            SP("[INST]");
            TX(" ");
            int from = o->n_segs;
            if (k == 0 && sys) {
                SP("<<SYS>>");
                TX("\n");
                CT(sys);
                TX("\n");
                SP("<</SYS>>");
                TX("\n\n");
                CT(m[i].content);
            } else {
                rc = rc ? rc : emit_trimmed(o, m[i].content);
            }
            if (rc == 0) rstrip_from(o, from);
            TX(" ");
            SP("[/INST]");
        } else if (is_role(&m[i], "assistant")) {
            TX(" ");
            rc = rc ? rc : emit_trimmed(o, m[i].content);
            TX(" ");
            SP("</s>");
        }
    }
    return rc;
}

/* The [INST] families other than llama2. */
static int render_mistral(enum tmpl_kind k, const struct api_msg *m, int n, struct tmpl_out *o)
{
    int rc = 0, first = 0, seen_user = 0;
    int v7 = k == TMPL_MISTRAL_V7 || k == TMPL_MISTRAL_V7_TEKKEN;
    int tekken = k == TMPL_MISTRAL_V3_TEKKEN || k == TMPL_MISTRAL_V7_TEKKEN;
    const char *sys = NULL;
    if (!v7 && n > 0 && is_role(&m[0], "system")) sys = m[first++].content;
    for (int i = first; i < n && rc == 0; i++) {
        if (is_role(&m[i], "system")) {
            if (!v7) continue; /* only the first is used, as the templates do */
            SP("[SYSTEM_PROMPT]");
            if (!tekken) TX(" ");
            CT(m[i].content);
            SP("[/SYSTEM_PROMPT]");
        } else if (is_role(&m[i], "user")) {
            /* v1 and the legacy forms put the system text in the first user
             * turn; v3 in the turn that ends the conversation. */
            int with_sys =
                sys &&
                (k == TMPL_MISTRAL_V3 || k == TMPL_MISTRAL_V3_TEKKEN ? i == n - 1 : !seen_user);
            if (k == TMPL_MISTRAL_V1) TX(" ");
            SP("[INST]");
            if (!tekken) TX(" ");
            if (with_sys) {
                CT(sys);
                TX("\n\n");
            }
            CT(m[i].content);
            if (k == TMPL_MISTRAL || k == TMPL_MISTRAL_V01 || k == TMPL_MISTRAL_V1) TX(" ");
            SP("[/INST]");
            seen_user = 1;
        } else {
            if (k == TMPL_MISTRAL_V1 || k == TMPL_MISTRAL_V3 || k == TMPL_MISTRAL_V7) TX(" ");
            CT(m[i].content);
            SP("</s>");
            if (k == TMPL_MISTRAL_V01) TX(" ");
        }
    }
    return rc;
}

static int chatml_turn(struct tmpl_out *o, const char *role, const char *content)
{
    int rc = 0;
    SP("<|im_start|>");
    TX(role);
    TX("\n");
    CT(content);
    SP("<|im_end|>");
    TX("\n");
    return rc;
}

/* Find needle in s; returns the position of the last (last != 0) or first
 * occurrence, or NULL. */
static const char *find(const char *s, const char *needle, int last)
{
    const char *hit = NULL;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) {
        hit = p;
        if (!last) break;
    }
    return hit;
}

/* Qwen3: the answer part of an assistant message that holds a think block
 * (after the last "</think>", leading newlines dropped) and the reasoning
 * (between the last "<think>" before the first "</think>" and it, outer
 * newlines dropped). */
static void qwen3_split(const char *c, const char **ans, const char **rs, size_t *rs_len)
{
    const char *close = find(c, "</think>", 0);
    *rs = c;
    *rs_len = 0;
    *ans = c;
    if (!close) return;
    *ans = find(c, "</think>", 1) + strlen("</think>");
    while (**ans == '\n') (*ans)++;
    const char *b = c;
    for (const char *p = c; (p = strstr(p, "<think>")) && p < close; p++) b = p + strlen("<think>");
    const char *e = close;
    while (e > b && e[-1] == '\n') e--;
    while (b < e && *b == '\n') b++;
    *rs = b;
    *rs_len = (size_t)(e - b);
}

static int is_tool_response(const char *c)
{
    size_t n = strlen(c), t = strlen("</tool_response>");
    return strncmp(c, "<tool_response>", strlen("<tool_response>")) == 0 && n >= t &&
           strcmp(c + n - t, "</tool_response>") == 0;
}

static int render_chatml(enum tmpl_kind k, const struct api_msg *m, int n, struct tmpl_out *o)
{
    int rc = 0, last_query = n - 1;
    if (k == TMPL_QWEN2 && (n == 0 || !is_role(&m[0], "system"))) {
        SP("<|im_start|>");
        TX("system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
        SP("<|im_end|>");
        TX("\n");
    }
    if (k == TMPL_QWEN3) {
        for (int i = n - 1; i >= 0; i--) {
            if (is_role(&m[i], "user") && !is_tool_response(m[i].content)) {
                last_query = i;
                break;
            }
        }
    }
    for (int i = 0; i < n && rc == 0; i++) {
        if (k != TMPL_QWEN3 || !is_role(&m[i], "assistant")) {
            rc = chatml_turn(o, m[i].role, m[i].content);
            continue;
        }
        const char *ans, *rs;
        size_t rs_len;
        qwen3_split(m[i].content, &ans, &rs, &rs_len);
        SP("<|im_start|>");
        TX("assistant\n");
        if (i > last_query && (i == n - 1 || rs_len > 0)) {
            SP("<think>");
            TX("\n");
            CTN(rs, rs_len);
            TX("\n");
            SP("</think>");
            TX("\n\n");
        }
        CT(ans);
        SP("<|im_end|>");
        TX("\n");
    }
    SP("<|im_start|>");
    TX("assistant\n");
    return rc;
}

static int render_llama3(enum tmpl_kind k, const struct api_msg *m, int n, struct tmpl_out *o)
{
    int rc = 0, first = 0;
    if (k == TMPL_LLAMA31) {
        SP("<|start_header_id|>");
        TX("system");
        SP("<|end_header_id|>");
        TX("\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n");
        if (n > 0 && is_role(&m[0], "system")) {
            rc = rc ? rc : emit_trimmed(o, m[0].content);
            first = 1;
        }
        SP("<|eot_id|>");
    }
    for (int i = first; i < n && rc == 0; i++) {
        SP("<|start_header_id|>");
        TX(m[i].role);
        SP("<|end_header_id|>");
        TX("\n\n");
        rc = rc ? rc : emit_trimmed(o, m[i].content);
        SP("<|eot_id|>");
    }
    SP("<|start_header_id|>");
    TX("assistant");
    SP("<|end_header_id|>");
    TX("\n\n");
    return rc;
}

static int render_phi3(const struct api_msg *m, int n, struct tmpl_out *o)
{
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        /* Phi-3.5 leaves out an empty system message (Phi-3 writes it). */
        if (is_role(&m[i], "system") && m[i].content[0] == '\0') continue;
        SP(is_role(&m[i], "system") ? "<|system|>"
           : is_role(&m[i], "user") ? "<|user|>"
                                    : "<|assistant|>");
        TX("\n");
        CT(m[i].content);
        SP("<|end|>");
        TX("\n");
    }
    SP("<|assistant|>");
    TX("\n");
    return rc;
}

static int render_gemma(const struct api_msg *m, int n, struct tmpl_out *o)
{
    int rc = 0, first = 0;
    const char *sys = NULL;
    if (n > 0 && is_role(&m[0], "system")) sys = m[first++].content;
    for (int i = first; i < n && rc == 0; i++) {
        SP("<start_of_turn>");
        TX(is_role(&m[i], "assistant") ? "model" : m[i].role);
        TX("\n");
        if (i == first && sys) {
            CT(sys); /* the prefix is outside the trim */
            TX("\n\n");
        }
        rc = rc ? rc : emit_trimmed(o, m[i].content);
        SP("<end_of_turn>");
        TX("\n");
    }
    SP("<start_of_turn>");
    TX("model\n");
    return rc;
}

static int render_zephyr(const struct api_msg *m, int n, struct tmpl_out *o)
{
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        SP(is_role(&m[i], "system") ? "<|system|>"
           : is_role(&m[i], "user") ? "<|user|>"
                                    : "<|assistant|>");
        TX("\n");
        CT(m[i].content);
        SP("</s>");
        TX("\n");
    }
    SP("<|assistant|>");
    TX("\n");
    return rc;
}

/* DeepSeek: every system message, joined by blank lines, comes first (right
 * after BOS), then the turns. */
static int render_deepseek(enum tmpl_kind k, const struct api_msg *m, int n, struct tmpl_out *o)
{
    int rc = 0, n_sys = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (!is_role(&m[i], "system")) continue;
        if (n_sys++ > 0) TX("\n\n");
        CT(m[i].content);
    }
    for (int i = 0; i < n && rc == 0; i++) {
        if (is_role(&m[i], "user")) {
            SP(DS_USER);
            CT(m[i].content);
        } else if (is_role(&m[i], "assistant")) {
            const char *c = m[i].content;
            const char *close = k == TMPL_DEEPSEEK_R1 ? find(c, "</think>", 1) : NULL;
            SP(DS_ASSISTANT);
            CT(close ? close + strlen("</think>") : c);
            SP(DS_EOS);
        }
    }
    SP(DS_ASSISTANT);
    return rc;
}

int tmpl_render(enum tmpl_kind k, const struct api_msg *m, int n, struct tmpl_out *o)
{
    switch (k) {
    case TMPL_LLAMA2: return render_llama2(m, n, o);
    case TMPL_MISTRAL:
    case TMPL_MISTRAL_V01:
    case TMPL_MISTRAL_V1:
    case TMPL_MISTRAL_V3:
    case TMPL_MISTRAL_V3_TEKKEN:
    case TMPL_MISTRAL_V7:
    case TMPL_MISTRAL_V7_TEKKEN: return render_mistral(k, m, n, o);
    case TMPL_CHATML:
    case TMPL_QWEN2:
    case TMPL_QWEN3: return render_chatml(k, m, n, o);
    case TMPL_LLAMA3:
    case TMPL_LLAMA31: return render_llama3(k, m, n, o);
    case TMPL_PHI3: return render_phi3(m, n, o);
    case TMPL_GEMMA: return render_gemma(m, n, o);
    case TMPL_ZEPHYR: return render_zephyr(m, n, o);
    case TMPL_DEEPSEEK3:
    case TMPL_DEEPSEEK_R1: return render_deepseek(k, m, n, o);
    default: return -1;
    }
}
