/* Tests for tmpl: family detection from real template fragments and the
 * exact rendering of a system + user + assistant + user conversation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpl.h"

static struct api_msg conv[] = {
    {"system", "Be brief."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "2+2?"},
};

static void test_detect(void **state)
{
    assert_int_equal(tmpl_detect(NULL), TMPL_NONE);
    assert_int_equal(tmpl_detect("{{ messages }}"), TMPL_NONE);
    assert_int_equal(tmpl_detect("{% if messages[0]['role'] == 'system' %}...<<SYS>>\\n' + "
                                 "content + '\\n<</SYS>>\\n\\n' ... '[INST] ' ... ' [/INST]'"),
                     TMPL_LLAMA2);
    assert_int_equal(tmpl_detect("{{ bos_token }}{% for message in messages %}{{ '[INST] ' + "
                                 "message['content'] + ' [/INST]' }}"),
                     TMPL_MISTRAL);
    assert_int_equal(tmpl_detect("{% for message in messages %}{{'<|im_start|>' + "
                                 "message['role'] + '\\n' + message['content'] + '<|im_end|>'}}"),
                     TMPL_CHATML);
    assert_int_equal(tmpl_detect("{{ '<|start_header_id|>' + message['role'] + "
                                 "'<|end_header_id|>\\n\\n' + message['content'] | trim + "
                                 "'<|eot_id|>' }}"),
                     TMPL_LLAMA3);
    assert_int_equal(tmpl_detect("{% if message['role'] == 'user' %}{{ '<|user|>\\n' + "
                                 "message['content'] + eos_token }}"),
                     TMPL_ZEPHYR);
}

static void check(enum tmpl_kind k, const char *want)
{
    struct abuf b;
    abuf_init(&b, 0);
    assert_int_equal(tmpl_render(k, conv, 4, &b), 0);
    assert_string_equal(abuf_str(&b), want);
    abuf_deinit(&b);
}

static void test_render(void **state)
{
    check(TMPL_LLAMA2, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] "
                       "2+2? [/INST]");
    check(TMPL_MISTRAL, "[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] 2+2? [/INST]");
    check(TMPL_CHATML, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                       "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>"
                       "\n<|im_start|>assistant\n");
    check(TMPL_LLAMA3, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                       "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                       "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                       "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
                       "<|start_header_id|>assistant<|end_header_id|>\n\n");
    check(TMPL_ZEPHYR, "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n"
                       "<|user|>\n2+2?</s>\n<|assistant|>\n");
}

static void test_none_and_names(void **state)
{
    struct abuf b;
    abuf_init(&b, 0);
    assert_int_equal(tmpl_render(TMPL_NONE, conv, 4, &b), -1);
    abuf_deinit(&b);
    enum tmpl_kind k;
    assert_int_equal(tmpl_parse("llama3", &k), 0);
    assert_int_equal(k, TMPL_LLAMA3);
    assert_int_equal(tmpl_parse("none", &k), -1);
    assert_int_equal(tmpl_parse("jinja", &k), -1);
    assert_string_equal(tmpl_name(TMPL_ZEPHYR), "zephyr");
    assert_string_equal(tmpl_stop(TMPL_CHATML), "<|im_end|>");
    assert_null(tmpl_stop(TMPL_LLAMA2));
}

static void test_cap(void **state)
{
    struct abuf b;
    abuf_init(&b, 16);
    assert_int_equal(tmpl_render(TMPL_CHATML, conv, 4, &b), ABUF_ERR_TOO_BIG);
    abuf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_none_and_names),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
