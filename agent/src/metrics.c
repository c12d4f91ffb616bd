/* metrics: counters and Prometheus text exposition (see metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

static const double ttft_bounds[MX_HIST_BUCKETS - 1] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                        1,    2.5,   5,    10,  30};
static const double tok_bounds[MX_HIST_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,   0.25,   0.5,   1,    2.5};
static const double lat_bounds[MX_HIST_BUCKETS - 1] = {0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                       5,    10,  20,   40,  80};
static const char *const anomaly_names[MX_ANOMALY_COUNT] = {"nonfinite_logits", "empty_completion",
                                                            "repetition"};

int mx_init(struct mx *m)
{
    memset(m, 0, sizeof *m);
    return pthread_mutex_init(&m->mu, NULL) == 0 ? 0 : -1;
}

void mx_deinit(struct mx *m)
{
    pthread_mutex_destroy(&m->mu);
}

struct mx_model *mx_add_model(struct mx *m, const char *name)
{
    return mx_model_get(m, name, 0, false);
}

struct mx_model *mx_model_get(struct mx *m, const char *name, int32_t revision, bool reuse)
{
    struct mx_model *mm = NULL;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; reuse && i < m->n_models; i++)
        if (m->models[i].revision == revision && strcmp(m->models[i].name, name) == 0) {
            mm = &m->models[i];
            goto out;
        }
    if (m->n_models < MX_MAX_MODELS) {
        mm = &m->models[m->n_models++];
        snprintf(mm->name, sizeof mm->name, "%s", name);
        mm->revision = revision;
        if (revision > 0)
            snprintf(mm->label, sizeof mm->label, "model=\"%s\",revision=\"%d\"", name,
                     (int)revision);
        else
            snprintf(mm->label, sizeof mm->label, "model=\"%s\"", name);
        mm->ttft.bounds = ttft_bounds;
        mm->per_token.bounds = tok_bounds;
        mm->latency.bounds = lat_bounds;
    }
out:
    pthread_mutex_unlock(&m->mu);
    return mm;
}

void mx_proxied(struct mx *m, int status)
{
    pthread_mutex_lock(&m->mu);
    if (status >= 200 && status < 300)
        m->proxied_ok++;
    else
        m->proxied_err++;
    pthread_mutex_unlock(&m->mu);
}

void mx_request_done(struct mx *m, struct mx_model *mm, int status)
{
    pthread_mutex_lock(&m->mu);
    if (!mm) {
        m->http_codes_other++;
    } else {
        int i = 0;
        while (i < mm->n_codes && mm->codes[i] != status) i++;
        if (i == mm->n_codes && i < MX_MAX_CODES) {
            mm->codes[i] = status;
            mm->n_codes++;
        }
        if (i < mm->n_codes) mm->code_counts[i]++;
    }
    pthread_mutex_unlock(&m->mu);
}

void mx_add_gauges(struct mx *m, struct mx_model *mm, int64_t d_in_flight, int64_t d_queued)
{
    pthread_mutex_lock(&m->mu);
    mm->in_flight += d_in_flight;
    mm->queued += d_queued;
    pthread_mutex_unlock(&m->mu);
}

void mx_add_tokens(struct mx *m, struct mx_model *mm, uint64_t prompt, uint64_t generated)
{
    pthread_mutex_lock(&m->mu);
    mm->prompt_tokens += prompt;
    mm->generated_tokens += generated;
    pthread_mutex_unlock(&m->mu);
}

static void hist_observe(struct mx_hist *h, double v)
{
    int i = 0;
    while (i < MX_HIST_BUCKETS - 1 && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

void mx_observe_ttft(struct mx *m, struct mx_model *mm, double seconds)
{
    pthread_mutex_lock(&m->mu);
    hist_observe(&mm->ttft, seconds);
    pthread_mutex_unlock(&m->mu);
}

void mx_observe_token(struct mx *m, struct mx_model *mm, double seconds)
{
    pthread_mutex_lock(&m->mu);
    hist_observe(&mm->per_token, seconds);
    pthread_mutex_unlock(&m->mu);
}

void mx_observe_latency(struct mx *m, struct mx_model *mm, double seconds)
{
    pthread_mutex_lock(&m->mu);
    hist_observe(&mm->latency, seconds);
    pthread_mutex_unlock(&m->mu);
}

void mx_anomaly(struct mx *m, struct mx_model *mm, enum mx_anomaly kind)
{
    pthread_mutex_lock(&m->mu);
    mm->anomalies[kind]++;
    pthread_mutex_unlock(&m->mu);
}

void mx_set_ready(struct mx *m, struct mx_model *mm, bool ready)
{
    pthread_mutex_lock(&m->mu);
    mm->ready = ready;
    pthread_mutex_unlock(&m->mu);
}

void mx_set_cache_bytes(struct mx *m, uint64_t bytes)
{
    pthread_mutex_lock(&m->mu);
    m->cache_bytes = bytes;
    pthread_mutex_unlock(&m->mu);
}

const char *mx_anomaly_name(enum mx_anomaly kind)
{
    return anomaly_names[kind];
}

static int render_hist(struct abuf *o, const char *name, const char *labels,
                       const struct mx_hist *h)
{
    uint64_t cum = 0;
    int rc = 0;
    for (int i = 0; i < MX_HIST_BUCKETS && rc == 0; i++) {
        cum += h->counts[i];
        if (i < MX_HIST_BUCKETS - 1)
            rc = abuf_printf(o, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, h->bounds[i],
                             (unsigned long long)cum);
        else
            rc = abuf_printf(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
                             (unsigned long long)cum);
    }
    if (rc == 0)
        rc = abuf_printf(o, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, h->sum, name,
                         labels, (unsigned long long)h->count);
    return rc;
}

/* One HELP/TYPE header, then a line per model from `line`. */
#define FAMILY(name, type, help)                                                                   \
    abuf_printf(o, "# HELP " name " " help "\n# TYPE " name " " type "\n")

int mx_render(struct mx *m, struct abuf *o)
{
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    /* Model names come from --model flags, which main() restricts to
     * [A-Za-z0-9._:/-], so they need no escaping inside label values. */
    rc |= FAMILY("kllm_model_ready", "gauge", "1 when the model is loaded and serving.");
    for (int i = 0; i < m->n_models; i++)
        rc |= abuf_printf(o, "kllm_model_ready{%s} %d\n", m->models[i].label,
                          m->models[i].ready ? 1 : 0);
    int loaded = 0;
    for (int i = 0; i < m->n_models; i++) loaded += m->models[i].ready;
    rc |= FAMILY("kllm_models_loaded", "gauge", "Models loaded and serving on this node.");
    rc |= abuf_printf(o, "kllm_models_loaded %d\n", loaded);
    rc |= FAMILY("kllm_model_cache_bytes", "gauge", "Bytes in the downloaded-model cache.");
    rc |= abuf_printf(o, "kllm_model_cache_bytes %llu\n", (unsigned long long)m->cache_bytes);
    rc |= FAMILY("kllm_requests_total", "counter", "Completed API requests by HTTP status.");
    for (int i = 0; i < m->n_models; i++)
        for (int c = 0; c < m->models[i].n_codes; c++)
            rc |=
                abuf_printf(o, "kllm_requests_total{%s,code=\"%d\"} %llu\n", m->models[i].label,
                            m->models[i].codes[c], (unsigned long long)m->models[i].code_counts[c]);
    rc |= FAMILY("kllm_unrouted_requests_total", "counter",
                 "API requests answered before a model was chosen (bad input, unknown model).");
    rc |= abuf_printf(o, "kllm_unrouted_requests_total %llu\n",
                      (unsigned long long)m->http_codes_other);
    if (m->proxied_ok || m->proxied_err) {
        rc |= FAMILY("kllm_proxied_requests_total", "counter",
                     "API requests this agent forwarded to a peer agent (the peer counts them "
                     "per model and revision), by outcome.");
        rc |= abuf_printf(o, "kllm_proxied_requests_total{result=\"ok\"} %llu\n",
                          (unsigned long long)m->proxied_ok);
        rc |= abuf_printf(o, "kllm_proxied_requests_total{result=\"error\"} %llu\n",
                          (unsigned long long)m->proxied_err);
    }
    rc |= FAMILY("kllm_requests_in_flight", "gauge", "Requests holding a decode slot.");
    for (int i = 0; i < m->n_models; i++)
        rc |= abuf_printf(o, "kllm_requests_in_flight{%s} %lld\n", m->models[i].label,
                          (long long)m->models[i].in_flight);
    rc |= FAMILY("kllm_requests_queued", "gauge", "Requests waiting for a decode slot.");
    for (int i = 0; i < m->n_models; i++)
        rc |= abuf_printf(o, "kllm_requests_queued{%s} %lld\n", m->models[i].label,
                          (long long)m->models[i].queued);
    rc |= FAMILY("kllm_prompt_tokens_total", "counter", "Prompt tokens processed.");
    for (int i = 0; i < m->n_models; i++)
        rc |= abuf_printf(o, "kllm_prompt_tokens_total{%s} %llu\n", m->models[i].label,
                          (unsigned long long)m->models[i].prompt_tokens);
    rc |= FAMILY("kllm_generated_tokens_total", "counter", "Tokens generated.");
    for (int i = 0; i < m->n_models; i++)
        rc |= abuf_printf(o, "kllm_generated_tokens_total{%s} %llu\n", m->models[i].label,
                          (unsigned long long)m->models[i].generated_tokens);
    rc |= FAMILY("kllm_anomalies_total", "counter",
                 "Suspicious generations: non-finite logits, empty completions, runaway "
                 "repetition.");
    for (int i = 0; i < m->n_models; i++)
        for (int k = 0; k < MX_ANOMALY_COUNT; k++)
            rc |= abuf_printf(o, "kllm_anomalies_total{%s,kind=\"%s\"} %llu\n", m->models[i].label,
                              anomaly_names[k], (unsigned long long)m->models[i].anomalies[k]);
    rc |= FAMILY("kllm_time_to_first_token_seconds", "histogram",
                 "Seconds from request arrival to its first generated token.");
    for (int i = 0; i < m->n_models; i++)
        rc |= render_hist(o, "kllm_time_to_first_token_seconds", m->models[i].label,
                          &m->models[i].ttft);
    rc |= FAMILY("kllm_time_per_output_token_seconds", "histogram",
                 "Seconds between consecutive generated tokens of one request.");
    for (int i = 0; i < m->n_models; i++)
        rc |= render_hist(o, "kllm_time_per_output_token_seconds", m->models[i].label,
                          &m->models[i].per_token);
    rc |= FAMILY("kllm_request_duration_seconds", "histogram",
                 "Seconds from request arrival to its last generated token (successful "
                 "generations; rollouts compare its p95).");
    for (int i = 0; i < m->n_models; i++)
        rc |= render_hist(o, "kllm_request_duration_seconds", m->models[i].label,
                          &m->models[i].latency);
    pthread_mutex_unlock(&m->mu);
    return rc ? ABUF_ERR_NOMEM : 0;
}
