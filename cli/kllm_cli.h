/* kllm_cli: subcommands of the kllm CLI and their shared option parsing. */
#ifndef KLLM_CLI_H
#define KLLM_CLI_H

#include <stdint.h>

int cli_run(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_make_model(int argc, char **argv);

/* Strict number parsing for flags: the whole string must be a number in
 * [min, max]. On failure prints "kllm <cmd>: invalid value for <flag>" and
 * returns -1. */
int cli_parse_i64(const char *cmd, const char *flag, const char *s, int64_t min, int64_t max,
                  int64_t *out);
int cli_parse_f32(const char *cmd, const char *flag, const char *s, float *out);
int cli_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t *out);

/* Returns argv[*i + 1] and advances *i, or prints "missing value" and
 * returns NULL. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

#endif
