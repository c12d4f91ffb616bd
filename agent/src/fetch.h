/* fetch: model files from http(s) into the local cache.
 *
 * A model URI "https://host/m.gguf#sha256=HEX" (the fragment is never sent
 * to the server) is downloaded with libcurl into CACHE/sha256-HEX.gguf:
 * bytes go to CACHE/sha256-HEX.gguf.part, an interrupted download resumes
 * from the part's size (HTTP Range), the whole part is checked against the
 * SHA-256 (OpenSSL) and only then renamed into place, so the final name never
 * holds a half or wrong file. A cached file is re-verified before use.
 * Progress is logged (klog) every few seconds.
 *
 * Threads: call from one thread at a time per cache file (the agent fetches
 * at start-up, from main). Errors: 0, or -1 with a one-line reason in err.
 */
#ifndef AGENT_FETCH_H
#define AGENT_FETCH_H

#include <stddef.h>
#include <stdint.h>

#define FETCH_SHA256_HEX 64

/* True for http:// and https:// URIs. */
int fetch_is_remote(const char *uri);
/* Split "URL#sha256=HEX" into url (without fragment) and the lower-case hex.
 * 0, or -1 with a reason (no or malformed sha256). */
int fetch_parse_uri(const char *uri, char *url, size_t url_cap, char sha_hex[FETCH_SHA256_HEX + 1],
                    char *err, size_t errlen);
/* SHA-256 of a file as lower-case hex. 0 or -1 (err). */
int fetch_file_sha256(const char *path, char out[FETCH_SHA256_HEX + 1], char *err, size_t errlen);
/* Make sure the model is in cache_dir; writes its path into out. max_bytes
 * (0: none) caps the download size (the cache limit: a model larger than the
 * whole cache cannot be kept). */
/* cancelled(arg) is polled during the transfer (NULL: never); when it
 * returns nonzero the download stops with an error (the part file stays). */
int fetch_model(const char *uri, const char *cache_dir, uint64_t max_bytes,
                int (*cancelled)(void *), void *arg, char *out, size_t out_cap, char *err,
                size_t errlen);
/* The same, and progress(arg, percent) is called on the downloading thread
 * as bytes arrive when the size is known (often: throttle on the caller's
 * side). progress NULL: none. */
int fetch_model_progress(const char *uri, const char *cache_dir, uint64_t max_bytes,
                         int (*cancelled)(void *), void (*progress)(void *, int), void *arg,
                         char *out, size_t out_cap, char *err, size_t errlen);

/* Keep the cache under max_bytes: delete the least recently used
 * "sha256-*" files (oldest mtime first; fetch_model refreshes the mtime of
 * the file it hands out) that are not in keep[0..n_keep). Returns the number
 * of files deleted; a cache still over the limit (everything left is in use)
 * is logged, not an error. */
int fetch_evict(const char *cache_dir, uint64_t max_bytes, const char *const *keep, int n_keep);
/* Total size of the "sha256-*" files in cache_dir (0 if it does not exist). */
uint64_t fetch_cache_bytes(const char *cache_dir);

#endif
