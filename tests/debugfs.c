// SPDX-License-Identifier: GPL-2.0
/*
 * The debugfs views (root only).
 */
#include "util.h"

TEST(debugfs_regions)
{
	struct region_view v[MEMDRIVER_NR_REGIONS];
	int r;

	(void)fd;
	if (!need_debugfs())
		return;
	EXPECT_TRUE(read_region_views(v));
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		EXPECT_EQ(v[r].offset, region_off(r));
		EXPECT_EQ(v[r].size, region_size(r));
		EXPECT_EQ(v[r].pages, region_size(r) / page_size);
		EXPECT_TRUE(v[r].runs >= 1 && v[r].runs <= v[r].pages);
	}
	/* kmalloc and the page allocator hand out physically contiguous memory. */
	EXPECT_EQ(v[MEMDRIVER_REGION_KMALLOC].runs, 1);
	EXPECT_EQ(v[MEMDRIVER_REGION_PAGES].runs, 1);
	EXPECT_EQ(strcmp(v[MEMDRIVER_REGION_VMALLOC].allocator, "vmalloc_user"), 0);
	EXPECT_EQ(v[MEMDRIVER_REGION_DMA].dma_mask_bits, info.dma_mask_bits);
	EXPECT_TRUE(!strcmp(v[MEMDRIVER_REGION_DMA].dma_is_phys, "yes") ||
		    !strcmp(v[MEMDRIVER_REGION_DMA].dma_is_phys, "no"));
}

/* This fd's allocations and frees, counted in the objects view. */
TEST(debugfs_objects)
{
	struct objects_view a, b;
	int ids[7], i;

	if (!need_debugfs())
		return;
	EXPECT_TRUE(read_objects_view(&a));
	EXPECT_EQ(a.fd_objects, 0);	/* this test's fd, just opened */
	EXPECT_GE(a.object_size, MEMDRIVER_PAYLOAD_SIZE);
	for (i = 0; i < 7; i++)
		ids[i] = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(free_object(fd, ids[i]), 0);
	EXPECT_TRUE(read_objects_view(&b));
	EXPECT_EQ(b.allocated, a.allocated + 7);
	EXPECT_EQ(b.freed, a.freed + 3);
	EXPECT_EQ(b.live, a.live + 4);
	EXPECT_EQ(b.fd_objects, 4);
	EXPECT_EQ(b.cap_hits, a.cap_hits);
	for (i = 3; i < 7; i++)
		EXPECT_EQ(free_object(fd, ids[i]), 0);
}

/* Closing a file frees what it owns and counts each free. */
TEST(debugfs_objects_close)
{
	struct objects_view a, b;
	int i, other;

	(void)fd;
	if (!need_debugfs())
		return;
	other = open_dev();
	for (i = 0; i < 5; i++)
		EXPECT_GT(ioctl(other, MEM_IOCTL_ALLOC_OBJECT), 0);
	EXPECT_TRUE(read_objects_view(&a));
	close(other);
	EXPECT_TRUE(read_objects_view(&b));
	EXPECT_EQ(b.freed, a.freed + 5);
	EXPECT_EQ(b.live, a.live - 5);
}

/* A refused allocation counts as a cap hit. */
TEST(debugfs_objects_cap_hits)
{
	struct objects_view a, b;
	int other;

	(void)fd;
	if (!need_debugfs())
		return;
	if (info.max_objects_per_fd > 4096) {
		skip_load("max_objects_per_fd above 4096: too many to fill here");
		return;
	}
	other = open_dev();
	alloc_objects(other, info.max_objects_per_fd);
	EXPECT_TRUE(read_objects_view(&a));
	EXPECT_EQ(ioctl(other, MEM_IOCTL_ALLOC_OBJECT), -1);
	EXPECT_TRUE(read_objects_view(&b));
	EXPECT_EQ(b.cap_hits, a.cap_hits + 1);
	EXPECT_EQ(b.allocated, a.allocated);
	close(other);
}

/* Physical addresses stay with root: an unprivileged uid cannot read them. */
TEST(debugfs_root_only)
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
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

const struct test_case debugfs_cases[] = {
	CASE(debugfs_regions),
	CASE(debugfs_objects),
	CASE(debugfs_objects_close),
	CASE(debugfs_objects_cap_hits),
	CASE(debugfs_root_only),
	{ }
};
