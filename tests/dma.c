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
	struct memdriver_dma_copy req = { .src = vm, .dst = dma, .len = 16, .flags = 0x4 };

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

static const char *const dma_modes[] = { "auto", "cpu", "engine" };

/* The device's sysfs dma_engine line: who the next copy goes by. */
static void dma_engine_line(char *text, size_t len)
{
	char dir[256], path[320];

	class_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/dma_engine", dir);
	read_text(path, text, len);
}

/*
 * GET_INFO's engine fields: the dma_engine parameter's mode, an engine
 * with its channel, device and alignment or the CPU without them, as the
 * guest (MEMDRIVER_EXPECT_ENGINE) says there must be.
 */
TEST(dma_engine_info)
{
	struct memdriver_info now = info_now(fd);
	int exp = expect_engine();
	char text[160];

	EXPECT_EQ(info.version, 2);
	EXPECT_LT(info.dma_engine_mode, ARRAY_SIZE(dma_modes));
	read_text("/sys/module/memdriver/parameters/dma_engine", text, sizeof(text));
	EXPECT_TRUE(info.dma_engine_mode < ARRAY_SIZE(dma_modes) &&
		    !strcmp(text, dma_modes[info.dma_engine_mode]));
	EXPECT_TRUE(now.dma_engine == MEMDRIVER_DMA_ENGINE_CPU ||
		    now.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE);
	EXPECT_TRUE(memchr(now.dma_chan, '\0', sizeof(now.dma_chan)));
	EXPECT_TRUE(memchr(now.dma_device, '\0', sizeof(now.dma_device)));
	if (now.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE) {
		EXPECT_TRUE(now.dma_chan[0] && now.dma_device[0]);
		EXPECT_TRUE(now.dma_engine_align >= 4 &&
			    !(now.dma_engine_align & (now.dma_engine_align - 1)));
		EXPECT_TRUE(now.dma_chan_held == 0 || now.dma_chan_held == 1);
	} else {
		EXPECT_TRUE(!now.dma_chan[0] && !now.dma_device[0]);
		EXPECT_EQ(now.dma_engine_align, 0);
		EXPECT_EQ(now.dma_chan_held, 0);
	}
	/* The guest says whether there is an engine: GET_INFO must agree. */
	if (exp >= 0 && info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU)
		EXPECT_EQ(now.dma_engine, exp ? MEMDRIVER_DMA_ENGINE_DMAENGINE :
						 MEMDRIVER_DMA_ENGINE_CPU);
	if (info.dma_engine_mode == MEMDRIVER_DMA_MODE_CPU)
		EXPECT_EQ(now.dma_engine, MEMDRIVER_DMA_ENGINE_CPU);
}

/* The sysfs dma_engine line names GET_INFO's engine, or why the CPU copies. */
TEST(dma_engine_info_sysfs)
{
	struct memdriver_info now = info_now(fd);
	char text[160], want[160];

	dma_engine_line(text, sizeof(text));
	if (now.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE) {
		snprintf(want, sizeof(want), "dmaengine %s %s %s", now.dma_chan,
			 now.dma_device, now.dma_chan_held ? "held" : "found");
		EXPECT_STREQ(text, want);
	} else if (info.dma_engine_mode == MEMDRIVER_DMA_MODE_CPU) {
		EXPECT_STREQ(text, "cpu dma_engine=cpu");	/* the CPU by choice */
	} else {
		EXPECT_STRPREFIX(text, "cpu none now: ");	/* and why */
	}
	printf("# dma engine: %s (dma_engine=%s; sysfs: %s)\n",
	       engine_name(now.dma_engine),
	       info.dma_engine_mode < ARRAY_SIZE(dma_modes) ? dma_modes[info.dma_engine_mode] : "?",
	       text);
}

/* An old binary's GET_INFO: version 1, not one byte more. */
TEST(dma_engine_info_v1)
{
	/* GET_INFO as a version-1 binary builds it, into a guarded buffer. */
	const unsigned long v1_size = offsetof(struct memdriver_info, dma_engine_mode);
	const unsigned long get_info_v1 = _IOC(_IOC_READ, MEM_IOCTL_MAGIC, 3, v1_size);
	unsigned char v1[sizeof(struct memdriver_info) + 16];
	struct memdriver_info now = info_now(fd);
	size_t i;

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
static const struct dma_engine_pairs_variant {
	const char *name;
	int src, dst;	/* the same region: its two halves */
} dma_engine_pairs_variants[] = {
	{ "kmalloc_to_kmalloc", MEMDRIVER_REGION_KMALLOC, MEMDRIVER_REGION_KMALLOC },
	{ "kmalloc_to_vmalloc", MEMDRIVER_REGION_KMALLOC, MEMDRIVER_REGION_VMALLOC },
	{ "kmalloc_to_dma", MEMDRIVER_REGION_KMALLOC, MEMDRIVER_REGION_DMA },
	{ "kmalloc_to_pages", MEMDRIVER_REGION_KMALLOC, MEMDRIVER_REGION_PAGES },
	{ "vmalloc_to_kmalloc", MEMDRIVER_REGION_VMALLOC, MEMDRIVER_REGION_KMALLOC },
	{ "vmalloc_to_vmalloc", MEMDRIVER_REGION_VMALLOC, MEMDRIVER_REGION_VMALLOC },
	{ "vmalloc_to_dma", MEMDRIVER_REGION_VMALLOC, MEMDRIVER_REGION_DMA },
	{ "vmalloc_to_pages", MEMDRIVER_REGION_VMALLOC, MEMDRIVER_REGION_PAGES },
	{ "dma_to_kmalloc", MEMDRIVER_REGION_DMA, MEMDRIVER_REGION_KMALLOC },
	{ "dma_to_vmalloc", MEMDRIVER_REGION_DMA, MEMDRIVER_REGION_VMALLOC },
	{ "dma_to_dma", MEMDRIVER_REGION_DMA, MEMDRIVER_REGION_DMA },
	{ "dma_to_pages", MEMDRIVER_REGION_DMA, MEMDRIVER_REGION_PAGES },
	{ "pages_to_kmalloc", MEMDRIVER_REGION_PAGES, MEMDRIVER_REGION_KMALLOC },
	{ "pages_to_vmalloc", MEMDRIVER_REGION_PAGES, MEMDRIVER_REGION_VMALLOC },
	{ "pages_to_dma", MEMDRIVER_REGION_PAGES, MEMDRIVER_REGION_DMA },
	{ "pages_to_pages", MEMDRIVER_REGION_PAGES, MEMDRIVER_REGION_PAGES },
};

TEST_VARIANTS(dma_engine_pairs)
{
	__u64 line = info.dma_copy_align;
	int rs = variant->src, rd = variant->dst, exp = expect_engine();
	unsigned int seed = 100 + 5 * (variant - dma_engine_pairs_variants);
	__u64 s_size = region_size(rs), d_size = region_size(rd);
	__u64 s = region_off(rs), d = region_off(rd), len;
	bool coherent = rs == MEMDRIVER_REGION_DMA || rd == MEMDRIVER_REGION_DMA;
	__u32 engine;

	if (rs == rd) {
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
	if (exp == 1 && !coherent && info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU)
		EXPECT_EQ(engine, MEMDRIVER_DMA_ENGINE_DMAENGINE);
	/* Unaligned edges, the two windows word-aligned alike. */
	engine = dma_copy_exact(fd, s + 12, d + 4, len - 37, 0, seed++);
	if (exp == 1 && !coherent && info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU)
		EXPECT_EQ(engine, MEMDRIVER_DMA_ENGINE_MIXED);
	/* Misaligned to each other, within one line, forced. */
	dma_copy_exact(fd, s + 1, d + 2, len - 5, 0, seed++);
	dma_copy_exact(fd, s + 3, d + 5, line / 2, 0, seed++);
	dma_copy_exact(fd, s, d, len, MEMDRIVER_DMA_COPY_CPU, seed++);
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
	return write_text(dma_fault_path, what);
}

static void dma_fault_get(char *buf, size_t len)
{
	read_text(dma_fault_path, buf, len);
}

/* Wait up to 3 s for an engine to consume the armed fault; @state: the last read. */
static void dma_fault_await_none(char *state, size_t len)
{
	int i;

	for (i = 0; i < 300; i++) {
		dma_fault_get(state, len);
		if (!strcmp(state, "none"))
			break;
		usleep(10000);
	}
}

/* Whether the copies go by an engine: dma_fault and the engine's lock apply. */
static bool engine_in_use(void)
{
	return info.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE &&
	       info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU;
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
	bool engine = engine_in_use();
	int stop = 0;
	int i, timeouts = 0, eios = 0, rounds = 0;
	char state[32];

	room = room / page_size * page_size;
	if (room < 4 * (size_t)info.dma_copy_align) {
		skip_load("vmalloc region too small for the threads");
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
		dma_fault_await_none(state, sizeof(state));
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
		skip_load("dma_engine=engine without an engine: copies fail with ENODEV");
		return;
	}
	dma_threads("none", 0);
}

/* Whether dma_fault can be armed and copies made; else the case skips. */
static bool dma_faults_usable(void)
{
	if (!need_debugfs())
		return false;
	/* Always there with debugfs: missing, the guest fails the skip. */
	if (access(dma_fault_path, W_OK)) {
		skip("no debugfs knob dma_fault");
		return false;
	}
	if (dma_engine_missing()) {
		skip_load("dma_engine=engine without an engine: copies fail with ENODEV");
		return false;
	}
	return true;
}

/*
 * A forced timeout and a forced engine error (debugfs dma_fault): the
 * caller gets ETIMEDOUT or EIO, every byte beside the window stays intact
 * (after a timeout, in the window too: the descriptor never ran), and the
 * next copy works.
 */
static const struct dma_engine_faults_variant {
	const char *name;	/* what is written to dma_fault */
	int err;
} dma_engine_faults_variants[] = {
	{ "timeout", ETIMEDOUT }, { "error", EIO },
};

/*
 * After a failed copy to @dst, the offset in the pages region (pattern
 * @seed before it) of the first byte the copy changed but may not touch,
 * or the region's size: outside the engine's whole lines nothing may
 * change, and after a timeout nothing at all.
 */
static size_t dma_fault_damage(int fd, unsigned int seed, __u64 dst, bool timeout)
{
	__u64 line = info.dma_copy_align, base = region_off(MEMDRIVER_REGION_PAGES);
	size_t size = region_size(MEMDRIVER_REGION_PAGES), i;
	__u8 *before = xmalloc(size), *now = xmalloc(size);

	fill_pattern(before, size, base, seed);
	EXPECT_EQ(pread(fd, now, size, base), size);
	for (i = 0; i < size; i++) {
		bool body = base + i >= dst - 8 + line && base + i < dst - 8 + 4 * line;

		if (now[i] != before[i] && (!body || timeout))
			break;
	}
	free(before);
	free(now);
	return i;
}

TEST_VARIANTS(dma_engine_faults)
{
	__u64 line = info.dma_copy_align;
	__u64 src = region_off(MEMDRIVER_REGION_KMALLOC) + line + 8;
	__u64 dst = region_off(MEMDRIVER_REGION_PAGES) + line + 8;
	size_t len = 4 * line, size = region_size(MEMDRIVER_REGION_PAGES);
	int f = variant - dma_engine_faults_variants;
	char state[32];
	__u32 got;

	if (!dma_faults_usable())
		return;
	dma_fault_get(state, sizeof(state));
	EXPECT_STREQ(state, "none");
	EXPECT_TRUE(!dma_fault_set("bogus") && errno == EINVAL);
	write_pattern(fd, src, len, 300 + f);
	write_pattern(fd, region_off(MEMDRIVER_REGION_PAGES), size, 310 + f);
	EXPECT_TRUE(dma_fault_set(variant->name));
	if (engine_in_use()) {
		EXPECT_ERRNO(dma_copy(fd, src, dst, len, &got), variant->err);
		dma_fault_get(state, sizeof(state));
		EXPECT_STREQ(state, "none");
		EXPECT_EQ(dma_fault_damage(fd, 310 + f, dst, variant->err == ETIMEDOUT), size);
	} else {
		/* Without an engine nothing consumes the fault. */
		EXPECT_EQ(dma_copy(fd, src, dst, len, &got), 0);
		EXPECT_EQ(got, MEMDRIVER_DMA_ENGINE_CPU);
		dma_fault_get(state, sizeof(state));
		EXPECT_STREQ(state, variant->name);
		EXPECT_TRUE(dma_fault_set("none"));
	}
	/* The channel still works, byte-exact. */
	dma_copy_exact(fd, src, dst, len, 0, 320 + f);
}

/* The same faults while DMA_THREADS threads copy at once: only one copy fails. */
static const struct dma_engine_faults_threads_variant {
	const char *name;	/* what is written to dma_fault */
	int err;
} dma_engine_faults_threads_variants[] = {
	{ "timeout", ETIMEDOUT }, { "error", EIO },
};

TEST_VARIANTS(dma_engine_faults_threads)
{
	(void)fd;
	if (dma_faults_usable())
		dma_threads(variant->name, variant->err);
}

/* ---- Copies at once into one cache line ---- */

#define LINE_ROUNDS 5000

struct line_copier {
	pthread_t tid;
	const char *path;
	int fd;
	__u64 src, dst;
	size_t len;
	int rounds;
	int ok, busy, bad, err;
};

static void *line_copier_run(void *arg)
{
	struct line_copier *c = arg;
	/* dma_engine=engine without an engine copies only when told CPU. */
	__u32 flags = dma_engine_missing() ? MEMDRIVER_DMA_COPY_CPU : 0;
	int i;

	for (i = 0; i < c->rounds; i++) {
		if (!dma_copy_flags(c->fd, c->src, c->dst, c->len, flags, NULL))
			c->ok++;
		else if (errno == EBUSY)
			c->busy++;
		else if (!c->bad++)
			c->err = errno;
	}
	return NULL;
}

/*
 * @n threads, each on an fd of its own, run @c[0..n) at once; the second
 * pair, if any, mirrors the first on the second device.
 */
static void line_copiers(struct line_copier *c, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		c[i].fd = open(c[i].path, O_RDWR);
		ASSERT_GE(c[i].fd, 0);
		if (pthread_create(&c[i].tid, NULL, line_copier_run, &c[i])) {
			printf("# pthread_create failed\n");
			exit(2);
		}
	}
	for (i = 0; i < n; i++) {
		pthread_join(c[i].tid, NULL);
		close(c[i].fd);
		EXPECT_EQ(c[i].bad, 0);
		if (c[i].bad)
			printf("# thread %d: %d copies failed, first with %s\n",
			       i, c[i].bad, strerror(c[i].err));
	}
}

/* Set up copier @i and its twin on the second device, if there is one. */
static void line_copier_init(struct line_copier *c, int i, int n, __u64 src,
			     __u64 dst, size_t len, int rounds, unsigned int seed)
{
	static const char *const second = "/dev/memdriver1";
	__u8 *pat = xmalloc(len);
	int d;

	fill_pattern(pat, len, src, seed);
	for (d = 0; d < n / 2; d++) {
		struct line_copier *t = &c[i + 2 * d];
		int f;

		*t = (struct line_copier) {
			.path = d ? second : dev_path, .src = src, .dst = dst,
			.len = len, .rounds = rounds,
		};
		f = open(t->path, O_RDWR);
		ASSERT_GE(f, 0);
		EXPECT_EQ(pwrite(f, pat, len, src), len);
		close(f);
	}
	free(pat);
}

/*
 * How many copiers a one-line case runs: two, on two fds, and as many on
 * the second device when there is one; 0 (and a skip) if the regions are
 * too small.
 */
static int line_copiers_wanted(void)
{
	__u64 line = info.dma_copy_align;
	size_t whole = 4 * line;

	if (region_size(MEMDRIVER_REGION_PAGES) < 8 * line ||
	    region_size(MEMDRIVER_REGION_KMALLOC) < 4 * line + 2 * whole) {
		skip_load("regions too small");
		return 0;
	}
	if (!strcmp(dev_path, "/dev/memdriver0") && !access("/dev/memdriver1", F_OK))
		return 4;
	return 2;
}

/*
 * Legal copies at once from two threads and two fds, and as many on the
 * second device when there is one, into disjoint bytes of one cache line:
 * all succeed. No mapping may cover them: DMA-API debug reports two live
 * mappings in one line, and a non-coherent unmap would drop the other's
 * bytes.
 */
TEST(dma_one_line)
{
	/*
	 * The copies share the line's first 64 bytes, the L1 line DMA-API debug
	 * tracks (arm64's copy alignment is 128 on 6.1: its quarters 0 and 2
	 * would sit in two of those).
	 */
	__u64 line = info.dma_copy_align, quarter = (line < 64 ? line : 64) / 4;
	__u64 ks = region_off(MEMDRIVER_REGION_KMALLOC);
	__u64 pg = region_off(MEMDRIVER_REGION_PAGES) + 2 * line;
	int i, n = line_copiers_wanted();
	struct line_copier c[4];
	__u8 *got;

	if (!n)
		return;
	got = xmalloc(line);
	memset(got, 0x3c, line);
	EXPECT_EQ(pwrite(fd, got, line, pg), line);
	for (i = 0; i < 2; i++)
		line_copier_init(c, i, n, ks + i * line, pg + 2 * i * quarter, quarter,
				 LINE_ROUNDS, 400 + i);
	line_copiers(c, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ(c[i].ok, c[i].rounds);
	EXPECT_EQ(pread(fd, got, line, pg), line);
	for (i = 0; i < 2; i++)
		EXPECT_EQ(check_pattern(got + 2 * i * quarter, quarter, c[i].src, 400 + i), -1);
	/* Every byte outside the two windows is as it was. */
	for (i = 0; i < (int)line; i++)
		if (i / quarter != 0 && i / quarter != 2 && got[i] != 0x3c)
			break;
	EXPECT_EQ(i, line);
	printf("# %d threads, %d device(s), %d copies each into one line\n",
	       n, n / 2, LINE_ROUNDS);
	free(got);
}

/*
 * The same copiers at once into the same whole lines: each copy runs
 * alone or gets EBUSY, and the lines hold one source's bytes.
 */
TEST(dma_one_line_busy)
{
	__u64 line = info.dma_copy_align, ks = region_off(MEMDRIVER_REGION_KMALLOC);
	__u64 pg = region_off(MEMDRIVER_REGION_PAGES) + 2 * line;
	size_t whole = 4 * line;
	int i, n = line_copiers_wanted();
	struct line_copier c[4];
	__u8 *got;

	if (!n)
		return;
	for (i = 0; i < 2; i++)
		line_copier_init(c, i, n, ks + 4 * line + i * whole, pg + 2 * line, whole,
				 2000, 410 + i);
	line_copiers(c, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ(c[i].ok + c[i].busy, c[i].rounds);
	got = xmalloc(whole);
	/* Each device's lines: one of its two copiers' bytes, whole. */
	for (i = 0; i < n; i += 2) {
		int f = i ? open(c[i].path, O_RDONLY) : fd;

		ASSERT_GE(f, 0);
		EXPECT_GT(c[i].ok + c[i + 1].ok, 0);
		EXPECT_EQ(pread(f, got, whole, pg + 2 * line), whole);
		EXPECT_TRUE(check_pattern(got, whole, c[i].src, 410) == -1 ||
			    check_pattern(got, whole, c[i + 1].src, 411) == -1);
		printf("# %s, into the same lines: %d + %d done, %d + %d EBUSY\n",
		       c[i].path, c[i].ok, c[i + 1].ok, c[i].busy, c[i + 1].busy);
		if (i)
			close(f);
	}
	free(got);
}

/* ---- Killed in the middle ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Milliseconds from SIGKILL to the end of @pid, which must die of it. */
static long long kill_and_reap(pid_t pid)
{
	long long t0 = now_ms();
	int status = 0;

	kill(pid, SIGKILL);
	EXPECT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	return now_ms() - t0;
}

/*
 * A child that copies on an fd of its own: returned once it has that fd
 * open, which it says down a pipe.
 */
static pid_t copy_in_child(__u64 src, __u64 dst, size_t len)
{
	int ready[2];
	pid_t pid;
	char c;

	ASSERT_EQ(pipe(ready), 0);
	pid = fork();
	if (pid == 0) {
		int cfd = open_dev();

		if (write(ready[1], "x", 1) != 1)
			_exit(3);
		_exit(dma_copy(cfd, src, dst, len, NULL) ? errno : 0);
	}
	close(ready[1]);
	ASSERT_GT(pid, 0);
	EXPECT_EQ(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void fill_span(int fd, __u64 off, size_t len, int seed, int byte)
{
	size_t chunk = 1 << 20, done;
	__u8 *buf = xmalloc(chunk);

	for (done = 0; done < len; done += chunk) {
		size_t n = len - done < chunk ? len - done : chunk;

		if (seed >= 0)
			fill_pattern(buf, n, off + done, seed);
		else
			memset(buf, byte, n);
		EXPECT_EQ(pwrite(fd, buf, n, off + done), n);
	}
	free(buf);
}

/*
 * Wait until @at holds the bytes of pattern @seed from @pos, while @pid
 * lives (not reaped: the caller does that); the case's time limit bounds it.
 */
static bool await_pattern(const __u8 *at, __u64 pos, size_t len, int seed,
			  pid_t pid)
{
	siginfo_t si = { 0 };
	__u8 want[256];
	size_t i;

	if (len > sizeof(want))
		return false;
	fill_pattern(want, len, pos, seed);
	while (!waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) && !si.si_pid) {
		/* Loaded afresh each time round: another process writes them. */
		for (i = 0; i < len && __atomic_load_n(&at[i], __ATOMIC_RELAXED) == want[i]; i++)
			;
		if (i == len)
			return true;
	}
	return false;
}

/* Whether the @len device bytes at @off are all @byte. */
static bool span_is(int fd, __u64 off, size_t len, int byte)
{
	size_t chunk = 1 << 20, done, i, n;
	__u8 *got = xmalloc(chunk);
	bool same = true;

	for (done = 0; done < len && same; done += n) {
		n = len - done < chunk ? len - done : chunk;
		same = pread(fd, got, n, off + done) == (ssize_t)n;
		for (i = 0; i < n && same; i++)
			same = got[i] == byte;
	}
	free(got);
	return same;
}

/* How many of the @len device bytes at @dst hold pattern @seed of @src. */
static size_t copied_prefix(int fd, __u64 dst, __u64 src, size_t len, int seed)
{
	size_t chunk = 1 << 20, done, n;
	__u8 *got = xmalloc(chunk);
	long long bad;

	for (done = 0; done < len; done += n) {
		n = len - done < chunk ? len - done : chunk;
		if (pread(fd, got, n, dst + done) != (ssize_t)n)
			break;
		bad = check_pattern(got, n, src + done, seed);
		if (bad >= 0) {
			done += bad;
			break;
		}
	}
	free(got);
	return done < len ? done : len;
}

/* What killing a copy in the middle saw. */
struct midway_kill {
	bool seen;		/* the watched line was copied before the kill */
	int status;		/* the copying child's, from waitpid() */
	long long after_ms;	/* from the copy's start to the kill */
	long long died_ms;	/* from the kill to the child's end */
};

/*
 * Copy @len bytes from @src to @dst, 8 bytes into a page, in a child, and
 * SIGKILL it once the line at @watch bytes into the destination holds
 * pattern @seed, seen through a mapping: a sleep of a measured time is no
 * good when the guest's speed varies, and a slow guest (debugraspi with
 * swiotlb=force: a minute for an eighth) must not wait long.
 */
static void kill_copy_midway(int fd, __u64 src, __u64 dst, size_t len, size_t watch,
			     int seed, struct midway_kill *k)
{
	__u64 line = info.dma_copy_align;
	/* From the page @dst starts in, to a line past the copy's last. */
	size_t map_len = 8 + len + (2 * line - 8);
	__u8 *map = map_region_window(fd, dst - 8, map_len);
	long long t0, killed_at;
	pid_t pid;

	ASSERT_TRUE(map != MAP_FAILED);
	pid = copy_in_child(src, dst, len);
	t0 = now_ms();
	k->seen = await_pattern(map + 8 + watch, src + watch, line, seed, pid);
	munmap(map, map_len);
	kill(pid, SIGKILL);
	killed_at = now_ms();
	k->status = 0;
	EXPECT_EQ(waitpid(pid, &k->status, 0), pid);
	k->died_ms = now_ms() - killed_at;
	k->after_ms = killed_at - t0;
}

/*
 * SIGKILL in the middle of a copy of half the vmalloc region (load with
 * vmalloc_size=256M: a 128 MiB copy of tens of thousands of pieces): the
 * process dies within a second, the copy stops between pieces, the edge
 * bytes it had not copied yet are untouched, and the next copy works.
 */
TEST(dma_copy_killed)
{
	__u64 line = info.dma_copy_align, vm = region_off(MEMDRIVER_REGION_VMALLOC);
	size_t half = region_size(MEMDRIVER_REGION_VMALLOC) / 2;
	__u64 src = vm, dst = vm + half + 8;
	size_t len = half - 2 * line, body = (len - (line - 8)) / line * line;
	size_t done, watch = (line - 8) + body / 64 / line * line;
	struct midway_kill k;
	int tries;

	if (half < (16 << 20)) {
		skip_load("needs vmalloc_size=256M or at least 32M");
		return;
	}
	fill_span(fd, src, half, 500, 0);
	/*
	 * Killed once a 64th of the body is done (2 MiB, hundreds of pieces).
	 * A copy that ended before the kill was sent (the watcher descheduled
	 * that long) proves nothing: tried again, three times at most.
	 */
	for (tries = 0; tries < 3; tries++) {
		fill_span(fd, vm + half, half, -1, 0x5a);
		kill_copy_midway(fd, src, dst, len, watch, 500, &k);
		if (!WIFEXITED(k.status) || WEXITSTATUS(k.status))
			break;
		printf("# the whole copy was done before the kill landed\n");
	}
	EXPECT_LT(tries, 3);
	EXPECT_TRUE(k.seen);
	EXPECT_TRUE(WIFSIGNALED(k.status) && WTERMSIG(k.status) == SIGKILL);
	EXPECT_LT(k.died_ms, 1000);
	/*
	 * The head edge (line - 8 bytes) is copied last: still 0x5a. In the
	 * body, a prefix of pieces was copied, one piece (a page at most) may
	 * be half done, and the rest is 0x5a.
	 */
	EXPECT_TRUE(span_is(fd, dst - 8, line, 0x5a));
	done = copied_prefix(fd, dst + (line - 8), src + (line - 8), body, 500);
	EXPECT_GT(done, 0);	/* some pieces were copied ... */
	EXPECT_LT(done, body);	/* ... but not all */
	if (done + page_size < body)
		EXPECT_TRUE(span_is(fd, dst + (line - 8) + done + page_size,
				    body - done - page_size, 0x5a));
	printf("# killed %lld ms in, after %zu of %zu bytes, dead in %lld ms\n",
	       k.after_ms, done, len, k.died_ms);
	/* The device and its copies go on. */
	dma_copy_exact(fd, src, dst, 4 * line, 0, 510);
}

/* ---- The engine's lock and its provider ---- */

static bool knob_set(const char *name, const char *what)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/memdriver/%s", name);
	return write_text(path, what);
}

/* Whether a copy can be made to hang (dma_fault=stall); else the case skips. */
static bool dma_stall_usable(void)
{
	if (!dma_faults_usable())
		return false;
	if (info.dma_engine_mode == MEMDRIVER_DMA_MODE_CPU) {
		skip_load("dma_engine=cpu: no copy goes to an engine");
		return false;
	}
	if (!engine_in_use()) {
		skip("no DMA engine");
		return false;
	}
	return true;
}

/*
 * A copy waits for the engine's lock while another's descriptor hangs
 * (dma_fault=stall, 5 s): SIGKILL ends the waiter at once, and the lock
 * holder then times out.
 */
TEST(dma_engine_kill_waiter)
{
	__u64 line = info.dma_copy_align;
	__u64 ks = region_off(MEMDRIVER_REGION_KMALLOC), pg = region_off(MEMDRIVER_REGION_PAGES);
	pid_t holder, waiter;
	char state[32];
	int status = 0;

	(void)fd;
	if (!dma_stall_usable())
		return;
	EXPECT_TRUE(dma_fault_set("stall"));
	holder = copy_in_child(ks, pg, 4 * line);
	/* Consumed: the holder waits on its descriptor, holding the lock. */
	dma_fault_await_none(state, sizeof(state));
	EXPECT_STREQ(state, "none");
	waiter = copy_in_child(ks + 8 * line, pg + 8 * line, 4 * line);
	usleep(300000);
	EXPECT_LT(kill_and_reap(waiter), 1000);
	/* The holder still waits: the waiter died while the lock was held. */
	EXPECT_EQ(waitpid(holder, &status, WNOHANG), 0);
	EXPECT_EQ(waitpid(holder, &status, 0), holder);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == ETIMEDOUT);
}

/*
 * The lock holder itself, its descriptor hanging (dma_fault=stall), is
 * killed in its wait: it ends at once, and the channel works on, the
 * killed copy's descriptor terminated.
 */
TEST(dma_engine_kill_holder)
{
	__u64 line = info.dma_copy_align;
	__u64 ks = region_off(MEMDRIVER_REGION_KMALLOC), pg = region_off(MEMDRIVER_REGION_PAGES);
	char state[32];
	pid_t holder;

	if (!dma_stall_usable())
		return;
	EXPECT_TRUE(dma_fault_set("stall"));
	holder = copy_in_child(ks, pg, 4 * line);
	usleep(500000);
	EXPECT_LT(kill_and_reap(holder), 1000);
	dma_fault_get(state, sizeof(state));
	EXPECT_STREQ(state, "none");
	EXPECT_EQ(dma_copy_exact(fd, ks, pg, 4 * line, 0, 520), MEMDRIVER_DMA_ENGINE_DMAENGINE);
}

/* The sysfs dma_engine line, and GET_INFO agreeing with it. */
static void dma_status(int fd, char *text, size_t len)
{
	struct memdriver_info now = info_now(fd);

	dma_engine_line(text, len);
	if (!strncmp(text, "dmaengine ", 10)) {
		EXPECT_EQ(now.dma_engine, MEMDRIVER_DMA_ENGINE_DMAENGINE);
		EXPECT_TRUE(now.dma_chan[0] && strstr(text, now.dma_chan));
	} else {
		EXPECT_EQ(now.dma_engine, MEMDRIVER_DMA_ENGINE_CPU);
		EXPECT_STREQ(now.dma_chan, "");
	}
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n > t && !strcmp(s + n - t, tail);
}

/* Whether a provider can be made to look lacking; else the case skips. */
static bool dma_refusal_usable(void)
{
	if (!dma_faults_usable())
		return false;
	if (info.dma_engine_mode == MEMDRIVER_DMA_MODE_CPU) {
		skip_load("dma_engine=cpu: no copy goes to an engine");
		return false;
	}
	if (expect_engine() < 0) {
		skip("MEMDRIVER_EXPECT_ENGINE unset: whether an engine copies is unknown");
		return false;
	}
	return true;
}

/*
 * With the provider made to lack @lacks (debugfs dma_provider_lacks: the
 * next channel request sees it so; writing it drops a held channel), a
 * copy goes to the CPU, or fails with ENODEV with dma_engine=engine.
 * @text gets sysfs's dma_engine line after it, GET_INFO agreeing.
 */
static void refused_copy(int fd, const char *lacks, char *text, size_t len)
{
	__u64 line = info.dma_copy_align;
	__u64 ks = region_off(MEMDRIVER_REGION_KMALLOC), pg = region_off(MEMDRIVER_REGION_PAGES);
	__u32 got;

	EXPECT_TRUE(knob_set("dma_provider_lacks", lacks));
	if (info.dma_engine_mode == MEMDRIVER_DMA_MODE_ENGINE) {
		EXPECT_ERRNO(dma_copy(fd, ks, pg, 4 * line, &got), ENODEV);
	} else {
		EXPECT_EQ(dma_copy(fd, ks, pg, 4 * line, &got), 0);
		EXPECT_EQ(got, MEMDRIVER_DMA_ENGINE_CPU);
	}
	dma_status(fd, text, len);
}

/*
 * A provider without device_synchronize or device_terminate_all is refused
 * where the channel is taken: copies go to the CPU (ENODEV with
 * dma_engine=engine), and sysfs and GET_INFO say why.
 */
static const struct dma_engine_refused_variant {
	const char *name;	/* what the provider lacks */
} dma_engine_refused_variants[] = {
	{ "device_synchronize" }, { "device_terminate_all" },
};

TEST_VARIANTS(dma_engine_refused)
{
	char text[160], want[160];

	if (!dma_refusal_usable())
		return;
	refused_copy(fd, variant->name, text, sizeof(text));
	if (expect_engine() == 1) {
		snprintf(want, sizeof(want), " lacks %s", variant->name);
		EXPECT_STRPREFIX(text, "cpu none now: dma");
		EXPECT_TRUE(ends_with(text, want));
	} else {
		EXPECT_STRPREFIX(text, "cpu none now: no memcpy channel (");
	}
	EXPECT_TRUE(knob_set("dma_provider_lacks", "none"));
}

/*
 * After a refusal, dma_provider_lacks back at "none" (and never "bogus"):
 * the next copy takes the channel and holds it, and sysfs and GET_INFO
 * say so; without an engine the CPU copies (dma_engine=auto).
 */
TEST(dma_engine_refused_recovers)
{
	__u64 line = info.dma_copy_align;
	__u64 ks = region_off(MEMDRIVER_REGION_KMALLOC), pg = region_off(MEMDRIVER_REGION_PAGES);
	char text[160];
	__u32 got = 0;

	if (!dma_refusal_usable())
		return;
	refused_copy(fd, "device_terminate_all", text, sizeof(text));
	EXPECT_TRUE(knob_set("dma_provider_lacks", "none"));
	EXPECT_FALSE(knob_set("dma_provider_lacks", "bogus"));
	if (expect_engine() == 1) {
		EXPECT_EQ(dma_copy(fd, ks, pg, 4 * line, &got), 0);
		EXPECT_EQ(got, MEMDRIVER_DMA_ENGINE_DMAENGINE);
		dma_status(fd, text, sizeof(text));
		EXPECT_STRPREFIX(text, "dmaengine dma");
		EXPECT_TRUE(ends_with(text, " held"));
	} else if (info.dma_engine_mode != MEMDRIVER_DMA_MODE_ENGINE) {
		EXPECT_EQ(dma_copy(fd, ks, pg, 4 * line, &got), 0);
		EXPECT_EQ(got, MEMDRIVER_DMA_ENGINE_CPU);
	}
	printf("# after: %s\n", text);
}

/*
 * An engine-side mapping that fails (fail_function on memdriver_dma_map,
 * CONFIG_FAIL_FUNCTION): with dma_engine=auto the CPU copies that piece
 * and the copy is MIXED; with dma_engine=engine, and on the CPU path, the
 * copy fails with ENOMEM. The next copy works.
 */
TEST(dma_map_failure)
{
	static const char *const arm[][2] = {
		{ "inject", "memdriver_dma_map" },
		/* -ENOMEM as a 64-bit kernel's unsigned long. */
		{ "memdriver_dma_map/retval", "0xfffffffffffffff4" },
		{ "probability", "100" }, { "interval", "1" },
		/* The third mapping: the source of the second piece. */
		{ "space", "2" }, { "times", "1" }, { "verbose", "0" },
	};
	__u64 vm = region_off(MEMDRIVER_REGION_VMALLOC);
	__u64 half = region_size(MEMDRIVER_REGION_VMALLOC) / 2;
	size_t len = 4 * page_size, i;
	char path[160];
	__u32 got = 0;
	int ret, err;

	if (!need_debugfs())
		return;
	if (access("/sys/kernel/debug/fail_function/inject", W_OK)) {
		skip("no fail_function (CONFIG_FAIL_FUNCTION)");
		return;
	}
	if (dma_engine_missing()) {
		skip_load("dma_engine=engine without an engine: copies fail with ENODEV");
		return;
	}
	if (half < len) {
		skip_load("vmalloc region too small");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(arm); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/fail_function/%s", arm[i][0]);
		EXPECT_TRUE(write_text(path, arm[i][1]));
	}
	/* Pages of the scattered vmalloc region: four pieces, one fails. */
	ret = dma_copy(fd, vm, vm + half, len, &got);
	err = errno;
	EXPECT_TRUE(write_text("/sys/kernel/debug/fail_function/inject", "!memdriver_dma_map"));
	if (engine_in_use() && info.dma_engine_mode == MEMDRIVER_DMA_MODE_AUTO) {
		EXPECT_EQ(ret, 0);
		EXPECT_EQ(got, MEMDRIVER_DMA_ENGINE_MIXED);
	} else {
		EXPECT_EQ(ret, -1);
		EXPECT_EQ(err, ENOMEM);
	}
	dma_copy_exact(fd, vm, vm + half, len, 0, 530);
}

const struct test_case dma_cases[] = {
	CASE(dma_copy),
	CASE(dma_copy_errors),
	CASE(dma_engine_info),
	CASE(dma_engine_info_sysfs),
	CASE(dma_engine_info_v1),
	CASE_VARIANTS(dma_engine_pairs),
	CASE(dma_engine_lengths),
	CASE(dma_engine_threads),
	CASE_VARIANTS_TEARDOWN(dma_engine_faults, disarm_faults),
	CASE_VARIANTS_TEARDOWN(dma_engine_faults_threads, disarm_faults),
	CASE(dma_one_line),
	CASE(dma_one_line_busy),
	CASE_TEARDOWN(dma_engine_kill_waiter, disarm_faults),
	CASE_TEARDOWN(dma_engine_kill_holder, disarm_faults),
	CASE_VARIANTS_TEARDOWN(dma_engine_refused, disarm_faults),
	CASE_TEARDOWN(dma_engine_refused_recovers, disarm_faults),
	CASE_TEARDOWN(dma_map_failure, disarm_faults),
	CASE_TIMEOUT(dma_copy_killed, 300),
	{ }
};
