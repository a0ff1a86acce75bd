// SPDX-License-Identifier: GPL-2.0
/*
 * The bench mode: each path's speed against its limit.
 */
#include "util.h"

/* ---- bench ---- */

/*
 * memdriver_test bench [--quick] [--runs N] [P1..P7...]: each path against
 * its limit (all of P1-P7 unless some are named).
 * Every figure is the ratio of two measurements taken back to back in the
 * same run, so the machine's own speed (QEMU TCG in CI) cancels out; a row
 * shows the median of the per-run ratios with their min and max, then the
 * medians of both sides. Each measurement lasts about bench.target_ns.
 * Speeds are reported against their goals, never asserted: the exit status
 * only says whether every operation worked.
 */
#include <sched.h>
#include <sys/utsname.h>
#include <time.h>
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>

#define BENCH_KIB		((size_t)1024)
#define BENCH_CHUNK		(64 * BENCH_KIB)	/* P1's chunk */
#define BENCH_CURVE_MIN		(4 * BENCH_KIB)
#define BENCH_CURVE_MAX		(1024 * BENCH_KIB)
#define BENCH_FEW		10U			/* P4: live objects */
#define BENCH_MANY		100000U
#define BENCH_THREADS		2			/* P5 */
#define BENCH_MAX_RUNS		101
#define BENCH_NOOP_IOCTL	_IO(MEM_IOCTL_MAGIC, 99)

static struct {
	int runs;
	double target_ns;	/* duration of one measurement */
	unsigned int many;	/* P4: live objects held */
	int errors;		/* failed operations: the figures are void */
} bench = {
	.runs = 21,
	.target_ns = 50e6,
	.many = BENCH_MANY,
};

static void bench_fail(const char *what)
{
	if (!bench.errors++)
		printf("# bench: %s: %s\n", what, strerror(errno));
}

static double bench_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * One side of a ratio: run(ctx, n) does n operations (chunk copies, passes
 * over a mapping, ioctl pairs) and returns the ns they took; each operation
 * is @units units of work (bytes, pairs).
 */
struct bench_side {
	double (*run)(void *ctx, unsigned long n);
	void *ctx;
	double units;
	unsigned long n;	/* calibrated by bench_measure() */
};

struct bench_result {
	double ratio[BENCH_MAX_RUNS];	/* num / den, per run */
	double num[BENCH_MAX_RUNS];
	double den[BENCH_MAX_RUNS];
};

/* Warm up (TCG translates code on first use) and size n to the target. */
static void bench_calibrate(struct bench_side *s)
{
	double t = 0;

	for (s->n = 1; s->n < 1UL << 30; s->n *= 2) {
		t = s->run(s->ctx, s->n);
		if (t >= bench.target_ns / 8)
			break;
	}
	if (t > 0 && t < bench.target_ns)
		s->n = s->n * (bench.target_ns / t) + 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* bench.runs back-to-back pairs of measurements, alternating the order. */
static void bench_measure(struct bench_result *res, struct bench_side *num,
			  struct bench_side *den)
{
	int i;

	bench_calibrate(num);
	bench_calibrate(den);
	for (i = 0; i < bench.runs; i++) {
		if (i % 2) {
			res->den[i] = den->run(den->ctx, den->n) / (den->n * den->units);
			res->num[i] = num->run(num->ctx, num->n) / (num->n * num->units);
		} else {
			res->num[i] = num->run(num->ctx, num->n) / (num->n * num->units);
			res->den[i] = den->run(den->ctx, den->n) / (den->n * den->units);
		}
		res->ratio[i] = res->den[i] > 0 ? res->num[i] / res->den[i] : 0;
	}
}

enum bench_goal { BENCH_REPORT, BENCH_AT_LEAST, BENCH_AT_MOST };

/*
 * One table row. Both sides' medians arrive in ns per unit; @rate shows
 * them as MB/s instead of us.
 */
static void bench_row(const char *id, const char *what, struct bench_result *res,
		      enum bench_goal kind, double goal, bool rate,
		      const char *num_name, const char *den_name)
{
	double a = median(res->num, bench.runs), b = median(res->den, bench.runs);
	double r = median(res->ratio, bench.runs);
	/* median() sorted the ratios. */
	double lo = res->ratio[0], hi = res->ratio[bench.runs - 1];
	const char *verdict = "-";
	char goal_str[16] = "report";

	if (kind != BENCH_REPORT) {
		bool met = kind == BENCH_AT_LEAST ? r >= goal : r <= goal;

		snprintf(goal_str, sizeof(goal_str), "%s%.2f",
			 kind == BENCH_AT_LEAST ? ">=" : "<=", goal);
		verdict = met ? "met" : "MISSED";
	}
	if (rate)
		printf("%-3s %-31s %5.2f [%5.2f-%5.2f] %-7s %-6s %s %.0f MB/s, %s %.0f MB/s\n",
		       id, what, r, lo, hi, goal_str, verdict,
		       num_name, a > 0 ? 1e3 / a : 0, den_name, b > 0 ? 1e3 / b : 0);
	else
		printf("%-3s %-31s %5.2f [%5.2f-%5.2f] %-7s %-6s %s %.2f us, %s %.2f us\n",
		       id, what, r, lo, hi, goal_str, verdict,
		       num_name, a / 1e3, den_name, b / 1e3);
}

static void bench_size(char *buf, size_t len, size_t bytes)
{
	if (bytes >= 1024 * BENCH_KIB && !(bytes % (1024 * BENCH_KIB)))
		snprintf(buf, len, "%zu MiB", bytes / (1024 * BENCH_KIB));
	else if (!(bytes % BENCH_KIB))
		snprintf(buf, len, "%zu KiB", bytes / BENCH_KIB);
	else
		snprintf(buf, len, "%zu B", bytes);
}

/* ---- P1: read()/write() against memcpy() ---- */

struct bench_copy {
	int fd;
	__u64 off;		/* the region in the device */
	size_t size;		/* region bytes */
	size_t chunk;
	bool to_device;
	__u8 *buf;		/* user buffer, size bytes */
	__u8 *mirror;		/* memcpy's stand-in for the region */
};

/* n chunks, through the region and around again. */
static double bench_copy_run(struct bench_copy *c, unsigned long n, bool by_memcpy)
{
	double t0 = bench_ns();
	unsigned long i;
	size_t at = 0;

	for (i = 0; i < n; i++) {
		if (by_memcpy) {
			if (c->to_device)
				memcpy(c->mirror + at, c->buf + at, c->chunk);
			else
				memcpy(c->buf + at, c->mirror + at, c->chunk);
		} else if ((c->to_device ?
			    pwrite(c->fd, c->buf + at, c->chunk, c->off + at) :
			    pread(c->fd, c->buf + at, c->chunk, c->off + at)) !=
			   (ssize_t)c->chunk) {
			bench_fail(c->to_device ? "pwrite" : "pread");
			break;
		}
		at += c->chunk;
		if (at + c->chunk > c->size)
			at = 0;
	}
	asm volatile("" : : "r" (c->buf), "r" (c->mirror) : "memory");
	return bench_ns() - t0;
}

static double bench_copy_dev(void *ctx, unsigned long n)
{
	return bench_copy_run(ctx, n, false);
}

static double bench_copy_memcpy(void *ctx, unsigned long n)
{
	return bench_copy_run(ctx, n, true);
}

static void bench_p1_row(struct bench_copy *c, const char *region)
{
	struct bench_side dev = {
		.run = bench_copy_dev, .ctx = c, .units = c->chunk
	};
	struct bench_side mem = {
		.run = bench_copy_memcpy, .ctx = c, .units = c->chunk
	};
	const char *op = c->to_device ? "write" : "read";
	struct bench_result res;
	char what[64], size[24];

	/* Throughput ratio: memcpy's ns per byte over the device's. */
	bench_measure(&res, &mem, &dev);
	bench_size(size, sizeof(size), c->chunk);
	snprintf(what, sizeof(what), "%-5s %-7s %s chunks", op, region, size);
	bench_row("P1", what, &res, c->chunk == BENCH_CHUNK ? BENCH_AT_LEAST :
		  BENCH_REPORT, 0.85, true, "memcpy", op);
}

static void bench_p1(int fd)
{
	int r, dir;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		struct bench_copy c = {
			.fd = fd, .off = region_off(r), .size = region_size(r),
		};
		size_t first = c.size < BENCH_CHUNK ? c.size : BENCH_CHUNK;
		size_t last = first;

		c.buf = xmalloc(c.size);
		c.mirror = xmalloc(c.size);
		memset(c.buf, 0x5a, c.size);
		memset(c.mirror, 0xa5, c.size);
		/* The vmalloc region also gets the chunk-size curve. */
		if (r == MEMDRIVER_REGION_VMALLOC) {
			first = c.size < BENCH_CURVE_MIN ? c.size : BENCH_CURVE_MIN;
			last = c.size < BENCH_CURVE_MAX ? c.size : BENCH_CURVE_MAX;
		}
		for (dir = 0; dir < 2; dir++) {
			c.to_device = dir;
			for (c.chunk = first; c.chunk <= last; c.chunk *= 2)
				bench_p1_row(&c, region_names[r]);
		}
		free(c.buf);
		free(c.mirror);
	}
}

/* ---- P2: through a mapping against anonymous memory ---- */

struct bench_map {
	__u64 *mem;
	size_t size;
};

/* n passes, each writes every word, then reads every word back. */
static double bench_map_run(void *ctx, unsigned long n)
{
	struct bench_map *m = ctx;
	size_t words = m->size / sizeof(__u64), i;
	double t0 = bench_ns();
	unsigned long pass;
	__u64 sum = 0;

	for (pass = 0; pass < n; pass++) {
		for (i = 0; i < words; i++)
			m->mem[i] = pass + i;
		asm volatile("" : : "r" (m->mem) : "memory");
		for (i = 0; i < words; i++)
			sum += m->mem[i];
	}
	asm volatile("" : : "r" (sum));
	return bench_ns() - t0;
}

static void bench_p2(int fd)
{
	int r;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		struct bench_map dev = { .size = region_size(r) }, anon = dev;
		struct bench_side dside = {
			.run = bench_map_run, .ctx = &dev, .units = 2.0 * dev.size
		};
		struct bench_side aside = {
			.run = bench_map_run, .ctx = &anon, .units = 2.0 * anon.size
		};
		struct bench_result res;
		char what[64];

		dev.mem = mmap(NULL, dev.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fd, region_off(r));
		anon.mem = mmap(NULL, anon.size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (dev.mem == MAP_FAILED || anon.mem == MAP_FAILED) {
			bench_fail("mmap");
		} else {
			bench_measure(&res, &aside, &dside);
			snprintf(what, sizeof(what), "mmap  %-7s write+read",
				 region_names[r]);
			bench_row("P2", what, &res, BENCH_AT_LEAST, 0.95, true,
				  "anon", "mmap");
		}
		if (dev.mem != MAP_FAILED)
			munmap(dev.mem, dev.size);
		if (anon.mem != MAP_FAILED)
			munmap(anon.mem, anon.size);
	}
}

/* ---- P3-P5: the object pool ---- */

static bool bench_pair(int fd)
{
	int id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);

	if (id <= 0 || free_object(fd, id)) {
		bench_fail("alloc+free");
		return false;
	}
	return true;
}

/* n alloc+free pairs on the fd that ctx points at. */
static double bench_pairs_run(void *ctx, unsigned long n)
{
	int fd = *(int *)ctx;
	double t0 = bench_ns();
	unsigned long i;

	for (i = 0; i < n; i++)
		if (!bench_pair(fd))
			break;
	return bench_ns() - t0;
}

/* n no-op ioctls: an undefined command, ENOTTY. */
static double bench_noop_run(void *ctx, unsigned long n)
{
	int fd = *(int *)ctx;
	double t0 = bench_ns();
	unsigned long i;

	for (i = 0; i < n; i++)
		if (ioctl(fd, BENCH_NOOP_IOCTL) != -1 || errno != ENOTTY) {
			bench_fail("no-op ioctl");
			break;
		}
	return bench_ns() - t0;
}

static void bench_p3(int fd)
{
	struct bench_side pair = { .run = bench_pairs_run, .ctx = &fd, .units = 1 };
	struct bench_side noop = { .run = bench_noop_run, .ctx = &fd, .units = 1 };
	struct bench_result res;

	bench_measure(&res, &pair, &noop);
	bench_row("P3", "alloc+free pair / no-op ioctl", &res, BENCH_AT_MOST, 4.0,
		  false, "pair", "no-op");
}

/* Open a file holding n live objects; -1 if that failed. */
static int bench_fd_holding(unsigned int n)
{
	int fd = open_dev();
	unsigned int i;

	for (i = 0; i < n; i++)
		if (ioctl(fd, MEM_IOCTL_ALLOC_OBJECT) <= 0) {
			bench_fail("filling the pool");
			close(fd);
			return -1;
		}
	return fd;
}

static void bench_p4(void)
{
	int few_fd = bench_fd_holding(BENCH_FEW), many_fd;
	struct bench_side many_side = { .run = bench_pairs_run, .ctx = &many_fd, .units = 1 };
	struct bench_side few_side = { .run = bench_pairs_run, .ctx = &few_fd, .units = 1 };
	unsigned int many = bench.many;
	struct memdriver_info now;
	struct bench_result res;
	char what[64];

	if (few_fd < 0)
		return;
	/* Stay under both caps, leaving room for the pairs themselves. */
	now = info_now(few_fd);
	if (many > now.max_objects_per_fd - 1)
		many = now.max_objects_per_fd - 1;
	if (many > now.max_objects - now.objects_total - 2)
		many = now.max_objects - now.objects_total - 2;
	many_fd = bench_fd_holding(many);
	if (many_fd >= 0) {
		bench_measure(&res, &many_side, &few_side);
		snprintf(what, sizeof(what), "pair @%u live / @%u live", many,
			 BENCH_FEW);
		bench_row("P4", what, &res, BENCH_AT_MOST, 1.2, false,
			  "many", "few");
		close(many_fd);
	}
	close(few_fd);
}

struct bench_thread {
	pthread_t tid;
	int fd;
	int cpu;
	bool noop;		/* no-op ioctls instead of pairs */
	unsigned long n;
	int *ready;		/* threads at the start line */
	int threads;
	double t0, t1;
};

static void *bench_thread_run(void *arg)
{
	struct bench_thread *t = arg;
	unsigned long i;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);	/* best effort */
	/*
	 * Spin, not sleep, at the start line: waking a sleeping thread on an
	 * idle vCPU takes milliseconds under TCG, which would count as work.
	 */
	__atomic_add_fetch(t->ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(t->ready, __ATOMIC_SEQ_CST) < t->threads)
		;
	t->t0 = bench_ns();
	if (t->noop)
		bench_noop_run(&t->fd, t->n);
	else
		for (i = 0; i < t->n; i++)
			if (!bench_pair(t->fd))
				break;
	t->t1 = bench_ns();
	return NULL;
}

struct bench_mt {
	int threads;
	bool shared_fd;
	bool noop;
	int ncpus;
};

/* n calls per thread; the wall time from the first start to the last end. */
static double bench_mt_run(void *ctx, unsigned long n)
{
	struct bench_mt *mt = ctx;
	struct bench_thread t[BENCH_THREADS];
	double t0 = 0, t1 = 0;
	int i, ready = 0, shared = open_dev();

	for (i = 0; i < mt->threads; i++) {
		t[i].fd = mt->shared_fd ? shared : open_dev();
		t[i].cpu = i % mt->ncpus;
		t[i].noop = mt->noop;
		t[i].n = n;
		t[i].ready = &ready;
		t[i].threads = mt->threads;
		if (pthread_create(&t[i].tid, NULL, bench_thread_run, &t[i])) {
			printf("# bench: pthread_create failed\n");
			exit(2);
		}
	}
	for (i = 0; i < mt->threads; i++) {
		pthread_join(t[i].tid, NULL);
		if (!i || t[i].t0 < t0)
			t0 = t[i].t0;
		if (!i || t[i].t1 > t1)
			t1 = t[i].t1;
		if (!mt->shared_fd)
			close(t[i].fd);
	}
	close(shared);
	return t1 - t0;
}

static void bench_p5(void)
{
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct bench_mt one = { 1, false, false, ncpus };
	struct bench_mt own = { BENCH_THREADS, false, false, ncpus };
	struct bench_mt shared = { BENCH_THREADS, true, false, ncpus };
	struct bench_mt noop_one = { 1, false, true, ncpus };
	struct bench_mt noop_own = { BENCH_THREADS, false, true, ncpus };
	struct bench_side one_side = { .run = bench_mt_run, .ctx = &one, .units = 1 };
	struct bench_side own_side = { .run = bench_mt_run, .ctx = &own, .units = BENCH_THREADS };
	struct bench_side shared_side = {
		.run = bench_mt_run, .ctx = &shared, .units = BENCH_THREADS
	};
	struct bench_side noop_one_side = {
		.run = bench_mt_run, .ctx = &noop_one, .units = 1
	};
	struct bench_side noop_own_side = {
		.run = bench_mt_run, .ctx = &noop_own, .units = BENCH_THREADS
	};
	struct bench_result res;

	if (ncpus < BENCH_THREADS) {
		printf("# P5: skipped: %d CPU online, needs %d\n", ncpus, BENCH_THREADS);
		return;
	}
	/*
	 * Throughput ratios: one thread's ns per call over two threads'. The
	 * no-op row is the limit here: what two vCPUs give any syscall loop.
	 */
	bench_measure(&res, &noop_one_side, &noop_own_side);
	bench_row("P5", "no-op ioctl: 2 threads / 1", &res, BENCH_REPORT, 0,
		  false, "1 thread", "2 threads");
	bench_measure(&res, &one_side, &own_side);
	bench_row("P5", "2 threads, own fds / 1 thread", &res, BENCH_AT_LEAST, 1.5,
		  false, "1 thread", "2 threads");
	bench_measure(&res, &one_side, &shared_side);
	bench_row("P5", "2 threads, one fd / 1 thread", &res, BENCH_REPORT, 0,
		  false, "1 thread", "2 threads");
}

/* ---- P6: MEM_IOCTL_DMA_COPY by the engine and by the CPU against memcpy() ---- */

struct bench_dma {
	int fd;
	__u64 src, dst;
	size_t len;
	__u32 flags;
	__u32 want;		/* the engine every copy must report */
	__u8 *a, *b;		/* memcpy's stand-ins for the windows */
};

static double bench_dma_run(void *ctx, unsigned long n)
{
	struct bench_dma *c = ctx;
	double t0 = bench_ns();
	unsigned long i;
	__u32 engine;

	for (i = 0; i < n; i++)
		if (dma_copy_flags(c->fd, c->src, c->dst, c->len, c->flags, &engine) ||
		    engine != c->want) {
			bench_fail("DMA_COPY");
			break;
		}
	return bench_ns() - t0;
}

static double bench_dma_memcpy(void *ctx, unsigned long n)
{
	struct bench_dma *c = ctx;
	double t0 = bench_ns();
	unsigned long i;

	for (i = 0; i < n; i++) {
		memcpy(c->b, c->a, c->len);
		asm volatile("" : : "r" (c->a), "r" (c->b) : "memory");
	}
	return bench_ns() - t0;
}

/* Windows of len bytes, whole cache lines: kmalloc to pages, else within vmalloc. */
static bool bench_dma_windows(struct bench_dma *c)
{
	if (region_size(MEMDRIVER_REGION_KMALLOC) >= c->len &&
	    region_size(MEMDRIVER_REGION_PAGES) >= c->len) {
		c->src = region_off(MEMDRIVER_REGION_KMALLOC);
		c->dst = region_off(MEMDRIVER_REGION_PAGES);
		return true;
	}
	if (region_size(MEMDRIVER_REGION_VMALLOC) >= 2 * c->len) {
		c->src = region_off(MEMDRIVER_REGION_VMALLOC);
		c->dst = c->src + region_size(MEMDRIVER_REGION_VMALLOC) / 2;
		return true;
	}
	return false;
}

static void bench_p6(int fd)
{
	bool engine = info.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE &&
		      info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU;
	struct bench_dma c = { .fd = fd };
	struct bench_result res;
	char what[64], size[24];
	int by;

	if (!engine)
		printf("P6  DMA_COPY: no dmaengine channel, the CPU rows only\n");
	else
		printf("P6  DMA_COPY: engine %s on %s\n", info.dma_chan, info.dma_device);
	for (c.len = 4 * BENCH_KIB; c.len <= BENCH_CURVE_MAX; c.len *= 4) {
		struct bench_side dev = { .run = bench_dma_run, .ctx = &c, .units = c.len };
		struct bench_side mem = { .run = bench_dma_memcpy, .ctx = &c, .units = c.len };

		bench_size(size, sizeof(size), c.len);
		if (!bench_dma_windows(&c)) {
			printf("P6  DMA_COPY %s: skipped, regions too small (vmalloc %zu)\n",
			       size, 2 * c.len);
			continue;
		}
		c.a = xmalloc(c.len);
		c.b = xmalloc(c.len);
		memset(c.a, 0x5a, c.len);
		memset(c.b, 0xa5, c.len);
		for (by = engine ? 0 : 1; by < 2; by++) {
			c.flags = by ? MEMDRIVER_DMA_COPY_CPU : 0;
			c.want = dma_engine_for(c.src, c.dst, c.len, by);
			/* Throughput ratio: memcpy's ns per byte over DMA_COPY's. */
			bench_measure(&res, &mem, &dev);
			snprintf(what, sizeof(what), "DMA_COPY %-6s %s / memcpy",
				 by ? "cpu" : "engine", size);
			bench_row("P6", what, &res, BENCH_REPORT, 0, true, "memcpy",
				  by ? "cpu" : "engine");
		}
		free(c.a);
		free(c.b);
	}
}

/* ---- P7: an exported dma-buf's mapping against udmabuf's ---- */

struct bench_dmabuf {
	struct bench_map map;
	int buf;		/* the dma-buf fd */
};

static bool bench_dmabuf_sync(int buf, __u64 flags)
{
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_RW | flags };

	if (!ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync))
		return true;
	bench_fail("DMA_BUF_IOCTL_SYNC");
	return false;
}

/*
 * n passes of P2's inside one CPU access (SYNC start, end), as a program
 * that keeps the buffer for a while does: the sync's cost is per access,
 * not per byte, and over ~50 ms it is lost in the noise on both sides; a
 * sync per pass would make the 4 KiB kmalloc row time two ioctls instead
 * of the mapping.
 */
static double bench_dmabuf_run(void *ctx, unsigned long n)
{
	struct bench_dmabuf *d = ctx;
	double t0 = bench_ns();

	if (bench_dmabuf_sync(d->buf, DMA_BUF_SYNC_START)) {
		bench_map_run(&d->map, n);
		bench_dmabuf_sync(d->buf, DMA_BUF_SYNC_END);
	}
	return bench_ns() - t0;
}

/* A udmabuf of @size bytes over a fresh memfd, as udmabuf wants it; -1 if not. */
static int bench_udmabuf(int dev, size_t size)
{
	struct udmabuf_create req = { .size = size };
	int memfd = memfd_create("bench-p7", MFD_ALLOW_SEALING), buf = -1;

	if (memfd < 0 || ftruncate(memfd, size) ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		bench_fail("memfd for udmabuf");
	} else {
		req.memfd = memfd;
		buf = ioctl(dev, UDMABUF_CREATE, &req);
		if (buf < 0)
			bench_fail("UDMABUF_CREATE");
	}
	/* The udmabuf holds the memfd's pages, not its fd. */
	if (memfd >= 0)
		close(memfd);
	return buf;
}

static void bench_dmabuf_unmap(struct bench_dmabuf *d)
{
	if (d->map.mem != MAP_FAILED)
		munmap(d->map.mem, d->map.size);
	if (d->buf >= 0)
		close(d->buf);
}

static void bench_p7(int fd)
{
	static const int regions[] = {
		MEMDRIVER_REGION_KMALLOC, MEMDRIVER_REGION_VMALLOC,
		MEMDRIVER_REGION_PAGES,
	};
	int udev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	unsigned int i;

	if (udev < 0) {
		printf("# P7: skipped: /dev/udmabuf: %s (CONFIG_UDMABUF)\n",
		       strerror(errno));
		return;
	}
	/* Each region whole, and a udmabuf of the same size. */
	for (i = 0; i < ARRAY_SIZE(regions); i++) {
		int r = regions[i];
		struct bench_dmabuf md = { .map.size = region_size(r) }, ud = md;
		struct bench_side mside = {
			.run = bench_dmabuf_run, .ctx = &md, .units = 2.0 * md.map.size
		};
		struct bench_side uside = {
			.run = bench_dmabuf_run, .ctx = &ud, .units = 2.0 * ud.map.size
		};
		struct bench_result res;
		char what[64], size[24];

		md.buf = export_window(fd, region_off(r), md.map.size,
				       MEMDRIVER_DMABUF_RDWR);
		if (md.buf < 0)
			bench_fail("MEM_IOCTL_EXPORT_DMABUF");
		ud.buf = bench_udmabuf(udev, ud.map.size);
		md.map.mem = md.buf < 0 ? MAP_FAILED :
			     mmap(NULL, md.map.size, PROT_READ | PROT_WRITE,
				  MAP_SHARED, md.buf, 0);
		ud.map.mem = ud.buf < 0 ? MAP_FAILED :
			     mmap(NULL, ud.map.size, PROT_READ | PROT_WRITE,
				  MAP_SHARED, ud.buf, 0);
		if (md.buf >= 0 && ud.buf >= 0 &&
		    (md.map.mem == MAP_FAILED || ud.map.mem == MAP_FAILED))
			bench_fail("mmap dma-buf");
		if (md.map.mem != MAP_FAILED && ud.map.mem != MAP_FAILED) {
			/* Throughput ratio: udmabuf's ns per byte over ours. */
			bench_measure(&res, &uside, &mside);
			bench_size(size, sizeof(size), md.map.size);
			snprintf(what, sizeof(what), "mmap dma-buf %-7s %s",
				 region_names[r], size);
			bench_row("P7", what, &res, BENCH_AT_LEAST, 0.95, true,
				  "udmabuf", "dma-buf");
		}
		bench_dmabuf_unmap(&md);
		bench_dmabuf_unmap(&ud);
	}
	close(udev);
}

static int bench_usage(void)
{
	fprintf(stderr, "usage: memdriver_test [-d DEVICE] bench [--quick] [--runs 1-%d] %s\n",
		BENCH_MAX_RUNS, "[P1..P7...]");
	return 2;
}

int run_bench(int argc, char **argv)
{
	unsigned int only = 0;	/* bit n: run Pn; none set: all */
	struct utsname u;
	int i, fd;

	for (i = 0; i < argc; i++) {
		if (argv[i][0] == 'P' && argv[i][1] >= '1' && argv[i][1] <= '7' &&
		    !argv[i][2]) {
			only |= 1U << (argv[i][1] - '0');
		} else if (!strcmp(argv[i], "--quick")) {
			bench.runs = 1;
			bench.target_ns = 2e6;
			bench.many = 10000;
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			bench.runs = atoi(argv[++i]);
			if (bench.runs < 1 || bench.runs > BENCH_MAX_RUNS)
				return bench_usage();
		} else {
			return bench_usage();
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	fd = open_dev();
	if (get_info(fd, &info)) {
		printf("# MEM_IOCTL_GET_INFO on %s: %s\n", dev_path, strerror(errno));
		return 2;
	}
	uname(&u);
	printf("# memdriver bench: kernel %s, arch %s, page size %ld, %ld CPUs\n",
	       u.release, u.machine, page_size, sysconf(_SC_NPROCESSORS_ONLN));
	printf("# %s; %d run%s of %.0f ms a side: median ratio [min-max], medians of both sides\n",
	       dev_path, bench.runs, bench.runs > 1 ? "s" : "", bench.target_ns / 1e6);
	printf("%-3s %-31s %5s %-13s %-7s %-6s %s\n", "ID", "measurement", "ratio",
	       "[min-max]", "goal", "result", "medians");
	if (!only)
		only = ~0U;
	if (only & 1U << 1)
		bench_p1(fd);
	if (only & 1U << 2)
		bench_p2(fd);
	if (only & 1U << 3)
		bench_p3(fd);
	if (only & 1U << 4)
		bench_p4();
	if (only & 1U << 5)
		bench_p5();
	if (only & 1U << 6)
		bench_p6(fd);
	if (only & 1U << 7)
		bench_p7(fd);
	close(fd);
	if (bench.errors)
		printf("# bench: %d operations failed, figures are void\n", bench.errors);
	return bench.errors ? 1 : 0;
}
