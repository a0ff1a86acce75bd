// SPDX-License-Identifier: GPL-2.0
/*
 * The tutorial's flow, as a case and as the tutorial mode.
 */
#include "util.h"

/*
 * The tutorial's user program, step by step, with every result checked:
 * write, read, allocate 5 objects, free them, map kmalloc and DMA memory
 * and write patterns through the mappings.
 */
int tutorial_flow(int fd, bool verbose)
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
	EXPECT_MEMEQ(buf, hello, hlen);
	if (verbose)
		printf("Read back %zu bytes from offset 0: %.*s\n", hlen, (int)hlen, buf);

	for (i = 0; i < 5; i++) {
		ids[i] = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
		EXPECT_GT(ids[i], 0);
		if (verbose)
			printf("Allocated object ID: %d\n", ids[i]);
	}
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(free_object(fd, ids[i]), 0);
		if (verbose)
			printf("Freed object ID: %d\n", ids[i]);
	}

	map = map_region_window(fd, 0, km);
	EXPECT_TRUE(map != MAP_FAILED);
	if (map != MAP_FAILED) {
		for (i = 0; i < 16; i++)
			map[i] = 'A' + i;
		map[16] = 0;
		EXPECT_EQ(pread(fd, buf, 17, 0), 17);
		EXPECT_MEMEQ(buf, "ABCDEFGHIJKLMNOP", 17);
		if (verbose)
			printf("kmalloc mapping at offset 0: %s\n", buf);
		EXPECT_EQ(munmap(map, km), 0);
	}
	map = map_region_window(fd, dma_off, dma);
	EXPECT_TRUE(map != MAP_FAILED);
	if (map != MAP_FAILED) {
		for (i = 0; i < 16; i++)
			map[i] = '0' + i;
		map[16] = 0;
		EXPECT_EQ(pread(fd, buf, 17, dma_off), 17);
		EXPECT_MEMEQ(buf, "0123456789:;<=>?", 17);
		if (verbose)
			printf("DMA mapping at offset %llu: %s\n",
			       (unsigned long long)dma_off, buf);
		EXPECT_EQ(munmap(map, dma), 0);
	}
	return case_failed();
}

TEST(tutorial_flow)
{
	tutorial_flow(fd, false);
}

const struct test_case tutorial_flow_cases[] = {
	CASE(tutorial_flow),
	{ }
};
