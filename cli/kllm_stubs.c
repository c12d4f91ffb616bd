#include "kllm_cli.h"
#include <stdio.h>
int cli_bench(int argc, char **argv)
{
    fputs("todo\n", stderr);
    return 1;
}
