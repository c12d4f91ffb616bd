/* Integration test of leader election between processes: this program
 * re-executes itself as candidates ("it_leader candidate ID FILE"), each
 * writing "leader"/"follower" to FILE. Checks: one leader at a time; after
 * the leader is SIGKILLed a follower takes over only once the 15 s lease
 * has run out; after a SIGTERM the leader releases the Lease and a follower
 * takes over within a retry period or two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it.h"
#include "kube/leader.h"

static const struct kube_resource leases = {"coordination.k8s.io", "v1", "leases", 1};
static const char *NS = "it-leader";
static const char *LEASE = "it-lease";
static char self[1024];

/* --- candidate side --- */

static volatile sig_atomic_t term;
static const char *state_file;

static void on_term(int sig)
{
    term = 1;
}

static void write_state(const char *s)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", state_file);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%s\n", s);
    fclose(f);
    rename(tmp, state_file);
}

static void started(void *ud)
{
    write_state("leader");
}
static void stopped(void *ud)
{
    write_state("follower");
}

static int candidate(const char *id, const char *file)
{
    struct kube_client *c = it_client();
    struct kube_leader *le = NULL;
    struct kube_leader_opts o = {0};
    if (!c) return 2;
    state_file = file;
    write_state("follower");
    signal(SIGTERM, on_term);
    o.ns = NS;
    o.name = LEASE;
    o.identity = id;
    o.on_started = started;
    o.on_stopped = stopped;
    if (kube_leader_new(c, &o, &le) || kube_leader_start(le)) return 3;
    while (!term) it_sleep_ms(50);
    kube_leader_free(le); /* stops and releases the lease */
    write_state("exited");
    kube_client_free(c);
    return 0;
}

/* --- test side --- */

struct cand {
    pid_t pid;
    char file[256];
};

static void spawn(struct cand *c, const char *id)
{
    snprintf(c->file, sizeof(c->file), "build/kube-it/leader-%s.state", id);
    unlink(c->file);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        execl(self, self, "candidate", id, c->file, (char *)NULL);
        _exit(127);
    }
}

static int is(const struct cand *c, const char *what)
{
    char buf[32] = "";
    FILE *f = fopen(c->file, "r");
    if (!f) return 0;
    if (!fgets(buf, sizeof(buf), f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return strcmp(buf, what) == 0;
}

/* Seconds until c reports what, or -1 after timeout_s. */
static double wait_for(const struct cand *c, const char *what, double timeout_s)
{
    double t0 = it_now();
    while (it_now() - t0 < timeout_s) {
        if (is(c, what)) return it_now() - t0;
        it_sleep_ms(100);
    }
    return -1;
}

static char *holder(struct kube_client *c)
{
    cJSON *l = NULL;
    if (kube_get(c, &leases, NS, LEASE, &l, NULL)) return NULL;
    const char *h = kube_obj_str(l, "spec.holderIdentity");
    char *r = strdup(h ? h : "");
    cJSON_Delete(l);
    return r;
}

static void test_handover(void **state)
{
    struct kube_client *c = it_client();
    struct cand a = {0}, b = {0}, d = {0};
    char *h;
    int status;
    assert_non_null(c);
    assert_int_equal(it_ensure_ns(c, NS), 0);
    kube_delete(c, &leases, NS, LEASE, NULL, NULL, NULL);

    spawn(&a, "a");
    assert_true(wait_for(&a, "leader", 20) >= 0);
    spawn(&b, "b");
    assert_true(wait_for(&b, "follower", 10) >= 0);
    it_sleep_ms(5000);
    assert_true(is(&a, "leader"));
    assert_true(is(&b, "follower"));
    h = holder(c);
    assert_string_equal(h, "a");
    free(h);

    /* The holder dies without releasing: B must wait out the lease. */
    kill(a.pid, SIGKILL);
    waitpid(a.pid, &status, 0);
    double t = wait_for(&b, "leader", 40);
    printf("  hand-over after SIGKILL: %.1f s (lease 15 s)\n", t);
    assert_true(t >= 11.0);
    h = holder(c);
    assert_string_equal(h, "b");
    free(h);

    /* Graceful: B releases on SIGTERM, D takes over quickly. */
    spawn(&d, "d");
    assert_true(wait_for(&d, "follower", 10) >= 0);
    it_sleep_ms(3000);
    assert_true(is(&d, "follower"));
    kill(b.pid, SIGTERM);
    waitpid(b.pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(is(&b, "exited"));
    t = wait_for(&d, "leader", 20);
    printf("  hand-over after release: %.1f s\n", t);
    assert_true(t >= 0 && t < 8.0);

    kill(d.pid, SIGTERM);
    waitpid(d.pid, &status, 0);
    h = holder(c);
    assert_string_equal(h, ""); /* released */
    free(h);
    kube_client_free(c);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "candidate") == 0) return candidate(argv[2], argv[3]);
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return 1;
    self[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
