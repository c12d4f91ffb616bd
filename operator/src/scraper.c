/* scraper.c: the /metrics scraper thread (op_scraper.h): rounds of
 * concurrent libcurl transfers into the op_scrape cache. */
#include "op_scraper.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct op_scraper {
    struct op_scraper_opts o;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, kicked; /* under mu */
    atomic_ullong fetches, failures;
};

/* One transfer: the page grows up to max_bytes. */
struct sr_xfer {
    CURL *h;
    char *endpoint;
    struct op_capbuf page;
    bool answered; /* the page went into the cache */
};

static int64_t sr_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fetches every endpoint of list at once and puts the results. */
static void sr_round(struct op_scraper *s, char **list, size_t n)
{
    CURLM *m = curl_multi_init();
    struct sr_xfer *x = calloc(n, sizeof(*x));
    int running = 0;

    if (!m || !x) goto out;
    for (size_t i = 0; i < n; i++) {
        char url[OP_SCRAPE_MAX_ENDPOINT + 32];
        x[i].endpoint = list[i];
        x[i].page.max = s->o.max_bytes;
        x[i].h = curl_easy_init();
        if (!x[i].h) continue;
        snprintf(url, sizeof(url), "%s%s/metrics", strstr(list[i], "://") ? "" : "http://",
                 list[i]);
        curl_easy_setopt(x[i].h, CURLOPT_URL, url);
        curl_easy_setopt(x[i].h, CURLOPT_WRITEFUNCTION, op_capbuf_write);
        curl_easy_setopt(x[i].h, CURLOPT_WRITEDATA, &x[i].page);
        curl_easy_setopt(x[i].h, CURLOPT_TIMEOUT_MS, (long)s->o.timeout_ms);
        curl_easy_setopt(x[i].h, CURLOPT_CONNECTTIMEOUT_MS, (long)s->o.timeout_ms);
        curl_easy_setopt(x[i].h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(x[i].h, CURLOPT_PRIVATE, &x[i]);
        if (curl_multi_add_handle(m, x[i].h) != CURLM_OK) {
            curl_easy_cleanup(x[i].h);
            x[i].h = NULL;
        }
    }
    do {
        if (curl_multi_perform(m, &running) != CURLM_OK) break;
        if (running && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK) break;
    } while (running); /* every transfer ends within timeout_ms */
    for (;;) {
        int left = 0;
        CURLMsg *msg = curl_multi_info_read(m, &left);
        struct sr_xfer *one = NULL;
        long code = 0;
        if (!msg) break;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&one);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        if (one && msg->data.result == CURLE_OK && code == 200) {
            op_scrape_cache_put(s->o.cache, one->endpoint, op_capbuf_take(&one->page),
                                sr_mono_ms());
            one->answered = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        atomic_fetch_add(&s->fetches, 1);
        if (x[i].answered) continue;
        atomic_fetch_add(&s->failures, 1);
        op_scrape_cache_put(s->o.cache, list[i], NULL, sr_mono_ms());
    }
out:
    for (size_t i = 0; x && i < n; i++) {
        if (x[i].h) {
            curl_multi_remove_handle(m, x[i].h);
            curl_easy_cleanup(x[i].h);
        }
        free(x[i].page.p);
    }
    free(x);
    if (m) curl_multi_cleanup(m);
}

static void *sr_main(void *arg)
{
    struct op_scraper *s = arg;

    for (;;) {
        char **list = NULL;
        size_t n = op_scrape_cache_targets(s->o.cache, sr_mono_ms(), &list);
        struct timespec until;

        if (n > 0) sr_round(s, list, n);
        for (size_t i = 0; i < n; i++) free(list[i]);
        free(list);
        clock_gettime(CLOCK_REALTIME, &until); /* the condvar's clock */
        until.tv_sec += s->o.period_ms / 1000;
        until.tv_nsec += (s->o.period_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->mu);
        while (!s->stop && !s->kicked) {
            if (pthread_cond_timedwait(&s->cv, &s->mu, &until)) break;
        }
        s->kicked = false;
        if (s->stop) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        pthread_mutex_unlock(&s->mu);
    }
}

struct op_scraper *op_scraper_new(const struct op_scraper_opts *o)
{
    struct op_scraper *s;

    if (!o || !o->cache || o->period_ms <= 0 || o->timeout_ms <= 0 || o->max_bytes < 2) return NULL;
    s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->o = *o;
    if (pthread_mutex_init(&s->mu, NULL)) {
        free(s);
        return NULL;
    }
    if (pthread_cond_init(&s->cv, NULL)) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

int op_scraper_start(struct op_scraper *s)
{
    if (!s || s->running) return -1;
    s->stop = false;
    if (pthread_create(&s->thread, NULL, sr_main, s)) return -1;
    s->running = true;
    return 0;
}

void op_scraper_stop(struct op_scraper *s)
{
    if (!s || !s->running) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->running = false;
}

void op_scraper_free(struct op_scraper *s)
{
    if (!s) return;
    op_scraper_stop(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void op_scraper_kick(struct op_scraper *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->kicked = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void op_scraper_counts(struct op_scraper *s, uint64_t *fetches, uint64_t *failures)
{
    if (fetches) *fetches = s ? atomic_load(&s->fetches) : 0;
    if (failures) *failures = s ? atomic_load(&s->failures) : 0;
}
