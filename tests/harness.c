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
#include <sys/wait.h>
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

	/* The child's alarm went off: the case ran past its time. */
	if (sig == SIGALRM)
		return "TIMEOUT";
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].sig == sig)
			return names[i].name;
	snprintf(other, sizeof(other), "signal %d", sig);
	return other;
}

static void run_one(struct ktap *k, const struct test_case *c, int (*open_fd)(void))
{
	char why[48] = "";
	int status;
	pid_t pid;

	case_begin();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd;

		alarm(c->timeout ? c->timeout : HARNESS_TIMEOUT);
		fd = open_fd();
		c->run(fd);
		close(fd);
		fflush(stdout);
		/* The status says it too: the parent may not share our state. */
		_exit(state->failed ? 1 : 0);
	}
	if (pid < 0) {
		printf("# fork: %s\n", strerror(errno));
		case_fail();
	} else if (waitpid(pid, &status, 0) != pid) {
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
		ktap_result(k, KTAP_FAIL, why, "%s", c->name);
	else
		ktap_case_result(k, "%s", c->name);
}

void harness_run(struct ktap *k, const struct test_case *const *cases, int n,
		 int (*open_fd)(void))
{
	struct case_state *shared;
	int i;

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared != MAP_FAILED)
		state = shared;
	for (i = 0; i < n; i++)
		run_one(k, cases[i], open_fd);
	state = &own_state;
	if (shared != MAP_FAILED)
		munmap(shared, sizeof(*shared));
}
