/* fake_engine: a stand-in for libkllm-engine used by the agent's tests.
 *
 * Implements engine.h with trivial, deterministic behaviour so the
 * scheduler and HTTP layer can be tested without model math:
 *   vocabulary: 0 unk, 1 BOS, 2 EOS, 3 + b for each byte b;
 *   tokenizer: BOS then one token per byte; a piece is its byte;
 *   logits: after a token at position p the favourite is the letter
 *           "abcdefghijklmnopqrstuvwxyz "[p % 27]; after '!' it is EOS;
 *           after '#' every logit is NaN; after '~' it is '~' (a loop);
 *   each llm_decode_batch call sleeps FAKE_DELAY_US (env, default 1000) us.
 * The chat template is taken from the FAKE_CHAT_TEMPLATE environment variable.
 * Threads: like the real engine (a ctx belongs to one thread).
 */
#ifndef AGENT_FAKE_ENGINE_H
#define AGENT_FAKE_ENGINE_H

#include <stdatomic.h>

/* Most distinct sequences seen in one llm_decode_batch call. */
extern atomic_int fake_max_seqs_in_batch;
/* Number of llm_decode_batch calls. */
extern atomic_int fake_decode_calls;

#endif
