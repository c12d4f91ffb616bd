/* Tests for metrics: the exposition text of counters, gauges, histograms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "metrics.h"

static void test_render(void **state)
{
    struct mx m;
    assert_int_equal(mx_init(&m), 0);
    struct mx_model *a = mx_add_model(&m, "tiny");
    assert_non_null(a);
    mx_set_ready(&m, a, true);
    mx_request_done(&m, a, 200);
    mx_request_done(&m, a, 200);
    mx_request_done(&m, a, 429);
    mx_request_done(&m, NULL, 400);
    mx_add_gauges(&m, a, 2, 5);
    mx_add_gauges(&m, a, -1, -2);
    mx_add_tokens(&m, a, 10, 20);
    mx_observe_ttft(&m, a, 0.2);
    mx_observe_ttft(&m, a, 100);
    mx_observe_token(&m, a, 0.004);
    mx_observe_latency(&m, a, 0.3);
    mx_anomaly(&m, a, MX_ANOMALY_REPETITION);
    mx_set_cache_bytes(&m, 12345);
    struct abuf b;
    abuf_init(&b, 0);
    assert_int_equal(mx_render(&m, &b), 0);
    const char *s = abuf_str(&b);
    const char *want[] = {
        "kllm_model_ready{model=\"tiny\"} 1\n",
        "kllm_models_loaded 1\n",
        "kllm_model_cache_bytes 12345\n",
        "kllm_requests_total{model=\"tiny\",code=\"200\"} 2\n",
        "kllm_requests_total{model=\"tiny\",code=\"429\"} 1\n",
        "kllm_unrouted_requests_total 1\n",
        "kllm_requests_in_flight{model=\"tiny\"} 1\n",
        "kllm_requests_queued{model=\"tiny\"} 3\n",
        "kllm_prompt_tokens_total{model=\"tiny\"} 10\n",
        "kllm_generated_tokens_total{model=\"tiny\"} 20\n",
        "kllm_anomalies_total{model=\"tiny\",kind=\"repetition\"} 1\n",
        "kllm_anomalies_total{model=\"tiny\",kind=\"nonfinite_logits\"} 0\n",
        "kllm_time_to_first_token_seconds_bucket{model=\"tiny\",le=\"0.1\"} 0\n",
        "kllm_time_to_first_token_seconds_bucket{model=\"tiny\",le=\"0.25\"} 1\n",
        "kllm_time_to_first_token_seconds_bucket{model=\"tiny\",le=\"30\"} 1\n",
        "kllm_time_to_first_token_seconds_bucket{model=\"tiny\",le=\"+Inf\"} 2\n",
        "kllm_time_to_first_token_seconds_count{model=\"tiny\"} 2\n",
        "kllm_time_per_output_token_seconds_bucket{model=\"tiny\",le=\"0.005\"} 1\n",
        "kllm_request_duration_seconds_bucket{model=\"tiny\",le=\"0.25\"} 0\n",
        "kllm_request_duration_seconds_bucket{model=\"tiny\",le=\"0.5\"} 1\n",
        "kllm_request_duration_seconds_count{model=\"tiny\"} 1\n",
        "# TYPE kllm_time_to_first_token_seconds histogram\n",
        "# TYPE kllm_requests_total counter\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(s, want[i])) fail_msg("missing: %s", want[i]);
    /* every non-comment line is "name{labels} value" or "name value" */
    for (const char *l = s; *l; l = strchr(l, '\n') + 1) {
        if (*l != '#') assert_non_null(memchr(l, ' ', (size_t)(strchr(l, '\n') - l)));
    }
    abuf_deinit(&b);
    mx_deinit(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_render)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
