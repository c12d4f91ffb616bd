/* tmpl: chat templates — messages -> one prompt string.
 *
 * GGUF files carry a Jinja chat template (tokenizer.chat_template). The agent
 * does not run Jinja: it recognises the common families by their marker
 * tokens and renders them with fixed code. A model without a template, or
 * with one we do not recognise, gets TMPL_NONE and chat requests to it are
 * answered with a 400 (the completions endpoint still works).
 *
 * The rendered prompt leaves out the leading BOS: the tokenizer adds it.
 * Each family also names the text that ends an assistant turn (tmpl_stop),
 * used as an extra stop string in case the tokenizer prints it as text.
 *
 * Threads: any; pure functions.
 */
#ifndef AGENT_TMPL_H
#define AGENT_TMPL_H

#include "abuf.h"
#include "api.h"

enum tmpl_kind {
    TMPL_NONE = 0,
    TMPL_LLAMA2,
    TMPL_CHATML,
    TMPL_LLAMA3,
    TMPL_MISTRAL,
    TMPL_ZEPHYR,
};

/* The family of a Jinja template source; NULL or unknown gives TMPL_NONE. */
enum tmpl_kind tmpl_detect(const char *jinja);
/* Parse a family name (llama2|chatml|llama3|mistral|zephyr); -1 if unknown. */
int tmpl_parse(const char *name, enum tmpl_kind *out);
const char *tmpl_name(enum tmpl_kind k);
/* End-of-turn text of the family, or NULL. */
const char *tmpl_stop(enum tmpl_kind k);
/* Render msgs followed by the opening of the assistant's turn. Returns 0,
 * -1 for TMPL_NONE, or ABUF_ERR_* (e.g. the cap of out). */
int tmpl_render(enum tmpl_kind k, const struct api_msg *msgs, int n, struct abuf *out);

#endif
