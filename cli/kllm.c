/* kllm: placeholder until the CLI lands. */
#include <stdio.h>
int main(void)
{
    puts("kllm " KLLM_VERSION);
    return 0;
}
