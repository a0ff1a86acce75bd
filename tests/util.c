// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers every file may use: opening the device, its regions, patterns,
 * objects, DMA copies, sysfs and the debugfs views.
 */
#include "util.h"

#include <libgen.h>
#include <sys/utsname.h>
#include <linux/dma-buf.h>

const char *dev_path = "/dev/memdriver0";
bool fresh_load;
long page_size;
struct memdriver_info info;

/* What to do about a device that cannot be opened, in one line. */
static const char *open_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		return "is the module loaded? sudo modprobe memdriver (or insmod memdriver.ko)";
	case EACCES:
	case EPERM:
		return "run it with sudo, or join the group memdriver (README: the udev rule)";
	default:
		return "";
	}
}

int open_dev(void)
{
	int fd = open(dev_path, O_RDWR);

	if (fd < 0) {
		int err = errno;

		printf("# open %s: %s%s%s\n", dev_path, strerror(err),
		       *open_hint(err) ? ": " : "", open_hint(err));
		exit(2);
	}
	return fd;
}

/* The device opened read-only or write-only; exits if that fails. */
int open_dev_mode(int flags)
{
	int fd = open(dev_path, flags);

	if (fd < 0) {
		printf("# open %s (flags %#x): %s\n", dev_path, flags, strerror(errno));
		exit(2);
	}
	return fd;
}

int get_info(int fd, struct memdriver_info *out)
{
	return ioctl(fd, MEM_IOCTL_GET_INFO, out);
}

static __u8 pattern_byte(__u64 pos, unsigned int seed)
{
	return (__u8)((pos * 131 + seed * 7 + (pos >> 8)) ^ seed);
}

void fill_pattern(__u8 *buf, size_t len, __u64 pos, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(pos + i, seed);
}

/* Index of the first byte where buf differs from the pattern, or -1. */
long long check_pattern(const __u8 *buf, size_t len, __u64 pos,
			unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != pattern_byte(pos + i, seed))
			return (long long)i;
	return -1;
}

/* Pattern @seed over the @len device bytes at @off, in one write. */
void write_pattern(int fd, __u64 off, size_t len, unsigned int seed)
{
	__u8 *buf = xmalloc(len);

	fill_pattern(buf, len, off, seed);
	EXPECT_EQ(pwrite(fd, buf, len, off), len);
	free(buf);
}

void *xmalloc(size_t len)
{
	void *p = malloc(len);

	if (!p) {
		printf("# out of memory\n");
		exit(2);
	}
	return p;
}

/* An address guaranteed to be unmapped. */
void *unmapped_address(void)
{
	void *p = mmap(NULL, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, page_size);
	return p;
}

/* The first line of a sysfs or debugfs file, without its newline; "" if none. */
void read_text(const char *path, char *buf, size_t len)
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

/* Write all of @what to @path in one write(), as a knob wants it. */
bool write_text(const char *path, const char *what)
{
	int kfd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = kfd >= 0 && write(kfd, what, strlen(what)) == (ssize_t)strlen(what);

	if (kfd >= 0)
		close(kfd);
	return ok;
}

long long read_sysfs_number(const char *dir, const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	read_text(path, buf, sizeof(buf));
	return buf[0] ? strtoll(buf, NULL, 0) : -1;
}

void class_dir(char *buf, size_t len)
{
	char *copy = strdup(dev_path);

	snprintf(buf, len, "/sys/class/memdriver/%s", basename(copy));
	free(copy);
}

long long module_param(const char *name)
{
	return read_sysfs_number("/sys/module/memdriver/parameters", name);
}

__u64 region_off(int r)
{
	return info.regions[r].offset;
}

__u64 region_size(int r)
{
	return info.regions[r].size;
}

const char *const region_names[MEMDRIVER_NR_REGIONS] = {
	"kmalloc", "vmalloc", "dma", "pages",
};

int object_read(int fd, int id, __u8 *data)
{
	struct memdriver_object_io io = { .id = id };
	int ret = ioctl(fd, MEM_IOCTL_READ_OBJECT, &io);

	if (!ret)
		memcpy(data, io.data, sizeof(io.data));
	return ret;
}

int free_object(int fd, int id)
{
	return ioctl(fd, MEM_IOCTL_FREE_OBJECT, &id);
}

/* Allocate up to @n objects on @fd, stopping at the first failure: how many. */
unsigned int alloc_objects(int fd, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (ioctl(fd, MEM_IOCTL_ALLOC_OBJECT) <= 0)
			break;
	return i;
}

/*
 * MEMDRIVER_EXPECT_ENGINE=1 (the raspi guest) or 0 (guests without an
 * engine): whether the device must report a dmaengine channel; unset, the
 * suite believes GET_INFO.
 */
int expect_engine(void)
{
	const char *e = getenv("MEMDRIVER_EXPECT_ENGINE");

	return e && *e ? atoi(e) : -1;
}

static const char *const engine_names[] = {
	"?", "CPU", "DMAENGINE", "MIXED",
};

const char *engine_name(__u32 engine)
{
	return engine < ARRAY_SIZE(engine_names) ? engine_names[engine] : "?";
}

/* The region holding the whole window, or -1. */
int window_region(__u64 off, __u64 len)
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
__u32 dma_engine_for(__u64 src, __u64 dst, __u64 len, bool force_cpu)
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
bool dma_engine_missing(void)
{
	return info.dma_engine_mode == MEMDRIVER_DMA_MODE_ENGINE &&
	       info.dma_engine != MEMDRIVER_DMA_ENGINE_DMAENGINE;
}

int dma_copy_flags(int fd, __u64 src, __u64 dst, __u64 len, __u32 flags,
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

int dma_copy(int fd, __u64 src, __u64 dst, __u64 len, __u32 *engine)
{
	return dma_copy_flags(fd, src, dst, len, 0, engine);
}

struct memdriver_info info_now(int fd)
{
	struct memdriver_info now;

	memset(&now, 0, sizeof(now));
	EXPECT_EQ(get_info(fd, &now), 0);
	return now;
}

void *map_region_window(int fd, __u64 off, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* ---- debugfs views (root only) ---- */

void debugfs_path(char *buf, size_t len, const char *file)
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
bool read_region_views(struct region_view *v)
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

bool read_objects_view(struct objects_view *v)
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

/*
 * The teardown of every case that arms a fault (harness.h's .teardown):
 * memdriver's debugfs knobs, fail_function on memdriver_dma_map, the test
 * engine's fault, each put back to its default where a case left it
 * otherwise, however the case ended. Only then: a dma_provider_lacks
 * write lets go of the channel. What does not exist is left alone.
 */
void disarm_faults(void)
{
	static const char *const defaults[][3] = {
		/* file, what it reads when disarmed, what disarms it */
		{ "/sys/kernel/debug/memdriver/dma_fault", "none", "none" },
		{ "/sys/kernel/debug/memdriver/dma_provider_lacks", "none", "none" },
		{ "/sys/kernel/debug/fail_function/inject", "", "!memdriver_dma_map" },
		{ "/sys/module/memdriver_testdma/parameters/fault", "none", "none" },
		{ "/sys/module/memdriver_testdma/parameters/slow_ms", "3000", "3000" },
	};
	char now[256];
	size_t i;

	if (getuid() != 0)
		return;
	for (i = 0; i < ARRAY_SIZE(defaults); i++) {
		if (access(defaults[i][0], W_OK))
			continue;
		read_text(defaults[i][0], now, sizeof(now));
		now[strcspn(now, "\n")] = '\0';
		if (!strcmp(now, defaults[i][1]))
			continue;
		printf("# teardown: %s was \"%s\": writing \"%s\"\n", defaults[i][0], now,
		       defaults[i][2]);
		if (!write_text(defaults[i][0], defaults[i][2]))
			printf("# teardown: %s: %s\n", defaults[i][0], strerror(errno));
	}
}

/* Root, or a skip: the system guest runs the suite as its user. */
bool need_root(void)
{
	if (getuid() == 0)
		return true;
	skip("needs root");
	return false;
}

bool need_debugfs(void)
{
	char path[256];

	if (!need_root())
		return false;
	if (!debugfs_mounted()) {
		skip("no debugfs mounted (CONFIG_DEBUG_FS)");
		return false;
	}
	debugfs_path(path, sizeof(path), "regions");
	EXPECT_EQ(access(path, R_OK), 0);
	return access(path, R_OK) == 0;
}

bool module_loaded(void)
{
	return access("/sys/module/memdriver", F_OK) == 0;
}

int export_window(int dev, __u64 off, __u64 len, __u32 flags)
{
	struct memdriver_dmabuf_export req = {
		.offset = off, .len = len, .flags = flags,
	};

	return ioctl(dev, MEM_IOCTL_EXPORT_DMABUF, &req);
}

/*
 * Whether the running kernel has a symbol whose /proc/kallsyms line ends in
 * @tail (" name\n"): the kernel's own word, not memdriver's. 1, 0, or -1
 * where /proc/kallsyms cannot say.
 */
int kernel_has_symbol(const char *tail)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[256];
	int found = 0, lines = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		if (strstr(line, tail)) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return lines ? found : -1;
}

/* Whether the running kernel's release is at least @major.@minor. */
bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	uname(&u);
	if (sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		harness_fail(__FILE__, __LINE__, true, "a kernel release: %s", u.release);
	return ma > major || (ma == major && mi >= minor);
}

/*
 * Export works, or the kernel has no dma-buf and the case is skipped. The
 * module's EOPNOTSUPP alone is not believed where the kernel has it.
 */
bool need_dmabuf(int dev)
{
	int has = kernel_has_symbol(" dma_buf_export\n");
	int buf = export_window(dev, region_off(MEMDRIVER_REGION_VMALLOC),
				page_size, 0);

	if (buf >= 0) {
		close(buf);
		EXPECT_NE(has, 0);
		return true;
	}
	EXPECT_EQ(errno, EOPNOTSUPP);
	EXPECT_NE(has, 1);
	skip("the kernel has no dma-buf (CONFIG_DMA_SHARED_BUFFER)");
	return false;
}

/* dma-buf's begin or end of CPU access (DMA_BUF_SYNC_*). */
int dmabuf_sync(int buf, __u64 flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	return ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync);
}
