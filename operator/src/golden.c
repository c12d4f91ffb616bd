/* golden.c: the golden prompts of a rollout's analysis, on their own
 * thread while leading, so that a canary that hangs on /v1/completions
 * blocks no reconcile. The worker submits a job (ctl_golden_submit) and
 * takes its verdict at the next analysis run (ctl_golden_take); the golden
 * thread runs the jobs; op_ctl_stop aborts the request in flight. */
#include "ctl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_TIMEOUT_MS 10000L

/* One golden-prompt run against a Model's canary: submitted by the worker
 * at an analysis run, run by the golden thread, its verdict taken by the
 * worker at the next run. The worker unlinks and frees only done jobs, so
 * the golden thread reads a started job's fields without the lock. */
struct ctl_gjob {
    char key[600];
    int32_t rev;
    char endpoint[300];
    cJSON *prompts; /* [{prompt, expect, body}], owned */
    bool started, done;
    enum op_golden_result result;
    char why[200];
    struct ctl_gjob *next;
};

/* curl progress callback: aborts the transfer once *ud is set (stop). */
static int ctl_complete_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                                 curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load((atomic_int *)ud) != 0; /* non-zero aborts the transfer */
}

/* POST body to http://endpoint/v1/completions pinned to the canary, with
 * the agents' API key when there is one; the response body (caller frees)
 * on HTTP 200, else NULL with *http the code (0: no answer, or
 * aborted because *abort_flag was set). */
static char *ctl_complete(const char *endpoint, const char *api_key, const char *body,
                          atomic_int *abort_flag, long *http)
{
    char auth[1100];
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    struct op_capbuf b = {.max = 1u << 20};
    char url[600];
    char *out = NULL;

    *http = 0;
    if (!h) return NULL;
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = hdr ? curl_slist_append(hdr, "X-Kllm-Revision: canary") : NULL;
    if (hdr && api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        hdr = curl_slist_append(hdr, auth);
    }
    if (!hdr) goto out;
    snprintf(url, sizeof(url), "%s%s/v1/completions", strstr(endpoint, "://") ? "" : "http://",
             endpoint);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, op_capbuf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, GOLDEN_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, ctl_complete_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, abort_flag);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
    if (*http == 200) out = op_capbuf_take(&b);
out:
    free(b.p);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return out;
}

/* --- golden prompts, on their own thread ---------------------------------
 * A canary that hangs on /v1/completions costs the golden thread a timeout
 * (GOLDEN_TIMEOUT_MS per prompt) and no reconcile anything: the worker
 * submits a job at one analysis run (ctl_golden_submit) and takes its
 * verdict at the next (ctl_golden_take); one job per Model at a time. */

/* Runs job j's prompts (golden thread, without the lock). */
static enum op_golden_result ctl_golden_run(struct op_ctl *ctl, const struct ctl_gjob *j, char *why,
                                            size_t why_len)
{
    const cJSON *g;

    cJSON_ArrayForEach(g, j->prompts)
    {
        const char *prompt = op_json_str(g, "prompt"), *expect = op_json_str(g, "expect");
        const char *body = op_json_str(g, "body");
        char *resp;
        long http = 0;
        int ok;
        if (!prompt || !expect || !body) continue;
        resp = ctl_complete(j->endpoint, ctl->api_key, body, &ctl->gabort, &http);
        if (!resp && http == 0) return OP_GOLDEN_NOT_RUN; /* no answer: inconclusive */
        ok = resp ? op_golden_check(resp, expect) : 0;
        free(resp);
        if (ok != 1) {
            snprintf(why, why_len, "golden prompt %.60s did not answer %.60s (HTTP %ld)", prompt,
                     expect, http);
            return OP_GOLDEN_FAIL;
        }
    }
    return OP_GOLDEN_PASS;
}

void *ctl_golden_main(void *arg)
{
    struct op_ctl *ctl = arg;

    for (;;) {
        struct ctl_gjob *j = NULL;
        enum op_golden_result r;
        char why[200] = "";

        pthread_mutex_lock(&ctl->gmu);
        for (;;) {
            for (j = ctl->gjobs; j && j->started; j = j->next) {}
            if (ctl->gstop || j) break;
            pthread_cond_wait(&ctl->gcv, &ctl->gmu);
        }
        if (ctl->gstop) {
            pthread_mutex_unlock(&ctl->gmu);
            return NULL;
        }
        j->started = true;
        pthread_mutex_unlock(&ctl->gmu);
        r = ctl_golden_run(ctl, j, why, sizeof(why));
        pthread_mutex_lock(&ctl->gmu);
        j->result = r;
        snprintf(j->why, sizeof(j->why), "%s", why);
        j->done = true;
        pthread_mutex_unlock(&ctl->gmu);
    }
}

/* The verdict of the Model's finished job for revision rev (then
 * forgotten); OP_GOLDEN_NOT_RUN when none has finished. */
enum op_golden_result ctl_golden_take(struct op_ctl *ctl, const char *key, int32_t rev, char *why,
                                      size_t why_len)
{
    struct ctl_gjob **pp, *dead = NULL;
    enum op_golden_result r = OP_GOLDEN_NOT_RUN;

    pthread_mutex_lock(&ctl->gmu);
    for (pp = &ctl->gjobs; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) != 0) continue;
        if ((*pp)->done) {
            dead = *pp;
            *pp = dead->next;
            if (dead->rev == rev) {
                r = dead->result;
                snprintf(why, why_len, "%s", dead->why);
            }
        }
        break;
    }
    pthread_mutex_unlock(&ctl->gmu);
    if (dead) cJSON_Delete(dead->prompts);
    free(dead);
    return r;
}

/* Queues the Model's golden prompts against one Ready canary replica,
 * unless a job of this Model is queued or running already. */
void ctl_golden_submit(struct op_ctl *ctl, const cJSON *model, const char *key, const cJSON *reps,
                       const struct ctl_nodes *nodes, int32_t canary)
{
    const cJSON *prompts = op_json_at(model, "spec.rollout.analysis.goldenPrompts");
    const cJSON *it, *g;
    const char *ep = NULL;
    struct ctl_gjob *j, *k;

    if (cJSON_GetArraySize(prompts) == 0) return;
    cJSON_ArrayForEach(it, reps)
    {
        const char *phase = op_json_str(it, "status.phase");
        int ni = ctl_nodes_find(nodes, op_json_str(it, "spec.nodeName"));
        if (op_json_int(it, "spec.revision", 0) != canary || !phase || strcmp(phase, "Ready") ||
            ni < 0 || !nodes->n[ni].ready || !op_json_str(it, "status.endpoint"))
            continue;
        ep = op_json_str(it, "status.endpoint");
        break;
    }
    if (!ep) return;
    j = calloc(1, sizeof(*j));
    if (!j) return;
    snprintf(j->key, sizeof(j->key), "%s", key);
    snprintf(j->endpoint, sizeof(j->endpoint), "%s", ep);
    j->rev = canary;
    j->prompts = cJSON_CreateArray();
    cJSON_ArrayForEach(g, prompts)
    {
        const char *prompt = op_json_str(g, "prompt"), *expect = op_json_str(g, "expect");
        char *body;
        cJSON *one;
        if (!prompt || !expect || !j->prompts) continue;
        body = op_golden_request_new(key, prompt, (int32_t)op_json_int(g, "maxTokens", 16));
        one = cJSON_CreateObject();
        if (body && one && cJSON_AddStringToObject(one, "prompt", prompt) &&
            cJSON_AddStringToObject(one, "expect", expect) &&
            cJSON_AddStringToObject(one, "body", body)) {
            cJSON_AddItemToArray(j->prompts, one);
            one = NULL;
        }
        cJSON_Delete(one);
        free(body);
    }
    if (cJSON_GetArraySize(j->prompts) == 0) {
        cJSON_Delete(j->prompts);
        free(j);
        return;
    }
    pthread_mutex_lock(&ctl->gmu);
    for (k = ctl->gjobs; k && strcmp(k->key, key) != 0; k = k->next) {}
    if (!k) {
        j->next = ctl->gjobs;
        ctl->gjobs = j;
        j = NULL;
        pthread_cond_signal(&ctl->gcv);
    }
    pthread_mutex_unlock(&ctl->gmu);
    if (j) cJSON_Delete(j->prompts);
    free(j);
}

void ctl_golden_stop(struct op_ctl *ctl)
{
    if (!ctl->golden_running) return;
    atomic_store(&ctl->gabort, 1);
    pthread_mutex_lock(&ctl->gmu);
    ctl->gstop = true;
    pthread_cond_signal(&ctl->gcv);
    pthread_mutex_unlock(&ctl->gmu);
    pthread_join(ctl->golden, NULL);
    ctl->golden_running = false;
}

/* Frees every job (the golden thread is stopped). */
void ctl_golden_jobs_free(struct op_ctl *ctl)
{
    while (ctl->gjobs) {
        struct ctl_gjob *n = ctl->gjobs->next;
        cJSON_Delete(ctl->gjobs->prompts);
        free(ctl->gjobs);
        ctl->gjobs = n;
    }
}
