#include "kllm_cli.h"
#include <stdio.h>
int cli_inspect(int argc, char **argv)
{
    fputs("todo\n", stderr);
    return 1;
}
int cli_bench(int argc, char **argv)
{
    fputs("todo\n", stderr);
    return 1;
}
int cli_make_model(int argc, char **argv)
{
    fputs("todo\n", stderr);
    return 1;
}
