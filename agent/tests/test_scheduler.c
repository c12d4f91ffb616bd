/* Tests for the scheduler (continuous batching) on the fake engine:
 * outputs, sequences sharing decode steps, prompt chunking, the bounded
 * queue, cancellation freeing slots, stop strings, EOS, context limit,
 * non-finite logits, and shutdown failing what is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_engine.h"
#include "scheduler.h"

static struct llm_model *model;

static int setup(void **state)
{
    setenv("FAKE_DELAY_US", "1000", 1);
    char err[64];
    return llm_model_load("agent/tests/data/fake-model.txt", &model, err, sizeof err);
}

static int teardown(void **state)
{
    llm_model_free(model);
    return 0;
}

static struct sched *mk(int32_t parallel, int32_t queue_max, int32_t n_ctx, int32_t n_batch,
                        struct mx *mx, struct mx_model **mm)
{
    assert_int_equal(mx_init(mx), 0);
    *mm = mx_add_model(mx, "fake");
    struct sched_params p = {
        .parallel = parallel, .n_ctx = n_ctx, .n_batch = n_batch, .queue_max = queue_max};
    char err[128];
    struct sched *s = sched_new(model, &p, mx, *mm, err, sizeof err);
    assert_non_null(s);
    return s;
}

static struct job *mkjob(const char *prompt, int32_t max_tokens, const char *stop)
{
    struct job *j = job_new();
    assert_non_null(j);
    int32_t toks[256];
    int32_t n = llm_tokenize(model, prompt, strlen(prompt), true, toks, 256);
    assert_int_equal(job_set_prompt(j, toks, n), 0);
    j->max_tokens = max_tokens;
    j->t_arrival_ns = sched_clock_ns();
    if (stop) assert_int_equal(job_add_stop(j, stop), 0);
    return j;
}

/* Wait until done (5 s at most); returns the state. */
static enum job_state wait_done(struct job *j)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&j->mu);
    while (j->state != JOB_DONE)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) != 0) break;
    enum job_state st = j->state;
    pthread_mutex_unlock(&j->mu);
    return st;
}

static void wait_running(struct job *j)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&j->mu);
        bool gen = j->n_gen > 0;
        pthread_mutex_unlock(&j->mu);
        if (gen) return;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("job never started generating");
}

static void test_single(void **state)
{
    struct mx mx;
    struct mx_model *mm;
    struct sched *s = mk(2, 4, 0, 64, &mx, &mm);
    struct job *j = mkjob("hi", 5, NULL);
    assert_int_equal(sched_submit(s, j), 0);
    assert_int_equal(wait_done(j), JOB_DONE);
    assert_int_equal(j->status, 0);
    assert_string_equal(abuf_str(&j->out.text), "cdefg"); /* letters at positions 2..6 */
    assert_int_equal(j->finish, API_FINISH_LENGTH);
    assert_int_equal(j->n_gen, 5);
    job_unref(j);
    sched_free(s);
    assert_int_equal(mm->prompt_tokens, 3);
    assert_int_equal(mm->generated_tokens, 5);
    assert_int_equal(mm->in_flight, 0);
    assert_int_equal(mm->ttft.count, 1);
    assert_int_equal(mm->per_token.count, 4);
    mx_deinit(&mx);
}

static void test_batched_and_chunked(void **state)
{
    struct mx mx;
    struct mx_model *mm;
    /* n_batch 4: the 10-token prompt must be fed in chunks beside the others */
    struct sched *s = mk(4, 8, 0, 4, &mx, &mm);
    atomic_store(&fake_max_seqs_in_batch, 0);
    struct job *j[4];
    j[0] = mkjob("abcdefghi", 3, NULL); /* 10 tokens: first output at position 9 */
    for (int i = 1; i < 4; i++) j[i] = mkjob("hi", 20, NULL);
    for (int i = 0; i < 4; i++) assert_int_equal(sched_submit(s, j[i]), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(wait_done(j[i]), JOB_DONE);
    assert_string_equal(abuf_str(&j[0]->out.text), "jkl");
    for (int i = 1; i < 4; i++)
        assert_string_equal(abuf_str(&j[i]->out.text), "cdefghijklmnopqrstuv");
    assert_true(atomic_load(&fake_max_seqs_in_batch) >= 3);
    for (int i = 0; i < 4; i++) job_unref(j[i]);
    sched_free(s);
    mx_deinit(&mx);
}

static void test_queue_full_and_cancel(void **state)
{
    struct mx mx;
    struct mx_model *mm;
    struct sched *s = mk(1, 1, 4096, 64, &mx, &mm);
    struct job *a = mkjob("hi", 3000, NULL);
    struct job *b = mkjob("hi", 2, NULL);
    struct job *c = mkjob("hi", 2, NULL);
    struct job *d = mkjob("hi", 2, NULL);
    assert_int_equal(sched_submit(s, a), 0);
    wait_running(a);
    assert_int_equal(sched_submit(s, b), 0);
    assert_int_equal(sched_submit(s, c), SCHED_ERR_FULL);
    assert_int_equal(sched_busy(s), 2);
    /* a queued job is dropped at once and its place is free again */
    sched_cancel(s, b);
    assert_int_equal(b->state, JOB_DONE);
    assert_int_equal(b->status, JOB_STATUS_CANCELLED);
    assert_int_equal(sched_submit(s, c), 0);
    /* a running job frees its slot before the next step: c runs long before a would end */
    sched_cancel(s, a);
    assert_int_equal(wait_done(a), JOB_DONE);
    assert_int_equal(a->status, JOB_STATUS_CANCELLED);
    assert_true(a->n_gen < 3000);
    assert_int_equal(wait_done(c), JOB_DONE);
    assert_int_equal(c->status, 0);
    assert_int_equal(sched_submit(s, d), 0);
    assert_int_equal(wait_done(d), JOB_DONE);
    assert_int_equal(sched_busy(s), 0);
    job_unref(a);
    job_unref(b);
    job_unref(c);
    job_unref(d);
    sched_free(s);
    assert_int_equal(mm->queued, 0);
    assert_int_equal(mm->in_flight, 0);
    mx_deinit(&mx);
}

static void test_stops(void **state)
{
    struct mx mx;
    struct mx_model *mm;
    struct sched *s = mk(2, 4, 16, 64, &mx, &mm);
    struct job *stop = mkjob("hi", 10, "ef");
    struct job *eos = mkjob("x!", 10, NULL);
    struct job *ctx = mkjob("hi", 100, NULL);
    assert_int_equal(sched_submit(s, stop), 0);
    assert_int_equal(sched_submit(s, eos), 0);
    assert_int_equal(sched_submit(s, ctx), 0);
    assert_int_equal(wait_done(stop), JOB_DONE);
    assert_string_equal(abuf_str(&stop->out.text), "cd");
    assert_int_equal(stop->finish, API_FINISH_STOP);
    assert_int_equal(wait_done(eos), JOB_DONE);
    assert_int_equal(eos->finish, API_FINISH_STOP);
    assert_int_equal(eos->n_gen, 0);
    assert_int_equal(wait_done(ctx), JOB_DONE);
    assert_int_equal(ctx->finish, API_FINISH_LENGTH);
    assert_int_equal(ctx->status, 0);
    assert_true(ctx->n_gen <= 16 - 3 + 1);
    assert_int_equal(mm->anomalies[MX_ANOMALY_EMPTY], 1);
    job_unref(stop);
    job_unref(eos);
    job_unref(ctx);
    sched_free(s);
    mx_deinit(&mx);
}

static void test_repetition_anomaly(void **state)
{
    struct mx mx;
    struct mx_model *mm;
    struct sched *s = mk(2, 4, 0, 64, &mx, &mm);
    struct job *loop = mkjob("~", 60, NULL);
    struct job *fine = mkjob("hi", 60, NULL); /* period 27: not a runaway */
    assert_int_equal(sched_submit(s, loop), 0);
    assert_int_equal(sched_submit(s, fine), 0);
    assert_int_equal(wait_done(loop), JOB_DONE);
    assert_int_equal(wait_done(fine), JOB_DONE);
    assert_int_equal(loop->finish, API_FINISH_LENGTH);
    assert_int_equal(mm->anomalies[MX_ANOMALY_REPETITION], 1);
    job_unref(loop);
    job_unref(fine);
    sched_free(s);
    mx_deinit(&mx);
}

static void test_nonfinite(void **state)
{
    struct mx mx;
    struct mx_model *mm;
    struct sched *s = mk(1, 4, 0, 64, &mx, &mm);
    for (int i = 0; i < 3; i++) {
        assert_true(sched_healthy(s));
        struct job *j = mkjob("#", 5, NULL);
        assert_int_equal(sched_submit(s, j), 0);
        assert_int_equal(wait_done(j), JOB_DONE);
        assert_int_equal(j->status, 500);
        job_unref(j);
    }
    assert_false(sched_healthy(s));
    assert_false(mm->ready);
    assert_int_equal(mm->anomalies[MX_ANOMALY_NONFINITE], 3);
    sched_free(s);
    mx_deinit(&mx);
}

static void test_shutdown_fails_leftovers(void **state)
{
    struct mx mx;
    struct mx_model *mm;
    struct sched *s = mk(1, 2, 4096, 64, &mx, &mm);
    struct job *a = mkjob("hi", 3000, NULL);
    struct job *b = mkjob("hi", 3000, NULL);
    assert_int_equal(sched_submit(s, a), 0);
    assert_int_equal(sched_submit(s, b), 0);
    wait_running(a);
    sched_stop(s);
    assert_int_equal(a->state, JOB_DONE);
    assert_int_equal(a->status, 503);
    assert_int_equal(b->state, JOB_DONE);
    assert_int_equal(b->status, 503);
    struct job *c = mkjob("hi", 2, NULL);
    assert_int_equal(sched_submit(s, c), SCHED_ERR_STOPPED);
    job_unref(a);
    job_unref(b);
    job_unref(c);
    sched_free(s);
    mx_deinit(&mx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_batched_and_chunked),
        cmocka_unit_test(test_queue_full_and_cancel),
        cmocka_unit_test(test_stops),
        cmocka_unit_test(test_repetition_anomaly),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_shutdown_fails_leftovers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
