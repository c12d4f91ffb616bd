/* fetch: resumable, SHA-256-verified model downloads (see fetch.h). */
#include "fetch.h"

#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "klog.h"

#define PROGRESS_EVERY_S 5
#define FETCH_ATTEMPTS 3

int fetch_is_remote(const char *uri)
{
    return strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0;
}

int fetch_parse_uri(const char *uri, char *url, size_t url_cap, char sha_hex[FETCH_SHA256_HEX + 1],
                    char *err, size_t errlen)
{
    const char *frag = strchr(uri, '#');
    if (!frag || strncmp(frag, "#sha256=", 8) != 0) {
        snprintf(err, errlen, "%s: http(s) models need '#sha256=<64 hex digits>'", uri);
        return -1;
    }
    const char *h = frag + 8;
    if (strlen(h) != FETCH_SHA256_HEX) goto bad;
    for (int i = 0; i < FETCH_SHA256_HEX; i++) {
        if (!isxdigit((unsigned char)h[i])) goto bad;
        sha_hex[i] = (char)tolower((unsigned char)h[i]);
    }
    sha_hex[FETCH_SHA256_HEX] = '\0';
    if ((size_t)(frag - uri) >= url_cap) {
        snprintf(err, errlen, "model URL is too long");
        return -1;
    }
    memcpy(url, uri, (size_t)(frag - uri));
    url[frag - uri] = '\0';
    return 0;
bad:
    snprintf(err, errlen, "%s: sha256 must be 64 hex digits", uri);
    return -1;
}

int fetch_file_sha256(const char *path, char out[FETCH_SHA256_HEX + 1], char *err, size_t errlen)
{
    int rc = -1;
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        snprintf(err, errlen, "sha256: cannot initialise");
        goto out;
    }
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(ctx, buf, n);
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s", path);
        goto out;
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    for (unsigned i = 0; i < mdlen && i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[FETCH_SHA256_HEX] = '\0';
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    if (f) fclose(f);
    return rc;
}

struct dl {
    FILE *f;
    CURL *curl;
    uint64_t offset; /* bytes already in the part file when this attempt began */
    int checked;     /* the response code was looked at */
    time_t last_log;
    const char *name;
    int (*cancelled)(void *);
    void (*progress)(void *, int);
    void *arg;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct dl *d = arg;
    if (!d->checked) {
        long code = 0;
        curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
        /* A server that ignores Range sends the whole file again: start over. */
        if (code == 200 && d->offset > 0) {
            if (ftruncate(fileno(d->f), 0) != 0 || fseek(d->f, 0, SEEK_SET) != 0) return 0;
            d->offset = 0;
        }
        d->checked = 1;
    }
    return fwrite(p, size, n, d->f);
}

static int on_progress(void *arg, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    struct dl *d = arg;
    if (d->cancelled && d->cancelled(d->arg)) return 1; /* aborts the transfer */
    if (d->progress && total > 0)
        d->progress(d->arg, (int)(100.0 * (double)(d->offset + (uint64_t)now) /
                                  (double)(d->offset + (uint64_t)total)));
    time_t t = time(NULL);
    if (t - d->last_log < PROGRESS_EVERY_S) return 0;
    d->last_log = t;
    char got[32], pct[16];
    snprintf(got, sizeof got, "%llu", (unsigned long long)(d->offset + (uint64_t)now));
    if (total > 0)
        snprintf(pct, sizeof pct, "%.0f",
                 100.0 * (double)(d->offset + (uint64_t)now) /
                     (double)(d->offset + (uint64_t)total));
    else
        snprintf(pct, sizeof pct, "?");
    const char *kv[] = {"file", d->name, "bytes", got, "percent", pct, NULL};
    klog_kv(KLOG_INFO, "fetch", "downloading", kv);
    return 0;
}

/* One download attempt into part (appending). 0 or -1 (err). */
static int download(const char *url, const char *part, const char *name, uint64_t max_bytes,
                    int (*cancelled)(void *), void (*progress)(void *, int), void *arg, char *err,
                    size_t errlen)
{
    int rc = -1;
    struct dl d = {.name = name,
                   .last_log = time(NULL),
                   .cancelled = cancelled,
                   .progress = progress,
                   .arg = arg};
    char cerr[CURL_ERROR_SIZE] = "";
    d.f = fopen(part, "ab");
    if (!d.f) {
        snprintf(err, errlen, "cannot write %s: %s", part, strerror(errno));
        goto out;
    }
    struct stat st;
    d.offset = fstat(fileno(d.f), &st) == 0 ? (uint64_t)st.st_size : 0;
    d.curl = curl_easy_init();
    if (!d.curl) {
        snprintf(err, errlen, "cannot initialise libcurl");
        goto out;
    }
    curl_easy_setopt(d.curl, CURLOPT_URL, url);
    curl_easy_setopt(d.curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(d.curl, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(d.curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(d.curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(d.curl, CURLOPT_LOW_SPEED_LIMIT, 1L); /* stalled for 60 s: give up */
    curl_easy_setopt(d.curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(d.curl, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(d.curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(d.curl, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(d.curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(d.curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(d.curl, CURLOPT_XFERINFODATA, &d);
    if (max_bytes) curl_easy_setopt(d.curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    if (d.offset) curl_easy_setopt(d.curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d.offset);
    CURLcode cc = curl_easy_perform(d.curl);
    if (cc == CURLE_HTTP_RETURNED_ERROR && d.offset) {
        long code = 0;
        curl_easy_getinfo(d.curl, CURLINFO_RESPONSE_CODE, &code);
        if (code == 416) cc = CURLE_OK; /* the part is already complete */
    }
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "download of %s failed: %s", url,
                 cerr[0] ? cerr : curl_easy_strerror(cc));
        goto out;
    }
    if (fflush(d.f) != 0 || fsync(fileno(d.f)) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", part, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (d.curl) curl_easy_cleanup(d.curl);
    if (d.f) fclose(d.f);
    return rc;
}

/* mkdir -p */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char p[4096];
    int n = snprintf(p, sizeof p, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof p) {
        snprintf(err, errlen, "cache dir path too long");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create cache dir %s: %s", p, strerror(errno));
            return -1;
        }
        *s = c;
        if (c == '\0') break;
    }
    return 0;
}

int fetch_model(const char *uri, const char *cache_dir, uint64_t max_bytes,
                int (*cancelled)(void *), void *arg, char *out, size_t out_cap, char *err,
                size_t errlen)
{
    return fetch_model_progress(uri, cache_dir, max_bytes, cancelled, NULL, arg, out, out_cap, err,
                                errlen);
}

int fetch_model_progress(const char *uri, const char *cache_dir, uint64_t max_bytes,
                         int (*cancelled)(void *), void (*progress)(void *, int), void *arg,
                         char *out, size_t out_cap, char *err, size_t errlen)
{
    char url[2048], want[FETCH_SHA256_HEX + 1], got[FETCH_SHA256_HEX + 1], part[4096];
    if (fetch_parse_uri(uri, url, sizeof url, want, err, errlen) < 0) return -1;
    if (make_dirs(cache_dir, err, errlen) < 0) return -1;
    int n = snprintf(out, out_cap, "%s/sha256-%s.gguf", cache_dir, want);
    if (n < 0 || (size_t)n >= out_cap || (size_t)n + 6 > sizeof part) {
        snprintf(err, errlen, "cache path too long");
        return -1;
    }
    snprintf(part, sizeof part, "%s.part", out);

    if (access(out, R_OK) == 0) {
        if (fetch_file_sha256(out, got, err, errlen) == 0 && strcmp(got, want) == 0) {
            utimensat(AT_FDCWD, out, NULL, 0); /* most recently used */
            const char *kv[] = {"file", out, NULL};
            klog_kv(KLOG_INFO, "fetch", "cached model verified", kv);
            return 0;
        }
        const char *kv[] = {"file", out, NULL};
        klog_kv(KLOG_WARN, "fetch", "cached model does not match its sha256; downloading again",
                kv);
        unlink(out);
    }
    const char *kv[] = {"url", url, "file", out, NULL};
    klog_kv(KLOG_INFO, "fetch", "downloading model", kv);
    /* An interrupted transfer keeps its part file; the next attempt (or the
     * next start of the agent) resumes from there. */
    int attempt = 1;
    while (download(url, part, out, max_bytes, cancelled, progress, arg, err, errlen) < 0) {
        if (attempt == FETCH_ATTEMPTS || (cancelled && cancelled(arg))) return -1;
        const char *wkv[] = {"url", url, "error", err, NULL};
        klog_kv(KLOG_WARN, "fetch", "download interrupted; resuming", wkv);
        sleep((unsigned)attempt++);
    }
    if (fetch_file_sha256(part, got, err, errlen) < 0) return -1;
    if (strcmp(got, want) != 0) {
        unlink(part);
        snprintf(err, errlen, "sha256 mismatch for %s: got %s, want %s", url, got, want);
        return -1;
    }
    if (rename(part, out) != 0) {
        snprintf(err, errlen, "cannot rename %s: %s", part, strerror(errno));
        return -1;
    }
    klog_kv(KLOG_INFO, "fetch", "model downloaded and verified", kv);
    return 0;
}

struct centry {
    char path[4096];
    uint64_t size;
    struct timespec mtime;
};

static int by_mtime(const void *a, const void *b)
{
    const struct centry *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return 0;
}

uint64_t fetch_cache_bytes(const char *cache_dir)
{
    uint64_t total = 0;
    DIR *d = opendir(cache_dir);
    if (!d) return 0;
    const struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char p[4096];
        struct stat st;
        if (strncmp(de->d_name, "sha256-", 7) != 0) continue;
        int n = snprintf(p, sizeof p, "%s/%s", cache_dir, de->d_name);
        if (n > 0 && (size_t)n < sizeof p && stat(p, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

int fetch_evict(const char *cache_dir, uint64_t max_bytes, const char *const *keep, int n_keep)
{
    struct centry *e = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    int deleted = 0;
    DIR *d = opendir(cache_dir);
    if (!d) return 0;
    const struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "sha256-", 7) != 0) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct centry *ne = realloc(e, nc * sizeof *e);
            if (!ne) break;
            e = ne;
            cap = nc;
        }
        struct stat st;
        int len = snprintf(e[n].path, sizeof e[n].path, "%s/%s", cache_dir, de->d_name);
        if (len < 0 || (size_t)len >= sizeof e[n].path || stat(e[n].path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        e[n].size = (uint64_t)st.st_size;
        e[n].mtime = st.st_mtim;
        total += e[n].size;
        n++;
    }
    closedir(d);
    if (n) qsort(e, n, sizeof *e, by_mtime);
    for (size_t i = 0; i < n && total > max_bytes; i++) {
        bool in_use = false;
        for (int k = 0; k < n_keep && !in_use; k++) in_use = strcmp(keep[k], e[i].path) == 0;
        if (in_use || unlink(e[i].path) != 0) continue;
        total -= e[i].size;
        deleted++;
        char sz[24];
        snprintf(sz, sizeof sz, "%llu", (unsigned long long)e[i].size);
        const char *kv[] = {"file", e[i].path, "bytes", sz, NULL};
        klog_kv(KLOG_INFO, "fetch", "evicted from the model cache", kv);
    }
    if (total > max_bytes) {
        char t[24], m[24];
        snprintf(t, sizeof t, "%llu", (unsigned long long)total);
        snprintf(m, sizeof m, "%llu", (unsigned long long)max_bytes);
        const char *kv[] = {"dir", cache_dir, "bytes", t, "max", m, NULL};
        klog_kv(KLOG_WARN, "fetch", "model cache over its limit; the rest is in use", kv);
    }
    free(e);
    return deleted;
}
