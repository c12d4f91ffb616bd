/* kllm: the engine's command line — run, tokenize, inspect, bench, make-model.
 * Each subcommand lives in its own cli/kllm_<cmd>.c and has the signature
 * int cmd(int argc, char **argv) returning the process exit status. */
#include "kllm_cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
    {"run", cli_run, "generate text from a prompt"},
    {"tokenize", cli_tokenize, "print the token ids of a text"},
    {"inspect", cli_inspect, "print a GGUF file's metadata and tensors"},
    {"bench", cli_bench, "measure prompt and generation speed"},
    {"make-model", cli_make_model, "write a LLaMA-shaped GGUF with random weights"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kllm <command> [options]   (kllm <command> --help for its options)\n\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("kllm %s\n", KLLM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[1], cmds[i].name) == 0) return cmds[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "kllm: unknown command '%s' (try kllm --help)\n", argv[1]);
    return 2;
}
