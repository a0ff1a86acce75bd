// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf export (MEM_IOCTL_EXPORT_DMABUF): a window of a region handed out
 * as a dma-buf fd, its rights, its mappings, its lifetime, and an importer
 * nobody here wrote (vgem). Import is tests/import.c's.
 */
#include "util.h"

#include <libgen.h>
#include <sys/syscall.h>
#include <linux/dma-buf.h>

/* The value of "@key:\t" in /proc/self/fdinfo/@fd, or "" without one. */
static void fdinfo_value(int fd, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	*out = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':' &&
		    line[klen + 1] == '\t') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line + klen + 2);
			break;
		}
	fclose(f);
}

/* The name memdriver gives a window: "memdriverN:REGION+0xOFF". */
static void window_name(char *out, size_t len, int r, __u64 off_in_region)
{
	char *copy = strdup(dev_path);

	snprintf(out, len, "%s:%s+0x%llx", basename(copy), region_names[r],
		 (unsigned long long)off_in_region);
	free(copy);
}

struct dmabuf_export_variant {
	const char *name;
	int region;
};

static const struct dmabuf_export_variant dmabuf_export_variants[] = {
	{ "kmalloc", MEMDRIVER_REGION_KMALLOC },
	{ "vmalloc", MEMDRIVER_REGION_VMALLOC },
	{ "dma", MEMDRIVER_REGION_DMA },
	{ "pages", MEMDRIVER_REGION_PAGES },
};

/*
 * A whole region exported read-write: the fd's flags and fdinfo, and the
 * same bytes through the buffer's mapping and the device, both ways. The
 * coherent region is refused: its pages belong to the DMA API.
 */
TEST_VARIANTS(dmabuf_export)
{
	int r = variant->region, buf;
	__u64 off = region_off(r), len = region_size(r);
	char want[64], got[64];
	__u8 *map, *back;

	if (!need_dmabuf(fd))
		return;
	if (r == MEMDRIVER_REGION_DMA) {
		EXPECT_ERRNO(export_window(fd, off, page_size, MEMDRIVER_DMABUF_RDWR),
			     EOPNOTSUPP);
		EXPECT_ERRNO(export_window(fd, off, len, 0), EOPNOTSUPP);
		return;
	}
	write_pattern(fd, off, len, 110 + r);
	buf = export_window(fd, off, len, MEMDRIVER_DMABUF_RDWR);
	ASSERT_GE(buf, 0);
	EXPECT_EQ(fcntl(buf, F_GETFD), FD_CLOEXEC);
	EXPECT_EQ(fcntl(buf, F_GETFL) & O_ACCMODE, O_RDWR);
	/* dma-buf's llseek tells the size. */
	EXPECT_EQ(lseek(buf, 0, SEEK_END), len);
	fdinfo_value(buf, "size", got, sizeof(got));
	snprintf(want, sizeof(want), "%llu", (unsigned long long)len);
	EXPECT_STREQ(got, want);
	fdinfo_value(buf, "exp_name", got, sizeof(got));
	EXPECT_STREQ(got, "memdriver");
	fdinfo_value(buf, "name", got, sizeof(got));
	window_name(want, sizeof(want), r, 0);
	EXPECT_STREQ(got, want);

	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW), 0);
	EXPECT_EQ(check_pattern(map, len, off, 110 + r), -1);
	fill_pattern(map, len, off, 120 + r);
	EXPECT_EQ(dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW), 0);
	back = xmalloc(len);
	EXPECT_EQ(pread(fd, back, len, off), len);
	EXPECT_EQ(check_pattern(back, len, off, 120 + r), -1);
	/* And the device's writes show through the buffer's mapping. */
	write_pattern(fd, off, len, 130 + r);
	EXPECT_EQ(check_pattern(map, len, off, 130 + r), -1);
	EXPECT_EQ(munmap(map, len), 0);
	EXPECT_EQ(close(buf), 0);
	free(back);
}

/*
 * A window inside the vmalloc region, mapped from an offset into the
 * buffer: the pages under it are the device's at window + offset, and the
 * buffer ends where the window does.
 */
TEST(dmabuf_window)
{
	__u64 off = region_off(MEMDRIVER_REGION_VMALLOC) + 2 * page_size;
	__u64 len = 3 * page_size;
	char want[64], got[64];
	__u8 *map;
	int buf;

	if (!need_dmabuf(fd))
		return;
	write_pattern(fd, off, len, 140);
	buf = export_window(fd, off, len, 0);
	ASSERT_GE(buf, 0);
	fdinfo_value(buf, "name", got, sizeof(got));
	window_name(want, sizeof(want), MEMDRIVER_REGION_VMALLOC, 2 * page_size);
	EXPECT_STREQ(got, want);
	map = mmap(NULL, 2 * page_size, PROT_READ, MAP_SHARED, buf, page_size);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(check_pattern(map, 2 * page_size, off + page_size, 140), -1);
	EXPECT_EQ(munmap(map, 2 * page_size), 0);
	EXPECT_MAP_ERRNO(mmap(NULL, 2 * page_size, PROT_READ, MAP_SHARED, buf,
			      2 * page_size), EINVAL);
	EXPECT_MAP_ERRNO(mmap(NULL, len + page_size, PROT_READ, MAP_SHARED, buf, 0),
			 EINVAL);
	EXPECT_EQ(close(buf), 0);
}

/* Windows that are not one region's whole pages, flags, and the mappings. */
TEST(dmabuf_errors)
{
	struct memdriver_dmabuf_export req = {
		.offset = region_off(MEMDRIVER_REGION_PAGES), .len = page_size,
	};
	__u64 vm = region_off(MEMDRIVER_REGION_VMALLOC), total = info.total_size;
	void *map;
	int buf;

	if (!need_dmabuf(fd))
		return;
	EXPECT_ERRNO(export_window(fd, vm, 0, 0), EINVAL);
	EXPECT_ERRNO(export_window(fd, vm + page_size / 2, page_size, 0), EINVAL);
	EXPECT_ERRNO(export_window(fd, vm, page_size / 2, 0), EINVAL);
	EXPECT_ERRNO(export_window(fd, vm - page_size, 2 * page_size, 0), EINVAL);
	EXPECT_ERRNO(export_window(fd, total, page_size, 0), EINVAL);
	EXPECT_ERRNO(export_window(fd, 0, total + page_size, 0), EINVAL);
	/* offset + len wraps around to a small, aligned number. */
	EXPECT_ERRNO(export_window(fd, vm, -(__u64)page_size, 0), EINVAL);
	EXPECT_ERRNO(export_window(fd, vm, page_size, 0x2), EINVAL);
	EXPECT_ERRNO(export_window(fd, vm, page_size, 0x80000000U), EINVAL);
	req.pad = 1;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_EXPORT_DMABUF, &req), EINVAL);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_EXPORT_DMABUF, unmapped_address()), EFAULT);

	buf = export_window(fd, vm, 2 * page_size, MEMDRIVER_DMABUF_RDWR);
	ASSERT_GE(buf, 0);
	/* As the device's own mapping: shared, never executable. */
	EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ, MAP_PRIVATE, buf, 0), EINVAL);
	EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ | PROT_EXEC, MAP_SHARED, buf, 0),
			 EPERM);
	map = mmap(NULL, page_size, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_ERRNO(mprotect(map, page_size, PROT_READ | PROT_EXEC), EACCES);
	EXPECT_EQ(munmap(map, page_size), 0);
	/* DMA_BUF_IOCTL_SYNC wants a direction. */
	EXPECT_ERRNO(dmabuf_sync(buf, DMA_BUF_SYNC_START), EINVAL);
	EXPECT_ERRNO(dmabuf_sync(buf, 0x100 | DMA_BUF_SYNC_READ), EINVAL);
	EXPECT_EQ(close(buf), 0);
}

/*
 * The buffer's rights follow the request and the fd's: read-only unless
 * MEMDRIVER_DMABUF_RDWR asks on an fd open for writing; no export at all
 * from an fd that cannot read.
 */
TEST(dmabuf_readonly)
{
	__u64 off = region_off(MEMDRIVER_REGION_PAGES);
	int ro = open_dev_mode(O_RDONLY), wo = open_dev_mode(O_WRONLY);
	int sources[] = { fd, ro }, i, buf;
	__u8 *map;

	if (!need_dmabuf(fd))
		goto out;
	EXPECT_ERRNO(export_window(ro, off, page_size, MEMDRIVER_DMABUF_RDWR), EACCES);
	EXPECT_ERRNO(export_window(wo, off, page_size, 0), EBADF);
	EXPECT_ERRNO(export_window(wo, off, page_size, MEMDRIVER_DMABUF_RDWR), EBADF);
	for (i = 0; i < 2; i++) {
		buf = export_window(sources[i], off, page_size, 0);
		EXPECT_GE(buf, 0);
		if (buf < 0)
			continue;
		EXPECT_EQ(fcntl(buf, F_GETFL) & O_ACCMODE, O_RDONLY);
		EXPECT_MAP_ERRNO(mmap(NULL, page_size, PROT_READ | PROT_WRITE,
				      MAP_SHARED, buf, 0), EACCES);
		map = mmap(NULL, page_size, PROT_READ, MAP_SHARED, buf, 0);
		EXPECT_TRUE(map != MAP_FAILED);
		if (map != MAP_FAILED) {
			write_pattern(fd, off, page_size, 150 + i);
			EXPECT_EQ(check_pattern(map, page_size, off, 150 + i), -1);
			EXPECT_ERRNO(mprotect(map, page_size, PROT_READ | PROT_WRITE),
				     EACCES);
			EXPECT_EQ(munmap(map, page_size), 0);
		}
		EXPECT_EQ(close(buf), 0);
	}
out:
	close(ro);
	close(wo);
}

/*
 * Lifetimes: the memdriver fd closed first, the buffer's fd closed while
 * mapped, a forked child writing through the inherited mapping.
 */
TEST(dmabuf_close_orders)
{
	__u64 off = region_off(MEMDRIVER_REGION_VMALLOC), len = 2 * page_size;
	int dev = open_dev(), buf, status;
	__u8 *map, *back = xmalloc(len);
	pid_t child;

	if (!need_dmabuf(fd))
		goto out;
	buf = export_window(dev, off, len, MEMDRIVER_DMABUF_RDWR);
	ASSERT_GE(buf, 0);
	EXPECT_EQ(close(dev), 0);
	dev = -1;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(close(buf), 0);
	/* Only the mapping holds the buffer now. */
	fill_pattern(map, len, off, 160);
	EXPECT_EQ(pread(fd, back, len, off), len);
	EXPECT_EQ(check_pattern(back, len, off, 160), -1);

	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		fill_pattern(map, len, off, 161);
		_exit(0);
	}
	EXPECT_EQ(waitpid(child, &status, 0), child);
	EXPECT_EQ(status, 0);
	EXPECT_EQ(check_pattern(map, len, off, 161), -1);
	EXPECT_EQ(pread(fd, back, len, off), len);
	EXPECT_EQ(check_pattern(back, len, off, 161), -1);
	EXPECT_EQ(munmap(map, len), 0);

	/* The buffer closed before anything else: the device goes on. */
	buf = export_window(fd, off, len, 0);
	ASSERT_GE(buf, 0);
	EXPECT_EQ(close(buf), 0);
	write_pattern(fd, off, len, 162);
	EXPECT_EQ(pread(fd, back, len, off), len);
	EXPECT_EQ(check_pattern(back, len, off, 162), -1);
out:
	if (dev >= 0)
		close(dev);
	free(back);
}

/* debugfs lists each buffer under its exporter's and its own name (root). */
TEST(dmabuf_bufinfo)
{
	const char *path = "/sys/kernel/debug/dma_buf/bufinfo";
	__u64 off = region_off(MEMDRIVER_REGION_PAGES);
	char name[64], line[512], exp[64], bname[64];
	unsigned long long size;
	unsigned int flags, mode;
	int buf, found = 0;
	FILE *f;

	if (!need_dmabuf(fd))
		return;
	if (!need_root())
		return;
	if (access("/sys/kernel/debug/dma_buf", F_OK)) {
		skip("no /sys/kernel/debug/dma_buf (CONFIG_DEBUG_FS)");
		return;
	}
	buf = export_window(fd, off, page_size, 0);
	ASSERT_GE(buf, 0);
	window_name(name, sizeof(name), MEMDRIVER_REGION_PAGES, 0);
	f = fopen(path, "r");
	ASSERT_TRUE(f);
	/* size, f_flags, f_mode, file count, exp_name, inode, name */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llu %x %x %*d %63s %*u %63s", &size, &flags,
			   &mode, exp, bname) == 5 && !strcmp(bname, name)) {
			found++;
			EXPECT_EQ(size, page_size);
			EXPECT_STREQ(exp, "memdriver");
			/* FMODE_READ without FMODE_WRITE */
			EXPECT_EQ(mode & 3, 1);
		}
	fclose(f);
	EXPECT_EQ(found, 1);
	EXPECT_EQ(close(buf), 0);
}

/*
 * The DRM uAPI the vgem case uses (include/uapi/drm/drm.h, drm_mode.h),
 * stable since Linux 3.x: Debian's linux-libc-dev leaves drm/ to libdrm.
 */
struct drm_version_abi {
	int major, minor, patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};

struct drm_prime_handle_abi {
	__u32 handle;
	__u32 flags;
	__s32 fd;
};

struct drm_gem_close_abi {
	__u32 handle;
	__u32 pad;
};

#define DRM_IOCTL_VERSION_ABI		_IOWR('d', 0x00, struct drm_version_abi)
#define DRM_IOCTL_GEM_CLOSE_ABI		_IOW('d', 0x09, struct drm_gem_close_abi)
#define DRM_IOCTL_PRIME_HANDLE_TO_FD_ABI _IOWR('d', 0x2d, struct drm_prime_handle_abi)
#define DRM_IOCTL_PRIME_FD_TO_HANDLE_ABI _IOWR('d', 0x2e, struct drm_prime_handle_abi)

/* The vgem device's node, open; -1 without one. */
static int open_vgem(void)
{
	char path[32], name[16];
	int i, card;

	for (i = 0; i < 16; i++) {
		struct drm_version_abi v = { .name_len = sizeof(name) - 1, .name = name };

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		card = open(path, O_RDWR | O_CLOEXEC);
		if (card < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(card, DRM_IOCTL_VERSION_ABI, &v) && !strcmp(name, "vgem"))
			return card;
		close(card);
	}
	return -1;
}

/* How many devices /sys/kernel/debug/dma_buf/bufinfo lists as attached to @name. */
static int bufinfo_attached(const char *name, const char *dev)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[512], bname[64];
	int in = 0, n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*u %*x %*x %*d %*s %*u %63s", bname) == 1)
			in = !strcmp(bname, name);
		else if (in && strstr(line, dev))
			n++;
	}
	fclose(f);
	return n;
}

/*
 * vgem, a DRM driver nobody here wrote, imports a buffer (PRIME): it
 * attaches its own device and (on 6.1 and 6.12) maps the pages for it
 * both ways, while CPU access goes on through memdriver's syncs. The import outlives the fd and
 * hands back the same buffer. A read-only buffer it cannot import where
 * it maps every import for device writes too.
 */
TEST(dmabuf_vgem)
{
	__u64 off = region_off(MEMDRIVER_REGION_VMALLOC) + page_size;
	__u64 src = region_off(MEMDRIVER_REGION_PAGES), len = 2 * page_size;
	const char *want = getenv("MEMDRIVER_EXPECT_VGEM");
	struct drm_prime_handle_abi prime = { .fd = -1 };
	struct drm_gem_close_abi gem_close = {};
	char name[64];
	int card, buf, again;
	__u8 *map;

	if (!need_dmabuf(fd))
		return;
	card = open_vgem();
	if (card < 0) {
		EXPECT_FALSE(want && !strcmp(want, "1"));
		skip("no vgem loaded (modprobe vgem)");
		return;
	}
	write_pattern(fd, off, len, 180);
	buf = export_window(fd, off, len, MEMDRIVER_DMABUF_RDWR);
	ASSERT_GE(buf, 0);
	prime.fd = buf;
	ASSERT_EQ(ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE_ABI, &prime), 0);
	window_name(name, sizeof(name), MEMDRIVER_REGION_VMALLOC, page_size);
	if (getuid() == 0 && !access("/sys/kernel/debug/dma_buf", F_OK))
		EXPECT_EQ(bufinfo_attached(name, "vgem"), 1);
	/* CPU access with vgem's mapping in place: synced both ways. */
	EXPECT_EQ(dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW), 0);
	EXPECT_EQ(dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW), 0);
	EXPECT_EQ(close(buf), 0);

	/* vgem holds the buffer now: it gives back the same one. */
	prime.fd = -1;
	prime.flags = O_CLOEXEC | O_RDWR;
	ASSERT_EQ(ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD_ABI, &prime), 0);
	again = prime.fd;
	fdinfo_value(again, "exp_name", name, sizeof(name));
	EXPECT_STREQ(name, "memdriver");
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, again, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(check_pattern(map, len, off, 180), -1);
	EXPECT_EQ(munmap(map, len), 0);
	EXPECT_EQ(close(again), 0);
	/*
	 * While vgem may write the window, its lines are vgem's: a copy into
	 * them, or a second writable import of them, is EBUSY.
	 */
	if (!kernel_at_least(6, 13)) {
		struct drm_prime_handle_abi second = { .fd = -1 };

		EXPECT_ERRNO(dma_copy(fd, src, off, page_size, NULL), EBUSY);
		second.fd = export_window(fd, off + page_size, page_size,
					  MEMDRIVER_DMABUF_RDWR);
		EXPECT_GE(second.fd, 0);
		EXPECT_ERRNO(ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE_ABI, &second), EBUSY);
		close(second.fd);
	}
	gem_close.handle = prime.handle;
	EXPECT_EQ(ioctl(card, DRM_IOCTL_GEM_CLOSE_ABI, &gem_close), 0);
	/* Released with the import. */
	EXPECT_EQ(dma_copy(fd, src, off, page_size, NULL), 0);

	/*
	 * Until 6.12 at least, a shmem-helper driver maps each import at once
	 * (DMA_BIDIRECTIONAL); later ones may import without mapping, and
	 * then may hold a read-only buffer.
	 */
	buf = export_window(fd, off, len, 0);
	ASSERT_GE(buf, 0);
	prime.fd = buf;
	prime.handle = 0;
	if (!kernel_at_least(6, 13)) {
		EXPECT_ERRNO(ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE_ABI, &prime), EACCES);
	} else if (!ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE_ABI, &prime)) {
		gem_close.handle = prime.handle;
		EXPECT_EQ(ioctl(card, DRM_IOCTL_GEM_CLOSE_ABI, &gem_close), 0);
	} else {
		EXPECT_EQ(errno, EACCES);
	}
	EXPECT_EQ(close(buf), 0);
	EXPECT_EQ(close(card), 0);
}

const struct test_case dmabuf_cases[] = {
	CASE_VARIANTS(dmabuf_export),
	CASE(dmabuf_window),
	CASE(dmabuf_errors),
	CASE(dmabuf_readonly),
	CASE(dmabuf_close_orders),
	CASE(dmabuf_bufinfo),
	CASE(dmabuf_vgem),
	{}
};

/*
 * memdriver_test dmabuf-unload (root, the module loaded, no other fd on
 * it): an exported buffer keeps the module loaded after every memdriver fd
 * is closed, and works; once it is closed the module unloads.
 */
int run_dmabuf_unload(void)
{
	__u64 off = region_off(MEMDRIVER_REGION_VMALLOC), len = page_size;
	int dev = open_dev(), buf, has = kernel_has_symbol(" dma_buf_export\n");
	__u8 *map, *back = xmalloc(len);
	struct ktap k;

	ktap_plan(&k, 1);
	case_begin();
	buf = export_window(dev, off, len, MEMDRIVER_DMABUF_RDWR);
	close(dev);
	if (buf < 0 && errno == EOPNOTSUPP && has != 1) {
		ktap_result(&k, KTAP_SKIP, "the kernel has no dma-buf",
			    "dmabuf-unload");
		free(back);
		return ktap_end(&k);
	}
	EXPECT_GE(buf, 0);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	EXPECT_TRUE(map != MAP_FAILED);
	EXPECT_ERRNO(syscall(SYS_delete_module, "memdriver", O_NONBLOCK), EWOULDBLOCK);
	EXPECT_TRUE(module_loaded());
	if (map != MAP_FAILED) {
		/* The bytes are still the device's. */
		fill_pattern(map, len, off, 170);
		dev = open_dev();
		EXPECT_EQ(pread(dev, back, len, off), len);
		EXPECT_EQ(check_pattern(back, len, off, 170), -1);
		close(dev);
		EXPECT_EQ(munmap(map, len), 0);
	}
	EXPECT_EQ(close(buf), 0);
	EXPECT_EQ(syscall(SYS_delete_module, "memdriver", O_NONBLOCK), 0);
	EXPECT_FALSE(module_loaded());
	free(back);
	ktap_case_result(&k, "dmabuf-unload: %s, %s",
			 "refused (EWOULDBLOCK) while a buffer is exported and no fd is open",
			 "done once it is closed");
	return ktap_end(&k);
}
