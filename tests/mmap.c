// SPDX-License-Identifier: GPL-2.0
/*
 * mmap() of each region and of windows across them.
 */
#include "util.h"

#include <sys/uio.h>

TEST(mmap_regions)
{
	int r;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		size_t len = region_size(r);
		__u64 off = region_off(r);
		__u8 *map = map_region_window(fd, off, len);
		__u8 *buf = xmalloc(len);

		EXPECT_TRUE(map != MAP_FAILED);
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
TEST(mmap_window)
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
		EXPECT_TRUE(map != MAP_FAILED);
		if (map != MAP_FAILED) {
			EXPECT_EQ(check_pattern(map, page_size, off, 70 + r), -1);
			EXPECT_EQ(munmap(map, page_size), 0);
		}
		free(buf);
	}
	EXPECT_GT(tried, 0);
}

TEST(mmap_errors)
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
	EXPECT_TRUE(map != MAP_FAILED);
	if (map != MAP_FAILED) {
		EXPECT_MAP_ERRNO(mremap(map, page_size, 2 * page_size, 0), EFAULT);
		EXPECT_MAP_ERRNO(mremap(map, page_size, 2 * page_size,
					MREMAP_MAYMOVE), EFAULT);
		EXPECT_EQ(munmap(map, page_size), 0);
	}
	map = map_region_window(fd, 0, km);
	EXPECT_TRUE(map != MAP_FAILED);
	if (map != MAP_FAILED)
		EXPECT_EQ(munmap(map, km), 0);
}

/*
 * What the rest of the kernel can do with each region's mapping. The
 * vmalloc and pages regions are mapped as pages: get_user_pages() takes
 * them (vmsplice() and /proc/self/mem here, on every kernel; O_DIRECT and
 * io_uring's registered buffers use the same call) and MADV_DONTNEED zaps
 * a range that the next access faults back in. The kmalloc and DMA regions
 * are raw PFN maps: get_user_pages() refuses them (vmsplice() EFAULT,
 * /proc/self/mem EIO) and so does MADV_DONTNEED (EINVAL). Both kinds stay
 * shared with a forked child.
 */
struct mmap_backing_variant {
	const char *name;
	int region;
	bool pages;
};

static const struct mmap_backing_variant mmap_backing_variants[] = {
	{ "kmalloc", MEMDRIVER_REGION_KMALLOC, false },
	{ "vmalloc", MEMDRIVER_REGION_VMALLOC, true },
	{ "dma", MEMDRIVER_REGION_DMA, false },
	{ "pages", MEMDRIVER_REGION_PAGES, true },
};

/*
 * Reads @len bytes at @map through get_user_pages(): vmsplice() takes the
 * pages into a pipe, read() copies them out. Returns the bytes read, or -1
 * with errno if the first vmsplice() fails.
 */
static long long gup_read(const __u8 *map, size_t len, __u8 *buf)
{
	int p[2];
	size_t done = 0;

	ASSERT_EQ(pipe(p), 0);
	while (done < len) {
		struct iovec iov = {
			(void *)(map + done),
			len - done < 65536 ? len - done : 65536,
		};
		ssize_t n = vmsplice(p[1], &iov, 1, 0);

		if (n <= 0)
			break;
		EXPECT_EQ(read(p[0], buf + done, n), n);
		done += n;
	}
	close(p[0]);
	close(p[1]);
	return done ? (long long)done : -1;
}

/* Writes through get_user_pages(FOLL_WRITE): /proc/self/mem. */
static long long gup_write(__u8 *map, const __u8 *buf, size_t len)
{
	int mem = open("/proc/self/mem", O_RDWR);
	long long n;

	ASSERT_GE(mem, 0);
	n = pwrite(mem, buf, len, (off_t)(uintptr_t)map);
	close(mem);
	return n;
}

/* A child writes the mapping it inherited; the device must hold it. */
static void expect_fork_shares(int fd, __u8 *map, size_t len, __u64 off)
{
	__u8 *buf = xmalloc(len);
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		fill_pattern(map, len, off, 91);
		_exit(0);
	}
	ASSERT_GT(pid, 0);
	EXPECT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(pread(fd, buf, len, off), len);
	EXPECT_EQ(check_pattern(buf, len, off, 91), -1);
	free(buf);
}

/*
 * A read-only fd's mapping stays read-only for the rest of the kernel too:
 * a write through get_user_pages() fails (EIO from /proc/self/mem) whether
 * it takes the region or not, and the bytes are unchanged.
 */
static void expect_readonly_mapping(int fd, const struct mmap_backing_variant *v)
{
	size_t len = region_size(v->region);
	__u64 off = region_off(v->region);
	int ro = open_dev_mode(O_RDONLY);
	__u8 *map, *buf = xmalloc(len);

	write_pattern(fd, off, len, 92);
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, ro, off);
	ASSERT_TRUE(map != MAP_FAILED);
	fill_pattern(buf, len, off, 93);
	EXPECT_ERRNO(gup_write(map, buf, len), EIO);
	EXPECT_ERRNO(mprotect(map, len, PROT_READ | PROT_WRITE), EACCES);
	if (v->pages)
		EXPECT_EQ(madvise(map, len, MADV_DONTNEED), 0);
	EXPECT_EQ(check_pattern(map, len, off, 92), -1);
	EXPECT_EQ(munmap(map, len), 0);
	close(ro);
	free(buf);
}

TEST_VARIANTS(mmap_backing)
{
	size_t len = region_size(variant->region);
	__u64 off = region_off(variant->region);
	__u8 *map = map_region_window(fd, off, len);
	__u8 *buf = xmalloc(len);

	ASSERT_TRUE(map != MAP_FAILED);
	write_pattern(fd, off, len, 90);
	if (variant->pages) {
		EXPECT_EQ(gup_read(map, len, buf), len);
		EXPECT_EQ(check_pattern(buf, len, off, 90), -1);
		fill_pattern(buf, len, off, 94);
		EXPECT_EQ(gup_write(map, buf, len), len);
		EXPECT_EQ(check_pattern(map, len, off, 94), -1);
		EXPECT_EQ(madvise(map, len, MADV_DONTNEED), 0);
		/* Faulted back in: the device's bytes, not zeroes. */
		EXPECT_EQ(check_pattern(map, len, off, 94), -1);
	} else {
		EXPECT_ERRNO(gup_read(map, len, buf), EFAULT);
		EXPECT_ERRNO(gup_write(map, buf, len), EIO);
		EXPECT_ERRNO(madvise(map, len, MADV_DONTNEED), EINVAL);
		EXPECT_EQ(check_pattern(map, len, off, 90), -1);
	}
	expect_fork_shares(fd, map, len, off);
	EXPECT_EQ(munmap(map, len), 0);
	free(buf);
	expect_readonly_mapping(fd, variant);
}

const struct test_case mmap_cases[] = {
	CASE(mmap_regions),
	CASE(mmap_window),
	CASE(mmap_errors),
	CASE_VARIANTS(mmap_backing),
	{ }
};
