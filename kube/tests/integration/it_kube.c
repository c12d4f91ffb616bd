/* Integration tests of kube/ against the local control plane (make e2e):
 * CRUD + conflicts on a test CRD, subresources, pagination, 422, watch
 * 410 after an etcd compaction, informer re-list on 410, watch resume
 * across an apiserver restart, informer convergence after 1000 operations,
 * RBAC 403 for a narrow service-account token, event aggregation.
 * Leader hand-over between processes is in it_leader.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>

#include "it.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/queue.h"
#include "kube/watch.h"

static struct kube_client *C;

/* Set obj[key] = number (cJSON_Replace* only replaces existing members). */
static void set_num(cJSON *obj, const char *key, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddNumberToObject(obj, key, v);
}

static const char *state_get(const char *key, char *buf, size_t cap)
{
    char path[1024], *text = NULL;
    const char *dir = getenv("KLLM_CLUSTER_DIR");
    snprintf(path, sizeof(path), "%s/state.env", dir ? dir : "build/cluster");
    if (kube_read_file(path, 1 << 16, &text, NULL)) return NULL;
    size_t kl = strlen(key);
    const char *res = NULL;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
            snprintf(buf, cap, "%s", line + kl + 1);
            res = buf;
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return res;
}

static void test_crud_and_conflicts(void **state)
{
    const char *ns = "it-crud";
    struct kube_status st;
    cJSON *w = NULL, *got = NULL, *stale = NULL, *out = NULL;
    assert_int_equal(it_ensure_ns(C, ns), 0);

    w = it_widget(ns, "w1", "{\"app\":\"crud\"}", 1);
    assert_int_equal(kube_create(C, &it_widgets, ns, w, &got, &st), 0);
    assert_int_equal(st.code, 201);
    assert_non_null(kube_obj_rv(got));
    cJSON_Delete(got);
    assert_int_equal(kube_create(C, &it_widgets, ns, w, NULL, &st), KUBE_EEXISTS);
    assert_int_equal(st.code, 409);
    assert_string_equal(st.reason, "AlreadyExists");
    cJSON_Delete(w);

    /* Schema validation: enum violated -> 422 Invalid. */
    w = it_widget(ns, "bad", NULL, 1);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(w, "spec"), "color", cJSON_CreateString("pink"));
    assert_int_equal(kube_create(C, &it_widgets, ns, w, NULL, &st), KUBE_EINVALID);
    assert_int_equal(st.code, 422);
    assert_string_equal(st.reason, "Invalid");
    cJSON_Delete(w);

    /* Optimistic concurrency: two updates from the same read. */
    assert_int_equal(kube_get(C, &it_widgets, ns, "w1", &got, &st), 0);
    stale = cJSON_Duplicate(got, 1);
    set_num(cJSON_GetObjectItem(got, "spec"), "size", 5);
    assert_int_equal(kube_update(C, &it_widgets, ns, "w1", NULL, got, &out, &st), 0);
    assert_string_not_equal(kube_obj_rv(out), kube_obj_rv(stale));
    cJSON_Delete(out);
    set_num(cJSON_GetObjectItem(stale, "spec"), "size", 6);
    assert_int_equal(kube_update(C, &it_widgets, ns, "w1", NULL, stale, NULL, &st), KUBE_ECONFLICT);
    assert_int_equal(st.code, 409);
    assert_string_equal(st.reason, "Conflict");
    assert_non_null(strstr(st.message, "modified"));
    cJSON_Delete(got);
    cJSON_Delete(stale);

    /* Merge patch. */
    cJSON *p =
        cJSON_Parse("{\"spec\":{\"color\":\"blue\"},\"metadata\":{\"labels\":{\"x\":\"1\"}}}");
    assert_int_equal(kube_patch_merge(C, &it_widgets, ns, "w1", NULL, p, &out, &st), 0);
    assert_string_equal(kube_obj_str(out, "spec.color"), "blue");
    assert_string_equal(kube_obj_str(out, "metadata.labels.x"), "1");
    cJSON_Delete(out);
    cJSON_Delete(p);

    /* Status subresource: spec changes through /status are ignored. */
    p = cJSON_Parse(
        "{\"status\":{\"phase\":\"Ready\",\"replicas\":1},\"spec\":{\"color\":\"green\"}}");
    assert_int_equal(kube_patch_merge(C, &it_widgets, ns, "w1", "status", p, &out, &st), 0);
    assert_string_equal(kube_obj_str(out, "status.phase"), "Ready");
    assert_string_equal(kube_obj_str(out, "spec.color"), "blue");
    cJSON_Delete(out);
    cJSON_Delete(p);

    /* Scale subresource. */
    int32_t spec_r = -1, status_r = -1;
    assert_int_equal(kube_get_scale(C, &it_widgets, ns, "w1", &spec_r, &status_r, &st), 0);
    assert_int_equal(spec_r, 1);
    assert_int_equal(status_r, 1);
    assert_int_equal(kube_set_scale(C, &it_widgets, ns, "w1", 4, &st), 0);
    assert_int_equal(kube_get_scale(C, &it_widgets, ns, "w1", &spec_r, NULL, &st), 0);
    assert_int_equal(spec_r, 4);

    /* Server-side apply: a second manager conflicts unless forced. */
    w = it_widget(ns, "w1", NULL, 4);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(w, "spec"), "color", cJSON_CreateString("green"));
    assert_int_equal(kube_apply(C, &it_widgets, ns, "w1", NULL, w, "it-other", 0, NULL, &st),
                     KUBE_ECONFLICT);
    assert_int_equal(kube_apply(C, &it_widgets, ns, "w1", NULL, w, "it-other", 1, &out, &st), 0);
    assert_string_equal(kube_obj_str(out, "spec.color"), "green");
    cJSON_Delete(out);
    cJSON_Delete(w);
    w = it_widget(ns, "w-applied", NULL, 2); /* apply creates */
    assert_int_equal(kube_apply(C, &it_widgets, ns, "w-applied", NULL, w, "it", 0, NULL, &st), 0);
    cJSON_Delete(w);

    /* Delete with preconditions. */
    assert_int_equal(kube_get(C, &it_widgets, ns, "w1", &got, &st), 0);
    assert_int_equal(kube_delete(C, &it_widgets, ns, "w1", NULL, "1", &st), KUBE_ECONFLICT);
    assert_int_equal(
        kube_delete(C, &it_widgets, ns, "w1", "00000000-0000-0000-0000-000000000000", NULL, &st),
        KUBE_ECONFLICT);
    assert_int_equal(kube_delete(C, &it_widgets, ns, "w1", kube_obj_str(got, "metadata.uid"),
                                 kube_obj_rv(got), &st),
                     0);
    cJSON_Delete(got);
    assert_int_equal(kube_get(C, &it_widgets, ns, "w1", &got, &st), KUBE_ENOTFOUND);
    assert_int_equal(st.code, 404);
    assert_string_equal(st.reason, "NotFound");
    assert_int_equal(kube_delete(C, &it_widgets, ns, "w1", NULL, NULL, &st), KUBE_ENOTFOUND);
}

static void test_list_pagination_selectors(void **state)
{
    const char *ns = "it-list";
    char name[32];
    struct kube_status st;
    assert_int_equal(it_ensure_ns(C, ns), 0);
    for (int i = 0; i < 7; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        cJSON *w = it_widget(ns, name, i % 2 ? "{\"parity\":\"odd\"}" : "{\"parity\":\"even\"}", 1);
        assert_int_equal(kube_create(C, &it_widgets, ns, w, NULL, &st), 0);
        cJSON_Delete(w);
    }
    /* One page by hand: limit 3 gives a continue token. */
    struct kube_list_opts lo = {NULL, NULL, 3, NULL, NULL};
    cJSON *page = NULL;
    assert_int_equal(kube_list(C, &it_widgets, ns, &lo, &page, &st), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 3);
    assert_non_null(kube_obj_str(page, "metadata.continue"));
    assert_true(strlen(kube_obj_str(page, "metadata.continue")) > 0);
    cJSON_Delete(page);
    /* All pages. */
    cJSON *items = NULL;
    char *rv = NULL;
    assert_int_equal(kube_list_all(C, &it_widgets, ns, &lo, &items, &rv, &st), 0);
    assert_int_equal(cJSON_GetArraySize(items), 7);
    assert_non_null(rv);
    cJSON_Delete(items);
    free(rv);
    /* Label selectors (escaped into the query). */
    struct kube_list_opts sel = {"parity=odd", NULL, 2, NULL, NULL};
    assert_int_equal(kube_list_all(C, &it_widgets, ns, &sel, &items, NULL, &st), 0);
    assert_int_equal(cJSON_GetArraySize(items), 3);
    cJSON_Delete(items);
    sel.label_selector = "parity!=odd,parity";
    assert_int_equal(kube_list_all(C, &it_widgets, ns, &sel, &items, NULL, &st), 0);
    assert_int_equal(cJSON_GetArraySize(items), 4);
    cJSON_Delete(items);
}

/* --- watch --- */

struct watch_rec {
    int added, modified, deleted, bookmarks, gone, other_errors;
    int stop_after_added;
};

static int rec_event(void *ud, struct kube_event *ev)
{
    struct watch_rec *r = ud;
    switch (ev->type) {
    case KUBE_EVENT_ADDED: r->added++; break;
    case KUBE_EVENT_MODIFIED: r->modified++; break;
    case KUBE_EVENT_DELETED: r->deleted++; break;
    case KUBE_EVENT_BOOKMARK: r->bookmarks++; break;
    case KUBE_EVENT_ERROR: {
        const cJSON *code = cJSON_GetObjectItem(ev->object, "code");
        if (cJSON_IsNumber(code) && code->valueint == 410) {
            r->gone++;
            return KUBE_EGONE;
        }
        r->other_errors++;
        return KUBE_ESERVER;
    }
    }
    if (r->stop_after_added && r->added >= r->stop_after_added) return 1;
    return 0;
}

static const struct kube_resource podtemplates = {"", "v1", "podtemplates", 1};

static cJSON *podtemplate(const char *ns, const char *name)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"v1\",\"kind\":\"PodTemplate\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"%s\"},\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\","
             "\"image\":\"x\"}]}}}",
             name, ns);
    return cJSON_Parse(buf);
}

/* Compact etcd up to the current revision (podtemplates bypass the
 * apiserver's watch cache, so older resourceVersions become 410). */
static void compact_etcd(const char *rv)
{
    char ep[256], body[128];
    struct kube_config cfg = {0};
    struct kube_client *e = NULL;
    struct kube_status st;
    assert_non_null(state_get("ETCD_ENDPOINT", ep, sizeof(ep)));
    cfg.server = ep;
    assert_int_equal(kube_client_new(&cfg, NULL, &e), 0);
    snprintf(body, sizeof(body), "{\"revision\":\"%s\",\"physical\":true}", rv);
    int rc = kube_client_do(e, "POST", "/v3/kv/compaction", "application/json", body, strlen(body),
                            NULL, NULL, &st);
    if (rc) fprintf(stderr, "compaction: %s %d %s\n", kube_strerror(rc), st.code, st.message);
    assert_int_equal(rc, 0);
    kube_client_free(e);
}

static void test_watch_gone_after_compaction(void **state)
{
    const char *ns = "it-gone";
    struct kube_status st;
    char old_rv[64];
    assert_int_equal(it_ensure_ns(C, ns), 0);
    cJSON *pt = podtemplate(ns, "t0"), *out = NULL;
    assert_int_equal(kube_create(C, &podtemplates, ns, pt, &out, &st), 0);
    snprintf(old_rv, sizeof(old_rv), "%s", kube_obj_rv(out));
    cJSON_Delete(out);
    cJSON_Delete(pt);
    /* Two more writes: etcd keeps the compaction revision itself, so the
     * watch (which starts at old_rv + 1) must begin strictly before it. */
    pt = podtemplate(ns, "t1");
    assert_int_equal(kube_create(C, &podtemplates, ns, pt, NULL, &st), 0);
    cJSON_Delete(pt);
    pt = podtemplate(ns, "t2");
    assert_int_equal(kube_create(C, &podtemplates, ns, pt, &out, &st), 0);
    compact_etcd(kube_obj_rv(out));
    cJSON_Delete(out);
    cJSON_Delete(pt);

    struct watch_rec r = {0};
    struct kube_watch_opts wo = {old_rv, NULL, NULL, 1, 10, NULL};
    int rc = kube_watch(C, &podtemplates, ns, &wo, rec_event, &r, &st);
    assert_int_equal(rc, KUBE_EGONE); /* as an HTTP 410 or an ERROR event */
    assert_int_equal(r.added, 0);
}

/* --- informer helpers --- */

struct counts {
    pthread_mutex_t mu;
    int adds, updates, deletes;
};

static void on_add(void *ud, const cJSON *o)
{
    struct counts *c = ud;
    pthread_mutex_lock(&c->mu);
    c->adds++;
    pthread_mutex_unlock(&c->mu);
}
static void on_update(void *ud, const cJSON *a, const cJSON *b)
{
    struct counts *c = ud;
    pthread_mutex_lock(&c->mu);
    c->updates++;
    pthread_mutex_unlock(&c->mu);
}
static void on_delete(void *ud, const cJSON *o)
{
    struct counts *c = ud;
    pthread_mutex_lock(&c->mu);
    c->deletes++;
    pthread_mutex_unlock(&c->mu);
}

/* 1 when the informer's store has exactly the server's objects at the same
 * resourceVersions. */
static int store_matches_server(struct kube_informer *inf, const struct kube_resource *r,
                                const char *ns, const char *sel)
{
    cJSON *items = NULL, *it;
    char key[512];
    struct kube_list_opts lo = {sel, NULL, 500, NULL, NULL};
    int ok = 1;
    if (kube_list_all(C, r, ns, &lo, &items, NULL, NULL)) return 0;
    struct kube_store *s = kube_informer_store(inf);
    if ((size_t)cJSON_GetArraySize(items) != kube_store_len(s)) ok = 0;
    cJSON_ArrayForEach(it, items)
    {
        cJSON *mine = NULL;
        if (!ok) break;
        kube_obj_key(it, key, sizeof(key));
        if (kube_store_get(s, key, &mine) || strcmp(kube_obj_rv(mine), kube_obj_rv(it)) != 0)
            ok = 0;
        cJSON_Delete(mine);
    }
    cJSON_Delete(items);
    return ok;
}

static int wait_converged(struct kube_informer *inf, const char *ns, double timeout_s)
{
    double t0 = it_now();
    while (it_now() - t0 < timeout_s) {
        if (store_matches_server(inf, &it_widgets, ns, NULL)) return 1;
        it_sleep_ms(200);
    }
    return 0;
}

/* Deterministic 410: stop the informer, change things (including a delete
 * it must not miss), compact etcd past its resourceVersion, start it again:
 * the resumed watch gets 410, the informer re-lists, and the re-list diff
 * emits exactly the missed delete / add / update. */
static void test_informer_relists_on_gone(void **state)
{
    const char *ns = "it-gone2";
    struct kube_status st;
    struct counts cnt = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    struct kube_informer *inf = NULL;
    struct kube_informer_opts o = {0};
    cJSON *pt, *out = NULL;
    assert_int_equal(it_ensure_ns(C, ns), 0);
    for (int i = 0; i < 3; i++) {
        char n[16];
        snprintf(n, sizeof(n), "t%d", i);
        pt = podtemplate(ns, n);
        assert_int_equal(kube_create(C, &podtemplates, ns, pt, NULL, &st), 0);
        cJSON_Delete(pt);
    }
    o.resource = podtemplates;
    o.ns = ns;
    o.handlers = (struct kube_informer_handlers){on_add, on_update, on_delete, &cnt};
    assert_int_equal(kube_informer_new(C, &o, &inf), 0);
    assert_int_equal(kube_informer_start(inf), 0);
    assert_int_equal(kube_informer_wait_synced(inf, 30 * KUBE_SEC), 0);
    assert_int_equal(kube_store_len(kube_informer_store(inf)), 3);
    kube_informer_stop(inf);

    assert_int_equal(kube_delete(C, &podtemplates, ns, "t0", NULL, NULL, &st), 0);
    cJSON *p = cJSON_Parse("{\"metadata\":{\"labels\":{\"changed\":\"yes\"}}}");
    assert_int_equal(kube_patch_merge(C, &podtemplates, ns, "t1", NULL, p, NULL, &st), 0);
    cJSON_Delete(p);
    pt = podtemplate(ns, "t3");
    assert_int_equal(kube_create(C, &podtemplates, ns, pt, &out, &st), 0);
    cJSON_Delete(pt);
    compact_etcd(kube_obj_rv(out));
    cJSON_Delete(out);

    assert_int_equal(kube_informer_start(inf), 0);
    struct kube_informer_stats s;
    double t0 = it_now();
    for (;;) {
        kube_informer_stats(inf, &s);
        /* lists too: the store can match the server just before the
         * informer counts its re-list (a snapshot read in between saw
         * lists=1 once in CI) */
        if (s.gone >= 1 && s.lists >= 2 && store_matches_server(inf, &podtemplates, ns, NULL))
            break;
        assert_true(it_now() - t0 < 30);
        it_sleep_ms(100);
    }
    printf("  after compaction: lists=%llu gone=%llu watches=%llu\n", (unsigned long long)s.lists,
           (unsigned long long)s.gone, (unsigned long long)s.watches);
    assert_int_equal(s.lists, 2);
    pthread_mutex_lock(&cnt.mu);
    assert_int_equal(cnt.adds, 4);    /* t0 t1 t2, then t3 */
    assert_int_equal(cnt.updates, 1); /* t1; t2 unchanged emits nothing */
    assert_int_equal(cnt.deletes, 1); /* t0, missed while stopped */
    pthread_mutex_unlock(&cnt.mu);
    kube_informer_free(inf);
}

static void on_resync(void *ud, const cJSON *a, const cJSON *b)
{
    struct counts *c = ud;
    pthread_mutex_lock(&c->mu);
    if (a == b || strcmp(kube_obj_rv(a), kube_obj_rv(b)) == 0) c->updates++;
    pthread_mutex_unlock(&c->mu);
}

static void test_informer_resync(void **state)
{
    /* it-list holds 7 widgets (test_list_pagination_selectors). */
    struct counts cnt = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    struct kube_informer *inf = NULL;
    struct kube_informer_opts o = {0};
    o.resource = it_widgets;
    o.ns = "it-list";
    o.resync_ns = 1 * KUBE_SEC;
    o.handlers = (struct kube_informer_handlers){on_add, on_resync, on_delete, &cnt};
    assert_int_equal(kube_informer_new(C, &o, &inf), 0);
    assert_int_equal(kube_informer_start(inf), 0);
    assert_int_equal(kube_informer_wait_synced(inf, 30 * KUBE_SEC), 0);
    double t0 = it_now();
    for (;;) {
        pthread_mutex_lock(&cnt.mu);
        int u = cnt.updates;
        pthread_mutex_unlock(&cnt.mu);
        if (u >= 14) break; /* two rounds over 7 objects */
        assert_true(it_now() - t0 < 10);
        it_sleep_ms(100);
    }
    kube_informer_free(inf);
    assert_int_equal(cnt.adds, 7);
    assert_int_equal(cnt.deletes, 0);
}

static void test_informer_burst_1000(void **state)
{
    const char *ns = "it-burst";
    char name[32];
    struct kube_status st;
    struct counts cnt = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    struct kube_informer *inf = NULL;
    struct kube_informer_opts o = {0};
    assert_int_equal(it_ensure_ns(C, ns), 0);
    o.resource = it_widgets;
    o.ns = ns;
    o.handlers = (struct kube_informer_handlers){on_add, on_update, on_delete, &cnt};
    assert_int_equal(kube_informer_new(C, &o, &inf), 0);
    assert_int_equal(kube_informer_start(inf), 0);
    assert_int_equal(kube_informer_wait_synced(inf, 30 * KUBE_SEC), 0);
    assert_true(kube_informer_has_synced(inf));
    double t0 = it_now();
    int ops = 0;
    /* 500 creates, 300 merge patches, 200 deletes, interleaved. */
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "b%03d", i);
        cJSON *w = it_widget(ns, name, i % 3 ? "{\"g\":\"a\"}" : "{\"g\":\"b\"}", 1);
        assert_int_equal(kube_create(C, &it_widgets, ns, w, NULL, &st), 0);
        cJSON_Delete(w);
        ops++;
        if (i % 5 == 4) {
            snprintf(name, sizeof(name), "b%03d", i - 2);
            cJSON *p = cJSON_Parse("{\"spec\":{\"size\":7}}");
            assert_int_equal(kube_patch_merge(C, &it_widgets, ns, name, NULL, p, NULL, &st), 0);
            cJSON_Delete(p);
            ops++;
        }
    }
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "b%03d", i * 2);
        assert_int_equal(kube_delete(C, &it_widgets, ns, name, NULL, NULL, &st), 0);
        ops++;
        snprintf(name, sizeof(name), "b%03d", i * 2 + 1);
        cJSON *p = cJSON_Parse("{\"spec\":{\"size\":9}}");
        assert_int_equal(kube_patch_merge(C, &it_widgets, ns, name, NULL, p, NULL, &st), 0);
        cJSON_Delete(p);
        ops++;
    }
    printf("  %d operations in %.1f s\n", ops, it_now() - t0);
    assert_true(ops >= 1000);
    assert_true(wait_converged(inf, ns, 60));
    assert_int_equal(kube_store_len(kube_informer_store(inf)), 300);
    /* The label index agrees with a server-side selector. */
    cJSON *mine = NULL, *theirs = NULL;
    struct kube_list_opts lo = {"g=b", NULL, 0, NULL, NULL};
    assert_int_equal(kube_store_list(kube_informer_store(inf), ns, "g=b", &mine), 0);
    assert_int_equal(kube_list_all(C, &it_widgets, ns, &lo, &theirs, NULL, &st), 0);
    assert_int_equal(cJSON_GetArraySize(mine), cJSON_GetArraySize(theirs));
    cJSON_Delete(mine);
    cJSON_Delete(theirs);
    pthread_mutex_lock(&cnt.mu);
    printf("  handlers: %d adds, %d updates, %d deletes\n", cnt.adds, cnt.updates, cnt.deletes);
    assert_int_equal(cnt.adds, 500);
    assert_int_equal(cnt.deletes, 200);
    assert_true(cnt.updates >= 300);
    pthread_mutex_unlock(&cnt.mu);
    kube_informer_free(inf);
}

static void test_watch_resume_across_restart(void **state)
{
    const char *ns = "it-restart";
    char name[32], cmd[1024];
    struct kube_status st;
    struct counts cnt = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    struct kube_informer *inf = NULL;
    struct kube_informer_opts o = {0};
    assert_int_equal(it_ensure_ns(C, ns), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        cJSON *w = it_widget(ns, name, NULL, 1);
        assert_int_equal(kube_create(C, &it_widgets, ns, w, NULL, &st), 0);
        cJSON_Delete(w);
    }
    o.resource = it_widgets;
    o.ns = ns;
    o.handlers = (struct kube_informer_handlers){on_add, on_update, on_delete, &cnt};
    assert_int_equal(kube_informer_new(C, &o, &inf), 0);
    assert_int_equal(kube_informer_start(inf), 0);
    assert_int_equal(kube_informer_wait_synced(inf, 30 * KUBE_SEC), 0);
    assert_true(wait_converged(inf, ns, 30));
    struct kube_informer_stats before;
    kube_informer_stats(inf, &before);

    const char *dir = getenv("KLLM_CLUSTER_DIR");
    snprintf(cmd, sizeof(cmd), "./e2e/cluster/restart-apiserver.sh %s", dir ? dir : "");
    double t0 = it_now();
    assert_int_equal(system(cmd), 0);
    printf("  apiserver restarted in %.1f s\n", it_now() - t0);

    /* Changes after the restart must arrive through the resumed watch. */
    for (int i = 10; i < 20; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        cJSON *w = it_widget(ns, name, NULL, 1);
        assert_int_equal(kube_create(C, &it_widgets, ns, w, NULL, &st), 0);
        cJSON_Delete(w);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        assert_int_equal(kube_delete(C, &it_widgets, ns, name, NULL, NULL, &st), 0);
    }
    assert_true(wait_converged(inf, ns, 60));
    struct kube_informer_stats after;
    kube_informer_stats(inf, &after);
    printf("  informer: watches %llu -> %llu, lists %llu -> %llu, errors %llu, gone %llu\n",
           (unsigned long long)before.watches, (unsigned long long)after.watches,
           (unsigned long long)before.lists, (unsigned long long)after.lists,
           (unsigned long long)after.errors, (unsigned long long)after.gone);
    assert_true(after.watches > before.watches);
    pthread_mutex_lock(&cnt.mu);
    /* Nothing duplicated: exactly 20 adds and 5 deletes. */
    assert_int_equal(cnt.adds, 20);
    assert_int_equal(cnt.deletes, 5);
    pthread_mutex_unlock(&cnt.mu);
    kube_informer_free(inf);
}

static void *create_elsewhere(void *arg)
{
    it_sleep_ms(1000);
    cJSON *w = it_widget("it-bm-other", (const char *)arg, NULL, 1), *out = NULL;
    kube_create(C, &it_widgets, "it-bm-other", w, &out, NULL);
    cJSON_Delete(w);
    return out;
}

/* --- the controller pattern: informer -> queue -> workers --- */

struct ctrl {
    struct kube_informer *inf;
    struct kube_queue *q;
    pthread_mutex_t mu;
    struct kube_store *busy; /* keys being reconciled right now */
    int overlap;             /* a key on two workers at once: must stay 0 */
    int reconciles;
};

static void enqueue(struct ctrl *c, const cJSON *o)
{
    char key[256];
    if (kube_obj_key(o, key, sizeof(key)) == 0) kube_queue_add(c->q, key);
}
static void c_add(void *ud, const cJSON *o)
{
    enqueue(ud, o);
}
static void c_update(void *ud, const cJSON *a, const cJSON *b)
{
    enqueue(ud, b);
}
static void c_delete(void *ud, const cJSON *o)
{
    enqueue(ud, o);
}

/* Level-based: make status.phase say which size the spec asks for. */
static int reconcile(struct ctrl *c, const char *key)
{
    cJSON *o = NULL;
    char want[32], name[128];
    if (kube_store_get(kube_informer_store(c->inf), key, &o) == KUBE_ENOTFOUND) return 0;
    const cJSON *size = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "size");
    snprintf(want, sizeof(want), "size-%d", cJSON_IsNumber(size) ? size->valueint : 0);
    const char *phase = kube_obj_str(o, "status.phase");
    int rc = 0;
    if (!phase || strcmp(phase, want) != 0) {
        char body[128];
        snprintf(body, sizeof(body), "{\"status\":{\"phase\":\"%s\"}}", want);
        snprintf(name, sizeof(name), "%s", kube_obj_name(o));
        cJSON *p = cJSON_Parse(body);
        rc = kube_patch_merge(C, &it_widgets, kube_obj_namespace(o), name, "status", p, NULL, NULL);
        cJSON_Delete(p);
        if (rc == KUBE_ENOTFOUND) rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

static void *worker(void *arg)
{
    struct ctrl *c = arg;
    char *key;
    while (kube_queue_get(c->q, &key, -1) == 0) {
        cJSON *mark = cJSON_Parse("{\"metadata\":{\"name\":\"x\"}}"), *old = NULL;
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(mark, "metadata"), "name",
                                  cJSON_CreateString(key));
        kube_store_upsert(c->busy, mark, &old);
        pthread_mutex_lock(&c->mu);
        if (old) c->overlap++;
        c->reconciles++;
        pthread_mutex_unlock(&c->mu);
        cJSON_Delete(old);
        int rc = reconcile(c, key);
        kube_store_delete(c->busy, key, NULL);
        if (rc)
            kube_queue_add_rate_limited(c->q, key);
        else
            kube_queue_forget(c->q, key);
        kube_queue_done(c->q, key);
        free(key);
    }
    return NULL;
}

static void test_controller_pattern(void **state)
{
    const char *ns = "it-ctrl";
    char name[32];
    struct kube_status st;
    struct ctrl c = {0};
    struct kube_informer_opts o = {0};
    pthread_t w[3];
    assert_int_equal(it_ensure_ns(C, ns), 0);
    pthread_mutex_init(&c.mu, NULL);
    assert_int_equal(kube_store_new(&c.busy), 0);
    assert_int_equal(kube_queue_new(NULL, &c.q), 0);
    o.resource = it_widgets;
    o.ns = ns;
    o.handlers = (struct kube_informer_handlers){c_add, c_update, c_delete, &c};
    assert_int_equal(kube_informer_new(C, &o, &c.inf), 0);
    assert_int_equal(kube_informer_start(c.inf), 0);
    assert_int_equal(kube_informer_wait_synced(c.inf, 30 * KUBE_SEC), 0);
    for (int i = 0; i < 3; i++) pthread_create(&w[i], NULL, worker, &c);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 40; i++) {
            snprintf(name, sizeof(name), "c%02d", i);
            if (round == 0) {
                cJSON *wj = it_widget(ns, name, NULL, 1);
                assert_int_equal(kube_create(C, &it_widgets, ns, wj, NULL, &st), 0);
                cJSON_Delete(wj);
            } else {
                char body[64];
                snprintf(body, sizeof(body), "{\"spec\":{\"size\":%d}}", round * 100 + i);
                cJSON *p = cJSON_Parse(body);
                assert_int_equal(kube_patch_merge(C, &it_widgets, ns, name, NULL, p, NULL, &st), 0);
                cJSON_Delete(p);
            }
        }
    }
    /* Converged: every object's status reflects its latest spec. */
    double t0 = it_now();
    for (;;) {
        cJSON *items = NULL, *it;
        int done = 1;
        assert_int_equal(kube_list_all(C, &it_widgets, ns, NULL, &items, NULL, &st), 0);
        cJSON_ArrayForEach(it, items)
        {
            char want[32];
            const cJSON *size = cJSON_GetObjectItem(cJSON_GetObjectItem(it, "spec"), "size");
            snprintf(want, sizeof(want), "size-%d", cJSON_IsNumber(size) ? size->valueint : 0);
            const char *phase = kube_obj_str(it, "status.phase");
            if (!phase || strcmp(phase, want) != 0) done = 0;
        }
        cJSON_Delete(items);
        if (done) break;
        assert_true(it_now() - t0 < 60);
        it_sleep_ms(200);
    }
    assert_int_equal(kube_queue_shutdown_drain(c.q, 30 * KUBE_SEC), 0);
    for (int i = 0; i < 3; i++) pthread_join(w[i], NULL);
    kube_informer_free(c.inf);
    printf("  %d reconciles for 120 changes, overlap=%d\n", c.reconciles, c.overlap);
    assert_int_equal(c.overlap, 0);
    assert_true(c.reconciles >= 40);
    kube_queue_free(c.q);
    kube_store_free(c.busy);
}

static void test_bookmarks_arrive(void **state)
{
    /* The watch cache sends a bookmark 2 s before a watch's deadline when
     * the collection moved on (here: a create in another namespace that
     * this watch filters out), so timeoutSeconds=5 shows one. */
    struct kube_status st;
    struct watch_rec r = {0};
    cJSON *items = NULL, *made = NULL;
    char *rv = NULL;
    pthread_t t;
    assert_int_equal(it_ensure_ns(C, "it-bm"), 0);
    assert_int_equal(it_ensure_ns(C, "it-bm-other"), 0);
    assert_int_equal(kube_list_all(C, &it_widgets, "it-bm", NULL, &items, &rv, &st), 0);
    struct kube_watch_opts wo = {rv, NULL, NULL, 1, 5, NULL};
    pthread_create(&t, NULL, create_elsewhere, "bm1");
    double t0 = it_now();
    int rc = kube_watch(C, &it_widgets, "it-bm", &wo, rec_event, &r, &st);
    pthread_join(t, (void **)&made);
    printf("  watch ended after %.1f s: rc=%d bookmarks=%d\n", it_now() - t0, rc, r.bookmarks);
    assert_int_equal(rc, 0);
    assert_true(r.bookmarks >= 1);
    assert_int_equal(r.added, 0);
    cJSON_Delete(items);
    cJSON_Delete(made);
    free(rv);

    /* An informer's resourceVersion moves on by bookmarks alone. */
    struct kube_informer *inf = NULL;
    struct kube_informer_opts o = {0};
    char irv[64];
    o.resource = it_widgets;
    o.ns = "it-bm";
    o.watch_timeout_s = 4;
    assert_int_equal(kube_informer_new(C, &o, &inf), 0);
    assert_int_equal(kube_informer_start(inf), 0);
    assert_int_equal(kube_informer_wait_synced(inf, 30 * KUBE_SEC), 0);
    pthread_create(&t, NULL, create_elsewhere, "bm2");
    pthread_join(t, (void **)&made);
    assert_non_null(made);
    t0 = it_now();
    for (;;) {
        kube_informer_last_rv(inf, irv, sizeof(irv));
        if (strcmp(irv, kube_obj_rv(made)) == 0) break;
        assert_true(it_now() - t0 < 20);
        it_sleep_ms(100);
    }
    assert_int_equal(kube_store_len(kube_informer_store(inf)), 0);
    cJSON_Delete(made);
    kube_informer_free(inf);
}

static void test_rbac_forbidden(void **state)
{
    const char *ns = "it-rbac";
    struct kube_status st;
    static const struct kube_resource sas = {"", "v1", "serviceaccounts", 1};
    static const struct kube_resource roles = {"rbac.authorization.k8s.io", "v1", "roles", 1};
    static const struct kube_resource rbs = {"rbac.authorization.k8s.io", "v1", "rolebindings", 1};
    static const struct kube_resource secrets = {"", "v1", "secrets", 1};
    assert_int_equal(it_ensure_ns(C, ns), 0);
    cJSON *o = cJSON_Parse(
        "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"narrow\"}}");
    int rc = kube_create(C, &sas, ns, o, NULL, &st);
    assert_true(rc == 0 || rc == KUBE_EEXISTS);
    cJSON_Delete(o);
    o = cJSON_Parse("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
                    "\"metadata\":{\"name\":\"widget-reader\"},\"rules\":[{\"apiGroups\":["
                    "\"kubetest.kllm.io\"],\"resources\":[\"widgets\"],\"verbs\":[\"get\","
                    "\"list\",\"watch\"]}]}");
    rc = kube_create(C, &roles, ns, o, NULL, &st);
    assert_true(rc == 0 || rc == KUBE_EEXISTS);
    cJSON_Delete(o);
    o = cJSON_Parse("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
                    "\"metadata\":{\"name\":\"narrow-reads\"},\"roleRef\":{\"apiGroup\":"
                    "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"widget-reader\"},"
                    "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"narrow\","
                    "\"namespace\":\"it-rbac\"}]}");
    rc = kube_create(C, &rbs, ns, o, NULL, &st);
    assert_true(rc == 0 || rc == KUBE_EEXISTS);
    cJSON_Delete(o);
    cJSON *w = it_widget(ns, "visible", NULL, 1);
    rc = kube_create(C, &it_widgets, ns, w, NULL, &st);
    assert_true(rc == 0 || rc == KUBE_EEXISTS);
    cJSON_Delete(w);

    /* The token controller (kube-controller-manager) fills the SA's secret. */
    char *token = NULL;
    double t0 = it_now();
    while (!token) {
        cJSON *sa = NULL, *sec = NULL;
        assert_int_equal(kube_get(C, &sas, ns, "narrow", &sa, &st), 0);
        const cJSON *secs = cJSON_GetObjectItem(sa, "secrets");
        const char *sname =
            cJSON_GetArraySize(secs) > 0 ? kube_obj_str(cJSON_GetArrayItem(secs, 0), "name") : NULL;
        if (sname && kube_get(C, &secrets, ns, sname, &sec, &st) == 0) {
            const char *b64 = kube_obj_str(sec, "data.token");
            unsigned char *raw = NULL;
            size_t n = 0;
            if (b64 && kube_base64_decode(b64, &raw, &n) == 0) token = (char *)raw;
        }
        cJSON_Delete(sa);
        cJSON_Delete(sec);
        assert_true(it_now() - t0 < 60);
        if (!token) it_sleep_ms(250);
    }

    /* A client with only that token (and the cluster CA). */
    struct kube_config admin, cfg = {0};
    struct kube_client *narrow = NULL;
    assert_int_equal(kube_config_load_file(&admin, NULL, NULL, NULL, 0), 0);
    cfg.server = admin.server;
    cfg.ca_file = admin.ca_file;
    cfg.token = token;
    assert_int_equal(kube_client_new(&cfg, NULL, &narrow), 0);
    cJSON *got = NULL;
    assert_int_equal(kube_get(narrow, &it_widgets, ns, "visible", &got, &st), 0);
    cJSON_Delete(got);
    assert_int_equal(kube_list(narrow, &it_widgets, ns, NULL, &got, &st), 0);
    cJSON_Delete(got);
    assert_int_equal(kube_list(narrow, &it_widgets, "default", NULL, &got, &st), KUBE_EFORBIDDEN);
    assert_int_equal(st.code, 403);
    assert_string_equal(st.reason, "Forbidden");
    assert_non_null(strstr(st.message, "system:serviceaccount:it-rbac:narrow"));
    w = it_widget(ns, "not-allowed", NULL, 1);
    assert_int_equal(kube_create(narrow, &it_widgets, ns, w, NULL, &st), KUBE_EFORBIDDEN);
    cJSON_Delete(w);
    assert_int_equal(kube_delete(narrow, &it_widgets, ns, "visible", NULL, NULL, &st),
                     KUBE_EFORBIDDEN);
    assert_int_equal(kube_get(narrow, &secrets, ns, "anything", &got, &st), KUBE_EFORBIDDEN);
    /* A token file is re-read when it changes (service-account rotation). */
    {
        const char *tf = "build/kube-it/rotating.token";
        struct kube_config fcfg = {0};
        struct kube_client *fc = NULL;
        FILE *f = fopen(tf, "w");
        assert_non_null(f);
        fprintf(f, "%s\n", token);
        fclose(f);
        fcfg.server = admin.server;
        fcfg.ca_file = admin.ca_file;
        fcfg.token_file = (char *)tf;
        assert_int_equal(kube_client_new(&fcfg, NULL, &fc), 0);
        assert_int_equal(kube_get(fc, &it_widgets, ns, "visible", &got, &st), 0);
        cJSON_Delete(got);
        it_sleep_ms(20); /* a distinct mtime */
        f = fopen(tf, "w");
        assert_non_null(f);
        fprintf(f, "revoked\n");
        fclose(f);
        assert_int_equal(kube_get(fc, &it_widgets, ns, "visible", &got, &st), KUBE_EUNAUTHORIZED);
        kube_client_free(fc);
        unlink(tf);
    }
    /* A wrong token is 401, not 403. */
    cfg.token = "not-a-token";
    struct kube_client *anon = NULL;
    assert_int_equal(kube_client_new(&cfg, NULL, &anon), 0);
    assert_int_equal(kube_get(anon, &it_widgets, ns, "visible", &got, &st), KUBE_EUNAUTHORIZED);
    kube_client_free(anon);
    kube_client_free(narrow);
    kube_config_deinit(&admin);
    free(token);
}

static void test_events_aggregate(void **state)
{
    const char *ns = "it-events";
    static const struct kube_resource evs = {"", "v1", "events", 1};
    struct kube_recorder *r = NULL;
    struct kube_status st;
    assert_int_equal(it_ensure_ns(C, ns), 0);
    assert_int_equal(kube_recorder_new(C, "kube-it", "localhost", &r), 0);
    struct kube_object_ref ref = {"kubetest.kllm.io/v1", "Widget", ns, "ev-target", NULL};
    for (int i = 0; i < 3; i++)
        assert_int_equal(kube_recorder_event(r, &ref, "Warning", "Flapping", "it went down"), 0);
    assert_int_equal(kube_recorder_event(r, &ref, "Normal", "Recovered", "back up"), 0);
    cJSON *items = NULL, *e;
    struct kube_list_opts lo = {NULL, "involvedObject.name=ev-target", 0, NULL, NULL};
    assert_int_equal(kube_list_all(C, &evs, ns, &lo, &items, NULL, &st), 0);
    assert_int_equal(cJSON_GetArraySize(items), 2);
    int found = 0;
    cJSON_ArrayForEach(e, items)
    {
        if (strcmp(kube_obj_str(e, "reason"), "Flapping") == 0) {
            found = 1;
            assert_int_equal(cJSON_GetObjectItem(e, "count")->valueint, 3);
            assert_string_equal(kube_obj_str(e, "source.component"), "kube-it");
        }
    }
    assert_true(found);
    cJSON_Delete(items);
    kube_recorder_free(r);
}

int main(void)
{
    C = it_client();
    if (!C) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud_and_conflicts),
        cmocka_unit_test(test_list_pagination_selectors),
        cmocka_unit_test(test_watch_gone_after_compaction),
        cmocka_unit_test(test_informer_relists_on_gone),
        cmocka_unit_test(test_informer_resync),
        cmocka_unit_test(test_informer_burst_1000),
        cmocka_unit_test(test_controller_pattern),
        cmocka_unit_test(test_bookmarks_arrive),
        cmocka_unit_test(test_rbac_forbidden),
        cmocka_unit_test(test_events_aggregate),
        cmocka_unit_test(test_watch_resume_across_restart),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kube_client_free(C);
    return rc;
}
