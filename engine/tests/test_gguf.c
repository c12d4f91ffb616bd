/* Tests of the GGUF reader on good files and on deliberately damaged copies:
 * truncation at every offset, bad magic, huge counts, bad type ids,
 * misaligned offsets, and random byte mutations. Whatever parses is then
 * loaded as a model and decoded a few steps: nothing may crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "kllm/engine.h"
#include "model.h"

#define TINY "engine/tests/data/llama-2-tiny-random.gguf"
static char SMALL[64];

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)sz);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return buf;
}

/* Parses a (possibly damaged) image in a fresh heap copy so ASan sees any
 * read past its end; if it parses, loads and runs the model a little. */
static int try_image(const uint8_t *img, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, img, n);
    struct gguf_file *f = NULL;
    char err[256] = "";
    int rc = gguf_parse(copy, n, &f, err, sizeof err);
    if (rc == 0) {
        struct llm_model *m = NULL;
        rc = model_from_gguf(f, &m, err, sizeof err);
        if (rc == 0) {
            struct llm_ctx_params cp = llm_ctx_default_params();
            cp.n_ctx = 16;
            cp.n_batch = 4;
            cp.n_threads = 1;
            struct llm_ctx *c = llm_ctx_new(m, &cp);
            int32_t toks[4];
            int32_t nt = llm_tokenize(m, "hi there", 8, true, toks, 4);
            if (c && nt > 0) {
                int32_t seq[4] = {0};
                struct llm_batch b = {.n = nt > 4 ? 4 : nt, .tokens = toks, .seq = seq};
                llm_decode_batch(c, &b);
            }
            llm_ctx_free(c);
            llm_model_free(m);
        }
    } else {
        assert_true(err[0] != '\0'); /* every failure says why */
        assert_null(f);
    }
    free(copy);
    return rc;
}

static int make_small(void **state)
{
    snprintf(SMALL, sizeof SMALL, "/tmp/kllm-test-gguf-%d.gguf", (int)getpid());
    struct llm_make_params p = {.out_path = SMALL,
                                .type = LLM_TYPE_Q8_0,
                                .dim = 32,
                                .n_layers = 1,
                                .n_heads = 2,
                                .ffn_dim = 32,
                                .seed = 3};
    char err[256];
    return llm_make_model(&p, err, sizeof err) == 0 ? 0 : -1;
}

static int remove_small(void **state)
{
    unlink(SMALL);
    return 0;
}

static void test_good_file(void **state)
{
    struct gguf_file *f = NULL;
    char err[256];
    assert_int_equal(gguf_open(TINY, &f, err, sizeof err), 0);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_tensors, 12);
    assert_int_equal(f->n_kv, 18);
    uint32_t dim = 0;
    assert_int_equal(gguf_get_u32(f, "llama.embedding_length", &dim), 0);
    assert_int_equal(dim, 8);
    const struct gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 8);
    assert_int_equal(t->ne[1], 32000);
    assert_int_equal(t->type, LLM_TYPE_F16);
    assert_int_equal(t->nbytes, 8 * 32000 * 2);
    assert_int_equal(gguf_get_u32(f, "no.such.key", &dim), LLM_ERR_FORMAT);
    gguf_close(f);
}

static void test_truncated_every_offset(void **state)
{
    size_t n;
    uint8_t *img = slurp(SMALL, &n);
    assert_int_equal(try_image(img, n), 0);
    for (size_t cut = 0; cut < n; cut++) assert_true(try_image(img, cut) < 0);
    free(img);
}

static void test_truncated_real_file(void **state)
{
    size_t n;
    uint8_t *img = slurp(TINY, &n);
    assert_int_equal(try_image(img, n), 0);
    /* Every offset through the first 4 KiB, then a stride through the rest. */
    for (size_t cut = 0; cut < n; cut += cut < 4096 ? 1 : 997) assert_true(try_image(img, cut) < 0);
    free(img);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void test_bad_header(void **state)
{
    size_t n;
    uint8_t *img = slurp(SMALL, &n);
    uint8_t *bad = malloc(n);
    assert_non_null(bad);

    memcpy(bad, img, n);
    bad[0] = 'X'; /* magic */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u32(bad + 4, 1); /* GGUF v1 */
    assert_int_equal(try_image(bad, n), LLM_ERR_UNSUPPORTED);
    put_u32(bad + 4, 99);
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u64(bad + 8, UINT64_MAX); /* tensor count */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u64(bad + 16, (uint64_t)1 << 40); /* kv count */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u64(bad + 24, UINT64_MAX - 3); /* first key length */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);
    free(bad);
    free(img);
}

/* Finds the byte offset of a tensor's info record in the image. */
static size_t tensor_info_off(const uint8_t *img, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 8; i + len < n; i++) {
        uint64_t l;
        memcpy(&l, img + i - 8, 8);
        if (l == len && memcmp(img + i, name, len) == 0) return i + len;
    }
    fail();
    return 0;
}

static void test_bad_tensor_info(void **state)
{
    size_t n;
    uint8_t *img = slurp(SMALL, &n);
    uint8_t *bad = malloc(n);
    assert_non_null(bad);
    /* Record after the name: u32 n_dims, u64 ne[2], u32 type, u64 offset. */
    size_t o = tensor_info_off(img, n, "blk.0.attn_q.weight");

    memcpy(bad, img, n);
    put_u32(bad + o, 7); /* n_dims */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u32(bad + o + 20, 200); /* type id */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u32(bad + o + 20, 24); /* i8: valid GGUF, but not a weight type the engine runs */
    put_u64(bad + o + 4, 128);
    assert_int_equal(try_image(bad, n), LLM_ERR_UNSUPPORTED);
    {
        struct gguf_file *f = NULL;
        struct llm_model *m = NULL;
        char err[256];
        assert_int_equal(gguf_parse(bad, n, &f, err, sizeof err), 0);
        assert_int_equal(model_from_gguf(f, &m, err, sizeof err), LLM_ERR_UNSUPPORTED);
        assert_non_null(strstr(err, "i8"));
    }

    memcpy(bad, img, n);
    uint64_t off;
    memcpy(&off, bad + o + 24, 8);
    put_u64(bad + o + 24, off + 2); /* misaligned */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u64(bad + o + 24, (uint64_t)1 << 60); /* past the end */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u64(bad + o + 4, (uint64_t)1 << 40); /* huge shape */
    put_u64(bad + o + 12, (uint64_t)1 << 40);
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u64(bad + o + 4, 0); /* empty dimension */
    assert_int_equal(try_image(bad, n), LLM_ERR_FORMAT);

    memcpy(bad, img, n);
    put_u64(bad + o + 4, 64); /* valid extent, wrong shape for the model */
    put_u64(bad + o + 12, 16);
    assert_true(try_image(bad, n) < 0);
    free(bad);
    free(img);
}

static void test_unsupported_arch(void **state)
{
    size_t n;
    uint8_t *img = slurp(SMALL, &n);
    /* "llama" -> "gpt_x": same length, so the file stays well formed. */
    for (size_t i = 0; i + 5 < n; i++) {
        if (memcmp(img + i, "llama", 5) == 0 && img[i - 8] == 5) {
            memcpy(img + i, "gpt_x", 5);
            break;
        }
    }
    struct gguf_file *f = NULL;
    struct llm_model *m = NULL;
    char err[256];
    assert_int_equal(gguf_parse(img, n, &f, err, sizeof err), 0);
    assert_int_equal(model_from_gguf(f, &m, err, sizeof err), LLM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "gpt_x"));
    free(img);
}

static void test_random_mutations(void **state)
{
    size_t n;
    uint8_t *img = slurp(SMALL, &n);
    uint8_t *bad = malloc(n);
    assert_non_null(bad);
    uint64_t rng = 12345;
    int parsed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(bad, img, n);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            /* Mostly the header and metadata, where structure lives. */
            size_t limit = iter % 3 ? 12000 : n;
            size_t pos = (size_t)(rng >> 33) % (limit < n ? limit : n);
            bad[pos] = (uint8_t)(rng >> 17);
        }
        if (try_image(bad, n) == 0) parsed++;
    }
    assert_true(parsed > 0); /* some mutations are harmless: the loop really ran models */
    free(bad);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),           cmocka_unit_test(test_truncated_every_offset),
        cmocka_unit_test(test_truncated_real_file), cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_bad_tensor_info),     cmocka_unit_test(test_unsupported_arch),
        cmocka_unit_test(test_random_mutations),
    };
    return cmocka_run_group_tests(tests, make_small, remove_small);
}
