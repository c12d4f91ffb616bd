/* tmpl: recognise and render the common GGUF chat templates (see tmpl.h).
 *
 * The renderings follow the reference Jinja templates shipped with the
 * model families:
 *   llama2   [INST] <<SYS>>\n{sys}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] ...
 *   mistral  [INST] {sys}\n\n{user} [/INST]{assistant}</s>[INST] ...
 *   chatml   <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
 *   llama3   <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|> ...
 *   zephyr   <|{role}|>\n{content}</s>\n ... <|assistant|>\n
 */
#include "tmpl.h"

#include <string.h>

static const char *const names[] = {"none", "llama2", "chatml", "llama3", "mistral", "zephyr"};

enum tmpl_kind tmpl_detect(const char *j)
{
    if (!j) return TMPL_NONE;
    if (strstr(j, "<|start_header_id|>")) return TMPL_LLAMA3;
    if (strstr(j, "<|im_start|>")) return TMPL_CHATML;
    if (strstr(j, "<|user|>") || strstr(j, "<|assistant|>")) return TMPL_ZEPHYR;
    if (strstr(j, "[INST]")) return strstr(j, "<<SYS>>") ? TMPL_LLAMA2 : TMPL_MISTRAL;
    return TMPL_NONE;
}

int tmpl_parse(const char *name, enum tmpl_kind *out)
{
    for (int i = 1; i < (int)(sizeof names / sizeof names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum tmpl_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *tmpl_name(enum tmpl_kind k)
{
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "none";
}

const char *tmpl_stop(enum tmpl_kind k)
{
    switch (k) {
    case TMPL_CHATML: return "<|im_end|>";
    case TMPL_LLAMA3: return "<|eot_id|>";
    case TMPL_ZEPHYR: return "</s>";
    default: return NULL;
    }
}

static int put(struct abuf *o, const char *a, const char *b, const char *c)
{
    int rc = abuf_puts(o, a);
    if (rc == 0 && b) rc = abuf_puts(o, b);
    if (rc == 0 && c) rc = abuf_puts(o, c);
    return rc;
}

/* llama2 and mistral: a system message is folded into the first user turn. */
static int render_inst(const struct api_msg *m, int n, struct abuf *o, int llama2)
{
    const char *sys = NULL;
    int rc = 0, first_user = 1;
    for (int i = 0; i < n && rc == 0; i++) {
        if (strcmp(m[i].role, "system") == 0) {
            sys = m[i].content;
        } else if (strcmp(m[i].role, "user") == 0) {
            if (!first_user) rc = abuf_puts(o, llama2 ? "<s>" : "");
            rc = rc ? rc : abuf_puts(o, "[INST] ");
            if (rc == 0 && sys && first_user)
                rc =
                    llama2 ? put(o, "<<SYS>>\n", sys, "\n<</SYS>>\n\n") : put(o, sys, "\n\n", NULL);
            if (rc == 0) rc = put(o, m[i].content, " [/INST]", NULL);
            first_user = 0;
        } else {
            rc = llama2 ? put(o, " ", m[i].content, " </s>") : put(o, m[i].content, "</s>", NULL);
        }
    }
    return rc;
}

int tmpl_render(enum tmpl_kind k, const struct api_msg *m, int n, struct abuf *o)
{
    int rc = 0;
    switch (k) {
    case TMPL_LLAMA2: return render_inst(m, n, o, 1);
    case TMPL_MISTRAL: return render_inst(m, n, o, 0);
    case TMPL_CHATML:
        for (int i = 0; i < n && rc == 0; i++) {
            rc = put(o, "<|im_start|>", m[i].role, "\n");
            if (rc == 0) rc = put(o, m[i].content, "<|im_end|>\n", NULL);
        }
        return rc ? rc : abuf_puts(o, "<|im_start|>assistant\n");
    case TMPL_LLAMA3:
        for (int i = 0; i < n && rc == 0; i++) {
            rc = put(o, "<|start_header_id|>", m[i].role, "<|end_header_id|>\n\n");
            if (rc == 0) rc = put(o, m[i].content, "<|eot_id|>", NULL);
        }
        return rc ? rc : abuf_puts(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    case TMPL_ZEPHYR:
        for (int i = 0; i < n && rc == 0; i++) {
            rc = put(o, "<|", m[i].role, "|>\n");
            if (rc == 0) rc = put(o, m[i].content, "</s>\n", NULL);
        }
        return rc ? rc : abuf_puts(o, "<|assistant|>\n");
    default: return -1;
    }
}
