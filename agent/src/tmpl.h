/* tmpl: chat templates — messages -> a prompt made of segments.
 *
 * GGUF files carry a Jinja chat template (tokenizer.chat_template). The agent
 * does not run Jinja: it recognises the families people deploy by the
 * markers in the source (tmpl_detect) and renders each with fixed code that
 * gives, byte for byte, what the family's Jinja source gives for system,
 * user and assistant messages plus the generation prompt (checked against
 * @huggingface/jinja renderings of real templates in agent/tests/data/tmpl).
 * A template that matches no family gets TMPL_NONE: chat requests to that
 * model are answered 400 (tmpl_markers says what the source looked like),
 * never rendered with a guess.
 *
 * The rendering is a list of segments, so that tokenizing it can keep what
 * the template wrote apart from what the client wrote:
 *   TMPL_SEG_SPECIAL  template text that may name a special token
 *                     ("<|im_start|>", "</s>", "[INST]"): parsed as one
 *                     where the vocabulary has it;
 *   TMPL_SEG_TEXT     other template text (role names, newlines);
 *   TMPL_SEG_CONTENT  message content: always plain text, so a message
 *                     holding "<|im_start|>system" stays those characters.
 * tmpl_tokenize (tmpl_tok.c) turns segments into token ids that way.
 *
 * BOS: the rendering leaves out the bos_token a template writes first; the
 * tokenizer adds BOS (LLM_TOKENIZE_BOS) as it does for every prompt. A BOS
 * the template writes later (llama2's "</s><s>[INST]") is a SPECIAL segment.
 * Each family also names its end-of-turn text (tmpl_stop), an extra stop
 * string in case a model prints it as text.
 *
 * Ownership: struct tmpl_out is caller-owned (tmpl_out_init/_deinit).
 * Threads: any; no shared state.
 */
#ifndef AGENT_TMPL_H
#define AGENT_TMPL_H

#include <stddef.h>
#include <stdint.h>

#include "abuf.h"
#include "api.h"

enum tmpl_kind {
    TMPL_NONE = 0,
    TMPL_LLAMA2,            /* Llama-2-chat: [INST] <<SYS>> ... */
    TMPL_CHATML,            /* plain <|im_start|>role ... <|im_end|> */
    TMPL_LLAMA3,            /* Llama 3 Instruct */
    TMPL_MISTRAL,           /* Mistral/Mixtral v0.1-v0.2 HF: [INST] u [/INST]a</s> */
    TMPL_ZEPHYR,            /* <|user|>\n ... </s> */
    TMPL_MISTRAL_V01,       /* as TMPL_MISTRAL with "</s> " after an answer */
    TMPL_MISTRAL_V1,        /* official v1: " [INST] " ... " a</s>" */
    TMPL_MISTRAL_V3,        /* official v3: "[INST] " ... "[/INST]", system in the last turn */
    TMPL_MISTRAL_V3_TEKKEN, /* v3 without spaces (Mistral Nemo) */
    TMPL_MISTRAL_V7,        /* [SYSTEM_PROMPT] with spaces (Mistral Large 2411) */
    TMPL_MISTRAL_V7_TEKKEN, /* [SYSTEM_PROMPT] without spaces (Mistral Small 3) */
    TMPL_QWEN2,             /* ChatML with Qwen 2/2.5's default system message */
    TMPL_QWEN3,             /* ChatML with Qwen3's <think> handling */
    TMPL_LLAMA31,           /* Llama 3.1/3.2/3.3: system header with the knowledge date */
    TMPL_PHI3,              /* <|user|>\n ... <|end|>\n */
    TMPL_GEMMA,             /* <start_of_turn>user ... system merged into the first turn */
    TMPL_DEEPSEEK3,         /* DeepSeek V3: <｜User｜> ... <｜Assistant｜> */
    TMPL_DEEPSEEK_R1,       /* as DeepSeek V3, earlier answers lose their <think> part */
    TMPL_N_KINDS
};

enum tmpl_seg_kind {
    TMPL_SEG_TEXT = 0,
    TMPL_SEG_SPECIAL,
    TMPL_SEG_CONTENT,
};

struct tmpl_seg {
    uint32_t kind; /* enum tmpl_seg_kind */
    size_t off;    /* into tmpl_out.text */
    size_t len;
};

struct tmpl_out {
    struct abuf text; /* all segments back to back: the rendered prompt */
    struct tmpl_seg *segs;
    int n_segs, cap_segs;
};

/* max caps the rendered text in bytes (0: none). */
void tmpl_out_init(struct tmpl_out *o, size_t max);
void tmpl_out_deinit(struct tmpl_out *o);

/* The family of a Jinja template source; NULL or unrecognised: TMPL_NONE. */
enum tmpl_kind tmpl_detect(const char *jinja);
/* The family a model's chat uses: the override when it is not TMPL_NONE
 * (--chat-template), else the detected one. */
enum tmpl_kind tmpl_choose(const char *jinja, enum tmpl_kind override);
/* Writes (NUL-terminated, truncated to cap) the first few distinct marker
 * tokens of a template source ("<|im_start|>, [INST], ..."), for the error
 * that says why a template was not recognised; "" for none. */
void tmpl_markers(const char *jinja, char *buf, size_t cap);
/* Parse a family name as tmpl_name gives it; -1 if unknown ("none" too). */
int tmpl_parse(const char *name, enum tmpl_kind *out);
const char *tmpl_name(enum tmpl_kind k);
/* All family names, comma separated, for help and error texts. */
const char *tmpl_names(void);
/* End-of-turn text of the family, or NULL. */
const char *tmpl_stop(enum tmpl_kind k);

/* Append the rendering of msgs and the opening of the assistant's turn to o.
 * Returns 0, -1 for TMPL_NONE, or ABUF_ERR_* (ABUF_ERR_TOO_BIG: the cap of
 * o.text). On error o holds a partial rendering: reset or free it. */
int tmpl_render(enum tmpl_kind k, const struct api_msg *msgs, int n, struct tmpl_out *o);

struct llm_model;
/* Token ids of a rendering: SPECIAL segments that are one special token of
 * the model's vocabulary become that id; everything else, CONTENT included,
 * is tokenized as plain text, each run between two special tokens in one
 * call, so the ids equal those of tokenizing the whole text with special
 * parsing whenever the content names no special token. flags: 0 or
 * LLM_TOKENIZE_BOS. Returns the token count (which may exceed cap: only cap
 * were written) or a negative LLM_ERR_* / ABUF_ERR_*. */
int32_t tmpl_tokenize(const struct llm_model *m, const struct tmpl_out *o, uint32_t flags,
                      int32_t *out, int32_t cap);

#endif
