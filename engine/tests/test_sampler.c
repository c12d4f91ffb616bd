/* Sampler tests: greedy is argmax; top-k 1 and min-p 1 are greedy at any
 * temperature; a seed makes draws repeatable; the repetition penalty and
 * top-p remove what they should; logit biases move tokens in and out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kllm/engine.h"

enum { NV = 1000 };
static float logits[NV];

static int setup(void **state)
{
    for (int i = 0; i < NV; i++) logits[i] = (float)((i * 7919) % 1000) / 1000.0f;
    logits[123] = 5.0f; /* clear winner */
    logits[456] = 4.9f; /* runner-up */
    return 0;
}

static struct llm_sampler *mk(float temp, int32_t k, float p, float minp, float rep, uint64_t seed)
{
    struct llm_sampler_params sp = {.temperature = temp,
                                    .top_k = k,
                                    .top_p = p,
                                    .min_p = minp,
                                    .repeat_penalty = rep,
                                    .repeat_last_n = 8,
                                    .seed = seed};
    struct llm_sampler *s = llm_sampler_new(&sp, NV);
    assert_non_null(s);
    return s;
}

static void test_greedy(void **state)
{
    struct llm_sampler *s = mk(0.0f, 0, 1.0f, 0.0f, 1.0f, 0);
    assert_int_equal(llm_sampler_sample(s, logits), 123);
    llm_sampler_free(s);
    assert_int_equal(llm_argmax(logits, NV), 123);
    float ties[4] = {1, 3, 3, 2};
    assert_int_equal(llm_argmax(ties, 4), 1);
}

static void test_truncation_is_greedy(void **state)
{
    struct llm_sampler *k1 = mk(1.5f, 1, 1.0f, 0.0f, 1.0f, 42);
    struct llm_sampler *p0 = mk(1.5f, 0, 0.01f, 0.0f, 1.0f, 42);
    struct llm_sampler *m1 = mk(1.5f, 0, 1.0f, 0.999f, 1.0f, 42);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(llm_sampler_sample(k1, logits), 123);
        assert_int_equal(llm_sampler_sample(p0, logits), 123);
        assert_int_equal(llm_sampler_sample(m1, logits), 123);
    }
    llm_sampler_free(k1);
    llm_sampler_free(p0);
    llm_sampler_free(m1);
}

static void test_seeded(void **state)
{
    struct llm_sampler *a = mk(2.0f, 50, 1.0f, 0.0f, 1.0f, 7),
                       *b = mk(2.0f, 50, 1.0f, 0.0f, 1.0f, 7);
    struct llm_sampler *c = mk(2.0f, 50, 1.0f, 0.0f, 1.0f, 8);
    int differ = 0, distinct = 0, prev = -1;
    for (int i = 0; i < 200; i++) {
        int32_t x = llm_sampler_sample(a, logits), y = llm_sampler_sample(b, logits);
        assert_int_equal(x, y);
        differ += llm_sampler_sample(c, logits) != x;
        distinct += x != prev;
        prev = x;
    }
    assert_true(differ > 0);    /* another seed gives another sequence */
    assert_true(distinct > 10); /* temperature 2 really samples */
    /* Only the top 50 can come out. */
    llm_sampler_reset(a);
    for (int i = 0; i < 500; i++) {
        int32_t x = llm_sampler_sample(a, logits);
        int better = 0;
        for (int j = 0; j < NV; j++) better += logits[j] > logits[x];
        assert_true(better < 50);
    }
    llm_sampler_free(a);
    llm_sampler_free(b);
    llm_sampler_free(c);
}

static void test_top_p_two_way(void **state)
{
    /* 123 and 456 hold almost all the mass at T=0.1; top-p 0.9 keeps only them. */
    struct llm_sampler *s = mk(0.1f, 0, 0.9f, 0.0f, 1.0f, 3);
    int seen_other = 0;
    for (int i = 0; i < 300; i++) {
        int32_t x = llm_sampler_sample(s, logits);
        seen_other += x != 123 && x != 456;
    }
    assert_int_equal(seen_other, 0);
    llm_sampler_free(s);
}

static void test_repeat_penalty(void **state)
{
    struct llm_sampler *s = mk(0.0f, 0, 1.0f, 0.0f, 2.0f, 0);
    assert_int_equal(llm_sampler_sample(s, logits), 123);
    llm_sampler_accept(s, 123); /* 5.0 / 2 = 2.5 < 4.9 */
    assert_int_equal(llm_sampler_sample(s, logits), 456);
    llm_sampler_reset(s);
    assert_int_equal(llm_sampler_sample(s, logits), 123);
    /* The window forgets: 8 other tokens push 123 out. */
    llm_sampler_accept(s, 123);
    for (int i = 0; i < 8; i++) llm_sampler_accept(s, i);
    assert_int_equal(llm_sampler_sample(s, logits), 123);
    llm_sampler_free(s);
}

static void test_logit_bias(void **state)
{
    struct llm_logit_bias b[3] = {{7, 100.0f}, {-1, 100.0f}, {NV, 100.0f}};
    struct llm_sampler_params sp = llm_sampler_default_params();
    sp.temperature = 0.0f;
    sp.logit_bias = b;
    sp.n_logit_bias = 3; /* the two out of range are ignored */
    struct llm_sampler *s = llm_sampler_new(&sp, NV);
    assert_non_null(s);
    b[0].token = 8; /* the sampler holds its own copy */
    assert_int_equal(llm_sampler_sample(s, logits), 7);
    llm_sampler_free(s);
    /* a ban on the winner leaves the runner-up, at any temperature with top-k 1 */
    struct llm_logit_bias ban = {123, -100.0f};
    sp.logit_bias = &ban;
    sp.n_logit_bias = 1;
    sp.temperature = 1.5f;
    sp.top_k = 1;
    s = llm_sampler_new(&sp, NV);
    assert_non_null(s);
    for (int i = 0; i < 20; i++) assert_int_equal(llm_sampler_sample(s, logits), 456);
    llm_sampler_free(s);
    sp.n_logit_bias = -1;
    assert_null(llm_sampler_new(&sp, NV));
    sp.n_logit_bias = 2;
    sp.logit_bias = NULL;
    assert_null(llm_sampler_new(&sp, NV));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),         cmocka_unit_test(test_truncation_is_greedy),
        cmocka_unit_test(test_seeded),         cmocka_unit_test(test_top_p_two_way),
        cmocka_unit_test(test_repeat_penalty), cmocka_unit_test(test_logit_bias),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
