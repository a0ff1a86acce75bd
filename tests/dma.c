// SPDX-License-Identifier: GPL-2.0
/*
 * Streaming DMA copies and the DMA engine: who copies, byte-exact, in
 * parallel, failing.
 */
#include "util.h"

/* ---- Streaming DMA copies ---- */

static void check_dma_copy(int fd, __u64 src, __u64 dst, size_t len, unsigned int seed)
{
	__u8 *buf = xmalloc(len + 2);
	__u32 engine = 0;

	fill_pattern(buf, len, src, seed);
	EXPECT_EQ(pwrite(fd, buf, len, src), len);
	/* Guard bytes around the destination must survive. */
	memset(buf, 0xee, len + 2);
	EXPECT_EQ(pwrite(fd, buf, len + 2, dst - 1), len + 2);
	if (dma_engine_missing()) {
		EXPECT_ERRNO(dma_copy(fd, src, dst, len, &engine), ENODEV);
		EXPECT_EQ(dma_copy_flags(fd, src, dst, len, MEMDRIVER_DMA_COPY_CPU,
					 &engine), 0);
		EXPECT_EQ(engine, MEMDRIVER_DMA_ENGINE_CPU);
	} else {
		EXPECT_EQ(dma_copy(fd, src, dst, len, &engine), 0);
		EXPECT_EQ(engine, dma_engine_for(src, dst, len, false));
	}
	EXPECT_EQ(pread(fd, buf, len + 2, dst - 1), len + 2);
	EXPECT_EQ(buf[0], 0xee);
	EXPECT_EQ(check_pattern(buf + 1, len, src, seed), -1);
	EXPECT_EQ(buf[len + 1], 0xee);
	free(buf);
}

TEST(dma_copy)
{
	__u64 km = region_off(MEMDRIVER_REGION_KMALLOC);
	__u64 vm = region_off(MEMDRIVER_REGION_VMALLOC);
	__u64 dma = region_off(MEMDRIVER_REGION_DMA);
	__u64 pg = region_off(MEMDRIVER_REGION_PAGES);
	size_t small = region_size(MEMDRIVER_REGION_KMALLOC) - 256;
	size_t vm_len = region_size(MEMDRIVER_REGION_VMALLOC) / 2 - 512;

	if (small > region_size(MEMDRIVER_REGION_DMA) - 256)
		small = region_size(MEMDRIVER_REGION_DMA) - 256;
	if (small > region_size(MEMDRIVER_REGION_PAGES) - 256)
		small = region_size(MEMDRIVER_REGION_PAGES) - 256;
	/* Every allocator as source and as destination, unaligned ends. */
	check_dma_copy(fd, km + 64, pg + 128, small, 1);
	check_dma_copy(fd, pg + 64, vm + 128, small, 2);
	check_dma_copy(fd, vm + 192, dma + 64, small, 3);
	check_dma_copy(fd, dma + 64, km + 128, small, 4);
	/* Within the scattered vmalloc region, across many pages. */
	check_dma_copy(fd, vm + 100, vm + vm_len + 356, vm_len, 5);
}

TEST(dma_copy_errors)
{
	__u64 vm = region_off(MEMDRIVER_REGION_VMALLOC);
	__u64 dma = region_off(MEMDRIVER_REGION_DMA);
	__u64 total = info.total_size;
	struct memdriver_dma_copy req = { .src = vm, .dst = dma, .len = 16, .flags = 2 };

	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_DMA_COPY, &req), EINVAL);
	req.flags = ~0U;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_DMA_COPY, &req), EINVAL);
	EXPECT_ERRNO(dma_copy(fd, vm, dma, 0, NULL), EINVAL);
	/* A window that crosses a region or the end. */
	EXPECT_ERRNO(dma_copy(fd, dma - 8, vm, 16, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy(fd, vm, dma - 8, 16, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy(fd, vm, total - 8, 16, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy(fd, total, vm, 16, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy(fd, ~0ULL, vm, 16, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy(fd, vm, dma, ~0ULL, NULL), EINVAL);
	/* Overlapping windows, or two that share a cache line. */
	EXPECT_ERRNO(dma_copy(fd, vm, vm + 8, 16, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy(fd, vm, vm + 20, 10, NULL), EINVAL);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_DMA_COPY, NULL), EFAULT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_DMA_COPY, unmapped_address()), EFAULT);
}

/* ---- The DMA engine: who copies, byte-exact, in parallel, failing ---- */

static void read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

TEST(dma_engine_info)
{
	static const char *const modes[] = { "auto", "cpu", "engine" };
	/* GET_INFO as a version-1 binary builds it, into a guarded buffer. */
	const unsigned long v1_size = offsetof(struct memdriver_info, dma_engine_mode);
	const unsigned long get_info_v1 = _IOC(_IOC_READ, MEM_IOCTL_MAGIC, 3, v1_size);
	unsigned char v1[sizeof(struct memdriver_info) + 16];
	char dir[256], path[320], text[160], want[160];
	struct memdriver_info now = info_now(fd);
	int exp = expect_engine();
	size_t i;

	EXPECT_EQ(info.version, 2);
	EXPECT_LT(info.dma_engine_mode, ARRAY_SIZE(modes));
	read_text("/sys/module/memdriver/parameters/dma_engine", text, sizeof(text));
	EXPECT_TRUE(info.dma_engine_mode < ARRAY_SIZE(modes) &&
		    !strcmp(text, modes[info.dma_engine_mode]));
	EXPECT_TRUE(now.dma_engine == MEMDRIVER_DMA_ENGINE_CPU ||
		    now.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE);
	EXPECT_TRUE(memchr(now.dma_chan, '\0', sizeof(now.dma_chan)));
	EXPECT_TRUE(memchr(now.dma_device, '\0', sizeof(now.dma_device)));
	class_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/dma_engine", dir);
	read_text(path, text, sizeof(text));
	if (now.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE) {
		EXPECT_TRUE(now.dma_chan[0] && now.dma_device[0]);
		EXPECT_TRUE(now.dma_engine_align >= 4 &&
			    !(now.dma_engine_align & (now.dma_engine_align - 1)));
		EXPECT_TRUE(now.dma_chan_held == 0 || now.dma_chan_held == 1);
		snprintf(want, sizeof(want), "dmaengine %s %s %s", now.dma_chan,
			 now.dma_device, now.dma_chan_held ? "held" : "unheld");
	} else {
		EXPECT_TRUE(!now.dma_chan[0] && !now.dma_device[0]);
		EXPECT_EQ(now.dma_engine_align, 0);
		EXPECT_EQ(now.dma_chan_held, 0);
		snprintf(want, sizeof(want), "cpu");
	}
	EXPECT_FALSE(strcmp(text, want));
	printf("# dma engine: %s (dma_engine=%s; sysfs: %s)\n",
	       engine_name(now.dma_engine),
	       info.dma_engine_mode < ARRAY_SIZE(modes) ? modes[info.dma_engine_mode] : "?",
	       text);
	/* The guest says whether there is an engine: GET_INFO must agree. */
	if (exp >= 0 && info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU)
		EXPECT_EQ(now.dma_engine, exp ? MEMDRIVER_DMA_ENGINE_DMAENGINE :
						 MEMDRIVER_DMA_ENGINE_CPU);
	if (info.dma_engine_mode == MEMDRIVER_DMA_MODE_CPU)
		EXPECT_EQ(now.dma_engine, MEMDRIVER_DMA_ENGINE_CPU);

	/* An old binary's GET_INFO: version 1, not one byte more. */
	memset(v1, 0xa5, sizeof(v1));
	EXPECT_EQ(ioctl(fd, get_info_v1, v1), 0);
	EXPECT_EQ(((struct memdriver_info *)v1)->version, 1);
	EXPECT_TRUE(!memcmp(v1 + sizeof(__u32), (unsigned char *)&now + sizeof(__u32),
			    v1_size - sizeof(__u32)));
	for (i = v1_size; i < sizeof(v1); i++)
		if (v1[i] != 0xa5)
			break;
	EXPECT_EQ(i, sizeof(v1));
}

/*
 * One copy checked byte for byte against a CPU reference: the destination
 * window and two pages either side of it (within its region) must read as
 * before, but for the window, which must hold the source's bytes. Returns
 * the engine reported.
 */
static __u32 dma_copy_exact(int fd, __u64 src, __u64 dst, size_t len, __u32 flags,
			    unsigned int seed)
{
	int rd = window_region(dst, len);
	__u64 margin = 2 * page_size, lo = region_off(rd), hi = lo + region_size(rd);
	__u8 *ref, *now, *pat = xmalloc(len);
	__u32 engine = 0, want;
	size_t size;

	if (dst - lo > margin)
		lo = dst - margin;
	if (hi - (dst + len) > margin)
		hi = dst + len + margin;
	size = hi - lo;
	ref = xmalloc(size);
	now = xmalloc(size);
	fill_pattern(pat, len, src, seed);
	/* Fresh bytes all around the window, unlike the source's. */
	fill_pattern(ref, size, lo, seed + 7);
	EXPECT_EQ(pwrite(fd, ref, size, lo), size);
	/* Then the source, which may lie in the span too. */
	EXPECT_EQ(pwrite(fd, pat, len, src), len);
	EXPECT_EQ(pread(fd, ref, size, lo), size);
	memcpy(ref + (dst - lo), pat, len);
	if (dma_engine_missing() && !(flags & MEMDRIVER_DMA_COPY_CPU)) {
		EXPECT_ERRNO(dma_copy_flags(fd, src, dst, len, flags, &engine), ENODEV);
		flags |= MEMDRIVER_DMA_COPY_CPU;
	}
	EXPECT_EQ(dma_copy_flags(fd, src, dst, len, flags, &engine), 0);
	want = dma_engine_for(src, dst, len, flags & MEMDRIVER_DMA_COPY_CPU);
	EXPECT_EQ(engine, want);
	EXPECT_EQ(pread(fd, now, size, lo), size);
	if (memcmp(now, ref, size)) {
		size_t i = 0;

		while (now[i] == ref[i])
			i++;
		EXPECT_EQ(now[i], ref[i]);
		printf("# dma copy %#llx -> %#llx len %zu (%s): byte %#llx is %#x, want %#x\n",
		       (unsigned long long)src, (unsigned long long)dst, len,
		       engine_name(engine), (unsigned long long)(lo + i), now[i], ref[i]);
	}
	free(ref);
	free(now);
	free(pat);
	return engine;
}

/*
 * Every window pair: regions as source and destination, whole cache lines,
 * unaligned edges, windows misaligned to each other, tiny, forced to the
 * CPU. With an engine, aligned pairs of non-coherent regions must use it.
 */
TEST(dma_engine_pairs)
{
	__u64 line = info.dma_copy_align;
	int exp = expect_engine(), rs, rd;
	unsigned int seed = 100;

	for (rs = 0; rs < MEMDRIVER_NR_REGIONS; rs++) {
		for (rd = 0; rd < MEMDRIVER_NR_REGIONS; rd++) {
			__u64 s_size = region_size(rs), d_size = region_size(rd);
			__u64 s = region_off(rs), d = region_off(rd), len;
			bool coherent = rs == MEMDRIVER_REGION_DMA ||
					rd == MEMDRIVER_REGION_DMA;
			__u32 engine;

			if (rs == rd) {	/* two halves of one region */
				s_size /= 2;
				d_size /= 2;
				d += d_size;
			}
			len = (s_size < d_size ? s_size : d_size) - 3 * line;
			if (len > 3 * (__u64)page_size)
				len = 3 * page_size;
			len = len / line * line;
			s += line;
			d += 2 * line;
			engine = dma_copy_exact(fd, s, d, len, 0, seed++);
			if (exp == 1 && !coherent &&
			    info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU)
				EXPECT_EQ(engine, MEMDRIVER_DMA_ENGINE_DMAENGINE);
			/* Unaligned edges, the two windows word-aligned alike. */
			engine = dma_copy_exact(fd, s + 12, d + 4, len - 37, 0, seed++);
			if (exp == 1 && !coherent &&
			    info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU)
				EXPECT_EQ(engine, MEMDRIVER_DMA_ENGINE_MIXED);
			/* Misaligned to each other, within one line, forced. */
			dma_copy_exact(fd, s + 1, d + 2, len - 5, 0, seed++);
			dma_copy_exact(fd, s + 3, d + 5, line / 2, 0, seed++);
			dma_copy_exact(fd, s, d, len, MEMDRIVER_DMA_COPY_CPU, seed++);
		}
	}
}

/*
 * Lengths: one line, one page, across pages, over one control block of the
 * engine's "lite" channels (64 KiB - 4), and the longest window each pair
 * of regions allows (load with large regions to make those long).
 */
TEST(dma_engine_lengths)
{
	static const int pairs[][2] = {
		{ MEMDRIVER_REGION_KMALLOC, MEMDRIVER_REGION_PAGES },
		{ MEMDRIVER_REGION_PAGES, MEMDRIVER_REGION_KMALLOC },
		{ MEMDRIVER_REGION_VMALLOC, MEMDRIVER_REGION_VMALLOC },
		{ MEMDRIVER_REGION_KMALLOC, MEMDRIVER_REGION_VMALLOC },
		{ MEMDRIVER_REGION_VMALLOC, MEMDRIVER_REGION_PAGES },
	};
	const __u64 lens[] = {
		info.dma_copy_align, page_size, 2 * page_size + 4 * info.dma_copy_align,
		64 * 1024 + info.dma_copy_align, 0,
	};
	size_t p, l;

	for (p = 0; p < ARRAY_SIZE(pairs); p++) {
		int rs = pairs[p][0], rd = pairs[p][1];
		__u64 s = region_off(rs), d = region_off(rd);
		__u64 s_size = region_size(rs), d_size = region_size(rd), max;

		if (rs == rd) {
			s_size /= 2;
			d_size /= 2;
			d += d_size;
		}
		max = s_size < d_size ? s_size : d_size;
		for (l = 0; l < ARRAY_SIZE(lens); l++) {
			__u64 len = lens[l] ? lens[l] : max;
			__u32 engine;

			if (len > max)
				continue;
			engine = dma_copy_exact(fd, s, d, len, 0, 200 + p * 10 + l);
			if (expect_engine() == 1 &&
			    info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU)
				EXPECT_EQ(engine, MEMDRIVER_DMA_ENGINE_DMAENGINE);
		}
	}
}

/* Several threads copying at once, each on its own fd and windows. */
#define DMA_THREADS	4

struct dma_worker {
	pthread_t tid;
	int index;
	int stop_after;		/* rounds, once *stop is set */
	int *stop;		/* read with __atomic_load_n() */
	__u64 src, dst;		/* this thread's windows */
	size_t room;		/* bytes each may use */
	int rounds;
	int timeouts, eios;	/* copies that failed so */
	int bad;		/* anything else wrong */
};

static bool dma_worker_round(struct dma_worker *w, int fd, unsigned int seed)
{
	__u64 line = info.dma_copy_align;
	/* Whole lines or unaligned edges, always with an engine part. */
	size_t len = (seed % 2) ? w->room / 2 - 2 * line - 12 : w->room / 2 / line * line;
	__u64 src = w->src + (seed % 2 ? 8 : 0), dst = w->dst + (seed % 2 ? line + 4 : 0);
	__u8 *pat = xmalloc(len), *buf = xmalloc(w->room);
	__u32 engine = 0;
	bool ok = true;
	int ret, err;

	fill_pattern(pat, len, src, seed);
	memset(buf, 0xc3, w->room);
	if (pwrite(fd, pat, len, src) != (ssize_t)len ||
	    pwrite(fd, buf, w->room, w->dst) != (ssize_t)w->room)
		ok = false;
	ret = dma_copy(fd, src, dst, len, &engine);
	err = errno;
	if (pread(fd, buf, w->room, w->dst) != (ssize_t)w->room)
		ok = false;
	/* The bytes beside the window are intact, whatever happened. */
	for (size_t i = 0; i < w->room; i++)
		if ((i < dst - w->dst || i >= dst - w->dst + len) && buf[i] != 0xc3)
			ok = false;
	if (ret && err == ETIMEDOUT) {
		w->timeouts++;
	} else if (ret && err == EIO) {
		w->eios++;
	} else if (ret) {
		ok = false;
	} else if (engine != dma_engine_for(src, dst, len, false) ||
		   check_pattern(buf + (dst - w->dst), len, src, seed) != -1) {
		ok = false;
	}
	if (!ok && !w->bad++)
		printf("# thread %d round %d: %#llx -> %#llx len %zu: ret %d (%s), engine %s\n",
		       w->index, w->rounds, (unsigned long long)src,
		       (unsigned long long)dst, len, ret, ret ? strerror(err) : "ok",
		       engine_name(engine));
	free(pat);
	free(buf);
	return ok;
}

static void *dma_worker_run(void *arg)
{
	struct dma_worker *w = arg;
	int fd = open_dev(), after = 0;

	while (after < w->stop_after) {
		if (__atomic_load_n(w->stop, __ATOMIC_SEQ_CST))
			after++;
		dma_worker_round(w, fd, w->index * 100000 + w->rounds);
		w->rounds++;
	}
	close(fd);
	return NULL;
}

static const char *dma_fault_path = "/sys/kernel/debug/memdriver/dma_fault";

static bool dma_fault_set(const char *what)
{
	int fd = open(dma_fault_path, O_WRONLY);
	bool ok = fd >= 0 && write(fd, what, strlen(what)) == (ssize_t)strlen(what);

	if (fd >= 0)
		close(fd);
	return ok;
}

static void dma_fault_get(char *buf, size_t len)
{
	read_text(dma_fault_path, buf, len);
}

/*
 * DMA_THREADS threads copy in the vmalloc region at once; with @fault set
 * ("none", "timeout", "error") once they run, exactly one copy must fail
 * with @err, and nothing else may go wrong in any thread.
 */
static void dma_threads(const char *fault, int err)
{
	struct dma_worker w[DMA_THREADS];
	size_t room = region_size(MEMDRIVER_REGION_VMALLOC) / (2 * DMA_THREADS);
	bool engine = info.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE &&
		      info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU;
	int stop = 0;
	int i, timeouts = 0, eios = 0, rounds = 0;
	char state[32];

	room = room / page_size * page_size;
	if (room < 4 * (size_t)info.dma_copy_align) {
		skip("vmalloc region too small for the threads");
		return;
	}
	for (i = 0; i < DMA_THREADS; i++) {
		w[i] = (struct dma_worker) {
			.index = i, .stop_after = 4, .stop = &stop,
			.src = region_off(MEMDRIVER_REGION_VMALLOC) + 2 * i * room,
			.dst = region_off(MEMDRIVER_REGION_VMALLOC) + (2 * i + 1) * room,
			.room = room,
		};
		if (pthread_create(&w[i].tid, NULL, dma_worker_run, &w[i])) {
			printf("# pthread_create failed\n");
			exit(2);
		}
	}
	usleep(100000);
	if (strcmp(fault, "none")) {
		EXPECT_TRUE(dma_fault_set(fault));
		/* An engine consumes it; without one it stays armed. */
		for (i = 0; i < 300; i++) {
			dma_fault_get(state, sizeof(state));
			if (!strcmp(state, "none"))
				break;
			usleep(10000);
		}
		EXPECT_FALSE(strcmp(state, engine ? "none" : fault));
		EXPECT_TRUE(dma_fault_set("none"));
	}
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < DMA_THREADS; i++) {
		pthread_join(w[i].tid, NULL);
		EXPECT_EQ(w[i].bad, 0);
		timeouts += w[i].timeouts;
		eios += w[i].eios;
		rounds += w[i].rounds;
	}
	EXPECT_EQ(timeouts, engine && err == ETIMEDOUT ? 1 : 0);
	EXPECT_EQ(eios, engine && err == EIO ? 1 : 0);
	printf("# %d threads, %d copies, fault %s: %d timed out, %d failed with EIO\n",
	       DMA_THREADS, rounds, fault, timeouts, eios);
}

TEST(dma_engine_threads)
{
	(void)fd;
	if (dma_engine_missing()) {
		skip("dma_engine=engine without an engine: copies fail with ENODEV");
		return;
	}
	dma_threads("none", 0);
}

/*
 * A forced timeout and a forced engine error (debugfs dma_fault): the
 * caller gets ETIMEDOUT or EIO, every byte beside the window stays intact
 * (after a timeout, in the window too: the descriptor never ran), the next
 * copy works, and while threads copy at once only one copy fails.
 */
TEST(dma_engine_faults)
{
	__u64 line = info.dma_copy_align;
	__u64 src = region_off(MEMDRIVER_REGION_KMALLOC) + line + 8;
	__u64 dst = region_off(MEMDRIVER_REGION_PAGES) + line + 8;
	size_t len = 4 * line, size = region_size(MEMDRIVER_REGION_PAGES);
	__u64 base = region_off(MEMDRIVER_REGION_PAGES);
	bool engine = info.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE &&
		      info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU;
	static const struct { const char *name; int err; } faults[] = {
		{ "timeout", ETIMEDOUT }, { "error", EIO },
	};
	__u8 *before = xmalloc(size), *now = xmalloc(size), *pat = xmalloc(len);
	char state[32];
	size_t f, i;
	__u32 got;

	if (getuid() != 0 || access(dma_fault_path, W_OK)) {
		skip("needs root and debugfs");
		goto out;
	}
	if (dma_engine_missing()) {
		skip("dma_engine=engine without an engine: copies fail with ENODEV");
		goto out;
	}
	dma_fault_get(state, sizeof(state));
	EXPECT_FALSE(strcmp(state, "none"));
	EXPECT_TRUE(!dma_fault_set("bogus") && errno == EINVAL);
	for (f = 0; f < ARRAY_SIZE(faults); f++) {
		fill_pattern(pat, len, src, 300 + f);
		EXPECT_EQ(pwrite(fd, pat, len, src), len);
		fill_pattern(before, size, base, 310 + f);
		EXPECT_EQ(pwrite(fd, before, size, base), size);
		EXPECT_TRUE(dma_fault_set(faults[f].name));
		if (engine) {
			EXPECT_ERRNO(dma_copy(fd, src, dst, len, &got), faults[f].err);
			dma_fault_get(state, sizeof(state));
			EXPECT_FALSE(strcmp(state, "none"));
			EXPECT_EQ(pread(fd, now, size, base), size);
			/*
			 * Outside the engine's whole lines nothing changed;
			 * after a timeout, nothing at all.
			 */
			for (i = 0; i < size; i++) {
				bool body = base + i >= dst - 8 + line &&
					    base + i < dst - 8 + 4 * line;

				if (now[i] != before[i] &&
				    (!body || faults[f].err == ETIMEDOUT))
					break;
			}
			EXPECT_EQ(i, size);
		} else {
			/* Without an engine nothing consumes the fault. */
			EXPECT_EQ(dma_copy(fd, src, dst, len, &got), 0);
			EXPECT_EQ(got, MEMDRIVER_DMA_ENGINE_CPU);
			dma_fault_get(state, sizeof(state));
			EXPECT_FALSE(strcmp(state, faults[f].name));
			EXPECT_TRUE(dma_fault_set("none"));
		}
		/* The channel still works, byte-exact. */
		dma_copy_exact(fd, src, dst, len, 0, 320 + f);
	}
	for (f = 0; f < ARRAY_SIZE(faults); f++)
		dma_threads(faults[f].name, faults[f].err);
out:
	free(before);
	free(now);
	free(pat);
}

const struct test_case dma_cases[] = {
	CASE(dma_copy),
	CASE(dma_copy_errors),
	CASE(dma_engine_info),
	CASE(dma_engine_pairs),
	CASE(dma_engine_lengths),
	CASE(dma_engine_threads),
	CASE(dma_engine_faults),
	{ }
};
