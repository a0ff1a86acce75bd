// SPDX-License-Identifier: GPL-2.0
/*
 * The harness: KTAP output, the state of the running case, and each case
 * run in a forked child so that a crash or a hang fails that case only.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/*
 * What the running case found. Shared memory while the suite runs, so
 * that the case's own children and threads report into it as well.
 */
struct case_state {
	int failed;
	char skip[160];
};

static struct case_state own_state;
static struct case_state *state = &own_state;

void case_begin(void)
{
	state->failed = 0;
	state->skip[0] = '\0';
}

bool case_failed(void)
{
	return state->failed;
}

void case_fail(void)
{
	state->failed = 1;
}

void skip(const char *why)
{
	snprintf(state->skip, sizeof(state->skip), "%s", why);
}

void skip_load(const char *why)
{
	snprintf(state->skip, sizeof(state->skip), SKIP_LOAD_PREFIX "%s", why);
}

void harness_fail(const char *file, int line, bool fatal, const char *fmt, ...)
{
	char *copy = strdup(file);
	int err = errno;
	va_list ap;

	state->failed = 1;
	/* "# line N:" first: scripts/test.sh shows these lines of a guest log. */
	printf("# line %d: %s: expected ", line, copy ? basename(copy) : file);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(", errno %d (%s)\n", err, strerror(err));
	free(copy);
	if (fatal) {
		fflush(stdout);
		/* In a case's child this ends the case; elsewhere the mode. */
		_exit(1);
	}
	errno = err;
}

void ktap_plan(struct ktap *k, int planned)
{
	memset(k, 0, sizeof(*k));
	printf("KTAP version 1\n1..%d\n", planned);
}

/* vprintf()'s format is the caller's, checked where it is written. */
static void ktap_vresult(struct ktap *k, enum ktap_verdict v, const char *why,
			 const char *fmt, va_list ap) __attribute__
	((format(printf, 4, 0)));

static void ktap_vresult(struct ktap *k, enum ktap_verdict v, const char *why,
			 const char *fmt, va_list ap)
{
	printf("%s %d - ", v == KTAP_FAIL ? "not ok" : "ok", ++k->n);
	vprintf(fmt, ap);
	if (v == KTAP_SKIP)
		printf(" # SKIP %s", why);
	else if (why && *why)
		printf(" # %s", why);
	printf("\n");
	fflush(stdout);
	if (v == KTAP_PASS)
		k->pass++;
	else if (v == KTAP_FAIL)
		k->fail++;
	else
		k->skip++;
}

void ktap_result(struct ktap *k, enum ktap_verdict v, const char *why,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_vresult(k, v, why, fmt, ap);
	va_end(ap);
}

void ktap_case_result(struct ktap *k, const char *fmt, ...)
{
	enum ktap_verdict v = KTAP_PASS;
	va_list ap;

	if (state->failed)
		v = KTAP_FAIL;
	else if (state->skip[0])
		v = KTAP_SKIP;
	va_start(ap, fmt);
	ktap_vresult(k, v, state->skip, fmt, ap);
	va_end(ap);
}

int ktap_end(struct ktap *k)
{
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       k->pass, k->fail, k->skip);
	printf("memdriver_test: %d passed, %d failed\n", k->pass, k->fail);
	return k->fail ? 1 : 0;
}

void harness_memeq(const char *file, int line, bool fatal, const char *a_text,
		   const char *b_text, const void *a, const void *b, size_t len)
{
	const unsigned char *pa = a, *pb = b;
	char got[3 * 8 + 1] = "", want[3 * 8 + 1] = "";
	size_t off, i;

	for (off = 0; off < len && pa[off] == pb[off]; off++)
		;
	if (off == len)
		return;
	for (i = 0; i < 8 && off + i < len; i++) {
		sprintf(got + 3 * i, " %02x", pa[off + i]);
		sprintf(want + 3 * i, " %02x", pb[off + i]);
	}
	harness_fail(file, line, fatal, "%s == %s for %zu bytes, differ at %zu:%s vs%s",
		     a_text, b_text, len, off, got, want);
}

void harness_log(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static const char *signal_text(int sig)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = {
		{ SIGSEGV, "SIGSEGV" }, { SIGBUS, "SIGBUS" }, { SIGABRT, "SIGABRT" },
		{ SIGFPE, "SIGFPE" }, { SIGILL, "SIGILL" }, { SIGKILL, "SIGKILL" },
		{ SIGTERM, "SIGTERM" }, { SIGPIPE, "SIGPIPE" },
	};
	static char other[32];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].sig == sig)
			return names[i].name;
	snprintf(other, sizeof(other), "signal %d", sig);
	return other;
}

/* MEMDRIVER_TEST_TIMEOUT_SCALE: slow guests (debug kernels) multiply. */
static unsigned int case_timeout(const struct test_case *c)
{
	const char *scale = getenv("MEMDRIVER_TEST_TIMEOUT_SCALE");
	unsigned int t = c->timeout ? c->timeout : HARNESS_TIMEOUT;

	return scale && atoi(scale) > 1 ? t * atoi(scale) : t;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * Wait for the case's process, at most its time; then end its whole process
 * group, so that no child it forked still holds the device when the next
 * case (or rmmod) comes, and reap them all: the harness is their subreaper.
 */
static int wait_case(pid_t pid, unsigned int secs, bool *timed_out)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	int status = 0;
	pid_t r;

	*timed_out = false;
	sigaction(SIGALRM, &sa, &old);
	alarm(secs);
	r = waitpid(pid, &status, 0);
	if (r < 0 && errno == EINTR) {
		*timed_out = true;
		kill(-pid, SIGKILL);
		r = waitpid(pid, &status, 0);
	}
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	kill(-pid, SIGKILL);
	while (waitpid(-pid, NULL, 0) > 0)
		;
	return r == pid ? status : -1;
}

static void run_one(struct ktap *k, const struct test_case *c, size_t v,
		    int (*open_fd)(void))
{
	unsigned int secs = case_timeout(c);
	char why[48] = "", name[128];
	time_t t0, took;
	bool timed_out;
	int status;
	pid_t pid;

	if (c->nr_variants)
		snprintf(name, sizeof(name), "%s.%s", c->name, harness_variant_name(c, v));
	else
		snprintf(name, sizeof(name), "%s", c->name);
	/* As kselftest does: a case that never ends is named by this line. */
	printf("# RUN %s\n", name);
	case_begin();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd;

		setpgid(0, 0);
		errno = 0;	/* not the harness's: a failed check prints it */
		fd = open_fd();
		if (c->nr_variants)
			c->run_variant(fd, (const char *)c->variants + v * c->variant_size);
		else
			c->run(fd);
		close(fd);
		fflush(stdout);
		/* The status says it too: the parent may not share our state. */
		_exit(state->failed ? 1 : 0);
	}
	if (pid < 0) {
		printf("# fork: %s\n", strerror(errno));
		case_fail();
		ktap_case_result(k, "%s", name);
		return;
	}
	setpgid(pid, pid);
	t0 = time(NULL);
	status = wait_case(pid, secs, &timed_out);
	if (c->teardown)
		c->teardown();
	took = time(NULL) - t0;
	/* What a limit of its own would need to cover. */
	if (took >= 10)
		printf("# %s: %lld s\n", name, (long long)took);
	if (timed_out) {
		printf("# %s: still running after %u s, its process group killed\n", name, secs);
		snprintf(why, sizeof(why), "TIMEOUT");
		case_fail();
	} else if (status < 0) {
		printf("# waitpid: %s\n", strerror(errno));
		case_fail();
	} else if (WIFSIGNALED(status)) {
		snprintf(why, sizeof(why), "%s", signal_text(WTERMSIG(status)));
		case_fail();
	} else if (WEXITSTATUS(status)) {
		/* An ASSERT_* that failed has said why already. */
		if (!state->failed)
			snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
		case_fail();
	}
	if (why[0])
		ktap_result(k, KTAP_FAIL, why, "%s", name);
	else
		ktap_case_result(k, "%s", name);
}

const char *harness_variant_name(const struct test_case *c, size_t v)
{
	/* Every variant's entry begins with its name. */
	return *(const char *const *)((const char *)c->variants + v * c->variant_size);
}

/* Whether @only (NULL: all) selects variant @v of @c: "case" or "case.variant". */
static bool selects(const struct test_case *c, size_t v, const char *only)
{
	size_t n = strlen(c->name);

	if (!only || !c->nr_variants || !strchr(only, '.'))
		return true;
	return !strncmp(only, c->name, n) && only[n] == '.' &&
	       !strcmp(only + n + 1, harness_variant_name(c, v));
}

/* A case without variants runs once, as its variant 0. */
static size_t nr_runs(const struct test_case *c)
{
	return c->nr_variants ? c->nr_variants : 1;
}

int harness_count(const struct test_case *c, const char *only)
{
	size_t v, n = 0;

	for (v = 0; v < nr_runs(c); v++)
		n += selects(c, v, only);
	return n;
}

void harness_run(struct ktap *k, const struct test_case *const *cases, int n,
		 const char *only, int (*open_fd)(void))
{
	struct case_state *shared;
	size_t v;
	int i;

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared != MAP_FAILED)
		state = shared;
	/* Orphans of a case come to us, to be reaped by wait_case(). */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (i = 0; i < n; i++)
		for (v = 0; v < nr_runs(cases[i]); v++)
			if (selects(cases[i], v, only))
				run_one(k, cases[i], v, open_fd);
	state = &own_state;
	if (shared != MAP_FAILED)
		munmap(shared, sizeof(*shared));
}
