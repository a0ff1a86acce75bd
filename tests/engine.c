// SPDX-License-Identifier: GPL-2.0
/*
 * The provider's side of a copy, with the test DMA engine (tests/testdma/)
 * behind memdriver: what a real provider does that a client must survive.
 * Its fault parameter makes every descriptor report an error, stop short,
 * never complete, or complete late; memdriver's own debugfs knobs play no
 * part. Without the test engine behind the copies the cases skip.
 */
#include "util.h"

#define TESTDMA_PARAMS	"/sys/module/memdriver_testdma/parameters/"

/* Whether the copies go to the test engine and its faults can be set. */
static bool testdma_usable(void)
{
	if (!need_root())
		return false;
	if (access(TESTDMA_PARAMS "fault", W_OK)) {
		skip("no test DMA engine loaded (tests/testdma/)");
		return false;
	}
	if (info.dma_engine_mode == MEMDRIVER_DMA_MODE_CPU) {
		skip_load("dma_engine=cpu: no copy goes to an engine");
		return false;
	}
	/* Loaded, it is the channel memdriver found (suite.sh loads it first). */
	ASSERT_STREQ(info.dma_device, "memdriver-testdma");
	return true;
}

static void testdma_set(const char *param, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), TESTDMA_PARAMS "%s", param);
	EXPECT_TRUE(write_text(path, value));
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A copy's ends: whole lines in the pages region, from the kmalloc region. */
struct engine_copy {
	__u64 src, dst;
	size_t len;
};

static struct engine_copy engine_copy_at(unsigned int lines)
{
	__u64 line = info.dma_copy_align;

	return (struct engine_copy) {
		.src = region_off(MEMDRIVER_REGION_KMALLOC) + line,
		.dst = region_off(MEMDRIVER_REGION_PAGES) + line,
		.len = lines * line,
	};
}

/*
 * The source gets pattern @seed, the whole pages region pattern @seed + 1;
 * returns the copy's result, and in @changed how many bytes of the pages
 * region no longer hold their pattern.
 */
static int engine_copy_try(int fd, const struct engine_copy *c, unsigned int seed,
			   __u32 *engine, size_t *changed)
{
	__u64 base = region_off(MEMDRIVER_REGION_PAGES);
	size_t size = region_size(MEMDRIVER_REGION_PAGES), i;
	__u8 *before = xmalloc(size), *now = xmalloc(size);
	int ret, err;

	write_pattern(fd, c->src, c->len, seed);
	write_pattern(fd, base, size, seed + 1);
	ret = dma_copy(fd, c->src, c->dst, c->len, engine);
	err = errno;
	fill_pattern(before, size, base, seed + 1);
	EXPECT_EQ(pread(fd, now, size, base), size);
	for (*changed = 0, i = 0; i < size; i++)
		*changed += now[i] != before[i];
	free(before);
	free(now);
	errno = err;
	return ret;
}

/* The engine, its fault cleared, copies again, byte for byte. */
static void engine_copies_again(int fd, unsigned int seed)
{
	struct engine_copy c = engine_copy_at(8);
	__u8 *buf = xmalloc(c.len);
	size_t changed;
	__u32 got = 0;

	testdma_set("fault", "none");
	EXPECT_EQ(engine_copy_try(fd, &c, seed, &got, &changed), 0);
	EXPECT_EQ(got, MEMDRIVER_DMA_ENGINE_DMAENGINE);
	EXPECT_EQ(pread(fd, buf, c.len, c.dst), c.len);
	EXPECT_EQ(check_pattern(buf, c.len, c.src, seed), -1);
	free(buf);
}

/*
 * A descriptor whose callback reports a read error (nothing moved), or a
 * residue (all but the last 4 bytes moved): EIO, and nothing outside the
 * window changed. The channel goes on.
 */
static const struct engine_failed_variant {
	const char *name;	/* the test engine's fault */
	size_t max_changed;	/* bytes of the window that may have moved */
} engine_failed_variants[] = {
	{ "error", 0 }, { "short", (size_t)-1 },
};

TEST_VARIANTS(engine_failed)
{
	struct engine_copy c = engine_copy_at(4);
	size_t changed;
	__u32 got;

	if (!testdma_usable())
		return;
	testdma_set("fault", variant->name);
	EXPECT_ERRNO(engine_copy_try(fd, &c, 400, &got, &changed), EIO);
	EXPECT_TRUE(changed <= (variant->max_changed < c.len ? variant->max_changed : c.len));
	engine_copies_again(fd, 402);
}

/*
 * A descriptor that never completes: memdriver's wait runs out (a second
 * for a small copy), it terminates the descriptor, the copy fails with
 * ETIMEDOUT and the destination is as it was. The next copy works.
 */
TEST(engine_hang)
{
	struct engine_copy c = engine_copy_at(4);
	struct timespec t0;
	size_t changed;
	double secs;
	__u32 got;

	if (!testdma_usable())
		return;
	testdma_set("fault", "hang");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_ERRNO(engine_copy_try(fd, &c, 410, &got, &changed), ETIMEDOUT);
	secs = seconds_since(&t0);
	EXPECT_EQ(changed, 0);
	EXPECT_TRUE(secs >= 0.9);
	printf("# timed out after %.2f s\n", secs);
	engine_copies_again(fd, 412);
}

/*
 * A slow descriptor: one that completes within memdriver's wait is a
 * copy like any other; one that would complete after it is terminated
 * while the engine still holds it, and must never call back into the
 * freed wait (KASAN on the debug kernels).
 */
static const struct engine_slow_variant {
	const char *name;
	const char *slow_ms;
	int err;
} engine_slow_variants[] = {
	{ "completes", "300", 0 }, { "times_out", "4000", ETIMEDOUT },
};

TEST_VARIANTS(engine_slow)
{
	struct engine_copy c = engine_copy_at(4);
	__u8 *buf = xmalloc(c.len);
	size_t changed;
	__u32 got = 0;

	if (!testdma_usable())
		return;
	testdma_set("slow_ms", variant->slow_ms);
	testdma_set("fault", "slow");
	if (variant->err) {
		EXPECT_ERRNO(engine_copy_try(fd, &c, 420, &got, &changed), variant->err);
		EXPECT_EQ(changed, 0);
	} else {
		EXPECT_EQ(engine_copy_try(fd, &c, 420, &got, &changed), 0);
		EXPECT_EQ(got, MEMDRIVER_DMA_ENGINE_DMAENGINE);
		EXPECT_EQ(pread(fd, buf, c.len, c.dst), c.len);
		EXPECT_EQ(check_pattern(buf, c.len, c.src, 420), -1);
	}
	testdma_set("slow_ms", "3000");
	engine_copies_again(fd, 422);
	free(buf);
}

/*
 * A process killed while its descriptor hangs in the engine: it dies at
 * once (the wait is killable, the descriptor is terminated), and the
 * channel serves the next copy.
 */
TEST(engine_killed)
{
	struct engine_copy c = engine_copy_at(4);
	struct timespec t0;
	int status;
	pid_t pid;

	if (!testdma_usable())
		return;
	testdma_set("fault", "hang");
	pid = fork();
	if (!pid) {
		__u32 got;

		dma_copy(fd, c.src, c.dst, c.len, &got);
		_exit(0);
	}
	ASSERT_TRUE(pid > 0);
	usleep(300000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(kill(pid, SIGKILL), 0);
	EXPECT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_TRUE(seconds_since(&t0) < 2);
	printf("# killed, reaped after %.3f s\n", seconds_since(&t0));
	engine_copies_again(fd, 432);
}

const struct test_case engine_cases[] = {
	CASE_VARIANTS_TEARDOWN(engine_failed, disarm_faults),
	CASE_TEARDOWN(engine_hang, disarm_faults),
	CASE_VARIANTS_TEARDOWN(engine_slow, disarm_faults),
	CASE_TEARDOWN(engine_killed, disarm_faults),
	{ }
};
