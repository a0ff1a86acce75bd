// SPDX-License-Identifier: GPL-2.0
/*
 * memdriver_test - test suite and tutorial replay for /dev/memdriverN.
 *
 *   memdriver_test [-d DEVICE] [--fresh] [test]   the suite, KTAP output
 *   memdriver_test [-d DEVICE] tutorial           the tutorial's flow, verbose
 *   memdriver_test [-d DEVICE] info               an annotated memory map
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
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
	EXPECT_EQ(info.reserved, 0);
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

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_ERRNO(read(fd, bad, 16), EFAULT);
	EXPECT_ERRNO(write(fd, bad, 16), EFAULT);
	EXPECT_ERRNO(pread(fd, bad, 16, 100), EFAULT);
	EXPECT_ERRNO(pwrite(fd, bad, 16, 100), EFAULT);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);

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
		EXPECT_ERRNO(mmap(NULL, region_size(r) + page_size, PROT_READ,
				  MAP_SHARED, fd, region_off(r)), EINVAL);
	EXPECT_ERRNO(mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, total), EINVAL);
	EXPECT_ERRNO(mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd,
			  total + 16 * page_size), EINVAL);
	EXPECT_ERRNO(mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd,
			  page_size / 2), EINVAL);
	EXPECT_ERRNO(mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			  fd, 0), EINVAL);
	/* Mappings cannot grow (VM_DONTEXPAND). */
	map = map_region_window(fd, vm_off, page_size);
	EXPECT(map != MAP_FAILED);
	if (map != MAP_FAILED) {
		EXPECT_ERRNO(mremap(map, page_size, 2 * page_size, 0), EFAULT);
		EXPECT_ERRNO(mremap(map, page_size, 2 * page_size, MREMAP_MAYMOVE),
			     EFAULT);
		munmap(map, page_size);
	}
	map = map_region_window(fd, 0, km);
	EXPECT(map != MAP_FAILED);
	if (map != MAP_FAILED)
		munmap(map, km);
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

static int dma_copy(int fd, __u64 src, __u64 dst, __u64 len, __u32 *engine)
{
	struct memdriver_dma_copy req = { .src = src, .dst = dst, .len = len };
	int ret = ioctl(fd, MEM_IOCTL_DMA_COPY, &req);

	if (engine)
		*engine = req.engine;
	return ret;
}

static void check_dma_copy(int fd, __u64 src, __u64 dst, size_t len, unsigned int seed)
{
	__u8 *buf = xmalloc(len + 2);
	__u32 engine = 0;

	fill_pattern(buf, len, src, seed);
	EXPECT_EQ(pwrite(fd, buf, len, src), len);
	/* Guard bytes around the destination must survive. */
	memset(buf, 0xee, len + 2);
	EXPECT_EQ(pwrite(fd, buf, len + 2, dst - 1), len + 2);
	EXPECT_EQ(dma_copy(fd, src, dst, len, &engine), 0);
	EXPECT(engine == MEMDRIVER_DMA_ENGINE_CPU ||
	       engine == MEMDRIVER_DMA_ENGINE_DMAENGINE);
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
	struct memdriver_dma_copy req = { .src = vm, .dst = dma, .len = 16, .flags = 1 };

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

/* ---- memdriver_test info: an annotated map of the device ---- */

static const char *const region_lessons[MEMDRIVER_NR_REGIONS] = {
	"kmalloc: physically contiguous, from the linear map",
	"vmalloc: contiguous only in virtual addresses; page tables join scattered pages",
	"DMA coherent: a device address the hardware uses, memory CPU and device share",
	"page allocator: one 2^order block of buddy pages",
};

static int show_info(void)
{
	struct region_view v[MEMDRIVER_NR_REGIONS];
	bool have_views = read_region_views(v);
	struct objects_view o;
	int r;

	printf("%s: %llu bytes in %d regions, page size %u, DMA mask %u bits\n\n",
	       dev_path, (unsigned long long)info.total_size, MEMDRIVER_NR_REGIONS,
	       info.page_size, info.dma_mask_bits);
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
	{ "concurrency", test_concurrency },
	{ "device_node", test_device_node },
	{ "devices_independent", test_devices_independent },
	{ "debugfs_regions", test_debugfs_regions },
	{ "debugfs_objects", test_debugfs_objects },
	{ "debugfs_root_only", test_debugfs_root_only },
	{ "dma_copy", test_dma_copy },
	{ "dma_copy_errors", test_dma_copy_errors },
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
		"usage: memdriver_test [-d DEVICE] [--fresh] [test [CASE] | tutorial | info]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = "test", *only = NULL;
	int i, fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-d") && i + 1 < argc)
			dev_path = argv[++i];
		else if (!strcmp(argv[i], "--fresh"))
			fresh_load = true;
		else if (!strcmp(argv[i], "test") || !strcmp(argv[i], "tutorial") ||
			 !strcmp(argv[i], "info"))
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
