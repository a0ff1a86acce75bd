// SPDX-License-Identifier: GPL-2.0
/*
 * memdriver_test - test suite and tutorial replay for /dev/memdriverN.
 *
 *   memdriver_test [-d DEVICE] [--fresh] [test]   the suite, KTAP output
 *   memdriver_test [-d DEVICE] tutorial           the tutorial's flow, verbose
 *   memdriver_test [-d DEVICE] info               an annotated memory map
 *   memdriver_test [-d DEVICE] fuzz [--seed N] [--ops N]
 *                                   random operations checked against a model
 *   memdriver_test [-d DEVICE] bench [--quick] [--runs N] [P1..P6...]
 *                                   each path's speed against its limit
 *   memdriver_test [-d DEVICE] stress [--procs N] [--threads N] [--rounds N]
 *                                   processes x threads on shared and own fds
 *   memdriver_test [-d DEVICE] faults   fail each call's allocations in turn
 *   memdriver_test [-d DEVICE] load-faults [--stride N] [--offset N] MODULE.ko [PARAMS]
 *                                   the same for loading the module
 *   memdriver_test [-d DEVICE] hold N   close an fd holding N objects
 *
 * Every size and offset comes from MEM_IOCTL_GET_INFO and the page size from
 * sysconf(), so the suite runs unchanged on 4 KiB and 16 KiB page kernels and
 * with any module parameters. --fresh adds the check that a just-loaded
 * device reads as zeros.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memdriver.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *dev_path = "/dev/memdriver0";
static bool fresh_load;
static long page_size;
static struct memdriver_info info;	/* as read at start-up */

/* ---- A small KTAP harness ---- */

static int case_failed;
static const char *case_skip;

#define EXPECT(cond) expect_at(__LINE__, (cond), #cond)
#define EXPECT_EQ(a, b) \
	expect_eq_at(__LINE__, #a " == " #b, (long long)(a), (long long)(b))
/* A syscall that must fail with exactly this errno. */
#define EXPECT_ERRNO(call, err) do {					\
	long long _r = (long long)(call);				\
	expect_errno_at(__LINE__, #call, _r, errno, (err));		\
} while (0)
/* The same for mmap() and mremap(): a pointer, MAP_FAILED on error. */
#define EXPECT_MAP_ERRNO(call, err) EXPECT_ERRNO((intptr_t)(call), err)

static void expect_at(int line, bool ok, const char *what)
{
	if (ok)
		return;
	case_failed = 1;
	printf("# line %d: expected %s\n", line, what);
}

static void expect_eq_at(int line, const char *what, long long a, long long b)
{
	if (a == b)
		return;
	case_failed = 1;
	printf("# line %d: expected %s (%lld != %lld)\n", line, what, a, b);
}

static void expect_errno_at(int line, const char *what, long long ret,
			    int err, int want)
{
	if (ret == -1 && err == want)
		return;
	case_failed = 1;
	printf("# line %d: expected %s to fail with %s, got %lld (%s)\n",
	       line, what, strerror(want), ret,
	       ret == -1 ? strerror(err) : "no error");
}

static void skip(const char *why)
{
	case_skip = why;
}

/* The KTAP verdict of the case that just ran. */
static const char *ktap_result(void)
{
	if (case_failed)
		return "not ok";
	return "ok";
}

/* ---- Helpers ---- */

static int open_dev(void)
{
	int fd = open(dev_path, O_RDWR);

	if (fd < 0) {
		printf("# open %s: %s\n", dev_path, strerror(errno));
		exit(2);
	}
	return fd;
}

/* The device opened read-only or write-only; exits if that fails. */
static int open_dev_mode(int flags)
{
	int fd = open(dev_path, flags);

	if (fd < 0) {
		printf("# open %s (flags %#x): %s\n", dev_path, flags, strerror(errno));
		exit(2);
	}
	return fd;
}

static int get_info(int fd, struct memdriver_info *out)
{
	return ioctl(fd, MEM_IOCTL_GET_INFO, out);
}

static __u8 pattern_byte(__u64 pos, unsigned int seed)
{
	return (__u8)((pos * 131 + seed * 7 + (pos >> 8)) ^ seed);
}

static void fill_pattern(__u8 *buf, size_t len, __u64 pos, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(pos + i, seed);
}

/* Index of the first byte where buf differs from the pattern, or -1. */
static long long check_pattern(const __u8 *buf, size_t len, __u64 pos,
			       unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != pattern_byte(pos + i, seed))
			return (long long)i;
	return -1;
}

static void *xmalloc(size_t len)
{
	void *p = malloc(len);

	if (!p) {
		printf("# out of memory\n");
		exit(2);
	}
	return p;
}

/* An address guaranteed to be unmapped. */
static void *unmapped_address(void)
{
	void *p = mmap(NULL, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, page_size);
	return p;
}

static long long read_sysfs_number(const char *dir, const char *name)
{
	char path[256], buf[64];
	long long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		val = strtoll(buf, NULL, 0);
	fclose(f);
	return val;
}

static void class_dir(char *buf, size_t len)
{
	char *copy = strdup(dev_path);

	snprintf(buf, len, "/sys/class/memdriver/%s", basename(copy));
	free(copy);
}

static long long module_param(const char *name)
{
	return read_sysfs_number("/sys/module/memdriver/parameters", name);
}

static __u64 region_off(int r)
{
	return info.regions[r].offset;
}

static __u64 region_size(int r)
{
	return info.regions[r].size;
}

static const char *const region_names[MEMDRIVER_NR_REGIONS] = {
	"kmalloc", "vmalloc", "dma", "pages",
};

static int object_read(int fd, int id, __u8 *data)
{
	struct memdriver_object_io io = { .id = id };
	int ret = ioctl(fd, MEM_IOCTL_READ_OBJECT, &io);

	if (!ret)
		memcpy(data, io.data, sizeof(io.data));
	return ret;
}

static int free_object(int fd, int id)
{
	return ioctl(fd, MEM_IOCTL_FREE_OBJECT, &id);
}

/*
 * MEMDRIVER_EXPECT_ENGINE=1 (the raspi guest) or 0 (guests without an
 * engine): whether the device must report a dmaengine channel; unset, the
 * suite believes GET_INFO.
 */
static int expect_engine(void)
{
	const char *e = getenv("MEMDRIVER_EXPECT_ENGINE");

	return e && *e ? atoi(e) : -1;
}

static const char *const engine_names[] = {
	"?", "CPU", "DMAENGINE", "MIXED",
};

static const char *engine_name(__u32 engine)
{
	return engine < ARRAY_SIZE(engine_names) ? engine_names[engine] : "?";
}

/* The region holding the whole window, or -1. */
static int window_region(__u64 off, __u64 len)
{
	int r;

	if (off >= info.total_size || len > info.total_size - off)
		return -1;
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++)
		if (off >= region_off(r) && off < region_off(r) + region_size(r))
			return off + len <= region_off(r) + region_size(r) ? r : -1;
	return -1;
}

/*
 * Who must move the bytes of a valid copy, by the module's rules
 * (memdriver_dma_copy_engine()): an engine takes the destination's whole
 * cache lines inside the window, if neither window is in the coherent region
 * and the two are equally aligned to the engine's word; the CPU does the
 * rest. Regions start on page boundaries, so offsets align as addresses do.
 */
static __u32 dma_engine_for(__u64 src, __u64 dst, __u64 len, bool force_cpu)
{
	__u64 line = info.dma_copy_align, head, body;

	if (force_cpu || info.dma_engine != MEMDRIVER_DMA_ENGINE_DMAENGINE ||
	    info.dma_engine_mode == MEMDRIVER_DMA_MODE_CPU ||
	    window_region(src, len) == MEMDRIVER_REGION_DMA ||
	    window_region(dst, len) == MEMDRIVER_REGION_DMA)
		return MEMDRIVER_DMA_ENGINE_CPU;
	head = (line - dst % line) % line;
	if (head > len)
		head = len;
	body = (len - head) / line * line;
	if (!body || ((src - dst) & (info.dma_engine_align - 1)))
		return MEMDRIVER_DMA_ENGINE_CPU;
	return body == len ? MEMDRIVER_DMA_ENGINE_DMAENGINE : MEMDRIVER_DMA_ENGINE_MIXED;
}

/* dma_engine=engine without a channel: every copy but a forced-CPU one fails. */
static bool dma_engine_missing(void)
{
	return info.dma_engine_mode == MEMDRIVER_DMA_MODE_ENGINE &&
	       info.dma_engine != MEMDRIVER_DMA_ENGINE_DMAENGINE;
}

static int dma_copy_flags(int fd, __u64 src, __u64 dst, __u64 len, __u32 flags,
			  __u32 *engine)
{
	struct memdriver_dma_copy req = {
		.src = src, .dst = dst, .len = len, .flags = flags,
	};
	int ret = ioctl(fd, MEM_IOCTL_DMA_COPY, &req);

	if (engine)
		*engine = req.engine;
	return ret;
}

static int dma_copy(int fd, __u64 src, __u64 dst, __u64 len, __u32 *engine)
{
	return dma_copy_flags(fd, src, dst, len, 0, engine);
}

static struct memdriver_info info_now(int fd)
{
	struct memdriver_info now;

	memset(&now, 0, sizeof(now));
	EXPECT_EQ(get_info(fd, &now), 0);
	return now;
}

/* ---- Cases ---- */

static void test_info(int fd)
{
	static const char *const attrs[MEMDRIVER_NR_REGIONS] = {
		"kmalloc_size", "vmalloc_size", "dma_size", "pages_size",
	};
	char dir[256];
	__u64 off = 0;
	int r;

	class_dir(dir, sizeof(dir));
	EXPECT_EQ(info.version, MEMDRIVER_INFO_VERSION);
	EXPECT_EQ(info.page_size, page_size);
	EXPECT_EQ(info.payload_size, MEMDRIVER_PAYLOAD_SIZE);
	EXPECT(info.dma_copy_align >= 1 &&
	       !(info.dma_copy_align & (info.dma_copy_align - 1)));
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		long long param = module_param(attrs[r]);
		__u64 rounded = ((__u64)param + page_size - 1) &
				   ~(__u64)(page_size - 1);

		EXPECT_EQ(region_off(r), off);
		EXPECT_EQ(region_off(r) % page_size, 0);
		EXPECT(region_size(r) > 0);
		EXPECT_EQ(region_size(r), rounded);
		EXPECT_EQ(read_sysfs_number(dir, attrs[r]), region_size(r));
		off += region_size(r);
	}
	EXPECT_EQ(info.total_size, off);
	EXPECT_EQ(read_sysfs_number(dir, "total_size"), info.total_size);
	EXPECT(info.dma_mask_bits == 36 || info.dma_mask_bits == 32);
	EXPECT_EQ(read_sysfs_number(dir, "dma_mask_bits"), info.dma_mask_bits);
	EXPECT_EQ(info.max_objects_per_fd, module_param("max_objects_per_fd"));
	EXPECT_EQ(info.max_objects, module_param("max_objects"));
	EXPECT_EQ(info.objects_fd, 0);
	EXPECT_ERRNO(get_info(fd, NULL), EFAULT);
	EXPECT_ERRNO(get_info(fd, unmapped_address()), EFAULT);
}

static void test_zeroed_at_load(int fd)
{
	__u8 *buf;
	__u64 i;

	if (!fresh_load) {
		skip("needs --fresh (a just-loaded module)");
		return;
	}
	buf = xmalloc(info.total_size);
	EXPECT_EQ(pread(fd, buf, info.total_size, 0), info.total_size);
	for (i = 0; i < info.total_size; i++)
		if (buf[i]) {
			printf("# byte %llu is %u\n", (unsigned long long)i, buf[i]);
			EXPECT(!"non-zero byte after load");
			break;
		}
	free(buf);
}

/* One write() of the whole device, one read() back: crosses every region. */
static void test_whole_device_rw(int fd)
{
	__u8 *buf = xmalloc(info.total_size);

	fill_pattern(buf, info.total_size, 0, 1);
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(write(fd, buf, info.total_size), info.total_size);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), info.total_size);
	memset(buf, 0, info.total_size);
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(read(fd, buf, info.total_size), info.total_size);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), info.total_size);
	EXPECT_EQ(check_pattern(buf, info.total_size, 0, 1), -1);
	free(buf);
}

/* Each region alone, and a 200-byte window across each boundary. */
static void test_region_rw(int fd)
{
	__u8 win[200];
	int r;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		size_t len = region_size(r);
		__u8 *buf = xmalloc(len);

		fill_pattern(buf, len, region_off(r), 10 + r);
		EXPECT_EQ(pwrite(fd, buf, len, region_off(r)), len);
		memset(buf, 0, len);
		EXPECT_EQ(pread(fd, buf, len, region_off(r)), len);
		EXPECT_EQ(check_pattern(buf, len, region_off(r), 10 + r), -1);
		free(buf);
	}
	for (r = 1; r < MEMDRIVER_NR_REGIONS; r++) {
		off_t at = region_off(r) - 100;

		fill_pattern(win, sizeof(win), at, 20 + r);
		EXPECT_EQ(pwrite(fd, win, sizeof(win), at), sizeof(win));
		memset(win, 0, sizeof(win));
		EXPECT_EQ(pread(fd, win, sizeof(win), at), sizeof(win));
		EXPECT_EQ(check_pattern(win, sizeof(win), at, 20 + r), -1);
	}
}

/* The tutorial moved f_pos backwards inside read/write; ours must not. */
static void test_file_position(int fd)
{
	__u64 vm = region_off(MEMDRIVER_REGION_VMALLOC) + 10;
	__u8 buf[1000];

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(write(fd, buf, 1000), 1000);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 1000);
	EXPECT_EQ(read(fd, buf, 500), 500);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 1500);
	EXPECT_EQ(lseek(fd, vm, SEEK_SET), vm);
	EXPECT_EQ(read(fd, buf, 300), 300);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), vm + 300);
	EXPECT_EQ(write(fd, buf, 300), 300);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), vm + 600);
	EXPECT_EQ(pread(fd, buf, 10, 0), 10);
	EXPECT_EQ(pwrite(fd, buf, 10, 0), 10);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), vm + 600);
}

/* What `cat` does: read until 0, which must come exactly at the end. */
static void test_cat_terminates(int fd)
{
	__u8 *buf = xmalloc(65536);
	__u64 total = 0;
	ssize_t n;
	int reads = 0;

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	while ((n = read(fd, buf, 65536)) > 0 && reads++ < 1000000)
		total += n;
	EXPECT_EQ(n, 0);
	EXPECT_EQ(total, info.total_size);
	EXPECT_EQ(read(fd, buf, 65536), 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), info.total_size);
	free(buf);
}

static void test_end_of_device(int fd)
{
	off_t end = info.total_size;
	__u8 buf[16];

	memset(buf, 0x5a, sizeof(buf));
	EXPECT_EQ(lseek(fd, 0, SEEK_END), end);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
	EXPECT_ERRNO(write(fd, buf, sizeof(buf)), ENOSPC);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), end);
	EXPECT_EQ(write(fd, buf, 0), 0);
	EXPECT_EQ(pread(fd, buf, sizeof(buf), end), 0);
	EXPECT_EQ(pread(fd, buf, sizeof(buf), end + 4096), 0);
	EXPECT_ERRNO(pwrite(fd, buf, sizeof(buf), end), ENOSPC);
	EXPECT_ERRNO(pwrite(fd, buf, sizeof(buf), end + 4096), ENOSPC);
	/* A write that straddles the end is cut short at it. */
	EXPECT_EQ(lseek(fd, end - 4, SEEK_SET), end - 4);
	EXPECT_EQ(write(fd, buf, sizeof(buf)), 4);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), end);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(pread(fd, buf, sizeof(buf), end - 4), 4);
	EXPECT_EQ(buf[0], 0x5a);
	EXPECT_EQ(buf[3], 0x5a);
	EXPECT_EQ(buf[4], 0);
	EXPECT_ERRNO(pread(fd, buf, sizeof(buf), -1), EINVAL);
	EXPECT_ERRNO(pwrite(fd, buf, sizeof(buf), -1), EINVAL);
}

static void test_bad_user_pointers(int fd)
{
	void *bad = unmapped_address();
	__u8 *two;
	__u8 known[16], back[16];

	fill_pattern(known, sizeof(known), 100, 7);
	EXPECT_EQ(pwrite(fd, known, sizeof(known), 100), sizeof(known));
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_ERRNO(read(fd, bad, 16), EFAULT);
	EXPECT_ERRNO(write(fd, bad, 16), EFAULT);
	EXPECT_ERRNO(pread(fd, bad, 16, 100), EFAULT);
	EXPECT_ERRNO(pwrite(fd, bad, 16, 100), EFAULT);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
	/* A write that fails leaves the device as it was. */
	EXPECT_EQ(pread(fd, back, sizeof(back), 100), sizeof(back));
	EXPECT_EQ(check_pattern(back, sizeof(back), 100, 7), -1);

	/*
	 * A buffer whose second page is inaccessible: a short count, and the
	 * position moves by exactly that count. copy_to/from_user() may stop
	 * a little before the faulting byte (arm64 does), so the count is at
	 * most one page, not exactly one.
	 */
	two = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(two != MAP_FAILED);
	if (two == MAP_FAILED)
		return;
	EXPECT_EQ(mprotect(two + page_size, page_size, PROT_NONE), 0);
	if (info.total_size >= 2 * (__u64)page_size) {
		__u8 *check = xmalloc(page_size);
		ssize_t n;

		EXPECT_EQ(pwrite(fd, two, page_size, 0), page_size);
		n = read(fd, two, 2 * page_size);
		EXPECT(n > 0 && n <= page_size);
		EXPECT_EQ(lseek(fd, 0, SEEK_CUR), n);
		fill_pattern(two, page_size, 0, 99);
		EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
		n = write(fd, two, 2 * page_size);
		EXPECT(n > 0 && n <= page_size);
		EXPECT_EQ(lseek(fd, 0, SEEK_CUR), n);
		/* The bytes counted are the bytes that landed. */
		if (n > 0) {
			EXPECT_EQ(pread(fd, check, n, 0), n);
			EXPECT_EQ(check_pattern(check, n, 0, 99), -1);
		}
		free(check);
	}
	munmap(two, 2 * page_size);
}

static void test_lseek(int fd)
{
	off_t end = info.total_size;

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(lseek(fd, end, SEEK_SET), end);
	EXPECT_EQ(lseek(fd, 100, SEEK_SET), 100);
	EXPECT_ERRNO(lseek(fd, end + 1, SEEK_SET), EINVAL);
	EXPECT_ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 100);
	EXPECT_EQ(lseek(fd, 50, SEEK_CUR), 150);
	EXPECT_EQ(lseek(fd, -150, SEEK_CUR), 0);
	EXPECT_ERRNO(lseek(fd, -1, SEEK_CUR), EINVAL);
	EXPECT_ERRNO(lseek(fd, end + 1, SEEK_CUR), EINVAL);
	EXPECT_EQ(lseek(fd, 0, SEEK_END), end);
	EXPECT_EQ(lseek(fd, -end, SEEK_END), 0);
	EXPECT_ERRNO(lseek(fd, 1, SEEK_END), EINVAL);
	EXPECT_ERRNO(lseek(fd, -end - 1, SEEK_END), EINVAL);
	EXPECT_ERRNO(lseek(fd, 0, 77), EINVAL);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
}

static void test_objects_alloc_free(int fd)
{
	struct memdriver_info before = info_now(fd), now;
	char dir[256], want[MEMDRIVER_PAYLOAD_SIZE];
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];
	int ids[5], i, j;

	class_dir(dir, sizeof(dir));
	for (i = 0; i < 5; i++) {
		ids[i] = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
		EXPECT(ids[i] > 0);
		for (j = 0; j < i; j++)
			EXPECT(ids[i] != ids[j]);
		memset(want, 0, sizeof(want));
		snprintf(want, sizeof(want), "Object ID: %d", ids[i]);
		EXPECT_EQ(object_read(fd, ids[i], data), 0);
		EXPECT_EQ(memcmp(data, want, sizeof(want)), 0);
	}
	now = info_now(fd);
	EXPECT_EQ(now.objects_fd, before.objects_fd + 5);
	EXPECT_EQ(now.objects_device, before.objects_device + 5);
	EXPECT_EQ(now.objects_total, before.objects_total + 5);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), now.objects_device);
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(free_object(fd, ids[i]), 0);
		EXPECT_ERRNO(free_object(fd, ids[i]), ENOENT);
	}
	now = info_now(fd);
	EXPECT_EQ(now.objects_fd, before.objects_fd);
	EXPECT_EQ(now.objects_device, before.objects_device);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device);
}

static void test_object_payload(int fd)
{
	struct memdriver_object_io io;
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];
	int id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);

	EXPECT(id > 0);
	memset(&io, 0, sizeof(io));
	io.id = id;
	fill_pattern(io.data, sizeof(io.data), 0, 42);
	EXPECT_EQ(ioctl(fd, MEM_IOCTL_WRITE_OBJECT, &io), 0);
	EXPECT_EQ(object_read(fd, id, data), 0);
	EXPECT_EQ(check_pattern(data, sizeof(data), 0, 42), -1);

	io.flags = 1;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_WRITE_OBJECT, &io), EINVAL);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, &io), EINVAL);
	io.flags = 0;
	io.id = 0;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, &io), ENOENT);
	io.id = -5;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_WRITE_OBJECT, &io), ENOENT);
	io.id = id + 1000000;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, &io), ENOENT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, NULL), EFAULT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_WRITE_OBJECT, unmapped_address()), EFAULT);
	/* A failed write leaves the payload alone. */
	EXPECT_EQ(object_read(fd, id, data), 0);
	EXPECT_EQ(check_pattern(data, sizeof(data), 0, 42), -1);
	EXPECT_EQ(free_object(fd, id), 0);
	io.id = id;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, &io), ENOENT);
}

static void test_object_errors(int fd)
{
	int other = open_dev();
	int id = ioctl(other, MEM_IOCTL_ALLOC_OBJECT);
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];

	EXPECT(id > 0);
	/* Ids belong to the fd that allocated them. */
	EXPECT_ERRNO(free_object(fd, id), ENOENT);
	EXPECT_ERRNO(object_read(fd, id, data), ENOENT);
	EXPECT_ERRNO(free_object(fd, 0), ENOENT);
	EXPECT_ERRNO(free_object(fd, -1), ENOENT);
	EXPECT_ERRNO(free_object(fd, 0x7fffffff), ENOENT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_FREE_OBJECT, NULL), EFAULT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_FREE_OBJECT, unmapped_address()), EFAULT);
	EXPECT_EQ(free_object(other, id), 0);
	close(other);
}

static void test_unknown_ioctl(int fd)
{
	int arg = 0;

	EXPECT_ERRNO(ioctl(fd, _IO(MEM_IOCTL_MAGIC, 99)), ENOTTY);
	EXPECT_ERRNO(ioctl(fd, _IO('X', 1)), ENOTTY);
	EXPECT_ERRNO(ioctl(fd, _IOR(MEM_IOCTL_MAGIC, 3, int), &arg), ENOTTY);
	EXPECT_ERRNO(ioctl(fd, _IOW(MEM_IOCTL_MAGIC, 1, int), &arg), ENOTTY);
}

static void test_release_frees_objects(int fd)
{
	struct memdriver_info before = info_now(fd);
	unsigned int room = before.max_objects - before.objects_total;
	unsigned int k = 10, i;
	int other = open_dev();
	char dir[256];

	/* Stay under both caps. */
	if (k > before.max_objects_per_fd)
		k = before.max_objects_per_fd;
	if (k > room)
		k = room;
	class_dir(dir, sizeof(dir));
	for (i = 0; i < k; i++)
		EXPECT(ioctl(other, MEM_IOCTL_ALLOC_OBJECT) > 0);
	EXPECT(k > 0);
	EXPECT_EQ(info_now(fd).objects_device, before.objects_device + k);
	EXPECT_EQ(info_now(other).objects_fd, k);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device + k);
	close(other);
	EXPECT_EQ(info_now(fd).objects_device, before.objects_device);
	EXPECT_EQ(info_now(fd).objects_total, before.objects_total);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device);
}

#define CAP_TEST_LIMIT 262144U

static void test_object_caps(int fd)
{
	struct memdriver_info now = info_now(fd);
	unsigned int per_fd = now.max_objects_per_fd, room, got = 0, i;
	int fds[64], nfds = 0, id = 0;

	room = now.max_objects - now.objects_total;
	if (now.max_objects > CAP_TEST_LIMIT || per_fd > CAP_TEST_LIMIT ||
	    room / per_fd + 1 >= 64) {
		skip("caps too large to fill here");
		return;
	}
	/* Per-fd cap: exactly max_objects_per_fd, unless the global cap bites. */
	fds[nfds++] = open_dev();
	for (i = 0; i < per_fd && got < room; i++, got++) {
		id = ioctl(fds[0], MEM_IOCTL_ALLOC_OBJECT);
		if (id <= 0)
			break;
	}
	EXPECT(id > 0);
	EXPECT_EQ(got, per_fd < room ? per_fd : room);
	if (per_fd < room) {
		EXPECT_ERRNO(ioctl(fds[0], MEM_IOCTL_ALLOC_OBJECT), EDQUOT);
		EXPECT_EQ(free_object(fds[0], id), 0);
		EXPECT(ioctl(fds[0], MEM_IOCTL_ALLOC_OBJECT) > 0);
	}
	EXPECT_EQ(info_now(fds[0]).objects_fd, got);

	/* Module-wide cap: fill it from more fds, then one more fails. */
	while (got < room && nfds < 64) {
		int f = open_dev();

		fds[nfds++] = f;
		for (i = 0; i < per_fd && got < room; i++, got++)
			if (ioctl(f, MEM_IOCTL_ALLOC_OBJECT) <= 0)
				break;
	}
	EXPECT_EQ(got, room);
	EXPECT_EQ(info_now(fd).objects_total, now.max_objects);
	if (got == room) {
		int f = open_dev();

		EXPECT_ERRNO(ioctl(f, MEM_IOCTL_ALLOC_OBJECT), ENOSPC);
		close(f);
	}
	while (nfds)
		close(fds[--nfds]);
	EXPECT_EQ(info_now(fd).objects_total, now.objects_total);
}

static void *map_region_window(int fd, __u64 off, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

static void test_mmap_regions(int fd)
{
	int r;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		size_t len = region_size(r);
		__u64 off = region_off(r);
		__u8 *map = map_region_window(fd, off, len);
		__u8 *buf = xmalloc(len);

		EXPECT(map != MAP_FAILED);
		if (map == MAP_FAILED) {
			printf("# mmap %s: %s\n", region_names[r], strerror(errno));
			free(buf);
			continue;
		}
		/* Mapping -> read() */
		fill_pattern(map, len, off, 50 + r);
		EXPECT_EQ(pread(fd, buf, len, off), len);
		EXPECT_EQ(check_pattern(buf, len, off, 50 + r), -1);
		/* write() -> mapping */
		fill_pattern(buf, len, off, 60 + r);
		EXPECT_EQ(pwrite(fd, buf, len, off), len);
		EXPECT_EQ(check_pattern(map, len, off, 60 + r), -1);
		EXPECT_EQ(munmap(map, len), 0);
		free(buf);
	}
}

/* A one-page window at a page offset inside each region. */
static void test_mmap_window(int fd)
{
	int r, tried = 0;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		__u64 off = region_off(r) + region_size(r) - page_size;
		__u8 *map, *buf;

		if (region_size(r) < 2 * (__u64)page_size)
			continue;
		tried++;
		buf = xmalloc(page_size);
		fill_pattern(buf, page_size, off, 70 + r);
		EXPECT_EQ(pwrite(fd, buf, page_size, off), page_size);
		map = map_region_window(fd, off, page_size);
		EXPECT(map != MAP_FAILED);
		if (map != MAP_FAILED) {
			EXPECT_EQ(check_pattern(map, page_size, off, 70 + r), -1);
			munmap(map, page_size);
		}
		free(buf);
	}
	EXPECT(tried > 0);
}

static void test_mmap_errors(int fd)
{
	__u64 total = info.total_size;
	__u64 vm_off = region_off(MEMDRIVER_REGION_VMALLOC);
	size_t km = region_size(MEMDRIVER_REGION_KMALLOC);
	void *map;
	int r;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++)
		EXPECT_MAP_ERRNO(mmap(NULL, region_size(r) + page_size,
				      PROT_READ, MAP_SHARED, fd, region_off(r)),
				 EINVAL);
	EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, total),
			 EINVAL);
	EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd,
			      total + 16 * page_size), EINVAL);
	EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd,
			      page_size / 2), EINVAL);
	EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE, fd, 0), EINVAL);
	/* Mappings cannot grow (VM_DONTEXPAND). */
	map = map_region_window(fd, vm_off, page_size);
	EXPECT(map != MAP_FAILED);
	if (map != MAP_FAILED) {
		EXPECT_MAP_ERRNO(mremap(map, page_size, 2 * page_size, 0), EFAULT);
		EXPECT_MAP_ERRNO(mremap(map, page_size, 2 * page_size,
					MREMAP_MAYMOVE), EFAULT);
		munmap(map, page_size);
	}
	map = map_region_window(fd, 0, km);
	EXPECT(map != MAP_FAILED);
	if (map != MAP_FAILED)
		munmap(map, km);
}

/* ---- Access rules: what each open mode allows ---- */

/* Every region's first page, through a read-only fd: read, mmap, lseek. */
static void test_readonly_fd(int fd)
{
	int ro = open_dev_mode(O_RDONLY), r, id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
	struct memdriver_object_io io = { .id = id };
	struct memdriver_info before;
	size_t len = page_size;
	__u8 *want = xmalloc(len), *got = xmalloc(len);
	__u64 src = region_off(MEMDRIVER_REGION_KMALLOC);
	__u64 dst = region_off(MEMDRIVER_REGION_PAGES);

	EXPECT(id > 0);
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		__u64 off = region_off(r);
		__u8 *map;

		fill_pattern(want, len, off, 80 + r);
		EXPECT_EQ(pwrite(fd, want, len, off), len);
		EXPECT_EQ(lseek(ro, off, SEEK_SET), off);
		EXPECT_EQ(read(ro, got, len), len);
		EXPECT_EQ(check_pattern(got, len, off, 80 + r), -1);
		map = mmap(NULL, len, PROT_READ, MAP_SHARED, ro, off);
		EXPECT(map != MAP_FAILED);
		if (map == MAP_FAILED)
			continue;
		EXPECT_EQ(check_pattern(map, len, off, 80 + r), -1);
		/* The mapping shares: a later write() shows through it. */
		fill_pattern(want, len, off, 90 + r);
		EXPECT_EQ(pwrite(fd, want, len, off), len);
		EXPECT_EQ(check_pattern(map, len, off, 90 + r), -1);
		/* The kernel's own answer to writing through a read-only fd. */
		EXPECT_ERRNO(mprotect(map, len, PROT_READ | PROT_WRITE), EACCES);
		EXPECT_EQ(munmap(map, len), 0);
		EXPECT_MAP_ERRNO(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ro, off),
				 EACCES);
	}
	EXPECT_ERRNO(write(ro, want, 1), EBADF);
	EXPECT_ERRNO(pwrite(ro, want, len, 0), EBADF);

	/* ioctls that write or allocate: EBADF, and nothing changes. */
	fill_pattern(want, len, src, 100);
	EXPECT_EQ(pwrite(fd, want, len, src), len);
	fill_pattern(want, len, dst, 101);
	EXPECT_EQ(pwrite(fd, want, len, dst), len);
	EXPECT_EQ(object_read(fd, id, io.data), 0);
	memcpy(got, io.data, sizeof(io.data));
	before = info_now(fd);
	EXPECT_ERRNO(dma_copy(ro, src, dst, len, NULL), EBADF);
	EXPECT_ERRNO(ioctl(ro, MEM_IOCTL_ALLOC_OBJECT), EBADF);
	EXPECT_ERRNO(ioctl(ro, MEM_IOCTL_FREE_OBJECT, &id), EBADF);
	memset(io.data, 0x5a, sizeof(io.data));
	EXPECT_ERRNO(ioctl(ro, MEM_IOCTL_WRITE_OBJECT, &io), EBADF);
	/* Even with a bad pointer: the mode is checked first. */
	EXPECT_ERRNO(ioctl(ro, MEM_IOCTL_FREE_OBJECT, unmapped_address()), EBADF);
	EXPECT_EQ(pread(fd, want, len, dst), len);
	EXPECT_EQ(check_pattern(want, len, dst, 101), -1);
	EXPECT_EQ(info_now(fd).objects_total, before.objects_total);
	EXPECT_EQ(info_now(fd).objects_device, before.objects_device);
	EXPECT_EQ(info_now(ro).objects_fd, 0);
	EXPECT_EQ(object_read(fd, id, io.data), 0);
	EXPECT(!memcmp(io.data, got, sizeof(io.data)));
	/* What a reader may do: GET_INFO, READ_OBJECT (its own ids: none). */
	EXPECT_EQ(info_now(ro).total_size, info.total_size);
	EXPECT_ERRNO(object_read(ro, id, io.data), ENOENT);
	EXPECT_EQ(free_object(fd, id), 0);
	close(ro);
	free(want);
	free(got);
}

/* A write-only fd: write and the writing ioctls, no read, no mmap. */
static void test_writeonly_fd(int fd)
{
	int wo = open_dev_mode(O_WRONLY), id;
	struct memdriver_object_io io = {};
	__u64 off = region_off(MEMDRIVER_REGION_VMALLOC);
	__u64 dst = region_off(MEMDRIVER_REGION_PAGES);
	size_t len = page_size;
	__u8 *buf = xmalloc(len);

	fill_pattern(buf, len, off, 110);
	EXPECT_EQ(pwrite(wo, buf, len, off), len);
	EXPECT_EQ(pread(fd, buf, len, off), len);
	EXPECT_EQ(check_pattern(buf, len, off, 110), -1);
	EXPECT_ERRNO(read(wo, buf, 1), EBADF);
	EXPECT_ERRNO(pread(wo, buf, len, off), EBADF);
	EXPECT_MAP_ERRNO(mmap(NULL, len, PROT_READ, MAP_SHARED, wo, off), EACCES);
	EXPECT_MAP_ERRNO(mmap(NULL, len, PROT_WRITE, MAP_SHARED, wo, off), EACCES);

	id = ioctl(wo, MEM_IOCTL_ALLOC_OBJECT);
	EXPECT(id > 0);
	EXPECT_EQ(info_now(wo).objects_fd, 1);
	io.id = id;
	memset(io.data, 0x33, sizeof(io.data));
	EXPECT_EQ(ioctl(wo, MEM_IOCTL_WRITE_OBJECT, &io), 0);
	EXPECT_ERRNO(ioctl(wo, MEM_IOCTL_READ_OBJECT, &io), EBADF);
	EXPECT_EQ(dma_copy(wo, off, dst, len, NULL), 0);
	EXPECT_EQ(pread(fd, buf, len, dst), len);
	EXPECT_EQ(check_pattern(buf, len, off, 110), -1);
	EXPECT_EQ(free_object(wo, id), 0);
	EXPECT_EQ(info_now(wo).objects_fd, 0);
	close(wo);
	free(buf);
}

/* Device memory is data: no executable mapping, now or by mprotect(). */
static void test_no_exec_mappings(int fd)
{
	int r;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		__u64 off = region_off(r);
		void *map;

		EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ | PROT_EXEC, MAP_SHARED,
				      fd, off), EPERM);
		map = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, off);
		EXPECT(map != MAP_FAILED);
		if (map == MAP_FAILED)
			continue;
		EXPECT_ERRNO(mprotect(map, page_size, PROT_READ | PROT_EXEC), EACCES);
		munmap(map, page_size);
	}
}

/* ---- Concurrency ---- */

#define THREADS 4
#define THREAD_ROUNDS 100
/* Own-fd threads, shared-fd threads and a child: each its own data slice. */
#define WORKERS (2 * THREADS + 1)

struct worker {
	int fd;			/* own fd, or the shared one */
	int index;
	bool own_fd;
	int ids[THREAD_ROUNDS];
	int nr_ids;
	int errors;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	size_t slice = region_size(MEMDRIVER_REGION_VMALLOC) / WORKERS;
	__u64 off = region_off(MEMDRIVER_REGION_VMALLOC) + w->index * slice;
	size_t len = slice < 4096 ? slice : 4096;
	__u8 buf[4096], data[MEMDRIVER_PAYLOAD_SIZE];
	char want[MEMDRIVER_PAYLOAD_SIZE];
	int round;

	for (round = 0; round < THREAD_ROUNDS; round++) {
		int id = ioctl(w->fd, MEM_IOCTL_ALLOC_OBJECT);

		if (id <= 0) {
			w->errors++;
			continue;
		}
		memset(want, 0, sizeof(want));
		snprintf(want, sizeof(want), "Object ID: %d", id);
		if (object_read(w->fd, id, data) || memcmp(data, want, sizeof(want)))
			w->errors++;
		if (w->own_fd) {
			if (free_object(w->fd, id))
				w->errors++;
		} else {
			w->ids[w->nr_ids++] = id;	/* freed by the main thread */
		}
		fill_pattern(buf, len, off, round + w->index);
		if (pwrite(w->fd, buf, len, off) != (ssize_t)len ||
		    pread(w->fd, buf, len, off) != (ssize_t)len ||
		    check_pattern(buf, len, off, round + w->index) != -1)
			w->errors++;
	}
	return NULL;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void test_concurrency(int fd)
{
	struct memdriver_info before = info_now(fd);
	unsigned int needed = THREADS * THREAD_ROUNDS + THREADS + 1;
	struct worker w[2 * THREADS];
	pthread_t t[2 * THREADS];
	int shared = open_dev(), all[THREADS * THREAD_ROUNDS], n = 0, i, j;
	pid_t child;
	int status;

	if (region_size(MEMDRIVER_REGION_VMALLOC) < WORKERS * (__u64)page_size ||
	    before.max_objects_per_fd < THREADS * THREAD_ROUNDS ||
	    before.max_objects - before.objects_total < needed) {
		skip("vmalloc region or object caps too small");
		close(shared);
		return;
	}
	/* A child process hammers its own fd at the same time. */
	child = fork();
	if (child == 0) {
		struct worker cw = {
			.fd = open_dev(), .index = 2 * THREADS, .own_fd = true,
		};

		worker_run(&cw);
		_exit(cw.errors ? 1 : 0);
	}
	memset(w, 0, sizeof(w));
	for (i = 0; i < 2 * THREADS; i++) {
		w[i].own_fd = i < THREADS;
		w[i].fd = w[i].own_fd ? open_dev() : shared;
		w[i].index = i;
		EXPECT_EQ(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < 2 * THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(w[i].errors, 0);
		if (w[i].own_fd)
			close(w[i].fd);
		for (j = 0; j < w[i].nr_ids; j++)
			all[n++] = w[i].ids[j];
	}
	EXPECT_EQ(waitpid(child, &status, 0), child);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Shared-fd ids: all distinct and all accounted for. */
	EXPECT_EQ(n, THREADS * THREAD_ROUNDS);
	qsort(all, n, sizeof(all[0]), cmp_int);
	for (i = 1; i < n; i++)
		if (all[i] == all[i - 1]) {
			EXPECT(all[i] != all[i - 1]);
			break;
		}
	EXPECT_EQ(info_now(shared).objects_fd, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ(free_object(shared, all[i]), 0);
	EXPECT_EQ(info_now(shared).objects_fd, 0);
	close(shared);
	EXPECT_EQ(info_now(fd).objects_device, before.objects_device);
}

static void test_device_node(int fd)
{
	long long mode = module_param("dev_mode");
	char dir[256];
	struct stat st;

	class_dir(dir, sizeof(dir));
	EXPECT_EQ(stat(dev_path, &st), 0);
	EXPECT(S_ISCHR(st.st_mode));
	EXPECT_EQ(st.st_mode & 07777, mode);
	EXPECT_EQ(fstat(fd, &st), 0);
	EXPECT(S_ISCHR(st.st_mode));
	EXPECT_EQ(read_sysfs_number(dir, "objects"), info_now(fd).objects_device);
}

/* With nr_devices >= 2, every device has its own memory and objects. */
static void test_devices_independent(int fd)
{
	const char *second = "/dev/memdriver1";
	__u8 a[64], b[64];
	int fd1, id;

	if (strcmp(dev_path, "/dev/memdriver0") || access(second, F_OK)) {
		skip("one device");
		return;
	}
	fd1 = open(second, O_RDWR);
	EXPECT(fd1 >= 0);
	if (fd1 < 0)
		return;
	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	EXPECT_EQ(pwrite(fd, a, sizeof(a), 0), sizeof(a));
	EXPECT_EQ(pwrite(fd1, b, sizeof(b), 0), sizeof(b));
	EXPECT_EQ(pread(fd, b, sizeof(b), 0), sizeof(b));
	EXPECT_EQ(b[0], 0xa1);
	EXPECT_EQ(b[63], 0xa1);
	id = ioctl(fd1, MEM_IOCTL_ALLOC_OBJECT);
	EXPECT(id > 0);
	EXPECT_EQ(info_now(fd1).objects_device, 1);
	EXPECT_EQ(info_now(fd).objects_device, 0);
	EXPECT_EQ(free_object(fd1, id), 0);
	close(fd1);
}

/* ---- debugfs views (root only) ---- */

struct region_view {
	long long pages, runs, size, offset, dma_mask_bits;
	char allocator[32], cpu_mapping[64], dma_is_phys[8];
};

struct objects_view {
	long long live, allocated, freed, cap_hits, object_size, fd_objects;
};

static void debugfs_path(char *buf, size_t len, const char *file)
{
	char *copy = strdup(dev_path);

	snprintf(buf, len, "/sys/kernel/debug/memdriver/%s/%s", basename(copy), file);
	free(copy);
}

/* Is debugfs mounted at all (so a missing memdriver dir is a bug)? */
static bool debugfs_mounted(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " /sys/kernel/debug debugfs "))
			found = true;
	fclose(f);
	return found;
}

static void copy_value(char *dst, size_t len, const char *line, const char *key)
{
	size_t n = strlen(key);

	if (!strncmp(line, key, n)) {
		snprintf(dst, len, "%s", line + n);
		dst[strcspn(dst, "\n")] = 0;
	}
}

static void number_value(long long *dst, const char *line, const char *key)
{
	size_t n = strlen(key);

	if (!strncmp(line, key, n))
		*dst = strtoll(line + n, NULL, 0);
}

/* Parse the regions view; returns false if it cannot be read. */
static bool read_region_views(struct region_view *v)
{
	char path[256], line[512];
	int r = -1;
	FILE *f;

	memset(v, 0, MEMDRIVER_NR_REGIONS * sizeof(*v));
	debugfs_path(path, sizeof(path), "regions");
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		int i;

		for (i = 0; i < MEMDRIVER_NR_REGIONS; i++) {
			char head[32];

			snprintf(head, sizeof(head), "[%s]\n", region_names[i]);
			if (!strcmp(line, head))
				r = i;
		}
		if (r < 0)
			continue;
		number_value(&v[r].pages, line, "pages: ");
		number_value(&v[r].runs, line, "runs: ");
		number_value(&v[r].size, line, "size: ");
		number_value(&v[r].offset, line, "offset: ");
		number_value(&v[r].dma_mask_bits, line, "dma_mask_bits: ");
		copy_value(v[r].allocator, sizeof(v[r].allocator), line, "allocator: ");
		copy_value(v[r].cpu_mapping, sizeof(v[r].cpu_mapping), line, "cpu_mapping: ");
		copy_value(v[r].dma_is_phys, sizeof(v[r].dma_is_phys), line,
			   "dma_address_is_physical: ");
	}
	fclose(f);
	return r >= 0;
}

static bool read_objects_view(struct objects_view *v)
{
	char path[256], line[512], mine[64];
	FILE *f;

	memset(v, 0, sizeof(*v));
	v->fd_objects = -1;
	debugfs_path(path, sizeof(path), "objects");
	f = fopen(path, "r");
	if (!f)
		return false;
	snprintf(mine, sizeof(mine), " pid %d: ", (int)getpid());
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, mine);

		number_value(&v->live, line, "live: ");
		number_value(&v->allocated, line, "allocated: ");
		number_value(&v->freed, line, "freed: ");
		number_value(&v->cap_hits, line, "cap_hits: ");
		number_value(&v->object_size, line, "object_size: ");
		if (!strncmp(line, "file ", 5) && p)
			v->fd_objects = strtoll(p + strlen(mine), NULL, 0);
	}
	fclose(f);
	return true;
}

static bool need_debugfs(void)
{
	char path[256];

	if (getuid() != 0 || !debugfs_mounted()) {
		skip("needs root and debugfs");
		return false;
	}
	debugfs_path(path, sizeof(path), "regions");
	EXPECT(access(path, R_OK) == 0);
	return access(path, R_OK) == 0;
}

static void test_debugfs_regions(int fd)
{
	struct region_view v[MEMDRIVER_NR_REGIONS];
	int r;

	(void)fd;
	if (!need_debugfs())
		return;
	EXPECT(read_region_views(v));
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		EXPECT_EQ(v[r].offset, region_off(r));
		EXPECT_EQ(v[r].size, region_size(r));
		EXPECT_EQ(v[r].pages, region_size(r) / page_size);
		EXPECT(v[r].runs >= 1 && v[r].runs <= v[r].pages);
	}
	/* kmalloc and the page allocator hand out physically contiguous memory. */
	EXPECT_EQ(v[MEMDRIVER_REGION_KMALLOC].runs, 1);
	EXPECT_EQ(v[MEMDRIVER_REGION_PAGES].runs, 1);
	EXPECT_EQ(strcmp(v[MEMDRIVER_REGION_VMALLOC].allocator, "vmalloc_user"), 0);
	EXPECT_EQ(v[MEMDRIVER_REGION_DMA].dma_mask_bits, info.dma_mask_bits);
	EXPECT(!strcmp(v[MEMDRIVER_REGION_DMA].dma_is_phys, "yes") ||
	       !strcmp(v[MEMDRIVER_REGION_DMA].dma_is_phys, "no"));
}

static void test_debugfs_objects(int fd)
{
	struct objects_view a, b;
	int ids[7], i, other;

	if (!need_debugfs())
		return;
	EXPECT(read_objects_view(&a));
	EXPECT_EQ(a.fd_objects, 0);	/* this test's fd, just opened */
	EXPECT(a.object_size >= MEMDRIVER_PAYLOAD_SIZE);
	for (i = 0; i < 7; i++)
		ids[i] = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(free_object(fd, ids[i]), 0);
	EXPECT(read_objects_view(&b));
	EXPECT_EQ(b.allocated, a.allocated + 7);
	EXPECT_EQ(b.freed, a.freed + 3);
	EXPECT_EQ(b.live, a.live + 4);
	EXPECT_EQ(b.fd_objects, 4);
	EXPECT_EQ(b.cap_hits, a.cap_hits);
	for (i = 3; i < 7; i++)
		EXPECT_EQ(free_object(fd, ids[i]), 0);

	/* Closing a file frees what it owns and counts each free. */
	other = open_dev();
	for (i = 0; i < 5; i++)
		EXPECT(ioctl(other, MEM_IOCTL_ALLOC_OBJECT) > 0);
	EXPECT(read_objects_view(&a));
	close(other);
	EXPECT(read_objects_view(&b));
	EXPECT_EQ(b.freed, a.freed + 5);
	EXPECT_EQ(b.live, a.live - 5);

	/* A refused allocation counts as a cap hit. */
	if (info.max_objects_per_fd <= 4096) {
		other = open_dev();
		for (i = 0; i < (int)info.max_objects_per_fd; i++)
			if (ioctl(other, MEM_IOCTL_ALLOC_OBJECT) <= 0)
				break;
		EXPECT(read_objects_view(&a));
		EXPECT_EQ(ioctl(other, MEM_IOCTL_ALLOC_OBJECT), -1);
		EXPECT(read_objects_view(&b));
		EXPECT_EQ(b.cap_hits, a.cap_hits + 1);
		EXPECT_EQ(b.allocated, a.allocated);
		close(other);
	}
}

/* Physical addresses stay with root: an unprivileged uid cannot read them. */
static void test_debugfs_root_only(int fd)
{
	char path[256];
	pid_t child;
	int status;

	(void)fd;
	if (!need_debugfs())
		return;
	debugfs_path(path, sizeof(path), "regions");
	child = fork();
	if (child == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(3);
		if (open(path, O_RDONLY) >= 0)
			_exit(1);
		_exit(errno == EACCES || errno == ENOENT ? 0 : 2);
	}
	EXPECT_EQ(waitpid(child, &status, 0), child);
	EXPECT(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

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

static void test_dma_copy(int fd)
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

static void test_dma_copy_errors(int fd)
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

static void test_dma_engine_info(int fd)
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
	EXPECT(info.dma_engine_mode < ARRAY_SIZE(modes));
	read_text("/sys/module/memdriver/parameters/dma_engine", text, sizeof(text));
	EXPECT(info.dma_engine_mode < ARRAY_SIZE(modes) &&
	       !strcmp(text, modes[info.dma_engine_mode]));
	EXPECT(now.dma_engine == MEMDRIVER_DMA_ENGINE_CPU ||
	       now.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE);
	EXPECT(memchr(now.dma_chan, '\0', sizeof(now.dma_chan)));
	EXPECT(memchr(now.dma_device, '\0', sizeof(now.dma_device)));
	class_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/dma_engine", dir);
	read_text(path, text, sizeof(text));
	if (now.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE) {
		EXPECT(now.dma_chan[0] && now.dma_device[0]);
		EXPECT(now.dma_engine_align >= 4 &&
		       !(now.dma_engine_align & (now.dma_engine_align - 1)));
		EXPECT(now.dma_chan_held == 0 || now.dma_chan_held == 1);
		snprintf(want, sizeof(want), "dmaengine %s %s %s", now.dma_chan,
			 now.dma_device, now.dma_chan_held ? "held" : "unheld");
	} else {
		EXPECT(!now.dma_chan[0] && !now.dma_device[0]);
		EXPECT_EQ(now.dma_engine_align, 0);
		EXPECT_EQ(now.dma_chan_held, 0);
		snprintf(want, sizeof(want), "cpu");
	}
	EXPECT(!strcmp(text, want));
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
	EXPECT(!memcmp(v1 + sizeof(__u32), (unsigned char *)&now + sizeof(__u32),
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
		case_failed = 1;
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
static void test_dma_engine_pairs(int fd)
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
static void test_dma_engine_lengths(int fd)
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
		EXPECT(dma_fault_set(fault));
		/* An engine consumes it; without one it stays armed. */
		for (i = 0; i < 300; i++) {
			dma_fault_get(state, sizeof(state));
			if (!strcmp(state, "none"))
				break;
			usleep(10000);
		}
		EXPECT(!strcmp(state, engine ? "none" : fault));
		EXPECT(dma_fault_set("none"));
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

static void test_dma_engine_threads(int fd)
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
static void test_dma_engine_faults(int fd)
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
	EXPECT(!strcmp(state, "none"));
	EXPECT(!dma_fault_set("bogus") && errno == EINVAL);
	for (f = 0; f < ARRAY_SIZE(faults); f++) {
		fill_pattern(pat, len, src, 300 + f);
		EXPECT_EQ(pwrite(fd, pat, len, src), len);
		fill_pattern(before, size, base, 310 + f);
		EXPECT_EQ(pwrite(fd, before, size, base), size);
		EXPECT(dma_fault_set(faults[f].name));
		if (engine) {
			EXPECT_ERRNO(dma_copy(fd, src, dst, len, &got), faults[f].err);
			dma_fault_get(state, sizeof(state));
			EXPECT(!strcmp(state, "none"));
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
			EXPECT(!strcmp(state, faults[f].name));
			EXPECT(dma_fault_set("none"));
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

/*
 * The tutorial's user program, step by step, with every result checked:
 * write, read, allocate 5 objects, free them, map kmalloc and DMA memory
 * and write patterns through the mappings.
 */
static int tutorial_flow(int fd, bool verbose)
{
	const char *hello = "Hello from user space!";
	size_t hlen = strlen(hello);
	__u64 dma_off = region_off(MEMDRIVER_REGION_DMA);
	size_t km = region_size(MEMDRIVER_REGION_KMALLOC);
	size_t dma = region_size(MEMDRIVER_REGION_DMA);
	char buf[128];
	int ids[5], i;
	__u8 *map;

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(write(fd, hello, hlen), hlen);
	memset(buf, 0, sizeof(buf));
	/* The tutorial reads on from the write position... */
	EXPECT_EQ(read(fd, buf, sizeof(buf) - 1), sizeof(buf) - 1);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), hlen + sizeof(buf) - 1);
	/* ...and the greeting is where it was written. */
	EXPECT_EQ(pread(fd, buf, hlen, 0), hlen);
	EXPECT_EQ(memcmp(buf, hello, hlen), 0);
	if (verbose)
		printf("Read back %zu bytes from offset 0: %.*s\n", hlen, (int)hlen, buf);

	for (i = 0; i < 5; i++) {
		ids[i] = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
		EXPECT(ids[i] > 0);
		if (verbose)
			printf("Allocated object ID: %d\n", ids[i]);
	}
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(free_object(fd, ids[i]), 0);
		if (verbose)
			printf("Freed object ID: %d\n", ids[i]);
	}

	map = map_region_window(fd, 0, km);
	EXPECT(map != MAP_FAILED);
	if (map != MAP_FAILED) {
		for (i = 0; i < 16; i++)
			map[i] = 'A' + i;
		map[16] = 0;
		EXPECT_EQ(pread(fd, buf, 17, 0), 17);
		EXPECT_EQ(memcmp(buf, "ABCDEFGHIJKLMNOP", 17), 0);
		if (verbose)
			printf("kmalloc mapping at offset 0: %s\n", buf);
		munmap(map, km);
	}
	map = map_region_window(fd, dma_off, dma);
	EXPECT(map != MAP_FAILED);
	if (map != MAP_FAILED) {
		for (i = 0; i < 16; i++)
			map[i] = '0' + i;
		map[16] = 0;
		EXPECT_EQ(pread(fd, buf, 17, dma_off), 17);
		EXPECT_EQ(memcmp(buf, "0123456789:;<=>?", 17), 0);
		if (verbose)
			printf("DMA mapping at offset %llu: %s\n",
			       (unsigned long long)dma_off, buf);
		munmap(map, dma);
	}
	return case_failed;
}

static void test_tutorial_flow(int fd)
{
	tutorial_flow(fd, false);
}

/* ---- fuzz: seeded random operations checked against a model ---- */

#define FUZZ_FDS	4
#define FUZZ_MAPS	4
#define FUZZ_HISTORY	40
#define FUZZ_NOTE	200

struct fuzz_object {
	int id;
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];
};

struct fuzz_fd {
	int fd;			/* -1: closed */
	int mode;		/* O_RDONLY, O_WRONLY or O_RDWR */
	unsigned int file;	/* which open() this is */
	long long pos;		/* the file position the kernel must have */
	struct fuzz_object *objs;
	int nr_objs;
};

struct fuzz_map {
	__u8 *addr;		/* NULL: free slot */
	int prot;
	unsigned int file;	/* a mapping keeps its file, and its objects, alive */
	__u64 off;
	size_t len;
};

static struct {
	unsigned long long seed, rng;
	unsigned long op, ops;
	__u8 *bytes;		/* the device's contents, as they must be */
	__u8 *scratch;
	size_t scratch_len;
	struct fuzz_fd fds[FUZZ_FDS];
	struct fuzz_map maps[FUZZ_MAPS];
	unsigned int base_total;	/* live objects before we started */
	unsigned int live;		/* objects we own */
	unsigned int next_file;
	/* Closed files still mapped: their objects live until the last munmap. */
	struct { unsigned int file, nr; } zombies[FUZZ_MAPS];
	char history[FUZZ_HISTORY][FUZZ_NOTE];
} fz;

static unsigned long long fz_rand(void)
{
	/* xorshift64*: small, fast, and the same sequence on every arch. */
	fz.rng ^= fz.rng >> 12;
	fz.rng ^= fz.rng << 25;
	fz.rng ^= fz.rng >> 27;
	return fz.rng * 2685821657736338717ULL;
}

static unsigned long long fz_below(unsigned long long n)
{
	return n ? fz_rand() % n : 0;
}

/* The note describing the current operation, kept for failure reports. */
static char *fz_note(void)
{
	return fz.history[fz.op % FUZZ_HISTORY];
}

static void fz_fail(const char *what, long long got, long long want)
{
	unsigned long i, first = fz.op >= FUZZ_HISTORY - 1 ? fz.op - FUZZ_HISTORY + 1 : 0;

	printf("# fuzz: seed %llu, op %lu: %s: got %lld, expected %lld\n",
	       fz.seed, fz.op, what, got, want);
	printf("# fuzz: the operations that led there:\n");
	for (i = first; i <= fz.op; i++)
		printf("#   %lu: %s\n", i, fz.history[i % FUZZ_HISTORY]);
	printf("# fuzz: reproduce with: memdriver_test -d %s fuzz --seed %llu --ops %lu\n",
	       dev_path, fz.seed, fz.op + 1);
	printf("not ok 1 - fuzz\n");
	exit(1);
}

/*
 * A result against what the model predicts: want < 0 means -errno. errno is
 * read here, after the call in the argument list has returned.
 */
static void fz_check(const char *what, long long ret, long long want)
{
	int err = errno;

	if (want < 0) {
		if (ret != -1 || err != -want)
			fz_fail(what, ret == -1 ? -err : ret, want);
	} else if (ret != want) {
		fz_fail(what, ret == -1 ? -err : ret, want);
	}
}

static void fz_bytes_match(const char *what, const __u8 *got, __u64 off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (got[i] != fz.bytes[off + i]) {
			printf("# fuzz: first difference at device offset %#llx\n",
			       (unsigned long long)(off + i));
			fz_fail(what, got[i], fz.bytes[off + i]);
		}
}

static void fz_fill(__u8 *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (__u8)fz_rand();
}

/* Lengths: mostly small, sometimes zero, sometimes huge. */
static size_t fz_len(void)
{
	unsigned int dice = fz_below(40);

	if (dice < 4)
		return 0;
	if (dice < 5)
		return fz_below(info.total_size + 2 * page_size);
	if (dice < 20)
		return 1 + fz_below(64);
	return 1 + fz_below(3 * page_size);
}

/* Offsets: near region boundaries, inside, at or past the end, negative. */
static long long fz_offset(void)
{
	int r = fz_below(MEMDRIVER_NR_REGIONS);

	switch (fz_below(8)) {
	case 0:
		return (long long)region_off(r) + (long long)fz_below(64) - 32;
	case 1:
		return (long long)info.total_size - (long long)fz_below(64);
	case 2:
		return (long long)info.total_size + (long long)fz_below(4 * page_size);
	case 3:
		return -1 - (long long)fz_below(4096);
	default:
		return fz_below(info.total_size);
	}
}

static struct fuzz_fd *fz_pick_fd(void)
{
	struct fuzz_fd *f = &fz.fds[fz_below(FUZZ_FDS)];

	if (f->fd < 0) {
		static const int modes[] = { O_RDWR, O_RDWR, O_RDONLY, O_WRONLY };

		f->mode = modes[fz_below(ARRAY_SIZE(modes))];
		f->fd = open(dev_path, f->mode);
		if (f->fd < 0)
			fz_fail("open", -errno, 0);
		f->pos = 0;
		f->nr_objs = 0;
		f->file = ++fz.next_file;
	}
	return f;
}

static void fz_check_pos(struct fuzz_fd *f)
{
	long long pos = lseek(f->fd, 0, SEEK_CUR);

	fz_check("file position", pos, f->pos);
}

static bool fz_can(const struct fuzz_fd *f, bool write)
{
	return f->mode == O_RDWR || f->mode == (write ? O_WRONLY : O_RDONLY);
}

static long long fz_expected_rw(const struct fuzz_fd *f, long long off, size_t len,
				bool write)
{
	if (off < 0)
		return -EINVAL;
	/* The VFS checks the open mode before count, pointer and position. */
	if (!fz_can(f, write))
		return -EBADF;
	if (!len)
		return 0;
	if ((__u64)off >= info.total_size)
		return write ? -ENOSPC : 0;
	return len < info.total_size - off ? (long long)len : (long long)(info.total_size - off);
}

static void fz_rw(bool to_dev, bool positional, bool bad_pointer)
{
	struct fuzz_fd *f = fz_pick_fd();
	long long off = positional ? fz_offset() : f->pos;
	size_t len = fz_len();
	long long want = fz_expected_rw(f, off, len, to_dev);
	void *buf = bad_pointer ? unmapped_address() : fz.scratch;
	long long ret;

	if (!positional && off < 0)
		want = -EINVAL;	/* cannot happen: lseek keeps pos >= 0 */
	if (bad_pointer && want > 0)
		want = -EFAULT;
	snprintf(fz_note(), FUZZ_NOTE, "%s%s fd%d off %lld len %zu%s",
		 positional ? "p" : "", to_dev ? "write" : "read", (int)(f - fz.fds),
		 off, len, bad_pointer ? " (bad pointer)" : "");
	if (to_dev && !bad_pointer)
		fz_fill(fz.scratch, len);
	if (positional)
		ret = to_dev ? pwrite(f->fd, buf, len, off) : pread(f->fd, buf, len, off);
	else
		ret = to_dev ? write(f->fd, buf, len) : read(f->fd, buf, len);
	fz_check(to_dev ? "write" : "read", ret, want);
	if (ret > 0) {
		if (to_dev)
			memcpy(fz.bytes + off, fz.scratch, ret);
		else
			fz_bytes_match("bytes read", fz.scratch, off, ret);
		if (!positional)
			f->pos += ret;
	}
	fz_check_pos(f);
}

static void fz_lseek(void)
{
	static const int whences[] = { SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE, 77 };
	struct fuzz_fd *f = fz_pick_fd();
	int whence = whences[fz_below(ARRAY_SIZE(whences))];
	long long off = fz_offset(), want, ret;

	if (whence == SEEK_CUR || whence == SEEK_END)
		off = (long long)fz_below(2 * info.total_size + 2) - (long long)info.total_size - 1;
	snprintf(fz_note(), FUZZ_NOTE, "lseek fd%d %lld whence %d (pos %lld)",
		 (int)(f - fz.fds), off, whence, f->pos);
	switch (whence) {
	case SEEK_SET:
		want = off;
		break;
	case SEEK_CUR:
		want = f->pos + off;
		break;
	case SEEK_END:
		want = info.total_size + off;
		break;
	default:	/* fixed_size_llseek() knows no SEEK_DATA/SEEK_HOLE */
		want = -EINVAL;
	}
	if (want < 0 || (__u64)want > info.total_size)
		want = -EINVAL;
	ret = lseek(f->fd, off, whence);
	fz_check("lseek", ret, want);
	if (ret >= 0)
		f->pos = ret;
}

static bool fz_file_mapped(unsigned int file)
{
	int i;

	for (i = 0; i < FUZZ_MAPS; i++)
		if (fz.maps[i].addr && fz.maps[i].file == file)
			return true;
	return false;
}

static void fz_unmap(struct fuzz_map *m, const char *what)
{
	int i;

	fz_check(what, munmap(m->addr, m->len), 0);
	m->addr = NULL;
	if (fz_file_mapped(m->file))
		return;
	/* The last mapping of a closed file: release() frees its objects. */
	for (i = 0; i < FUZZ_MAPS; i++)
		if (fz.zombies[i].file == m->file) {
			fz.live -= fz.zombies[i].nr;
			fz.zombies[i].file = 0;
		}
}

static struct fuzz_map *fz_free_map_slot(void)
{
	struct fuzz_map *m = &fz.maps[fz_below(FUZZ_MAPS)];

	if (m->addr)
		fz_unmap(m, "munmap before mmap");
	return m;
}

static void fz_mmap(void)
{
	struct fuzz_fd *f = fz_pick_fd();
	struct fuzz_map *m = fz_free_map_slot();
	int r = fz_below(MEMDRIVER_NR_REGIONS), kind = fz_below(10);
	__u64 pages = region_size(r) / page_size;
	__u64 first = fz_below(pages), npages = 1 + fz_below(pages - first);
	__u64 off = region_off(r) + first * page_size;
	int flags = MAP_SHARED, prot = PROT_READ | PROT_WRITE;
	long long want = 0;
	void *addr;

	/* Mostly small windows: page-table setup dominates the cost. */
	if (npages > 16 && fz_below(8))
		npages = 1 + fz_below(16);

	if (kind == 0) {	/* crosses into the next region or the end */
		npages = pages - first + 1 + fz_below(2);
		want = -EINVAL;
	} else if (kind == 1) {	/* at or past the end */
		off = info.total_size + fz_below(4) * page_size;
		want = -EINVAL;
	} else if (kind == 2) {	/* not page aligned */
		off += 1 + fz_below(page_size - 1);
		want = -EINVAL;
	} else if (kind == 3) {	/* a private copy is refused */
		flags = MAP_PRIVATE;
		want = -EINVAL;
	}
	/* A read-only fd mostly maps read-only: PROT_WRITE is refused. */
	if (f->mode == O_RDONLY && fz_below(4))
		prot = PROT_READ;
	/*
	 * The kernel checks the open mode after the offset's alignment and
	 * before the driver: no mapping without FMODE_READ, no shared
	 * writable one without FMODE_WRITE.
	 */
	if (kind != 2 && (f->mode == O_WRONLY ||
			  (f->mode == O_RDONLY && flags == MAP_SHARED && (prot & PROT_WRITE))))
		want = -EACCES;
	snprintf(fz_note(), FUZZ_NOTE, "mmap fd%d (mode %d) off %#llx pages %llu %s%s",
		 (int)(f - fz.fds), f->mode, (unsigned long long)off,
		 (unsigned long long)npages, flags == MAP_SHARED ? "shared" : "private",
		 prot & PROT_WRITE ? "" : " read-only");
	addr = mmap(NULL, npages * page_size, prot, flags, f->fd, off);
	fz_check("mmap", addr == MAP_FAILED ? -1 : 0, want);
	if (addr != MAP_FAILED) {
		m->addr = addr;
		m->prot = prot;
		m->file = f->file;
		m->off = off;
		m->len = npages * page_size;
	}
}

static struct fuzz_map *fz_pick_map(void)
{
	struct fuzz_map *m = &fz.maps[fz_below(FUZZ_MAPS)];

	return m->addr ? m : NULL;
}

static void fz_map_access(void)
{
	struct fuzz_map *m = fz_pick_map();
	size_t at, len;

	if (!m) {
		fz_mmap();
		return;
	}
	at = fz_below(m->len);
	len = 1 + fz_below(m->len - at < 512 ? m->len - at : 512);
	if ((m->prot & PROT_WRITE) && fz_below(2)) {
		snprintf(fz_note(), FUZZ_NOTE, "store %zu bytes at offset %#llx via mapping",
			 len, (unsigned long long)(m->off + at));
		fz_fill(m->addr + at, len);
		memcpy(fz.bytes + m->off + at, m->addr + at, len);
	} else {
		snprintf(fz_note(), FUZZ_NOTE, "load %zu bytes at offset %#llx via mapping",
			 len, (unsigned long long)(m->off + at));
		fz_bytes_match("bytes loaded via mapping", m->addr + at, m->off + at, len);
	}
}

static void fz_munmap_or_mremap(void)
{
	struct fuzz_map *m = fz_pick_map();
	size_t pages;
	void *addr;

	if (!m) {
		fz_mmap();
		return;
	}
	pages = m->len / page_size;
	switch (fz_below(3)) {
	case 0:
		snprintf(fz_note(), FUZZ_NOTE, "munmap %#llx", (unsigned long long)m->off);
		fz_unmap(m, "munmap");
		break;
	case 1:		/* growing is refused: VM_DONTEXPAND */
		snprintf(fz_note(), FUZZ_NOTE, "mremap grow %#llx", (unsigned long long)m->off);
		addr = mremap(m->addr, m->len, m->len + page_size, MREMAP_MAYMOVE);
		fz_check("mremap grow", addr == MAP_FAILED ? -1 : 0, -EFAULT);
		break;
	default:	/* shrinking keeps the start */
		if (pages < 2)
			return;
		snprintf(fz_note(), FUZZ_NOTE, "mremap shrink %#llx to %zu pages",
			 (unsigned long long)m->off, pages - 1);
		addr = mremap(m->addr, m->len, m->len - page_size, 0);
		fz_check("mremap shrink", addr == m->addr ? 0 : -1, 0);
		m->len -= page_size;
	}
}

static struct fuzz_object *fz_find(struct fuzz_fd *f, int id)
{
	int i;

	for (i = 0; i < f->nr_objs; i++)
		if (f->objs[i].id == id)
			return &f->objs[i];
	return NULL;
}

/* An id to try: our own, another fd's, never issued, or nonsense. */
static int fz_pick_id(struct fuzz_fd *f)
{
	struct fuzz_fd *other = &fz.fds[fz_below(FUZZ_FDS)];

	switch (fz_below(6)) {
	case 0:
		return (int)fz_below(3) - 1;	/* -1, 0, 1 */
	case 1:
		return 0x7fffffff - (int)fz_below(3);
	case 2:
		if (other->fd >= 0 && other->nr_objs)
			return other->objs[fz_below(other->nr_objs)].id;
		return 1 + (int)fz_below(1000);
	default:
		if (f->nr_objs)
			return f->objs[fz_below(f->nr_objs)].id;
		return 1 + (int)fz_below(1000);
	}
}

static void fz_alloc(struct fuzz_fd *f)
{
	long long want = 0;
	int id;

	snprintf(fz_note(), FUZZ_NOTE, "alloc fd%d (%d owned, %u live)",
		 (int)(f - fz.fds), f->nr_objs, fz.live);
	/* The open mode first, then the module-wide cap, then the fd's. */
	if (!fz_can(f, true))
		want = -EBADF;
	else if (fz.base_total + fz.live >= info.max_objects)
		want = -ENOSPC;
	else if ((unsigned int)f->nr_objs >= info.max_objects_per_fd)
		want = -EDQUOT;
	id = ioctl(f->fd, MEM_IOCTL_ALLOC_OBJECT);
	if (want < 0) {
		fz_check("alloc at a cap", id, want);
		return;
	}
	if (id <= 0 || fz_find(f, id))
		fz_fail("alloc returned a live or bad id", id == -1 ? -errno : id, 1);
	f->objs = realloc(f->objs, (f->nr_objs + 1) * sizeof(*f->objs));
	if (!f->objs)
		fz_fail("out of memory", 0, 0);
	f->objs[f->nr_objs].id = id;
	memset(f->objs[f->nr_objs].data, 0, MEMDRIVER_PAYLOAD_SIZE);
	snprintf((char *)f->objs[f->nr_objs].data, MEMDRIVER_PAYLOAD_SIZE, "Object ID: %d", id);
	f->nr_objs++;
	fz.live++;
}

static void fz_free(struct fuzz_fd *f)
{
	int id = fz_pick_id(f), bad = !fz_below(20);
	struct fuzz_object *o = fz_find(f, id);

	snprintf(fz_note(), FUZZ_NOTE, "free fd%d id %d%s", (int)(f - fz.fds), id,
		 bad ? " (bad pointer)" : "");
	if (bad) {
		fz_check("free, bad pointer",
			 ioctl(f->fd, MEM_IOCTL_FREE_OBJECT, unmapped_address()),
			 fz_can(f, true) ? -EFAULT : -EBADF);
		return;
	}
	if (!fz_can(f, true)) {
		fz_check("free on a read-only fd", ioctl(f->fd, MEM_IOCTL_FREE_OBJECT, &id),
			 -EBADF);
		return;
	}
	fz_check("free", ioctl(f->fd, MEM_IOCTL_FREE_OBJECT, &id), o ? 0 : -ENOENT);
	if (o) {
		*o = f->objs[--f->nr_objs];
		fz.live--;
	}
}

static void fz_object_io(struct fuzz_fd *f, bool write)
{
	struct memdriver_object_io io = { .id = fz_pick_id(f) };
	struct fuzz_object *o = fz_find(f, io.id);
	int bad = !fz_below(20);
	long long want = o ? 0 : -ENOENT;

	if (!fz_below(10)) {
		io.flags = 1 + fz_below(0xffff);
		want = -EINVAL;
	}
	if (bad)
		want = -EFAULT;
	if (!fz_can(f, write))
		want = -EBADF;
	snprintf(fz_note(), FUZZ_NOTE, "%s object fd%d id %d flags %u%s",
		 write ? "write" : "read", (int)(f - fz.fds), io.id, io.flags,
		 bad ? " (bad pointer)" : "");
	if (write)
		fz_fill(io.data, sizeof(io.data));
	fz_check(write ? "write object" : "read object",
		 ioctl(f->fd, write ? MEM_IOCTL_WRITE_OBJECT : MEM_IOCTL_READ_OBJECT,
		       bad ? unmapped_address() : &io), want);
	if (want || !o)
		return;
	if (write)
		memcpy(o->data, io.data, sizeof(io.data));
	else if (memcmp(o->data, io.data, sizeof(io.data)))
		fz_fail("object payload", io.data[0], o->data[0]);
}

static void fz_info(struct fuzz_fd *f)
{
	struct memdriver_info now;

	snprintf(fz_note(), FUZZ_NOTE, "info fd%d", (int)(f - fz.fds));
	fz_check("info", get_info(f->fd, &now), 0);
	fz_check("info objects_fd", now.objects_fd, f->nr_objs);
	fz_check("info objects_total", now.objects_total, fz.base_total + fz.live);
	fz_check("info total_size", now.total_size, info.total_size);
}

static void fz_dma_copy(struct fuzz_fd *f)
{
	__u64 a = info.dma_copy_align;
	__u64 src = fz_offset(), dst = fz_offset();
	__u64 len = fz_below(4) ? 1 + fz_below(2 * page_size) : fz_len();
	long long want = 0;
	__u32 engine = 0;

	if (!len || window_region(src, len) < 0 || window_region(dst, len) < 0)
		want = -EINVAL;
	else if (src / a * a < (dst + len + a - 1) / a * a &&
		 dst / a * a < (src + len + a - 1) / a * a)
		want = -EINVAL;	/* the windows share a cache line */
	if (!fz_can(f, true))
		want = -EBADF;
	snprintf(fz_note(), FUZZ_NOTE, "dma copy fd%d %#llx -> %#llx len %llu",
		 (int)(f - fz.fds), (unsigned long long)src, (unsigned long long)dst,
		 (unsigned long long)len);
	fz_check("dma copy", dma_copy(f->fd, src, dst, len, &engine), want);
	if (!want) {
		memmove(fz.bytes + dst, fz.bytes + src, len);
		if (engine != dma_engine_for(src, dst, len, false))
			fz_fail("dma copy engine", engine, dma_engine_for(src, dst, len, false));
	}
}

static void fz_close(void)
{
	struct fuzz_fd *f = &fz.fds[fz_below(FUZZ_FDS)];

	if (f->fd < 0)
		return;
	snprintf(fz_note(), FUZZ_NOTE, "close fd%d (%d objects)", (int)(f - fz.fds),
		 f->nr_objs);
	fz_check("close", close(f->fd), 0);
	f->fd = -1;
	if (fz_file_mapped(f->file)) {
		int i;

		for (i = 0; fz.zombies[i].file; i++)
			;
		fz.zombies[i].file = f->file;
		fz.zombies[i].nr = f->nr_objs;
	} else {
		fz.live -= f->nr_objs;
	}
	f->nr_objs = 0;
}

static void fz_ioctl(struct fuzz_fd *f, unsigned int dice)
{
	if (dice < 77) {
		fz_alloc(f);
	} else if (dice < 84) {
		fz_free(f);
	} else if (dice < 92) {
		fz_object_io(f, dice >= 88);
	} else if (dice < 94) {
		fz_info(f);
	} else if (dice < 98) {
		fz_dma_copy(f);
	} else {
		snprintf(fz_note(), FUZZ_NOTE, "unknown ioctl fd%d", (int)(f - fz.fds));
		fz_check("unknown ioctl", ioctl(f->fd, _IO(MEM_IOCTL_MAGIC, 7 + fz_below(100))),
			 -ENOTTY);
	}
}

static void fz_step(void)
{
	unsigned int dice = fz_below(100);

	snprintf(fz_note(), FUZZ_NOTE, "(nothing to do)");
	if (dice < 12)
		fz_rw(false, false, false);
	else if (dice < 24)
		fz_rw(true, false, false);
	else if (dice < 32)
		fz_rw(false, true, false);
	else if (dice < 40)
		fz_rw(true, true, false);
	else if (dice < 43)
		fz_rw(fz_below(2), fz_below(2), true);
	else if (dice < 50)
		fz_lseek();
	else if (dice < 54)
		fz_mmap();
	else if (dice < 62)
		fz_map_access();
	else if (dice < 65)
		fz_munmap_or_mremap();
	else if (dice < 67)
		fz_close();
	else
		fz_ioctl(fz_pick_fd(), dice);
}

static int run_fuzz(unsigned long long seed, unsigned long ops)
{
	int fd = open_dev(), i;
	struct memdriver_info now = info_now(fd);

	memset(&fz, 0, sizeof(fz));
	fz.seed = seed;
	fz.rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	fz.ops = ops;
	fz.base_total = now.objects_total;
	fz.bytes = xmalloc(info.total_size);
	fz.scratch_len = info.total_size + 3 * page_size;
	fz.scratch = xmalloc(fz.scratch_len);
	for (i = 0; i < FUZZ_FDS; i++)
		fz.fds[i].fd = -1;
	printf("KTAP version 1\n1..1\n# fuzz: seed %llu, %lu operations on %s\n",
	       seed, ops, dev_path);
	if (pread(fd, fz.bytes, info.total_size, 0) != (ssize_t)info.total_size)
		fz_fail("reading the device into the model", -errno, info.total_size);

	for (fz.op = 0; fz.op < ops; fz.op++)
		fz_step();

	/* Tear down; every object must be accounted for. */
	for (i = 0; i < FUZZ_MAPS; i++)
		if (fz.maps[i].addr)
			munmap(fz.maps[i].addr, fz.maps[i].len);
	for (i = 0; i < FUZZ_FDS; i++) {
		if (fz.fds[i].fd >= 0)
			close(fz.fds[i].fd);
		free(fz.fds[i].objs);
	}
	snprintf(fz_note(), FUZZ_NOTE, "final check");
	fz.live = 0;
	fz_check("objects after closing every fd", info_now(fd).objects_total,
		 fz.base_total);
	if (pread(fd, fz.scratch, info.total_size, 0) != (ssize_t)info.total_size)
		fz_fail("final read", -errno, info.total_size);
	fz_bytes_match("final contents", fz.scratch, 0, info.total_size);
	close(fd);
	free(fz.bytes);
	free(fz.scratch);
	printf("ok 1 - fuzz\n# fuzz: %lu operations matched the model\n", ops);
	printf("memdriver_test: 1 passed, 0 failed\n");
	return 0;
}

static void die_usage(void);

/* ---- memdriver_test faults / load-faults: fail every allocation once ---- */

/*
 * Writing N to /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION) makes
 * the Nth failslab, fail_page_alloc or fail_usercopy site this thread
 * reaches fail. Raising N until a call runs clean visits every failure
 * point on its path once. The debugfs knobs must let GFP_KERNEL and order-0
 * allocations fail; scripts/guest-run.sh sets them on the debug kernels.
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

static bool write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write_str(fd, val);

	if (fd >= 0)
		close(fd);
	return ok;
}

static bool fail_nth_open(void)
{
	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	make_it_fail_fd = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	failslab_times_fd = open(FAILSLAB "times", O_WRONLY | O_CLOEXEC);
	/* Pair mode is optional: without failslab's files, single failures only. */
	if (make_it_fail_fd < 0 || failslab_times_fd < 0 ||
	    !write_str(failslab_times_fd, "0") ||
	    !write_file(FAILSLAB "space", "0") || !write_file(FAILSLAB "interval", "1") ||
	    !write_file(FAILSLAB "task-filter", "Y") ||
	    !write_file(FAILSLAB "probability", "100")) {
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
 * Each fault_* function sets up, runs one system call with the Nth failure
 * point armed, checks the outcome and the state it leaves, and undoes it.
 * It returns whether the failure struck; success without one is the end.
 */
static bool fault_open(int fd, unsigned int nth)
{
	bool struck;
	int f, err;

	(void)fd;
	fail_nth_arm(nth);
	f = open(dev_path, O_RDWR);
	err = errno;
	struck = fail_nth_disarm();
	if (f >= 0)
		close(f);
	else
		EXPECT(struck && fault_errno_ok(err, ENOMEM, EFAULT));
	return struck;
}

static bool fault_alloc_object(int fd, unsigned int nth)
{
	struct memdriver_info before = info_now(fd);
	bool struck;
	int id, err;

	fail_nth_arm(nth);
	id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
	err = errno;
	struck = fail_nth_disarm();
	if (id > 0) {
		EXPECT_EQ(info_now(fd).objects_fd, before.objects_fd + 1);
		EXPECT_EQ(free_object(fd, id), 0);
	} else {
		EXPECT(struck && fault_errno_ok(err, ENOMEM, ENOMEM));
		EXPECT_EQ(info_now(fd).objects_total, before.objects_total);
	}
	return struck;
}

static bool fault_free_object(int fd, unsigned int nth)
{
	struct memdriver_info before = info_now(fd);
	int id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT), ret, err;
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];
	bool struck;

	EXPECT(id > 0);
	fail_nth_arm(nth);
	ret = ioctl(fd, MEM_IOCTL_FREE_OBJECT, &id);
	err = errno;
	struck = fail_nth_disarm();
	if (ret) {
		/* Not freed: still there, and freeable. */
		EXPECT(struck && fault_errno_ok(err, EFAULT, EFAULT));
		EXPECT_EQ(object_read(fd, id, data), 0);
		EXPECT_EQ(free_object(fd, id), 0);
	}
	EXPECT_EQ(info_now(fd).objects_fd, before.objects_fd);
	return struck;
}

/* Object payload I/O: a failed write leaves the old payload. */
static bool fault_object_io(int fd, unsigned int nth, bool write)
{
	struct memdriver_object_io io = { .id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT) };
	__u8 old[MEMDRIVER_PAYLOAD_SIZE], now[MEMDRIVER_PAYLOAD_SIZE];
	bool struck;
	int ret, err;

	EXPECT(io.id > 0);
	EXPECT_EQ(object_read(fd, io.id, old), 0);
	memset(io.data, write ? 0x5a : 0, sizeof(io.data));
	fail_nth_arm(nth);
	ret = ioctl(fd, write ? MEM_IOCTL_WRITE_OBJECT : MEM_IOCTL_READ_OBJECT, &io);
	err = errno;
	struck = fail_nth_disarm();
	EXPECT_EQ(object_read(fd, io.id, now), 0);
	if (ret) {
		EXPECT(struck && fault_errno_ok(err, EFAULT, EFAULT));
		EXPECT(!memcmp(now, old, sizeof(now)));
	} else {
		EXPECT(!memcmp(now, write ? io.data : old, sizeof(now)));
		EXPECT(write || !memcmp(io.data, old, sizeof(old)));
	}
	EXPECT_EQ(free_object(fd, io.id), 0);
	return struck;
}

static bool fault_read_object(int fd, unsigned int nth)
{
	return fault_object_io(fd, nth, false);
}

static bool fault_write_object(int fd, unsigned int nth)
{
	return fault_object_io(fd, nth, true);
}

static bool fault_get_info(int fd, unsigned int nth)
{
	struct memdriver_info got;
	bool struck;
	int ret, err;

	memset(&got, 0, sizeof(got));
	fail_nth_arm(nth);
	ret = get_info(fd, &got);
	err = errno;
	struck = fail_nth_disarm();
	if (ret)
		EXPECT(struck && fault_errno_ok(err, EFAULT, EFAULT));
	else
		EXPECT_EQ(got.total_size, info.total_size);
	return struck;
}

/* pread() or pwrite() of one page of the region; a failed write changes nothing. */
static bool fault_rw(int fd, unsigned int nth, int r, bool write)
{
	size_t len = page_size;
	__u64 off = region_off(r);
	__u8 *old = xmalloc(len), *buf = xmalloc(len), *now = xmalloc(len);
	bool struck;
	ssize_t ret;
	int err;

	fill_pattern(old, len, off, nth);
	EXPECT_EQ(pwrite(fd, old, len, off), len);
	fill_pattern(buf, len, off, nth + 1);
	fail_nth_arm(nth);
	ret = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	err = errno;
	struck = fail_nth_disarm();
	EXPECT_EQ(pread(fd, now, len, off), len);
	if (ret < 0) {
		EXPECT(struck && fault_errno_ok(err, EFAULT, EFAULT));
		EXPECT(!memcmp(now, old, len));
	} else {
		EXPECT_EQ(ret, len);
		EXPECT(!memcmp(now, write ? buf : old, len));
		EXPECT(write || !memcmp(buf, old, len));
	}
	free(old);
	free(buf);
	free(now);
	return struck;
}

static bool fault_read(int fd, unsigned int nth)
{
	return fault_rw(fd, nth, MEMDRIVER_REGION_VMALLOC, false);
}

static bool fault_write(int fd, unsigned int nth)
{
	return fault_rw(fd, nth, MEMDRIVER_REGION_VMALLOC, true);
}

/* One page from the kmalloc to the pages region: all or nothing. */
static bool fault_dma_copy(int fd, unsigned int nth)
{
	__u64 src = region_off(MEMDRIVER_REGION_KMALLOC);
	__u64 dst = region_off(MEMDRIVER_REGION_PAGES);
	size_t len = page_size;
	__u8 *want = xmalloc(len), *old = xmalloc(len), *now = xmalloc(len);
	bool struck;
	int ret, err;

	fill_pattern(want, len, src, nth);
	fill_pattern(old, len, dst, nth + 1);
	EXPECT_EQ(pwrite(fd, want, len, src), len);
	EXPECT_EQ(pwrite(fd, old, len, dst), len);
	fail_nth_arm(nth);
	ret = dma_copy(fd, src, dst, len, NULL);
	err = errno;
	struck = fail_nth_disarm();
	EXPECT_EQ(pread(fd, now, len, dst), len);
	if (ret) {
		EXPECT(struck && fault_errno_ok(err, ENOMEM, EFAULT));
		/* EFAULT on the result's copy-out comes after the copy. */
		EXPECT(!memcmp(now, old, len) ||
		       (err == EFAULT && !memcmp(now, want, len)));
	} else {
		EXPECT(!memcmp(now, want, len));
	}
	free(want);
	free(old);
	free(now);
	return struck;
}

/* mmap() of a whole region: a mapping that exists shows the device's bytes. */
static bool fault_mmap(int fd, unsigned int nth, int r)
{
	size_t len = region_size(r);
	__u8 *want = xmalloc(len);
	bool struck;
	void *p;
	int err;

	EXPECT_EQ(pread(fd, want, len, region_off(r)), len);
	fail_nth_arm(nth);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, region_off(r));
	err = errno;
	struck = fail_nth_disarm();
	if (p == MAP_FAILED) {
		EXPECT(struck && fault_errno_ok(err, ENOMEM, EAGAIN));
	} else {
		EXPECT(!memcmp(p, want, len));
		munmap(p, len);
	}
	free(want);
	return struck;
}

static bool fault_mmap_kmalloc(int fd, unsigned int nth)
{
	return fault_mmap(fd, nth, MEMDRIVER_REGION_KMALLOC);
}

static bool fault_mmap_vmalloc(int fd, unsigned int nth)
{
	return fault_mmap(fd, nth, MEMDRIVER_REGION_VMALLOC);
}

static bool fault_mmap_dma(int fd, unsigned int nth)
{
	return fault_mmap(fd, nth, MEMDRIVER_REGION_DMA);
}

static bool fault_mmap_pages(int fd, unsigned int nth)
{
	return fault_mmap(fd, nth, MEMDRIVER_REGION_PAGES);
}

/*
 * On x86 a remap_pfn_range() that fails part way (a page table allocation)
 * trips WARN_ON_ONCE() in untrack_pfn() (arch/x86/mm/pat/memtype.c) on its
 * way out, seen on 6.1: the kernel's error path, not the driver's. The
 * kmalloc, DMA and pages regions are mapped that way there; arm64 has no
 * PAT and runs these cases.
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

static const struct {
	const char *name;
	bool (*run)(int fd, unsigned int nth);
	const char *(*skip)(void);
	bool per_held;		/* once per fault_held[] state */
	const char *no_pairs;	/* why two failures in a row are not tried */
} fault_ops[] = {
	{ .name = "open", .run = fault_open },
	{ .name = "alloc_object", .run = fault_alloc_object, .per_held = true },
	{ .name = "free_object", .run = fault_free_object, .per_held = true },
	{ .name = "read_object", .run = fault_read_object, .per_held = true },
	{ .name = "write_object", .run = fault_write_object, .per_held = true },
	{ .name = "get_info", .run = fault_get_info },
	{ .name = "read", .run = fault_read },
	{ .name = "write", .run = fault_write },
	/*
	 * A second failure lands in DMA-API debug's own cacheline tracking
	 * (a radix tree insert that cannot sleep), which then switches
	 * itself off ("cacheline tracking ENOMEM, dma-debug disabled").
	 */
	{ .name = "dma_copy", .run = fault_dma_copy,
	  .no_pairs = "DMA-API debug's own tracking would fail and switch it off" },
	{ .name = "mmap_kmalloc", .run = fault_mmap_kmalloc, .skip = remap_pfn_range_unsafe },
	{ .name = "mmap_vmalloc", .run = fault_mmap_vmalloc },
	{ .name = "mmap_dma", .run = fault_mmap_dma, .skip = remap_pfn_range_unsafe },
	{ .name = "mmap_pages", .run = fault_mmap_pages, .skip = remap_pfn_range_unsafe },
};

/* Visit every failure point of one call; returns how many struck, or -1. */
static int fault_points(bool (*run)(int fd, unsigned int nth), int fd)
{
	unsigned int nth;

	for (nth = 1; nth < FAULT_MAX_NTH && !case_failed; nth++)
		if (!run(fd, nth))
			return nth - 1;
	EXPECT(nth < FAULT_MAX_NTH);
	return -1;
}

/* Allocate @n objects on @fd; returns their ids (freed by fault_release). */
static int *fault_hold(int fd, unsigned int n)
{
	int *ids = xmalloc((n + 1) * sizeof(*ids));
	unsigned int i;

	for (i = 0; i < n; i++) {
		ids[i] = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
		EXPECT(ids[i] > 0);
	}
	return ids;
}

static void fault_release(int fd, int *ids, unsigned int n)
{
	while (n--)
		EXPECT_EQ(free_object(fd, ids[n]), 0);
	free(ids);
}

static int run_faults(void)
{
	int n = 0, i, failed = 0, total = 0, test = 0, fd = open_dev();
	struct memdriver_info before = info_now(fd);
	unsigned int h;

	/* Each call and state with one failure, then with two in a row. */
	for (i = 0; i < (int)ARRAY_SIZE(fault_ops); i++)
		n += 2 * (fault_ops[i].per_held ? ARRAY_SIZE(fault_held) : 1);
	printf("KTAP version 1\n1..%d\n", n);
	if (!fail_nth_open()) {
		printf("# /proc/thread-self/fail-nth: %s\n", strerror(errno));
		for (i = 1; i <= n; i++)
			printf("ok %d - faults # SKIP no fault injection\n", i);
		return 0;
	}
	for (i = 0; i < (int)ARRAY_SIZE(fault_ops); i++) {
		const char *why = fault_ops[i].skip ? fault_ops[i].skip() : NULL;
		unsigned int states = fault_ops[i].per_held ? ARRAY_SIZE(fault_held) : 1;

		for (h = 0; h < 2 * states; h++) {
			unsigned int held = fault_ops[i].per_held ? fault_held[h / 2] : 0;
			const char *skip_why = why;
			char state[96] = "";
			int points, *ids;

			test++;
			fault_pairs = h % 2;
			if (fault_ops[i].per_held)
				snprintf(state, sizeof(state), ", fd holding %u objects", held);
			if (fault_pairs)
				strcat(state, ", two failures in a row");
			if (!skip_why && fault_pairs && !fail_pairs_possible())
				skip_why = "no failslab attributes";
			if (!skip_why && fault_pairs)
				skip_why = fault_ops[i].no_pairs;
			if (!skip_why && held + 1 > before.max_objects_per_fd)
				skip_why = "the per-fd cap is lower";
			if (!skip_why && before.objects_total + held + 1 > before.max_objects)
				skip_why = "the module-wide cap is lower";
			if (skip_why) {
				printf("ok %d - faults: %s%s # SKIP %s\n", test,
				       fault_ops[i].name, state, skip_why);
				continue;
			}
			case_failed = 0;
			ids = fault_hold(fd, held);
			points = fault_points(fault_ops[i].run, fd);
			fault_release(fd, ids, held);
			if (points > 0)
				total += points;
			printf("%s %d - faults: %s%s, %d failure points, each a clean errno\n",
			       ktap_result(), test, fault_ops[i].name, state, points);
			failed += case_failed;
		}
	}
	fault_pairs = false;
	/* Some calls allocate nothing (free_object), but not all of them. */
	case_failed = 0;
	EXPECT(total > 0);
	EXPECT_EQ(info_now(fd).objects_total, before.objects_total);
	close(fd);
	failed += case_failed;
	printf("# faults: %d failure points injected in %d calls and states\n", total, n);
	printf("memdriver_test: %d passed, %d failed\n", n - failed, failed);
	return failed ? 1 : 0;
}

static bool module_loaded(void)
{
	return access("/sys/module/memdriver", F_OK) == 0;
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
static int run_load_faults(int argc, char **argv)
{
	unsigned int nth, stride = 1, offset = 0, ndev = 1;
	struct load_opener lo = {};
	const char *params = "";
	int ko, points = 0, ret, err;
	pthread_t opener;
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
	printf("KTAP version 1\n1..1\n");
	ko = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (ko < 0 || !fail_nth_open() || module_loaded()) {
		printf("# %s, fail-nth or an unloaded module missing: %s\n",
		       argv[0], strerror(errno));
		return 2;
	}
	lo.nr_devs = ndev ? ndev : 1;
	if (pthread_create(&opener, NULL, load_opener_run, &lo))
		return 2;
	case_failed = 0;
	for (nth = 1 + offset; nth < FAULT_MAX_NTH && !case_failed; nth += stride) {
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
			EXPECT(module_loaded());
			EXPECT_EQ(syscall(SYS_delete_module, "memdriver", O_NONBLOCK), 0);
		} else {
			/*
			 * EINVAL too: the kernel reports some failed
			 * allocations so (kmem_cache_create(); device_add()
			 * of a platform device whose name was not allocated).
			 */
			EXPECT(struck && (err == EINVAL || fault_errno_ok(err, ENOMEM, EFAULT)));
			EXPECT(!module_loaded());
			EXPECT(access("/sys/class/memdriver", F_OK) != 0);
			EXPECT(access(dev_path, F_OK) != 0);
		}
		lo_set(&lo.paused, false);
		points += struck;
		if (ret == 0 && !struck)
			break;
	}
	lo_set(&lo.stop, true);
	pthread_join(opener, NULL);
	EXPECT(nth < FAULT_MAX_NTH);
	EXPECT(!module_loaded());
	EXPECT_EQ(lo.survivors, 0);
	close(ko);
	printf("# load-faults: %u opens raced the loads, %u fds outlived a failed load\n",
	       lo.opens, lo.survivors);
	printf("%s 1 - load-faults%s%s: %d failure points on the load path",
	       ktap_result(), *params ? " " : "", params, points);
	printf(" (every %u%s), each unwound\n", stride, stride == 1 ? "" : " from an offset");
	printf("memdriver_test: %d passed, %d failed\n", !case_failed, case_failed);
	return case_failed;
}

/* ---- memdriver_test hold: release() of an fd with many objects ---- */

/*
 * Fill one fd with @n objects and close it: release() frees them all, and
 * must yield the CPU while it does (the guest watches for soft lockups).
 */
static int run_hold(unsigned long n)
{
	int fd = open_dev(), other = open_dev(), id = 0;
	struct memdriver_info before = info_now(other);
	struct timespec t0, t1;
	unsigned long i;

	printf("KTAP version 1\n1..1\n");
	case_failed = 0;
	for (i = 0; i < n; i++) {
		id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
		if (id <= 0)
			break;
	}
	EXPECT_EQ(i, n);
	if (id <= 0)
		printf("# alloc %lu: %s\n", i + 1, strerror(errno));
	EXPECT_EQ(info_now(fd).objects_fd, i);
	EXPECT_EQ(info_now(other).objects_device, before.objects_device + i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(close(fd), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_EQ(info_now(other).objects_total, before.objects_total);
	close(other);
	printf("# hold: closing an fd with %lu objects took %.0f ms\n", i,
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	printf("%s 1 - hold %lu objects, then close\n", ktap_result(), n);
	printf("memdriver_test: %d passed, %d failed\n", !case_failed, case_failed);
	return case_failed;
}

/* ---- memdriver_test stress: processes x threads on shared and own fds ---- */

#define STRESS_MAX_WORKERS	64
#define STRESS_MAX_LIVE		32	/* objects one worker holds at most */

struct stress_shared {
	pthread_barrier_t held;		/* every worker holds its objects */
	pthread_barrier_t counted;	/* the parent has counted them */
	int stop_watch;
	unsigned long watch_reads, watch_bad;
	long long watch_worst;		/* the first impossible count seen */
	int live[STRESS_MAX_WORKERS];
	int errors[STRESS_MAX_WORKERS];
};

struct stress_worker {
	struct stress_shared *sh;
	int index, fd, rounds;
	bool own_fd;
	size_t slice;
	__u64 off;
	int ids[STRESS_MAX_LIVE];
	int nr_ids;
};

/* One object's payload names its worker and id, so mixups show. */
static void stress_payload(__u8 *data, int worker, int id)
{
	memset(data, 0, MEMDRIVER_PAYLOAD_SIZE);
	snprintf((char *)data, MEMDRIVER_PAYLOAD_SIZE, "worker %d id %d", worker, id);
}

/* op 0 allocates, 1 frees, 2 reads back; pick chooses among the held ids. */
static bool stress_object(struct stress_worker *w, unsigned int op, unsigned int pick)
{
	struct memdriver_object_io io = {};
	__u8 want[MEMDRIVER_PAYLOAD_SIZE];
	int k;

	if (op == 0 && w->nr_ids < STRESS_MAX_LIVE) {
		io.id = ioctl(w->fd, MEM_IOCTL_ALLOC_OBJECT);
		if (io.id <= 0)
			return false;
		w->ids[w->nr_ids++] = io.id;
		stress_payload(io.data, w->index, io.id);
		return ioctl(w->fd, MEM_IOCTL_WRITE_OBJECT, &io) == 0;
	}
	if (!w->nr_ids)
		return true;
	k = pick % w->nr_ids;
	if (op == 1) {
		if (free_object(w->fd, w->ids[k]))
			return false;
		w->ids[k] = w->ids[--w->nr_ids];
		return true;
	}
	stress_payload(want, w->index, w->ids[k]);
	return object_read(w->fd, w->ids[k], io.data) == 0 &&
	       !memcmp(io.data, want, sizeof(want));
}

/* The worker's own slice of the vmalloc region, by write() or by mmap(). */
static bool stress_bytes(struct stress_worker *w, unsigned int seed, bool mapped)
{
	__u8 *buf = xmalloc(w->slice);
	bool ok = true;

	fill_pattern(buf, w->slice, w->off, seed);
	if (mapped) {
		void *p = map_region_window(w->fd, w->off, w->slice);

		ok = p != MAP_FAILED;
		if (ok) {
			memcpy(p, buf, w->slice);
			ok = munmap(p, w->slice) == 0;
		}
	} else {
		ok = pwrite(w->fd, buf, w->slice, w->off) == (ssize_t)w->slice;
	}
	ok = ok && pread(w->fd, buf, w->slice, w->off) == (ssize_t)w->slice &&
	     check_pattern(buf, w->slice, w->off, seed) == -1;
	free(buf);
	return ok;
}

static void *stress_run(void *arg)
{
	struct stress_worker *w = arg;
	unsigned int rng = w->index * 2654435761U + 1;
	int round, errors = 0;

	if (w->own_fd)
		w->fd = open_dev();
	for (round = 0; round < w->rounds; round++) {
		unsigned int dice = rand_r(&rng) % 8;
		bool ok;

		if (dice < 5)
			ok = stress_object(w, dice % 3, rand_r(&rng));
		else
			ok = stress_bytes(w, rng, dice == 7);
		errors += !ok;
	}
	w->sh->live[w->index] = w->nr_ids;
	pthread_barrier_wait(&w->sh->held);
	pthread_barrier_wait(&w->sh->counted);
	while (w->nr_ids)
		errors += free_object(w->fd, w->ids[--w->nr_ids]) != 0;
	if (w->own_fd)
		close(w->fd);
	w->sh->errors[w->index] = errors;
	return NULL;
}

static void stress_process(struct stress_shared *sh, int proc, int threads,
			   int rounds, int shared_fd, size_t slice)
{
	struct stress_worker w[STRESS_MAX_WORKERS];
	pthread_t t[STRESS_MAX_WORKERS];
	int i;

	memset(w, 0, sizeof(w));
	for (i = 0; i < threads; i++) {
		w[i].sh = sh;
		w[i].index = proc * threads + i;
		w[i].own_fd = i % 2;
		w[i].fd = shared_fd;
		w[i].rounds = rounds;
		w[i].slice = slice;
		w[i].off = region_off(MEMDRIVER_REGION_VMALLOC) + w[i].index * slice;
		if (pthread_create(&t[i], NULL, stress_run, &w[i]))
			_exit(3);
	}
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
}

/* A count the device reports must lie in 0..max_objects at every moment. */
static void stress_watch_value(struct stress_shared *sh, long long v, long long max)
{
	if (v >= 0 && v <= max)
		return;
	if (!sh->watch_bad++)
		sh->watch_worst = v;
}

/* Reads every object count while the workers run, until told to stop. */
static void stress_watch(struct stress_shared *sh, int fd)
{
	struct memdriver_info now;
	char dir[256];

	class_dir(dir, sizeof(dir));
	while (!__atomic_load_n(&sh->stop_watch, __ATOMIC_ACQUIRE)) {
		memset(&now, 0, sizeof(now));
		if (get_info(fd, &now)) {
			stress_watch_value(sh, -errno, 0);
			continue;
		}
		stress_watch_value(sh, now.objects_device, now.max_objects);
		stress_watch_value(sh, now.objects_total, now.max_objects);
		stress_watch_value(sh, read_sysfs_number(dir, "objects"), now.max_objects);
		sh->watch_reads++;
	}
}

static int run_stress(int procs, int threads, int rounds)
{
	int workers = procs * threads, i, status, fd = open_dev();
	size_t slice = region_size(MEMDRIVER_REGION_VMALLOC) / (workers ? workers : 1);
	struct memdriver_info before = info_now(fd), held;
	int live = 0, live_shared = 0, errors = 0;
	pthread_barrierattr_t attr;
	struct stress_shared *sh;
	char dir[256];
	pid_t pid, watcher;

	slice -= slice % page_size;
	printf("KTAP version 1\n1..1\n");
	printf("# stress: %d processes x %d threads, %d rounds each; even threads share one fd\n",
	       procs, threads, rounds);
	if (workers < 1 || workers > STRESS_MAX_WORKERS || !slice ||
	    before.max_objects_per_fd < (unsigned int)workers * STRESS_MAX_LIVE ||
	    before.max_objects - before.objects_total < (unsigned int)workers * STRESS_MAX_LIVE) {
		printf("ok 1 - stress # SKIP vmalloc region or object caps too small\n");
		return 0;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	memset(sh, 0, sizeof(*sh));
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->held, &attr, workers + 1);
	pthread_barrier_init(&sh->counted, &attr, workers + 1);
	/* A worker that dies would leave the barriers waiting forever. */
	alarm(1200);
	case_failed = 0;
	watcher = fork();
	if (watcher == 0) {
		stress_watch(sh, fd);
		_exit(0);
	}
	EXPECT(watcher > 0);
	for (i = 0; i < procs; i++) {
		pid = fork();
		if (pid == 0) {
			stress_process(sh, i, threads, rounds, fd, slice);
			_exit(0);
		}
		EXPECT(pid > 0);
	}

	pthread_barrier_wait(&sh->held);
	held = info_now(fd);
	for (i = 0; i < workers; i++) {
		live += sh->live[i];
		if (i % threads % 2 == 0)
			live_shared += sh->live[i];
	}
	class_dir(dir, sizeof(dir));
	EXPECT_EQ(held.objects_fd, live_shared);
	EXPECT_EQ(held.objects_device, before.objects_device + live);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device + live);
	pthread_barrier_wait(&sh->counted);

	for (i = 0; i < procs; i++) {
		pid = wait(&status);
		EXPECT(pid > 0 && pid != watcher);
		EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	__atomic_store_n(&sh->stop_watch, 1, __ATOMIC_RELEASE);
	EXPECT_EQ(waitpid(watcher, &status, 0), watcher);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Never negative (4294967295) or above the cap, at any moment. */
	EXPECT_EQ(sh->watch_bad, 0);
	EXPECT(sh->watch_reads > 0);
	printf("# stress: %lu readings of each count while workers ran, %lu impossible",
	       sh->watch_reads, sh->watch_bad);
	printf(" (first %lld)\n", sh->watch_worst);
	for (i = 0; i < workers; i++)
		errors += sh->errors[i];
	EXPECT_EQ(errors, 0);
	EXPECT_EQ(info_now(fd).objects_total, before.objects_total);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device);
	alarm(0);
	close(fd);
	printf("# stress: %d objects held at the count (%d on the shared fd), all accounted for\n",
	       live, live_shared);
	printf("%s 1 - stress\n", ktap_result());
	printf("memdriver_test: %d passed, %d failed\n", !case_failed, case_failed);
	return case_failed;
}

/* ---- memdriver_test info: an annotated map of the device ---- */

static const char *const region_lessons[MEMDRIVER_NR_REGIONS] = {
	"kmalloc: physically contiguous, from the linear map",
	"vmalloc: contiguous only in virtual addresses; page tables join scattered pages",
	"DMA coherent: a device address the hardware uses, memory CPU and device share",
	"page allocator: one 2^order block of buddy pages",
};

/* Who MEM_IOCTL_DMA_COPY's copies go by: the engine, its channel and device. */
static void show_dma_engine(void)
{
	static const char *const modes[] = { "auto", "cpu", "engine" };
	const char *mode = info.dma_engine_mode < ARRAY_SIZE(modes) ?
			   modes[info.dma_engine_mode] : "?";

	if (info.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE)
		printf("DMA copies: dmaengine channel %s on %s (dma_engine=%s, %s),\n"
		       "  whole %u-byte cache lines by the engine, the edges by the CPU\n\n",
		       info.dma_chan, info.dma_device, mode,
		       info.dma_chan_held ? "held since the first copy" :
		       "taken by the first copy", info.dma_copy_align);
	else
		printf("DMA copies: the CPU (dma_engine=%s%s)\n\n", mode,
		       info.dma_engine_mode == MEMDRIVER_DMA_MODE_CPU ? "" :
		       ": no dmaengine memcpy channel found");
}

static int show_info(void)
{
	struct region_view v[MEMDRIVER_NR_REGIONS];
	bool have_views = read_region_views(v);
	struct objects_view o;
	int r;

	printf("%s: %llu bytes in %d regions, page size %u, DMA mask %u bits\n\n",
	       dev_path, (unsigned long long)info.total_size, MEMDRIVER_NR_REGIONS,
	       info.page_size, info.dma_mask_bits);
	show_dma_engine();
	printf("%-10s %-10s %-8s %-19s %6s %5s\n", "offset", "size", "region",
	       "allocator", "pages", "runs");
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		printf("%#-10llx %-10llu %-8s %-19s", (unsigned long long)region_off(r),
		       (unsigned long long)region_size(r), region_names[r],
		       have_views ? v[r].allocator : "?");
		if (have_views)
			printf(" %6lld %5lld\n", v[r].pages, v[r].runs);
		else
			printf(" %6llu %5s\n",
			       (unsigned long long)(region_size(r) / info.page_size), "?");
	}
	printf("\n");
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		printf("%s\n", region_lessons[r]);
		if (!have_views)
			continue;
		printf("  -> %lld page%s in %lld physically contiguous run%s%s;",
		       v[r].pages, v[r].pages == 1 ? "" : "s", v[r].runs,
		       v[r].runs == 1 ? "" : "s",
		       v[r].runs == 1 ? "" : " (not contiguous)");
		printf(" the CPU sees it through the %s\n", v[r].cpu_mapping);
		if (r == MEMDRIVER_REGION_DMA)
			printf("  -> device address %s the physical address\n",
			       strcmp(v[r].dma_is_phys, "yes") ? "differs from" : "equals");
	}
	if (read_objects_view(&o))
		printf("\nobject pool: kmem_cache memdriver_object, %lld-byte objects\n"
		       "  (%u-byte payload)\n"
		       "  -> %lld live, %lld allocated, %lld freed, %lld refused at a cap\n",
		       o.object_size, info.payload_size, o.live, o.allocated, o.freed,
		       o.cap_hits);
	else
		printf("\nobject pool: %u live on this device\n"
		       "(run as root with debugfs mounted to see how pages are backed)\n",
		       info.objects_device);
	return 0;
}

/* ---- bench ---- */

/*
 * memdriver_test bench [--quick] [--runs N] [P1..P6...]: each path against
 * its limit (all of P1-P6 unless some are named).
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
		printf("P5  skipped: %d CPU online, needs %d\n", ncpus, BENCH_THREADS);
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

static int bench_usage(void)
{
	fprintf(stderr, "usage: memdriver_test [-d DEVICE] bench [--quick] [--runs 1-%d] %s\n",
		BENCH_MAX_RUNS, "[P1..P6...]");
	return 2;
}

static int run_bench(int argc, char **argv)
{
	unsigned int only = 0;	/* bit n: run Pn; none set: all */
	struct utsname u;
	int i, fd;

	for (i = 0; i < argc; i++) {
		if (argv[i][0] == 'P' && argv[i][1] >= '1' && argv[i][1] <= '6' &&
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
	close(fd);
	if (bench.errors)
		printf("# bench: %d operations failed, figures are void\n", bench.errors);
	return bench.errors ? 1 : 0;
}

struct test_case {
	const char *name;
	void (*run)(int fd);
};

static const struct test_case cases[] = {
	{ "info", test_info },
	{ "zeroed_at_load", test_zeroed_at_load },	/* must stay before writes */
	{ "whole_device_rw", test_whole_device_rw },
	{ "region_rw", test_region_rw },
	{ "file_position", test_file_position },
	{ "cat_terminates", test_cat_terminates },
	{ "end_of_device", test_end_of_device },
	{ "bad_user_pointers", test_bad_user_pointers },
	{ "lseek", test_lseek },
	{ "objects_alloc_free", test_objects_alloc_free },
	{ "object_payload", test_object_payload },
	{ "object_errors", test_object_errors },
	{ "unknown_ioctl", test_unknown_ioctl },
	{ "release_frees_objects", test_release_frees_objects },
	{ "object_caps", test_object_caps },
	{ "mmap_regions", test_mmap_regions },
	{ "mmap_window", test_mmap_window },
	{ "mmap_errors", test_mmap_errors },
	{ "readonly_fd", test_readonly_fd },
	{ "writeonly_fd", test_writeonly_fd },
	{ "no_exec_mappings", test_no_exec_mappings },
	{ "concurrency", test_concurrency },
	{ "device_node", test_device_node },
	{ "devices_independent", test_devices_independent },
	{ "debugfs_regions", test_debugfs_regions },
	{ "debugfs_objects", test_debugfs_objects },
	{ "debugfs_root_only", test_debugfs_root_only },
	{ "dma_copy", test_dma_copy },
	{ "dma_copy_errors", test_dma_copy_errors },
	{ "dma_engine_info", test_dma_engine_info },
	{ "dma_engine_pairs", test_dma_engine_pairs },
	{ "dma_engine_lengths", test_dma_engine_lengths },
	{ "dma_engine_threads", test_dma_engine_threads },
	{ "dma_engine_faults", test_dma_engine_faults },
	{ "tutorial_flow", test_tutorial_flow },
};

static int run_suite(const char *only)
{
	int n = ARRAY_SIZE(cases), i, passed = 0, failed = 0, skipped = 0;

	printf("KTAP version 1\n1..%d\n", n);
	printf("# %s: page size %ld, %llu bytes in 4 regions, DMA mask %u bits\n",
	       dev_path, page_size, (unsigned long long)info.total_size,
	       info.dma_mask_bits);
	for (i = 0; i < n; i++) {
		int fd;

		if (only && strcmp(only, cases[i].name))
			continue;
		fd = open_dev();
		case_failed = 0;
		case_skip = NULL;
		cases[i].run(fd);
		close(fd);
		if (case_skip && !case_failed) {
			printf("ok %d - %s # SKIP %s\n", i + 1, cases[i].name, case_skip);
			skipped++;
		} else if (case_failed) {
			printf("not ok %d - %s\n", i + 1, cases[i].name);
			failed++;
		} else {
			printf("ok %d - %s\n", i + 1, cases[i].name);
			passed++;
		}
		fflush(stdout);
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       passed, failed, skipped);
	printf("memdriver_test: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

static void die_usage(void)
{
	fprintf(stderr,
		"usage: memdriver_test [-d DEVICE] [--fresh] [test [CASE] | tutorial | info |\n"
		"                      fuzz [--seed N] [--ops N] |\n"
		"                      bench [--quick] [--runs N] [P1..P6...] |\n"
		"                      stress [--procs N] [--threads N] [--rounds N] |\n"
		"                      faults | hold N |\n"
		"                      load-faults [--stride N] [--offset N] MODULE.ko [PARAMS]]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = "test", *only = NULL;
	unsigned long long seed = time(NULL);
	unsigned long ops = 100000, hold = 0;
	int i, fd, procs = 4, threads = 4, rounds = 1000;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-d") && i + 1 < argc)
			dev_path = argv[++i];
		else if (!strcmp(argv[i], "--fresh"))
			fresh_load = true;
		else if (!strcmp(argv[i], "bench"))
			return run_bench(argc - i - 1, argv + i + 1);
		else if (!strcmp(argv[i], "load-faults"))
			return run_load_faults(argc - i - 1, argv + i + 1);
		else if (!strcmp(argv[i], "hold") && i + 1 < argc)
			mode = argv[i], hold = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			ops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
			procs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "test") || !strcmp(argv[i], "tutorial") ||
			 !strcmp(argv[i], "info") || !strcmp(argv[i], "fuzz") ||
			 !strcmp(argv[i], "stress") || !strcmp(argv[i], "faults"))
			mode = argv[i];
		else if (!strcmp(mode, "test") && argv[i][0] != '-' && !only)
			only = argv[i];
		else
			die_usage();
	}
	page_size = sysconf(_SC_PAGESIZE);
	fd = open_dev();
	if (get_info(fd, &info)) {
		printf("# MEM_IOCTL_GET_INFO on %s: %s\n", dev_path, strerror(errno));
		return 2;
	}
	close(fd);

	if (!strcmp(mode, "info"))
		return show_info();
	if (!strcmp(mode, "fuzz"))
		return run_fuzz(seed, ops);
	if (!strcmp(mode, "stress"))
		return run_stress(procs, threads, rounds);
	if (!strcmp(mode, "faults"))
		return run_faults();
	if (!strcmp(mode, "hold"))
		return run_hold(hold);
	if (!strcmp(mode, "tutorial")) {
		fd = open_dev();
		case_failed = 0;
		tutorial_flow(fd, true);
		close(fd);
		if (case_failed)
			printf("tutorial flow FAILED\n");
		else
			printf("tutorial flow passed\n");
		return case_failed;
	}
	return run_suite(only);
}
