/* op_scrape: the cache of agents' /metrics pages that the reconcilers read
 * (docs/operator.md, "Scraping").
 *
 * The worker never waits for an agent: it asks the cache for an endpoint's
 * page and gets what the scraper thread (op_scraper.h) fetched last, or
 * "unknown". Asking is also how an endpoint becomes a scrape target; one
 * not asked for during idle_ms is dropped. One page per endpoint serves
 * every replica and Model on that agent.
 *
 *   worker                         scraper thread
 *   op_scrape_cache_get(ep) ---->  op_scrape_cache_targets() every period
 *     OK: a copy of the page       fetch all at once, short timeout
 *     PENDING / FAILED / STALE <-- op_scrape_cache_put(ep, page or NULL)
 *
 * States: PENDING (never fetched yet: wait, do not judge), FAILED (the
 * last fetch failed: no answer, timeout, not 200, too big), STALE (the last
 * good page is older than max_age_ms: the scraper is behind), OK. Only OK
 * is data; the rest mean "unknown", never "zero load".
 *
 * Ownership: the cache copies endpoints; put takes the page; get and
 * targets return copies the caller frees. Threads: every function may be
 * called from any thread (one mutex inside); _free when no one else uses
 * it. Time: now_ms from the caller's monotonic clock.
 */
#ifndef OP_SCRAPE_H
#define OP_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#define OP_SCRAPE_MAX_TARGETS 1024
#define OP_SCRAPE_MAX_ENDPOINT 256

enum op_scrape_state {
    OP_SCRAPE_OK = 0,
    OP_SCRAPE_PENDING = 1,
    OP_SCRAPE_FAILED = 2,
    OP_SCRAPE_STALE = 3,
};

struct op_scrape_cache_opts {
    int64_t max_age_ms; /* a page older than this is STALE */
    int64_t idle_ms;    /* an endpoint not asked for this long is dropped */
};

struct op_scrape_cache;

/* NULL on allocation failure or a bad option (<= 0). */
struct op_scrape_cache *op_scrape_cache_new(const struct op_scrape_cache_opts *o);
void op_scrape_cache_free(struct op_scrape_cache *c);

/* The state of endpoint's page; with OK and text non-NULL, *text is a new
 * copy of the page (caller frees; NULL on allocation failure, state OK
 * still) and *fetched_ms, when non-NULL, when it was fetched. Registers
 * the endpoint as a target (PENDING) when it is new; when the table is
 * full or endpoint is empty or longer than OP_SCRAPE_MAX_ENDPOINT the
 * answer is FAILED. */
enum op_scrape_state op_scrape_cache_get(struct op_scrape_cache *c, const char *endpoint,
                                         int64_t now_ms, char **text, int64_t *fetched_ms);

/* The endpoints to scrape now, as a new array of new strings (caller frees
 * each and the array; NULL when none or on allocation failure); drops
 * those not asked for during idle_ms. Returns the count. */
size_t op_scrape_cache_targets(struct op_scrape_cache *c, int64_t now_ms, char ***out);

/* One fetch's outcome: page (taken, NUL-terminated) on success, NULL when
 * it failed. Ignored (page freed) for an endpoint that is not a target. */
void op_scrape_cache_put(struct op_scrape_cache *c, const char *endpoint, char *page,
                         int64_t now_ms);

/* A response body for libcurl (CURLOPT_WRITEFUNCTION op_capbuf_write,
 * CURLOPT_WRITEDATA the buffer, zeroed but for max): p grows as the body
 * arrives and stays NUL-terminated; a body over max bytes fails the
 * transfer. op_capbuf_take hands the body over ("" when empty, NULL when
 * out of memory) and leaves the buffer empty; free(p) otherwise. */
struct op_capbuf {
    char *p;
    size_t len, cap, max;
};
size_t op_capbuf_write(char *data, size_t size, size_t nmemb, void *ud);
char *op_capbuf_take(struct op_capbuf *b);

#endif
