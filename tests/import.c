// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf import (MEM_IOCTL_IMPORT_DMABUF): a buffer as the source of a DMA
 * copy. The exporters: memdriver's second device (or this one), and the
 * ones a Pi's camera and display stacks hand buffers out from, the dma-buf
 * heaps (system and CMA) and udmabuf (a memfd's pages).
 */
#include "util.h"

#include <dirent.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

/* The importing device: memdriver1 beside memdriver0 where it exists. */
static int open_importer(struct memdriver_info *iinfo)
{
	const char *path = dev_path;
	int ifd;

	if (!strcmp(dev_path, "/dev/memdriver0") && !access("/dev/memdriver1", F_OK))
		path = "/dev/memdriver1";
	ifd = open(path, O_RDWR);
	if (ifd >= 0 && get_info(ifd, iinfo)) {
		close(ifd);
		return -1;
	}
	return ifd;
}

static int import_buf(int ifd, int buf, __u64 *size)
{
	struct memdriver_dmabuf_import req = { .fd = buf };
	int ret = ioctl(ifd, MEM_IOCTL_IMPORT_DMABUF, &req);

	if (size)
		*size = req.size;
	return ret;
}

/*
 * Who copies from an import where the guest says (MEMDRIVER_EXPECT_ENGINE):
 * the engine, with the CPU for partial lines at the edges; 0 if unknown.
 */
static __u32 import_engine_want(bool edges)
{
	int exp = expect_engine();

	if (exp < 0)
		return 0;
	if (exp && info.dma_engine_mode != MEMDRIVER_DMA_MODE_CPU)
		return edges ? MEMDRIVER_DMA_ENGINE_MIXED : MEMDRIVER_DMA_ENGINE_DMAENGINE;
	return MEMDRIVER_DMA_ENGINE_CPU;
}

/*
 * Copy all of @ifd's import to @dst, then all but its edges (from byte 12
 * to 4 bytes into the window, 37 short: partial lines at both ends), each
 * checked byte for byte against the import's pattern @seed (its offset 0
 * at @pos), the bytes beside against @dst_seed, and who copied.
 */
static void copy_import_checked(int ifd, __u64 dst, __u64 len, __u32 flags,
				__u64 pos, unsigned int seed, unsigned int dst_seed)
{
	bool cpu = dma_engine_missing() || (flags & MEMDRIVER_DMA_COPY_CPU);
	__u8 *back = xmalloc(len);
	__u32 engine = 0;

	write_pattern(ifd, dst, len, dst_seed);
	ASSERT_EQ(dma_copy_flags(ifd, 0, dst, len, flags, &engine), 0);
	EXPECT_EQ(pread(ifd, back, len, dst), len);
	EXPECT_EQ(check_pattern(back, len, pos, seed), -1);
	if (cpu || import_engine_want(false))
		EXPECT_EQ(engine, cpu ? MEMDRIVER_DMA_ENGINE_CPU : import_engine_want(false));

	write_pattern(ifd, dst, len, dst_seed);
	ASSERT_EQ(dma_copy_flags(ifd, 12, dst + 4, len - 37, flags, &engine), 0);
	EXPECT_EQ(pread(ifd, back, len, dst), len);
	EXPECT_EQ(check_pattern(back, 4, dst, dst_seed), -1);
	EXPECT_EQ(check_pattern(back + 4, len - 37, pos + 12, seed), -1);
	EXPECT_EQ(check_pattern(back + len - 33, 33, dst + len - 33, dst_seed), -1);
	if (cpu || import_engine_want(true))
		EXPECT_EQ(engine, cpu ? MEMDRIVER_DMA_ENGINE_CPU : import_engine_want(true));
	free(back);
}

/* The exported region; the copy goes to another region of the importer. */
struct dmabuf_import_variant {
	const char *name;
	int region;
};

static const struct dmabuf_import_variant dmabuf_import_variants[] = {
	{ "kmalloc", MEMDRIVER_REGION_KMALLOC },
	{ "vmalloc", MEMDRIVER_REGION_VMALLOC },
	{ "pages", MEMDRIVER_REGION_PAGES },
};

/*
 * A window exported by this device, imported by the second (or by this
 * one), and copied from by MEM_IOCTL_DMA_COPY: by the engine where there is
 * one, through the DMA addresses the exporter gives for that copy. The
 * bytes are written through the buffer's mapping after the import, then by
 * this device's engine: each copy must read them as they are now, not a
 * bounce buffer (swiotlb=force) or cache lines of an older mapping.
 */
TEST_VARIANTS(dmabuf_import)
{
	int r = variant->region, ifd, buf;
	int rd = r == MEMDRIVER_REGION_PAGES ? MEMDRIVER_REGION_VMALLOC :
					       MEMDRIVER_REGION_PAGES;
	__u32 engine = 0, flags = MEMDRIVER_DMA_COPY_FROM_IMPORT;
	__u64 off = region_off(r), len = 4 * page_size, dst, size = 0;
	struct memdriver_info ii;
	__u8 *map, *back;

	if (!need_dmabuf(fd))
		return;
	ifd = open_importer(&ii);
	ASSERT_GE(ifd, 0);
	dst = ii.regions[rd].offset;
	if (len > region_size(r))
		len = region_size(r);
	if (len > ii.regions[rd].size)
		len = ii.regions[rd].size;
	/* dma_engine=engine without an engine: every copy but the CPU's fails. */
	if (dma_engine_missing())
		flags |= MEMDRIVER_DMA_COPY_CPU;
	write_pattern(fd, off, len, 400 + r);
	buf = export_window(fd, off, len, MEMDRIVER_DMABUF_RDWR);
	ASSERT_GE(buf, 0);
	ASSERT_EQ(import_buf(ifd, buf, &size), 0);
	EXPECT_EQ(size, len);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE), 0);
	fill_pattern(map, len, off, 410 + r);
	EXPECT_EQ(dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE), 0);

	back = xmalloc(len);
	if (dma_engine_missing())
		EXPECT_ERRNO(dma_copy_flags(ifd, 0, dst, len,
					    MEMDRIVER_DMA_COPY_FROM_IMPORT, NULL), ENODEV);
	copy_import_checked(ifd, dst, len, flags, off, 410 + r, 420 + r);

	/*
	 * This device's engine writes the exported window; a copy from the
	 * import then reads those bytes, not what an earlier mapping held.
	 */
	write_pattern(fd, region_off(rd), len, 445 + r);
	ASSERT_EQ(dma_copy_flags(fd, region_off(rd), off, len,
				 flags & ~MEMDRIVER_DMA_COPY_FROM_IMPORT, NULL), 0);
	write_pattern(ifd, dst, len, 446 + r);
	ASSERT_EQ(dma_copy_flags(ifd, 0, dst, len, flags, &engine), 0);
	EXPECT_EQ(pread(ifd, back, len, dst), len);
	EXPECT_EQ(check_pattern(back, len, region_off(rd), 445 + r), -1);

	/* The import outlives the buffer's fd and mapping. */
	EXPECT_EQ(munmap(map, len), 0);
	EXPECT_EQ(close(buf), 0);
	write_pattern(fd, off, len, 430 + r);
	write_pattern(ifd, dst, len, 440 + r);
	ASSERT_EQ(dma_copy_flags(ifd, 0, dst, len, flags | MEMDRIVER_DMA_COPY_CPU,
				 &engine), 0);
	EXPECT_EQ(engine, MEMDRIVER_DMA_ENGINE_CPU);
	EXPECT_EQ(pread(ifd, back, len, dst), len);
	EXPECT_EQ(check_pattern(back, len, off, 430 + r), -1);
	/* Dropped: no source any more. */
	EXPECT_EQ(import_buf(ifd, -1, NULL), 0);
	EXPECT_ERRNO(dma_copy_flags(ifd, 0, dst, len, flags, NULL), ENOENT);
	EXPECT_EQ(close(ifd), 0);
	free(back);
}

/* What an import refuses, and one per fd. */
TEST(dmabuf_import_errors)
{
	__u64 vm = region_off(MEMDRIVER_REGION_VMALLOC), dst, size = 0;
	const __u32 from = MEMDRIVER_DMA_COPY_FROM_IMPORT | MEMDRIVER_DMA_COPY_CPU;
	struct memdriver_dmabuf_import req = { .fd = -1, .flags = 1 };
	int ifd, ro, self, buf, nul, gone;
	struct memdriver_info ii;
	__u8 *back;

	if (!need_dmabuf(fd))
		return;
	ifd = open_importer(&ii);
	ASSERT_GE(ifd, 0);
	dst = ii.regions[MEMDRIVER_REGION_PAGES].offset;
	EXPECT_ERRNO(dma_copy_flags(ifd, 0, dst, page_size, from, NULL), ENOENT);
	EXPECT_EQ(import_buf(ifd, -1, NULL), 0);
	/* A memdriver fd and /dev/null are no dma-bufs; a closed fd is none. */
	EXPECT_ERRNO(import_buf(ifd, fd, NULL), EINVAL);
	nul = open("/dev/null", O_RDONLY);
	ASSERT_GE(nul, 0);
	EXPECT_ERRNO(import_buf(ifd, nul, NULL), EINVAL);
	gone = dup(nul);
	EXPECT_EQ(close(gone), 0);
	EXPECT_ERRNO(import_buf(ifd, gone, NULL), EBADF);
	EXPECT_EQ(close(nul), 0);
	EXPECT_ERRNO(ioctl(ifd, MEM_IOCTL_IMPORT_DMABUF, &req), EINVAL);
	EXPECT_ERRNO(ioctl(ifd, MEM_IOCTL_IMPORT_DMABUF, unmapped_address()), EFAULT);

	/* A read-only buffer will do, as devices only read an import... */
	write_pattern(fd, vm, 2 * page_size, 450);
	buf = export_window(fd, vm, 2 * page_size, 0);
	ASSERT_GE(buf, 0);
	/* ... but an fd that cannot write imports nothing. */
	ro = open_dev_mode(O_RDONLY);
	EXPECT_ERRNO(import_buf(ro, buf, NULL), EBADF);
	EXPECT_EQ(close(ro), 0);
	ASSERT_EQ(import_buf(ifd, buf, &size), 0);
	EXPECT_EQ(size, 2 * page_size);
	EXPECT_ERRNO(import_buf(ifd, buf, NULL), EBUSY);
	/* Windows of the import, then of the device. */
	EXPECT_ERRNO(dma_copy_flags(ifd, 0, dst, 0, from, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy_flags(ifd, 2 * page_size, dst, 1, from, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy_flags(ifd, page_size, dst, page_size + 1, from, NULL),
		     EINVAL);
	EXPECT_ERRNO(dma_copy_flags(ifd, page_size, dst, -(__u64)page_size, from, NULL),
		     EINVAL);
	EXPECT_ERRNO(dma_copy_flags(ifd, 0, ii.total_size, 1, from, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy_flags(ifd, 0, dst, page_size, from | 0x4, NULL), EINVAL);
	back = xmalloc(page_size);
	ASSERT_EQ(dma_copy_flags(ifd, page_size, dst, page_size, from, NULL), 0);
	EXPECT_EQ(pread(ifd, back, page_size, dst), page_size);
	EXPECT_EQ(check_pattern(back, page_size, vm + page_size, 450), -1);
	/*
	 * Another fd, of the exporting device itself, imports it too. Its
	 * import is then the device's own bytes: a copy from it into lines it
	 * shares with the destination is refused, as between two windows.
	 */
	self = open_dev_mode(O_RDWR);
	ASSERT_EQ(import_buf(self, buf, NULL), 0);
	EXPECT_ERRNO(dma_copy_flags(self, page_size, vm + page_size, page_size, from, NULL),
		     EINVAL);
	EXPECT_ERRNO(dma_copy_flags(self, 0, vm + 1, 1, from, NULL), EINVAL);
	EXPECT_ERRNO(dma_copy_flags(self, 0, vm + page_size - 1, page_size, from, NULL),
		     EINVAL);
	EXPECT_EQ(pread(self, back, page_size, vm), page_size);
	EXPECT_EQ(check_pattern(back, page_size, vm, 450), -1);
	ASSERT_EQ(dma_copy_flags(self, 0, vm + page_size, page_size, from, NULL), 0);
	EXPECT_EQ(pread(self, back, page_size, vm + page_size), page_size);
	EXPECT_EQ(check_pattern(back, page_size, vm, 450), -1);
	EXPECT_EQ(close(self), 0);
	EXPECT_EQ(close(buf), 0);
	/*
	 * Closing an fd drops its import: one left behind would pin the module
	 * (the buffer is memdriver's), and the section's rmmod would fail.
	 */
	EXPECT_EQ(close(ifd), 0);
	free(back);
}

/* ---- Linux's own exporters: the dma-buf heaps and udmabuf ---- */

enum foreign_exporter { HEAP_SYSTEM, HEAP_CMA, UDMABUF };

/*
 * A heap's device: "system", or for CMA the one other heap (CMA's default
 * area: "reserved" up to 6.x, "default_cma_region" later).
 */
static int open_heap(enum foreign_exporter kind)
{
	int heap = -1, err = ENOENT;
	char path[300];
	struct dirent *e;
	DIR *d;

	d = opendir("/dev/dma_heap");
	if (!d)
		return -1;
	while ((e = readdir(d)) && heap < 0) {
		bool want_system = kind == HEAP_SYSTEM;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, "system") != want_system)
			continue;
		snprintf(path, sizeof(path), "/dev/dma_heap/%s", e->d_name);
		heap = open(path, O_RDONLY | O_CLOEXEC);
		err = errno;
	}
	closedir(d);
	errno = err;
	return heap;
}

/* A new buffer of @len bytes from @kind's exporter, or -1 and why. */
static int foreign_buffer(enum foreign_exporter kind, __u64 len, int *memfd,
			  const char **why)
{
	struct dma_heap_allocation_data alloc = {
		.len = len, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	struct udmabuf_create create = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = len };
	int dev, buf;

	*memfd = -1;
	if (kind != UDMABUF) {
		*why = kind == HEAP_SYSTEM ?
		       "no system heap (CONFIG_DMABUF_HEAPS_SYSTEM)" :
		       "no CMA heap (CONFIG_DMABUF_HEAPS_CMA and a CMA area)";
		dev = open_heap(kind);
		if (dev < 0 && errno == EACCES)
			*why = "needs root: /dev/dma_heap/ is root's";
		if (dev < 0)
			return -1;
		buf = ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &alloc) ? -1 : (int)alloc.fd;
		close(dev);
		return buf;
	}
	*why = "no /dev/udmabuf (CONFIG_UDMABUF)";
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0 && errno == EACCES)
		*why = "needs root: /dev/udmabuf is root's";
	if (dev < 0)
		return -1;
	/* udmabuf takes a memfd that cannot shrink under it. */
	*memfd = memfd_create("memdriver_test", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (*memfd < 0 || ftruncate(*memfd, len) ||
	    fcntl(*memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		close(dev);
		return -1;
	}
	create.memfd = *memfd;
	buf = ioctl(dev, UDMABUF_CREATE, &create);
	close(dev);
	return buf;
}

/*
 * Fill a foreign buffer as its users do: a heap's through its mapping
 * between DMA_BUF_IOCTL_SYNC's START and END; udmabuf's through its memfd.
 */
static void fill_foreign(enum foreign_exporter kind, int buf, int memfd,
			 __u64 len, unsigned int seed)
{
	__u8 *map;

	if (kind == UDMABUF) {
		write_pattern(memfd, 0, len, seed);
		return;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE), 0);
	fill_pattern(map, len, 0, seed);
	EXPECT_EQ(dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE), 0);
	EXPECT_EQ(munmap(map, len), 0);
}

struct dmabuf_import_foreign_variant {
	const char *name;
	enum foreign_exporter kind;
};

static const struct dmabuf_import_foreign_variant dmabuf_import_foreign_variants[] = {
	{ "system_heap", HEAP_SYSTEM },
	{ "cma_heap", HEAP_CMA },
	{ "udmabuf", UDMABUF },
};

/*
 * A buffer of the Pi's own exporters, 64 KiB, imported and copied into
 * the vmalloc region by the engine (whole lines, then with partial edges)
 * and by the CPU: exact bytes, and under DMA-API debug no report. The
 * heaps sync every attachment in their caller's direction; memdriver's
 * mapping exists only during a copy, made both ways. A heap buffer is
 * written again after the copies: the next copy reads the new bytes.
 * udmabuf is written through its memfd before the first copy only: it
 * maps its own table at the first CPU access in that caller's direction
 * and, where swiotlb bounces, copies that table's buffer back at each one.
 */
TEST_VARIANTS(dmabuf_import_foreign)
{
	enum foreign_exporter kind = variant->kind;
	__u64 len = 65536, dst = region_off(MEMDRIVER_REGION_VMALLOC), size = 0;
	__u32 engine = 0, flags = MEMDRIVER_DMA_COPY_FROM_IMPORT;
	const char *why = "";
	int buf, memfd;
	__u8 *back;

	if (!need_dmabuf(fd))
		return;
	if (len < (__u64)page_size)
		len = page_size;
	ASSERT_GE(region_size(MEMDRIVER_REGION_VMALLOC), len);
	if (dma_engine_missing())
		flags |= MEMDRIVER_DMA_COPY_CPU;
	buf = foreign_buffer(kind, len, &memfd, &why);
	if (buf < 0) {
		skip(why);
		return;
	}
	fill_foreign(kind, buf, memfd, len, 460 + kind);
	/* 6.1's udmabuf has no vmap, which the CPU's share of a copy needs. */
	if (kind == UDMABUF && !kernel_at_least(6, 2)) {
		EXPECT_ERRNO(import_buf(fd, buf, NULL), EOPNOTSUPP);
		skip("6.1's udmabuf has no vmap: its import is refused (EOPNOTSUPP)");
		close(buf);
		close(memfd);
		return;
	}
	ASSERT_EQ(import_buf(fd, buf, &size), 0);
	EXPECT_EQ(size, len);
	back = xmalloc(len);
	copy_import_checked(fd, dst, len, flags, 0, 460 + kind, 470 + kind);
	copy_import_checked(fd, dst, len, flags | MEMDRIVER_DMA_COPY_CPU, 0, 460 + kind,
			    470 + kind);

	/* Written again by its user: the next copy reads the new bytes. */
	if (kind != UDMABUF) {
		fill_foreign(kind, buf, memfd, len, 480 + kind);
		ASSERT_EQ(dma_copy_flags(fd, 0, dst, len, flags, &engine), 0);
		EXPECT_EQ(pread(fd, back, len, dst), len);
		EXPECT_EQ(check_pattern(back, len, 0, 480 + kind), -1);
	}
	EXPECT_EQ(import_buf(fd, -1, NULL), 0);
	EXPECT_EQ(close(buf), 0);
	if (memfd >= 0)
		EXPECT_EQ(close(memfd), 0);
	free(back);
}

const struct test_case import_cases[] = {
	CASE_VARIANTS(dmabuf_import),
	CASE_VARIANTS(dmabuf_import_foreign),
	CASE(dmabuf_import_errors),
	{}
};
