// SPDX-License-Identifier: GPL-2.0
/*
 * mmap() of each region and of windows across them.
 */
#include "util.h"

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

const struct test_case mmap_cases[] = {
	CASE(mmap_regions),
	CASE(mmap_window),
	CASE(mmap_errors),
	{ }
};
