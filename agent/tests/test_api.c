/* Tests for api: request parsing/validation and response JSON. Cases are
 * data: a body, the expected outcome, the offending parameter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

static const struct api_limits lim = {.max_tokens = 100, .default_max_tokens = 16};

struct bad_case {
    enum api_kind kind;
    const char *body;
    const char *param; /* expected param, NULL for none */
};

static const struct bad_case bad_cases[] = {
    {API_COMPLETION, "", NULL},
    {API_COMPLETION, "{\"model\":", NULL},
    {API_COMPLETION, "[]", NULL},
    {API_COMPLETION, "{\"prompt\":\"x\"}", "model"},
    {API_COMPLETION, "{\"model\":7,\"prompt\":\"x\"}", "model"},
    {API_COMPLETION, "{\"model\":\"\",\"prompt\":\"x\"}", "model"},
    {API_COMPLETION, "{\"model\":\"m\"}", "prompt"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":5}", "prompt"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}", "prompt"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":\"8\"}", "max_tokens"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":0}", "max_tokens"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":1.5}", "max_tokens"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":101}", "max_tokens"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"temperature\":2.5}", "temperature"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"temperature\":\"hot\"}", "temperature"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"top_p\":1.1}", "top_p"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"n\":2}", "n"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"seed\":\"1\"}", "seed"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":1}", "stream"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"stop\":5}", "stop"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"stop\":[\"\"]}", "stop"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
     "stop"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"stream_options\":1}", "stream_options"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":[1]}", "logit_bias"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"ab\":1}}", "logit_bias"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"-1\":1}}", "logit_bias"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"\":1}}", "logit_bias"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"99999999999\":1}}",
     "logit_bias"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"5\":100.5}}",
     "logit_bias"},
    {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"5\":\"1\"}}",
     "logit_bias"},
    {API_CHAT, "{\"model\":\"m\"}", "messages"},
    {API_CHAT, "{\"model\":\"m\",\"messages\":[]}", "messages"},
    {API_CHAT, "{\"model\":\"m\",\"messages\":{}}", "messages"},
    {API_CHAT, "{\"model\":\"m\",\"messages\":[1]}", "messages[0]"},
    {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages[0].role"},
    {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}",
     "messages[0].role"},
    {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
     "messages[0].content"},
    {API_CHAT,
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
     "messages[0].content[0]"},
    {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "messages[0].content"},
    {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":null}]}",
     "messages[0].content"},
    {API_CHAT,
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\","
     "\"content\":[{\"type\":\"text\",\"text\":\"b\"},{\"type\":\"text\",\"text\":7}]}]}",
     "messages[1].content[1]"},
};

static void test_bad_requests(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct api_req r;
        char err[256] = "";
        const char *param = "unset";
        int rc =
            api_req_parse(c->kind, c->body, strlen(c->body), &lim, &r, err, sizeof err, &param);
        if (rc != -1 || err[0] == '\0') fail_msg("case %zu (%s) was accepted", i, c->body);
        if (c->param) {
            if (!param || strcmp(param, c->param) != 0)
                fail_msg("case %zu: param %s, want %s", i, param ? param : "NULL", c->param);
        } else {
            assert_null(param);
        }
        assert_null(r.model); /* nothing leaks out of a failed parse */
    }
}

static void test_completion_defaults(void **state)
{
    const char *b = "{\"model\":\"tiny\",\"prompt\":[\"hello\"]}";
    struct api_req r;
    char err[128];
    const char *param;
    assert_int_equal(api_req_parse(API_COMPLETION, b, strlen(b), &lim, &r, err, sizeof err, &param),
                     0);
    assert_string_equal(r.model, "tiny");
    assert_string_equal(r.prompt, "hello");
    assert_int_equal(r.max_tokens, 16);
    assert_false(r.max_tokens_set);
    assert_true(r.temperature == 1.0f);
    assert_true(r.top_p == 1.0f);
    assert_false(r.stream);
    assert_false(r.has_seed);
    assert_int_equal(r.n_stop, 0);
    api_req_deinit(&r);
}

static void test_completion_full(void **state)
{
    const char *b = "{\"model\":\"tiny\",\"prompt\":\"hi\",\"max_tokens\":100,\"temperature\":0,"
                    "\"top_p\":0.5,\"seed\":-3,\"n\":1,\"stream\":true,"
                    "\"stream_options\":{\"include_usage\":true},\"stop\":[\"\\n\",\"END\"],"
                    "\"presence_penalty\":0,\"user\":\"u\"}";
    struct api_req r;
    char err[128];
    const char *param;
    assert_int_equal(api_req_parse(API_COMPLETION, b, strlen(b), &lim, &r, err, sizeof err, &param),
                     0);
    assert_int_equal(r.max_tokens, 100);
    assert_true(r.temperature == 0.0f);
    assert_true(r.top_p == 0.5f);
    assert_true(r.has_seed);
    assert_true(r.seed == (uint64_t)-3);
    assert_true(r.stream);
    assert_true(r.include_usage);
    assert_int_equal(r.n_stop, 2);
    assert_string_equal(r.stop[0], "\n");
    assert_string_equal(r.stop[1], "END");
    assert_int_equal(r.n_bias, 0);
    api_req_deinit(&r);
    b = "{\"model\":\"tiny\",\"prompt\":\"hi\",\"logit_bias\":{\"128009\":100,\"0\":-100,"
        "\"7\":2.5}}";
    assert_int_equal(api_req_parse(API_COMPLETION, b, strlen(b), &lim, &r, err, sizeof err, &param),
                     0);
    assert_int_equal(r.n_bias, 3);
    assert_int_equal(r.bias[0].token, 128009);
    assert_true(r.bias[0].bias == 100.0f);
    assert_int_equal(r.bias[1].token, 0);
    assert_true(r.bias[1].bias == -100.0f);
    assert_true(r.bias[2].bias == 2.5f);
    api_req_deinit(&r);
}

static void test_chat(void **state)
{
    const char *b = "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"be "
                    "nice\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                    "{\"type\":\"text\",\"text\":\"b\"}]},{\"role\":\"assistant\",\"content\":null}"
                    "],\"max_completion_tokens\":7,\"stop\":\"x\"}";
    struct api_req r;
    char err[128];
    const char *param;
    assert_int_equal(api_req_parse(API_CHAT, b, strlen(b), &lim, &r, err, sizeof err, &param), 0);
    assert_int_equal(r.n_msgs, 3);
    assert_string_equal(r.msgs[0].role, "system");
    assert_string_equal(r.msgs[1].content, "ab");
    assert_string_equal(r.msgs[2].content, "");
    assert_int_equal(r.max_tokens, 7);
    assert_int_equal(r.n_stop, 1);
    api_req_deinit(&r);

    /* chat without max_tokens may use up to the server's limit */
    b = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    assert_int_equal(api_req_parse(API_CHAT, b, strlen(b), &lim, &r, err, sizeof err, &param), 0);
    assert_int_equal(r.max_tokens, 100);
    api_req_deinit(&r);
}

static void test_body_not_nul_terminated(void **state)
{
    char b[] = "{\"model\":\"m\",\"prompt\":\"x\"}GARBAGE";
    struct api_req r;
    char err[128];
    const char *param;
    size_t len = strlen(b) - strlen("GARBAGE");
    assert_int_equal(api_req_parse(API_COMPLETION, b, len, &lim, &r, err, sizeof err, &param), 0);
    api_req_deinit(&r);
}

static cJSON *parse_free(char *s)
{
    assert_non_null(s);
    cJSON *j = cJSON_Parse(s);
    free(s);
    assert_non_null(j);
    return j;
}

static const char *jstr(const cJSON *o, const char *path)
{
    /* path: dot-separated keys; a key starting with a digit indexes an array */
    const cJSON *cur = o;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char k[64];
        snprintf(k, sizeof k, "%.*s", (int)n, p);
        cur = (k[0] >= '0' && k[0] <= '9') ? cJSON_GetArrayItem(cur, (int)strtol(k, NULL, 10))
                                           : cJSON_GetObjectItemCaseSensitive(cur, k);
        p += n + (dot ? 1 : 0);
    }
    if (!cur) return "<missing>";
    if (cJSON_IsNull(cur)) return "<null>";
    if (cJSON_IsString(cur)) return cur->valuestring;
    static char num[32];
    snprintf(num, sizeof num, "%g", cur->valuedouble);
    return num;
}

static void test_responses(void **state)
{
    struct api_resp_meta m = {.kind = API_CHAT, .id = "chatcmpl-1", .created = 5, .model = "tiny"};
    struct api_usage u = {.prompt_tokens = 3, .completion_tokens = 4};
    cJSON *j = parse_free(api_resp_full(&m, "hi\n\"there\"", 11, API_FINISH_STOP, &u));
    assert_string_equal(jstr(j, "object"), "chat.completion");
    assert_string_equal(jstr(j, "choices.0.message.role"), "assistant");
    assert_string_equal(jstr(j, "choices.0.message.content"), "hi\n\"there\"");
    assert_string_equal(jstr(j, "choices.0.finish_reason"), "stop");
    assert_string_equal(jstr(j, "usage.total_tokens"), "7");
    cJSON_Delete(j);

    j = parse_free(api_resp_chunk(&m, "", 0, true, API_FINISH_NONE, NULL));
    assert_string_equal(jstr(j, "object"), "chat.completion.chunk");
    assert_string_equal(jstr(j, "choices.0.delta.role"), "assistant");
    assert_string_equal(jstr(j, "choices.0.finish_reason"), "<null>");
    cJSON_Delete(j);

    j = parse_free(api_resp_chunk(&m, NULL, 0, false, API_FINISH_LENGTH, NULL));
    assert_string_equal(jstr(j, "choices.0.delta.content"), "<missing>");
    assert_string_equal(jstr(j, "choices.0.finish_reason"), "length");
    cJSON_Delete(j);

    j = parse_free(api_resp_chunk(&m, NULL, 0, false, API_FINISH_NONE, &u));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "choices")), 0);
    assert_string_equal(jstr(j, "usage.completion_tokens"), "4");
    cJSON_Delete(j);

    m.kind = API_COMPLETION;
    j = parse_free(api_resp_chunk(&m, "abc", 2, false, API_FINISH_NONE, NULL));
    assert_string_equal(jstr(j, "object"), "text_completion");
    assert_string_equal(jstr(j, "choices.0.text"), "ab");
    cJSON_Delete(j);
}

static void test_error_and_models(void **state)
{
    cJSON *j = parse_free(api_error_json("bad \"x\"", api_error_type(404), "model", NULL));
    assert_string_equal(jstr(j, "error.message"), "bad \"x\"");
    assert_string_equal(jstr(j, "error.type"), "not_found_error");
    assert_string_equal(jstr(j, "error.param"), "model");
    assert_string_equal(jstr(j, "error.code"), "<null>");
    cJSON_Delete(j);
    assert_string_equal(api_error_type(429), "rate_limit_error");
    assert_string_equal(api_error_type(500), "server_error");

    const char *ids[] = {"a", "b"};
    j = parse_free(api_models_json(ids, 2, 1));
    assert_string_equal(jstr(j, "object"), "list");
    assert_string_equal(jstr(j, "data.1.id"), "b");
    assert_string_equal(jstr(j, "data.0.object"), "model");
    cJSON_Delete(j);
    j = parse_free(api_model_json("team/tiny", 1));
    assert_string_equal(jstr(j, "id"), "team/tiny");
    assert_string_equal(jstr(j, "owned_by"), "kllm");
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_completion_defaults),
        cmocka_unit_test(test_completion_full),
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_body_not_nul_terminated),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_error_and_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
