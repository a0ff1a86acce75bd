// SPDX-License-Identifier: GPL-2.0
/*
 * The faults and load-faults modes: fail every allocation of each call,
 * and of loading the module, in turn.
 */
#include "util.h"

#include <sched.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

/* ---- memdriver_test faults / load-faults: fail every allocation once ---- */

/*
 * Writing N to /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION) makes
 * the Nth failslab, fail_page_alloc or fail_usercopy site this thread
 * reaches fail. Raising N until a call runs clean visits every failure
 * point on its path once. The debugfs knobs must let GFP_KERNEL and order-0
 * allocations fail; scripts/guest/suite.sh sets them on the debug kernels.
 */
#define FAULT_MAX_NTH	10000

static int fail_nth_fd = -1;

/*
 * Two failures in a row. A failed allocation is often retried at once:
 * __xa_alloc() tries GFP_NOWAIT under its lock, then GFP_KERNEL without
 * it, and only when both fail does the driver's error path run, which one
 * failure never reaches. In pair mode failslab's own attributes, limited to
 * this thread (task-filter and make-it-fail), fail the slab allocation
 * right after the Nth failure too: fail-nth's failure uses up one of
 * failslab's "times", the next slab allocation the other.
 */
#define FAILSLAB	"/sys/kernel/debug/failslab/"

static bool fault_pairs;
static int make_it_fail_fd = -1, failslab_times_fd = -1;

/* write(), not pwrite(): debugfs attributes are opened non-seekable. */
static bool write_str(int fd, const char *val)
{
	return write(fd, val, strlen(val)) == (ssize_t)strlen(val);
}

static bool fail_nth_open(void)
{
	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	make_it_fail_fd = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	failslab_times_fd = open(FAILSLAB "times", O_WRONLY | O_CLOEXEC);
	/* Pair mode is optional: without failslab's files, single failures only. */
	if (make_it_fail_fd < 0 || failslab_times_fd < 0 ||
	    !write_str(failslab_times_fd, "0") ||
	    !write_text(FAILSLAB "space", "0") || !write_text(FAILSLAB "interval", "1") ||
	    !write_text(FAILSLAB "task-filter", "Y") ||
	    !write_text(FAILSLAB "probability", "100")) {
		close(make_it_fail_fd);
		make_it_fail_fd = -1;
	}
	return fail_nth_fd >= 0;
}

static bool fail_pairs_possible(void)
{
	return make_it_fail_fd >= 0;
}

/* Call right before the system call under test: nothing may come between. */
static void fail_nth_arm(unsigned int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", nth);

	/* Neither write allocates from a slab, so neither fails. */
	if (fault_pairs && (!write_str(failslab_times_fd, "2") ||
			    !write_str(make_it_fail_fd, "1"))) {
		printf("# arming failslab: %s\n", strerror(errno));
		exit(2);
	}
	if (pwrite(fail_nth_fd, buf, len, 0) != len) {
		printf("# writing fail-nth: %s\n", strerror(errno));
		exit(2);
	}
}

/*
 * Disarm, and say whether the armed failure struck. The read's and the
 * reset's own user copies count down too: a count they used up, making
 * them fail, was not the call's.
 */
static bool fail_nth_disarm(void)
{
	char buf[16] = "";
	ssize_t n = pread(fail_nth_fd, buf, sizeof(buf) - 1, 0);
	int tries;

	for (tries = 0; tries < 3; tries++)
		if (pwrite(fail_nth_fd, "0", 1, 0) == 1)
			break;
	/* Only now, with fail-nth at 0, can these writes not fail. */
	if (fault_pairs && (!write_str(make_it_fail_fd, "0") ||
			    !write_str(failslab_times_fd, "0"))) {
		printf("# disarming failslab: %s\n", strerror(errno));
		exit(2);
	}
	return n > 0 && buf[0] == '0';
}

/* One failed call must fail cleanly: one of the errnos it may give. */
static bool fault_errno_ok(int err, int want1, int want2)
{
	if (err == want1 || err == want2)
		return true;
	printf("# unexpected errno %d (%s)\n", err, strerror(err));
	return false;
}

/*
 * One call under test with its Nth failure point armed. prepare() sets up,
 * call() makes the one system call (nothing else may run while armed) and
 * returns its result, negative on failure, and check() checks the outcome
 * and the state it leaves, and undoes the setup.
 */
struct fault_ctx {
	int fd;
	unsigned int nth;
	int arg;			/* the table entry's: a region, or write */
	struct memdriver_info before, got;
	struct memdriver_object_io io;
	__u64 src, dst;
	size_t len;
	__u8 *want, *old, *now, *buf;
	void *map;
	long long ret;
	int err;
};

static void fault_free_bufs(struct fault_ctx *c)
{
	free(c->want);
	free(c->old);
	free(c->now);
	free(c->buf);
}

static long long fault_open_call(struct fault_ctx *c)
{
	(void)c;
	return open(dev_path, O_RDWR);
}

static void fault_open_check(struct fault_ctx *c)
{
	if (c->ret >= 0)
		close(c->ret);
}

static void fault_alloc_prepare(struct fault_ctx *c)
{
	c->before = info_now(c->fd);
}

static long long fault_alloc_call(struct fault_ctx *c)
{
	return ioctl(c->fd, MEM_IOCTL_ALLOC_OBJECT);
}

static void fault_alloc_check(struct fault_ctx *c)
{
	if (c->ret > 0) {
		EXPECT_EQ(info_now(c->fd).objects_fd, c->before.objects_fd + 1);
		EXPECT_EQ(free_object(c->fd, c->ret), 0);
	} else {
		EXPECT_EQ(info_now(c->fd).objects_total, c->before.objects_total);
	}
}

/* Object payload I/O: a failed write leaves the old payload. */
static void fault_object_io_prepare(struct fault_ctx *c)
{
	c->io.id = ioctl(c->fd, MEM_IOCTL_ALLOC_OBJECT);
	c->old = xmalloc(MEMDRIVER_PAYLOAD_SIZE);
	c->now = xmalloc(MEMDRIVER_PAYLOAD_SIZE);
	EXPECT_GT(c->io.id, 0);
	EXPECT_EQ(object_read(c->fd, c->io.id, c->old), 0);
	memset(c->io.data, c->arg ? 0x5a : 0, sizeof(c->io.data));
}

static long long fault_object_io_call(struct fault_ctx *c)
{
	return ioctl(c->fd, c->arg ? MEM_IOCTL_WRITE_OBJECT : MEM_IOCTL_READ_OBJECT, &c->io);
}

static void fault_object_io_check(struct fault_ctx *c)
{
	size_t len = MEMDRIVER_PAYLOAD_SIZE;

	EXPECT_EQ(object_read(c->fd, c->io.id, c->now), 0);
	if (c->ret) {
		EXPECT_MEMEQ(c->now, c->old, len);
	} else {
		EXPECT_MEMEQ(c->now, c->arg ? c->io.data : c->old, len);
		EXPECT_TRUE(c->arg || !memcmp(c->io.data, c->old, len));
	}
	EXPECT_EQ(free_object(c->fd, c->io.id), 0);
	fault_free_bufs(c);
}

static long long fault_get_info_call(struct fault_ctx *c)
{
	return get_info(c->fd, &c->got);
}

static void fault_get_info_check(struct fault_ctx *c)
{
	if (!c->ret)
		EXPECT_EQ(c->got.total_size, info.total_size);
}

/* pread() or pwrite() of one page of the region; a failed write changes nothing. */
static void fault_rw_prepare(struct fault_ctx *c)
{
	c->len = page_size;
	c->dst = region_off(MEMDRIVER_REGION_VMALLOC);
	c->old = xmalloc(c->len);
	c->buf = xmalloc(c->len);
	c->now = xmalloc(c->len);
	fill_pattern(c->old, c->len, c->dst, c->nth);
	EXPECT_EQ(pwrite(c->fd, c->old, c->len, c->dst), c->len);
	fill_pattern(c->buf, c->len, c->dst, c->nth + 1);
}

static long long fault_rw_call(struct fault_ctx *c)
{
	if (c->arg)
		return pwrite(c->fd, c->buf, c->len, c->dst);
	return pread(c->fd, c->buf, c->len, c->dst);
}

static void fault_rw_check(struct fault_ctx *c)
{
	EXPECT_EQ(pread(c->fd, c->now, c->len, c->dst), c->len);
	if (c->ret < 0) {
		EXPECT_MEMEQ(c->now, c->old, c->len);
	} else {
		EXPECT_EQ(c->ret, c->len);
		EXPECT_MEMEQ(c->now, c->arg ? c->buf : c->old, c->len);
		EXPECT_TRUE(c->arg || !memcmp(c->buf, c->old, c->len));
	}
	fault_free_bufs(c);
}

/* One page from the kmalloc to the pages region: all or nothing. */
static void fault_dma_copy_prepare(struct fault_ctx *c)
{
	c->src = region_off(MEMDRIVER_REGION_KMALLOC);
	c->dst = region_off(MEMDRIVER_REGION_PAGES);
	c->len = page_size;
	c->want = xmalloc(c->len);
	c->old = xmalloc(c->len);
	c->now = xmalloc(c->len);
	fill_pattern(c->want, c->len, c->src, c->nth);
	fill_pattern(c->old, c->len, c->dst, c->nth + 1);
	EXPECT_EQ(pwrite(c->fd, c->want, c->len, c->src), c->len);
	EXPECT_EQ(pwrite(c->fd, c->old, c->len, c->dst), c->len);
}

static long long fault_dma_copy_call(struct fault_ctx *c)
{
	return dma_copy(c->fd, c->src, c->dst, c->len, NULL);
}

static void fault_dma_copy_check(struct fault_ctx *c)
{
	EXPECT_EQ(pread(c->fd, c->now, c->len, c->dst), c->len);
	if (c->ret) {
		/* EFAULT on the result's copy-out comes after the copy. */
		EXPECT_TRUE(!memcmp(c->now, c->old, c->len) ||
			    (c->err == EFAULT && !memcmp(c->now, c->want, c->len)));
	} else {
		EXPECT_MEMEQ(c->now, c->want, c->len);
	}
	fault_free_bufs(c);
}

/* mmap() of a whole region: a mapping that exists shows the device's bytes. */
static void fault_mmap_prepare(struct fault_ctx *c)
{
	c->len = region_size(c->arg);
	c->want = xmalloc(c->len);
	EXPECT_EQ(pread(c->fd, c->want, c->len, region_off(c->arg)), c->len);
}

static long long fault_mmap_call(struct fault_ctx *c)
{
	c->map = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd,
		      region_off(c->arg));
	return c->map == MAP_FAILED ? -1 : 0;
}

static void fault_mmap_check(struct fault_ctx *c)
{
	if (c->map != MAP_FAILED) {
		EXPECT_MEMEQ(c->map, c->want, c->len);
		EXPECT_EQ(munmap(c->map, c->len), 0);
	}
	fault_free_bufs(c);
}

/*
 * On x86 a remap_pfn_range() that fails part way (a page table allocation)
 * trips WARN_ON_ONCE() in untrack_pfn() (arch/x86/mm/pat/memtype.c) on its
 * way out, seen on 6.1: the kernel's error path, not the driver's. The
 * kmalloc and DMA regions are mapped that way there; arm64 has no PAT and
 * runs these cases.
 */
static const char *remap_pfn_range_unsafe(void)
{
	struct utsname u;

	if (uname(&u) || strcmp(u.machine, "x86_64"))
		return NULL;
	return "x86 PAT warns in remap_pfn_range()'s own error path";
}

/*
 * The object calls allocate different things depending on what the fd
 * already holds: nothing more than the object while it is alone (the
 * xarray keeps index 0 in its head), a node for the second, a new leaf at
 * 64 and a new level at 4096. Each runs in every one of these states.
 */
static const unsigned int fault_held[] = { 0, 1, 63, 64, 4096 };

struct fault_op {
	const char *name;
	void (*prepare)(struct fault_ctx *c);
	long long (*call)(struct fault_ctx *c);
	void (*check)(struct fault_ctx *c);
	int arg;		/* handed to the three in fault_ctx.arg */
	int errnos[2];		/* what a failed call may say */
	const char *(*skip)(void);
	bool per_held;		/* once per fault_held[] state */
	const char *no_pairs;	/* why two failures in a row are not tried */
};

#define FAULT_OBJECT(n, p, w) .name = n, .prepare = p, .call = fault_##w##_call, \
	.check = fault_##w##_check, .per_held = true
#define FAULT_MMAP(n, r) .name = n, .prepare = fault_mmap_prepare,		\
	.call = fault_mmap_call, .check = fault_mmap_check, .arg = (r),	\
	.errnos = { ENOMEM, EAGAIN }

/*
 * Each operation has at least one failure point (asserted). FREE_OBJECT
 * has none: it reads its id with get_user(), which no fault injection
 * reaches, and allocates nothing.
 */
static const struct fault_op fault_ops[] = {
	{ .name = "open", .call = fault_open_call, .check = fault_open_check,
	  .errnos = { ENOMEM, EFAULT } },
	{ FAULT_OBJECT("alloc_object", fault_alloc_prepare, alloc),
	  .errnos = { ENOMEM, ENOMEM } },
	{ FAULT_OBJECT("read_object", fault_object_io_prepare, object_io),
	  .errnos = { EFAULT, EFAULT } },
	{ FAULT_OBJECT("write_object", fault_object_io_prepare, object_io),
	  .arg = true, .errnos = { EFAULT, EFAULT } },
	{ .name = "get_info", .call = fault_get_info_call, .check = fault_get_info_check,
	  .errnos = { EFAULT, EFAULT } },
	{ .name = "read", .prepare = fault_rw_prepare, .call = fault_rw_call,
	  .check = fault_rw_check, .errnos = { EFAULT, EFAULT } },
	{ .name = "write", .prepare = fault_rw_prepare, .call = fault_rw_call,
	  .check = fault_rw_check, .arg = true, .errnos = { EFAULT, EFAULT } },
	/*
	 * A second failure lands in DMA-API debug's own cacheline tracking
	 * (a radix tree insert that cannot sleep), which then switches
	 * itself off ("cacheline tracking ENOMEM, dma-debug disabled").
	 */
	{ .name = "dma_copy", .prepare = fault_dma_copy_prepare,
	  .call = fault_dma_copy_call, .check = fault_dma_copy_check,
	  .errnos = { ENOMEM, EFAULT },
	  .no_pairs = "DMA-API debug's own tracking would fail and switch it off" },
	{ FAULT_MMAP("mmap_kmalloc", MEMDRIVER_REGION_KMALLOC), .skip = remap_pfn_range_unsafe },
	{ FAULT_MMAP("mmap_vmalloc", MEMDRIVER_REGION_VMALLOC) },
	{ FAULT_MMAP("mmap_dma", MEMDRIVER_REGION_DMA), .skip = remap_pfn_range_unsafe },
	{ FAULT_MMAP("mmap_pages", MEMDRIVER_REGION_PAGES) },
};

/*
 * The one place a call runs armed: set up, arm the Nth failure point, call,
 * disarm, check. Returns whether the failure struck; success without one
 * is the end.
 */
static bool fault_point(const struct fault_op *op, int fd, unsigned int nth)
{
	struct fault_ctx c = { .fd = fd, .nth = nth, .arg = op->arg };
	bool struck;

	if (op->prepare)
		op->prepare(&c);
	fail_nth_arm(nth);
	c.ret = op->call(&c);
	c.err = errno;
	struck = fail_nth_disarm();
	/* A failed call must be the armed failure's doing, with a clean errno. */
	if (c.ret < 0) {
		EXPECT_TRUE(struck);
		EXPECT_TRUE(fault_errno_ok(c.err, op->errnos[0], op->errnos[1]));
	}
	op->check(&c);
	return struck;
}

/* Visit every failure point of one call; returns how many struck, or -1. */
static int fault_points(const struct fault_op *op, int fd)
{
	unsigned int nth;

	for (nth = 1; nth < FAULT_MAX_NTH && !case_failed(); nth++)
		if (!fault_point(op, fd, nth))
			return nth - 1;
	EXPECT_LT(nth, FAULT_MAX_NTH);
	return -1;
}

/* Allocate @n objects on @fd; returns their ids (freed by fault_release). */
static int *fault_hold(int fd, unsigned int n)
{
	int *ids = xmalloc((n + 1) * sizeof(*ids));
	unsigned int i;

	for (i = 0; i < n; i++) {
		ids[i] = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
		EXPECT_GT(ids[i], 0);
	}
	return ids;
}

static void fault_release(int fd, int *ids, unsigned int n)
{
	while (n--)
		EXPECT_EQ(free_object(fd, ids[n]), 0);
	free(ids);
}

int run_faults(void)
{
	int n = 0, i, total = 0, fd = open_dev();
	struct memdriver_info before = info_now(fd);
	unsigned int h;
	struct ktap k;

	/* Each call and state with one failure, then with two in a row. */
	for (i = 0; i < (int)ARRAY_SIZE(fault_ops); i++)
		n += 2 * (fault_ops[i].per_held ? ARRAY_SIZE(fault_held) : 1);
	/* And one result for what all of them leave behind. */
	ktap_plan(&k, n + 1);
	if (!fail_nth_open()) {
		printf("# /proc/thread-self/fail-nth: %s\n", strerror(errno));
		for (i = 1; i <= n + 1; i++)
			ktap_result(&k, KTAP_SKIP, "no fault injection", "faults");
		return 0;
	}
	for (i = 0; i < (int)ARRAY_SIZE(fault_ops); i++) {
		const struct fault_op *op = &fault_ops[i];
		const char *why = op->skip ? op->skip() : NULL;
		unsigned int states = op->per_held ? ARRAY_SIZE(fault_held) : 1;

		for (h = 0; h < 2 * states; h++) {
			unsigned int held = op->per_held ? fault_held[h / 2] : 0;
			const char *skip_why = why;
			char state[96] = "";
			int points, *ids;

			fault_pairs = h % 2;
			if (op->per_held)
				snprintf(state, sizeof(state), ", fd holding %u objects", held);
			if (fault_pairs)
				strcat(state, ", two failures in a row");
			if (!skip_why && fault_pairs && !fail_pairs_possible())
				skip_why = "no failslab attributes";
			if (!skip_why && fault_pairs)
				skip_why = op->no_pairs;
			if (!skip_why && held + 1 > before.max_objects_per_fd)
				skip_why = SKIP_LOAD_PREFIX "the per-fd cap is lower";
			if (!skip_why && before.objects_total + held + 1 > before.max_objects)
				skip_why = SKIP_LOAD_PREFIX "the module-wide cap is lower";
			if (skip_why) {
				ktap_result(&k, KTAP_SKIP, skip_why, "faults: %s%s",
					    op->name, state);
				continue;
			}
			case_begin();
			ids = fault_hold(fd, held);
			points = fault_points(op, fd);
			fault_release(fd, ids, held);
			EXPECT_GT(points, 0);
			if (points > 0)
				total += points;
			ktap_case_result(&k, "faults: %s%s: %d failure points, each a clean errno",
					 op->name, state, points);
		}
	}
	fault_pairs = false;
	case_begin();
	EXPECT_GT(total, 0);
	EXPECT_EQ(info_now(fd).objects_total, before.objects_total);
	close(fd);
	ktap_case_result(&k, "faults: no object left after %d failures in %d calls and states",
			 total, n);
	return ktap_end(&k);
}

/*
 * While loads fail, another thread keeps opening the devices. A device that
 * could be opened during a load that then fails would leave an fd on a
 * freed module: open() must refuse until the load has succeeded. The
 * opener never holds an fd across an unload (main waits for it to ack).
 */
struct load_opener {
	int gen;		/* main: the load in progress */
	int decided;		/* main: the last load whose result is known */
	int failed;		/* main: that load failed */
	int paused;		/* main: stop opening, ack and wait */
	int stop;
	int ack;		/* opener: paused at this decided load, no fd held */
	unsigned int opens, survivors, nr_devs;
};

static int lo_get(const int *field)
{
	return __atomic_load_n(field, __ATOMIC_ACQUIRE);
}

static void lo_set(int *field, int v)
{
	__atomic_store_n(field, v, __ATOMIC_RELEASE);
}

static void *load_opener_run(void *arg)
{
	struct load_opener *lo = arg;
	unsigned int k = 0;
	char path[64], byte;

	while (!lo_get(&lo->stop)) {
		int gen, decided, f;

		if (lo_get(&lo->paused)) {
			lo_set(&lo->ack, lo_get(&lo->decided));
			sched_yield();
			continue;
		}
		gen = lo_get(&lo->gen);
		decided = lo_get(&lo->decided);
		snprintf(path, sizeof(path), "/dev/memdriver%u", k++ % lo->nr_devs);
		f = open(path, O_RDWR | O_CLOEXEC);
		if (f < 0) {
			/*
			 * Often enough for the window a device would be open
			 * in (device 1's regions take milliseconds), without
			 * taking a whole CPU from the loads.
			 */
			usleep(200);
			continue;
		}
		/* Opened during load @gen: hold the fd until it is decided. */
		while (decided != gen && lo_get(&lo->decided) != gen && !lo_get(&lo->stop))
			sched_yield();
		if (decided != gen && lo_get(&lo->failed)) {
			lo->survivors++;
			printf("# an fd on %s survived a failed load; read gives %zd\n",
			       path, read(f, &byte, 1));
		}
		lo->opens++;
		close(f);
	}
	return NULL;
}

/*
 * finit_module() with failure points on the load path armed in turn: each
 * failed load returns a clean errno and leaves no module, class or device
 * node behind; one that succeeds anyway is unloaded again. --stride N visits
 * every Nth point only (from --offset): on a kernel whose unloads each wait
 * seconds (DEBUG_KOBJECT_RELEASE).
 */
int run_load_faults(int argc, char **argv)
{
	unsigned int nth, stride = 1, offset = 0, ndev = 1;
	struct load_opener lo = {};
	const char *params = "";
	int ko, points = 0, ret, err;
	pthread_t opener;
	char every[48];
	struct ktap k;
	bool struck;

	while (argc > 2 && !strncmp(argv[0], "--", 2)) {
		if (!strcmp(argv[0], "--stride"))
			stride = strtoul(argv[1], NULL, 0);
		else if (!strcmp(argv[0], "--offset"))
			offset = strtoul(argv[1], NULL, 0);
		else
			break;
		argc -= 2;
		argv += 2;
	}
	if (argc < 1 || argc > 2 || !stride)
		die_usage();
	if (argc > 1) {
		const char *nd = strstr(argv[1], "nr_devices=");

		params = argv[1];
		if (nd)
			ndev = strtoul(nd + strlen("nr_devices="), NULL, 0);
	}
	offset %= stride;
	ktap_plan(&k, 1);
	ko = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (ko < 0 || !fail_nth_open() || module_loaded()) {
		printf("# %s, fail-nth or an unloaded module missing: %s\n",
		       argv[0], strerror(errno));
		return 2;
	}
	lo.nr_devs = ndev ? ndev : 1;
	if (pthread_create(&opener, NULL, load_opener_run, &lo))
		return 2;
	case_begin();
	for (nth = 1 + offset; nth < FAULT_MAX_NTH && !case_failed(); nth += stride) {
		lo_set(&lo.gen, lo.gen + 1);
		fail_nth_arm(nth);
		ret = syscall(SYS_finit_module, ko, params, 0);
		err = errno;
		struck = fail_nth_disarm();
		lo_set(&lo.failed, ret != 0);
		lo_set(&lo.paused, true);
		lo_set(&lo.decided, lo.gen);
		while (lo_get(&lo.ack) != lo.gen)
			sched_yield();
		if (ret == 0) {
			EXPECT_TRUE(module_loaded());
			EXPECT_EQ(syscall(SYS_delete_module, "memdriver", O_NONBLOCK), 0);
		} else {
			/*
			 * EINVAL too: the kernel reports some failed
			 * allocations so (kmem_cache_create(); device_add()
			 * of a platform device whose name was not allocated).
			 */
			EXPECT_TRUE(struck &&
				    (err == EINVAL || fault_errno_ok(err, ENOMEM, EFAULT)));
			EXPECT_FALSE(module_loaded());
			EXPECT_NE(access("/sys/class/memdriver", F_OK), 0);
			EXPECT_NE(access(dev_path, F_OK), 0);
		}
		lo_set(&lo.paused, false);
		points += struck;
		if (ret == 0 && !struck)
			break;
	}
	lo_set(&lo.stop, true);
	pthread_join(opener, NULL);
	EXPECT_LT(nth, FAULT_MAX_NTH);
	/* A load path with no failure point tested nothing. */
	EXPECT_GT(points, 0);
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(lo.survivors, 0);
	close(ko);
	printf("# load-faults: %u opens raced the loads, %u fds outlived a failed load\n",
	       lo.opens, lo.survivors);
	snprintf(every, sizeof(every), "every %u%s", stride,
		 stride == 1 ? "" : " from an offset");
	ktap_case_result(&k, "load-faults%s%s: %d failure points on the %s (%s), each unwound",
			 *params ? " " : "", params, points, "load path", every);
	return ktap_end(&k);
}
