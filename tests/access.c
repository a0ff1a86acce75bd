// SPDX-License-Identifier: GPL-2.0
/*
 * Access rules: what each open mode allows, and no executable mappings.
 */
#include "util.h"

/* ---- Access rules: what each open mode allows ---- */

/* Every region's first page, through a read-only fd: read, mmap, lseek. */
TEST(readonly_fd)
{
	int ro = open_dev_mode(O_RDONLY), r;
	size_t len = page_size;
	__u8 *want = xmalloc(len), *got = xmalloc(len);

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		__u64 off = region_off(r);
		__u8 *map;

		fill_pattern(want, len, off, 80 + r);
		EXPECT_EQ(pwrite(fd, want, len, off), len);
		EXPECT_EQ(lseek(ro, off, SEEK_SET), off);
		EXPECT_EQ(read(ro, got, len), len);
		EXPECT_EQ(check_pattern(got, len, off, 80 + r), -1);
		map = mmap(NULL, len, PROT_READ, MAP_SHARED, ro, off);
		EXPECT_TRUE(map != MAP_FAILED);
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
	close(ro);
	free(want);
	free(got);
}

/* write() and the ioctls that write or allocate: EBADF, and nothing changes. */
TEST(readonly_fd_writes)
{
	int ro = open_dev_mode(O_RDONLY), id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
	struct memdriver_object_io io = { .id = id };
	__u64 src = region_off(MEMDRIVER_REGION_KMALLOC);
	__u64 dst = region_off(MEMDRIVER_REGION_PAGES);
	size_t len = page_size;
	__u8 *want = xmalloc(len), *got = xmalloc(len);
	struct memdriver_info before;

	EXPECT_GT(id, 0);
	EXPECT_ERRNO(write(ro, want, 1), EBADF);
	EXPECT_ERRNO(pwrite(ro, want, len, 0), EBADF);
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
	EXPECT_MEMEQ(io.data, got, sizeof(io.data));
	EXPECT_EQ(free_object(fd, id), 0);
	close(ro);
	free(want);
	free(got);
}

/* What a reader may ask: GET_INFO, and READ_OBJECT of its own ids (none). */
TEST(readonly_fd_reader_ioctls)
{
	int ro = open_dev_mode(O_RDONLY), id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
	struct memdriver_object_io io = { .id = id };

	EXPECT_GT(id, 0);
	EXPECT_EQ(info_now(ro).total_size, info.total_size);
	EXPECT_ERRNO(object_read(ro, id, io.data), ENOENT);
	EXPECT_EQ(free_object(fd, id), 0);
	close(ro);
}

/* A write-only fd: write and the writing ioctls, no read, no mmap. */
TEST(writeonly_fd)
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
	EXPECT_GT(id, 0);
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
TEST(no_exec_mappings)
{
	int r;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		__u64 off = region_off(r);
		void *map;

		EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ | PROT_EXEC, MAP_SHARED,
				      fd, off), EPERM);
		map = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, off);
		EXPECT_TRUE(map != MAP_FAILED);
		if (map == MAP_FAILED)
			continue;
		EXPECT_ERRNO(mprotect(map, page_size, PROT_READ | PROT_EXEC), EACCES);
		EXPECT_EQ(munmap(map, page_size), 0);
	}
}

const struct test_case access_cases[] = {
	CASE(readonly_fd),
	CASE(readonly_fd_writes),
	CASE(readonly_fd_reader_ioctls),
	CASE(writeonly_fd),
	CASE(no_exec_mappings),
	{ }
};
