/* Tests of kllm-operator's flag parsing (op_opts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "op_core.h"
#include "op_opts.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_defaults(void **state)
{
    char *argv[] = {"kllm-operator"};
    struct op_opts o;
    char err[128];
    (void)state;

    assert_int_equal(op_opts_parse(ARGC(argv), argv, &o, err, sizeof(err)), OP_OK);
    assert_string_equal(o.ns, "kllm-system");
    assert_string_equal(o.listen_host, "");
    assert_int_equal(o.listen_port, 8081);
    assert_true(o.leader_elect);
    assert_null(o.kubeconfig);
    assert_null(o.id);
    assert_string_equal(o.log_format, "text");
    assert_string_equal(o.log_level, "info");
    assert_int_equal(o.node_lease_timeout_ms, 40000);
    assert_int_equal(o.node_grace_ms, 30000);
    assert_null(o.api_key_file);
    assert_false(o.help);
    assert_false(o.version);
}

static void test_chart_args(void **state)
{
    /* What helm/kllm's Deployment passes. */
    char *argv[] = {"kllm-operator",
                    "--namespace=kllm",
                    "--listen=:9090",
                    "--leader-elect=true",
                    "--id=pod-1",
                    "--log-format=json",
                    "--log-level=warn",
                    "--kubeconfig",
                    "/k/config",
                    "--node-lease-timeout",
                    "1m",
                    "--node-grace=5s",
                    "--api-key-file=/etc/kllm/api-key/api-key"};
    struct op_opts o;
    char err[128];
    (void)state;

    assert_int_equal(op_opts_parse(ARGC(argv), argv, &o, err, sizeof(err)), OP_OK);
    assert_string_equal(o.ns, "kllm");
    assert_int_equal(o.listen_port, 9090);
    assert_true(o.leader_elect);
    assert_string_equal(o.id, "pod-1");
    assert_string_equal(o.log_format, "json");
    assert_string_equal(o.log_level, "warn");
    assert_string_equal(o.kubeconfig, "/k/config");
    assert_int_equal(o.node_lease_timeout_ms, 60000);
    assert_int_equal(o.node_grace_ms, 5000);
    assert_string_equal(o.api_key_file, "/etc/kllm/api-key/api-key");
}

static void test_leader_elect_forms(void **state)
{
    char *a1[] = {"x", "--leader-elect=false"};
    char *a2[] = {"x", "--leader-elect"};
    char *a3[] = {"x", "--leader-elect=maybe"};
    struct op_opts o;
    char err[128];
    (void)state;

    assert_int_equal(op_opts_parse(ARGC(a1), a1, &o, err, sizeof(err)), OP_OK);
    assert_false(o.leader_elect);
    assert_int_equal(op_opts_parse(ARGC(a2), a2, &o, err, sizeof(err)), OP_OK);
    assert_true(o.leader_elect);
    assert_int_equal(op_opts_parse(ARGC(a3), a3, &o, err, sizeof(err)), OP_EINVAL);
    assert_string_equal(err, "--leader-elect: expected true or false, got maybe");
}

static void test_errors(void **state)
{
    struct {
        char *args[3];
        int n;
        const char *msg;
    } cases[] = {
        {{"x", "--bogus"}, 2, "unknown flag --bogus (see --help)"},
        {{"x", "--listen"}, 2, "--listen needs a value"},
        {{"x", "--listen=8080"}, 2, "--listen: expected HOST:PORT, got 8080"},
        {{"x", "--listen", ":99999"}, 3, "--listen: expected HOST:PORT, got :99999"},
        {{"x", "--log-level=loud"},
         2,
         "--log-level: expected debug, info, warn or error, got loud"},
        {{"x", "--log-format=xml"}, 2, "--log-format: expected text or json, got xml"},
        {{"x", "--namespace="}, 2, "--namespace needs a non-empty value"},
        {{"x", "--node-grace=5"}, 2, "--node-grace: expected a duration like 40s, got 5"},
        {{"x", "--api-key-file"}, 2, "--api-key-file needs a value"},
        {{"x", "stray"}, 2, "unexpected argument stray (see --help)"},
        {{"x", "--help=yes"}, 2, "unknown flag --help (see --help)"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct op_opts o;
        char err[128] = "";
        assert_int_equal(op_opts_parse(cases[i].n, cases[i].args, &o, err, sizeof(err)), OP_EINVAL);
        assert_string_equal(err, cases[i].msg);
    }
}

static void test_listen(void **state)
{
    char host[64];
    uint16_t port = 0;
    (void)state;

    assert_int_equal(op_listen_parse("127.0.0.1:8081", host, sizeof(host), &port), OP_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8081);
    assert_int_equal(op_listen_parse(":0", host, sizeof(host), &port), OP_OK);
    assert_string_equal(host, "");
    assert_int_equal(port, 0);
    assert_int_equal(op_listen_parse("[::1]:80", host, sizeof(host), &port), OP_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(op_listen_parse("::1:80", host, sizeof(host), &port), OP_EINVAL);
    assert_int_equal(op_listen_parse("host:", host, sizeof(host), &port), OP_EINVAL);
    assert_int_equal(op_listen_parse("host:8x", host, sizeof(host), &port), OP_EINVAL);
    assert_int_equal(op_listen_parse("a-very-long-host-name:1", host, 4, &port), OP_EINVAL);
    assert_int_equal(op_listen_parse(NULL, host, sizeof(host), &port), OP_EINVAL);
}

static void test_help_version(void **state)
{
    char *argv[] = {"x", "--help", "--version"};
    struct op_opts o;
    (void)state;

    assert_int_equal(op_opts_parse(ARGC(argv), argv, &o, NULL, 0), OP_OK);
    assert_true(o.help);
    assert_true(o.version);
    assert_non_null(strstr(op_opts_usage, "--leader-elect"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_chart_args),
        cmocka_unit_test(test_leader_elect_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_help_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
