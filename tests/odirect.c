// SPDX-License-Identifier: GPL-2.0
/*
 * O_DIRECT between a block device and each region's mapping: what a user
 * does to read a file into device memory without a copy. The block layer
 * takes the buffer's pages with get_user_pages() (pinned from 6.5 on) and
 * the device's I/O goes straight into them: a mapping made of pages works,
 * a raw PFN map has none to take. The device is brd's RAM disk, /dev/ram0,
 * which the Debian guests load (scripts/guest/suite.sh).
 */
#include "util.h"

#include <linux/fs.h>

#define RAM_PATH "/dev/ram0"
/* The most of a region one case moves; suite.sh's rd_size (KiB) holds it. */
#define ODIRECT_MAX ((size_t)1 << 20)

/*
 * /dev/ram0 opened O_DIRECT, holding at least @len bytes, or -1 after a
 * skip. Where the guest loaded brd (MEMDRIVER_EXPECT_BRD=1), a missing
 * device fails instead: the cases would otherwise pass by skipping.
 */
static int open_ram(size_t len)
{
	const char *want = getenv("MEMDRIVER_EXPECT_BRD");
	int ram = open(RAM_PATH, O_RDWR | O_DIRECT | O_CLOEXEC), err = errno;
	unsigned long long size = 0;
	int block = 0;

	if (ram < 0) {
		TH_LOG("open %s: %s", RAM_PATH, strerror(err));
		EXPECT_FALSE(want && !strcmp(want, "1"));
		if (!kernel_has_symbol(" submit_bio\n"))
			skip("the kernel has no block layer (CONFIG_BLOCK)");
		else if (err == EACCES)
			skip("cannot open /dev/ram0 (root's)");
		else
			skip("no /dev/ram0 (modprobe brd)");
		return -1;
	}
	ASSERT_EQ(ioctl(ram, BLKGETSIZE64, &size), 0);
	ASSERT_GE(size, len);
	/* Page-aligned offsets and lengths must be whole logical blocks. */
	ASSERT_EQ(ioctl(ram, BLKSSZGET, &block), 0);
	ASSERT_EQ(page_size % block, 0);
	return ram;
}

/* A page-aligned anonymous buffer: O_DIRECT's own side of the checks. */
static __u8 *aligned_buf(size_t len)
{
	void *p = NULL;

	ASSERT_EQ(posix_memalign(&p, page_size, len), 0);
	return p;
}

/* Pattern @seed for device position @pos over /dev/ram0's first @len bytes. */
static void ram_fill(int ram, __u8 *buf, size_t len, __u64 pos, unsigned int seed)
{
	fill_pattern(buf, len, pos, seed);
	ASSERT_EQ(pwrite(ram, buf, len, 0), len);
}

/* Whether /dev/ram0's first @len bytes are pattern @seed for @pos: -1 if so. */
static long long ram_check(int ram, __u8 *buf, size_t len, __u64 pos,
			   unsigned int seed)
{
	memset(buf, 0, len);
	EXPECT_EQ(pread(ram, buf, len, 0), len);
	return check_pattern(buf, len, pos, seed);
}

/* Whether the device's @len bytes at @off are pattern @seed: -1 if so. */
static long long dev_check(int fd, __u8 *buf, size_t len, __u64 off,
			   unsigned int seed)
{
	memset(buf, 0, len);
	EXPECT_EQ(pread(fd, buf, len, off), len);
	return check_pattern(buf, len, off, seed);
}

/* Both cases' variants: each region, and whether its mapping is pages. */
#define ODIRECT_REGIONS {						\
	{ "kmalloc", MEMDRIVER_REGION_KMALLOC, false },			\
	{ "vmalloc", MEMDRIVER_REGION_VMALLOC, true },			\
	{ "dma", MEMDRIVER_REGION_DMA, false },				\
	{ "pages", MEMDRIVER_REGION_PAGES, true },			\
}

struct odirect_rw_variant {
	const char *name;
	int region;
	bool pages;
};

static const struct odirect_rw_variant odirect_rw_variants[] = ODIRECT_REGIONS;

/*
 * A region's mapping (up to 1 MiB of it) written to /dev/ram0 with O_DIRECT
 * and read back into from it, each side checked byte for byte: the device
 * through its own O_DIRECT reads, the region through read(). PFN maps:
 * EFAULT both ways (get_user_pages() refuses VM_PFNMAP), nothing moved.
 */
TEST_VARIANTS(odirect_rw)
{
	size_t len = region_size(variant->region);
	__u64 off = region_off(variant->region);
	__u8 *map, *buf;
	int ram;

	if (len > ODIRECT_MAX)
		len = ODIRECT_MAX;
	ram = open_ram(len);
	if (ram < 0)
		return;
	buf = aligned_buf(len);
	map = map_region_window(fd, off, len);
	ASSERT_TRUE(map != MAP_FAILED);
	ram_fill(ram, buf, len, 0, 210);
	write_pattern(fd, off, len, 211);
	if (!variant->pages) {
		EXPECT_ERRNO(pwrite(ram, map, len, 0), EFAULT);
		EXPECT_ERRNO(pread(ram, map, len, 0), EFAULT);
		EXPECT_EQ(ram_check(ram, buf, len, 0, 210), -1);
		EXPECT_EQ(dev_check(fd, buf, len, off, 211), -1);
		goto out;
	}
	/* mapping -> disk */
	EXPECT_EQ(pwrite(ram, map, len, 0), len);
	EXPECT_EQ(ram_check(ram, buf, len, off, 211), -1);
	/* disk -> mapping: the region's bytes are the disk's */
	ram_fill(ram, buf, len, off, 212);
	EXPECT_EQ(pread(ram, map, len, 0), len);
	EXPECT_EQ(dev_check(fd, buf, len, off, 212), -1);
	EXPECT_EQ(check_pattern(map, len, off, 212), -1);
out:
	EXPECT_EQ(munmap(map, len), 0);
	free(buf);
	close(ram);
}

struct odirect_readonly_variant {
	const char *name;
	int region;
	bool pages;
};

static const struct odirect_readonly_variant odirect_readonly_variants[] =
	ODIRECT_REGIONS;

/*
 * A read-only fd's mapping (PROT_READ) stays read-only through O_DIRECT:
 * as a read's destination it is refused (EFAULT: get_user_pages() for
 * writing needs VM_WRITE), the region unchanged; as a write's source a
 * mapping of pages works, the disk then holding the region's bytes.
 */
TEST_VARIANTS(odirect_readonly)
{
	size_t len = region_size(variant->region);
	__u64 off = region_off(variant->region);
	int ro = open_dev_mode(O_RDONLY), ram;
	__u8 *map, *buf;

	ASSERT_GE(ro, 0);
	if (len > ODIRECT_MAX)
		len = ODIRECT_MAX;
	ram = open_ram(len);
	if (ram < 0)
		goto out_ro;
	buf = aligned_buf(len);
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, ro, off);
	ASSERT_TRUE(map != MAP_FAILED);
	ram_fill(ram, buf, len, 0, 213);
	write_pattern(fd, off, len, 214);
	EXPECT_ERRNO(pread(ram, map, len, 0), EFAULT);
	EXPECT_EQ(dev_check(fd, buf, len, off, 214), -1);
	EXPECT_EQ(check_pattern(map, len, off, 214), -1);
	if (variant->pages) {
		EXPECT_EQ(pwrite(ram, map, len, 0), len);
		EXPECT_EQ(ram_check(ram, buf, len, off, 214), -1);
	} else {
		EXPECT_ERRNO(pwrite(ram, map, len, 0), EFAULT);
		EXPECT_EQ(ram_check(ram, buf, len, 0, 213), -1);
	}
	EXPECT_EQ(munmap(map, len), 0);
	free(buf);
	close(ram);
out_ro:
	close(ro);
}

const struct test_case odirect_cases[] = {
	CASE_VARIANTS(odirect_rw),
	CASE_VARIANTS(odirect_readonly),
	{ }
};
