/* op_scraper: the thread that fetches agents' /metrics pages into an
 * op_scrape cache (op_scrape.h), so that no reconcile waits for an agent.
 *
 * Every period_ms it takes the cache's targets and fetches all of them at
 * once (one libcurl multi handle), each with timeout_ms for connect plus
 * transfer and a size cap; a hung or slow agent costs one timeout in this
 * thread and nothing elsewhere. op_scraper_kick starts a round now (a new
 * target should not wait a whole period).
 *
 * Ownership: the cache is borrowed and must outlive the scraper. Threads:
 * new/start/stop/free from one controlling thread; kick and the counters
 * from any thread.
 */
#ifndef OP_SCRAPER_H
#define OP_SCRAPER_H

#include <stddef.h>
#include <stdint.h>

#include "op_scrape.h"

struct op_scraper_opts {
    struct op_scrape_cache *cache;
    int64_t period_ms;  /* between rounds */
    int64_t timeout_ms; /* per fetch */
    size_t max_bytes;   /* a bigger page is a failed fetch */
};

struct op_scraper;

/* NULL on allocation failure or a bad option. */
struct op_scraper *op_scraper_new(const struct op_scraper_opts *o);
/* Starts the thread; 0, or -1 when it could not be started. */
int op_scraper_start(struct op_scraper *s);
/* Stops the thread (waits at most one fetch timeout); safe when not started. */
void op_scraper_stop(struct op_scraper *s);
void op_scraper_free(struct op_scraper *s);
void op_scraper_kick(struct op_scraper *s);
/* Fetches done and of them failed, since start. */
void op_scraper_counts(struct op_scraper *s, uint64_t *fetches, uint64_t *failures);

#endif
