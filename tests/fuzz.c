// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzz mode: seeded random operations checked against a model.
 */
#include "util.h"

#include <linux/dma-buf.h>

/* ---- fuzz: seeded random operations checked against a model ---- */

#define FUZZ_FDS	4
#define FUZZ_MAPS	4
#define FUZZ_BUFS	2
#define FUZZ_HISTORY	40
#define FUZZ_NOTE	200

struct fuzz_object {
	int id;
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];
};

struct fuzz_fd {
	int fd;			/* -1: closed */
	int mode;		/* O_RDONLY, O_WRONLY or O_RDWR */
	unsigned int file;	/* which open() this is */
	long long pos;		/* the file position the kernel must have */
	struct fuzz_object *objs;
	int nr_objs;
	bool imported;		/* holds an import of the window below */
	__u64 imp_off, imp_len;
};

struct fuzz_map {
	__u8 *addr;		/* NULL: free slot */
	int prot;
	unsigned int file;	/* a mapping keeps its file, and its objects,
				 * alive; 0 for a dma-buf's mapping
				 */
	__u64 off;
	size_t len;
};

/* An exported dma-buf: a window of the device. */
struct fuzz_buf {
	int fd;			/* -1: none */
	bool rw;
	__u64 off, len;
};

static struct {
	unsigned long long seed, rng;
	unsigned long op, ops;
	__u8 *bytes;		/* the device's contents, as they must be */
	__u8 *scratch;
	size_t scratch_len;
	struct fuzz_fd fds[FUZZ_FDS];
	struct fuzz_map maps[FUZZ_MAPS];
	struct fuzz_buf bufs[FUZZ_BUFS];
	bool dmabuf;		/* the kernel has dma-buf */
	/* Copies from an import: done, and refused for sharing a line. */
	unsigned int import_copies, import_overlaps;
	/* Results compared with the model, and bytes among them. */
	unsigned long checks, bytes_checked;
	unsigned int base_total;	/* live objects before we started */
	unsigned int live;		/* objects we own */
	unsigned int next_file;
	/* Closed files still mapped: their objects live until the last munmap. */
	struct { unsigned int file, nr; } zombies[FUZZ_MAPS];
	char history[FUZZ_HISTORY][FUZZ_NOTE];
	struct ktap k;
} fz;

static unsigned long long fz_rand(void)
{
	/* xorshift64*: small, fast, and the same sequence on every arch. */
	fz.rng ^= fz.rng >> 12;
	fz.rng ^= fz.rng << 25;
	fz.rng ^= fz.rng >> 27;
	return fz.rng * 2685821657736338717ULL;
}

static unsigned long long fz_below(unsigned long long n)
{
	return n ? fz_rand() % n : 0;
}

/* The note describing the current operation, kept for failure reports. */
static char *fz_note(void)
{
	return fz.history[fz.op % FUZZ_HISTORY];
}

static void fz_fail(const char *what, long long got, long long want)
{
	unsigned long i, first = fz.op >= FUZZ_HISTORY - 1 ? fz.op - FUZZ_HISTORY + 1 : 0;

	printf("# fuzz: seed %llu, op %lu: %s: got %lld, expected %lld\n",
	       fz.seed, fz.op, what, got, want);
	printf("# fuzz: the operations that led there:\n");
	for (i = first; i <= fz.op; i++)
		printf("#   %lu: %s\n", i, fz.history[i % FUZZ_HISTORY]);
	printf("# fuzz: reproduce with: memdriver_test -d %s fuzz --seed %llu --ops %lu\n",
	       dev_path, fz.seed, fz.op + 1);
	ktap_result(&fz.k, KTAP_FAIL, NULL, "fuzz");
	exit(ktap_end(&fz.k));
}

/*
 * A result against what the model predicts: want < 0 means -errno. errno is
 * read here, after the call in the argument list has returned.
 */
static void fz_check(const char *what, long long ret, long long want)
{
	int err = errno;

	fz.checks++;
	if (want < 0) {
		if (ret != -1 || err != -want)
			fz_fail(what, ret == -1 ? -err : ret, want);
	} else if (ret != want) {
		fz_fail(what, ret == -1 ? -err : ret, want);
	}
}

static void fz_bytes_match(const char *what, const __u8 *got, __u64 off, size_t len)
{
	size_t i;

	fz.checks++;
	fz.bytes_checked += len;
	for (i = 0; i < len; i++)
		if (got[i] != fz.bytes[off + i]) {
			printf("# fuzz: first difference at device offset %#llx\n",
			       (unsigned long long)(off + i));
			fz_fail(what, got[i], fz.bytes[off + i]);
		}
}

static void fz_fill(__u8 *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (__u8)fz_rand();
}

/* Lengths: mostly small, sometimes zero, sometimes huge. */
static size_t fz_len(void)
{
	unsigned int dice = fz_below(40);

	if (dice < 4)
		return 0;
	if (dice < 5)
		return fz_below(info.total_size + 2 * page_size);
	if (dice < 20)
		return 1 + fz_below(64);
	return 1 + fz_below(3 * page_size);
}

/* Offsets: near region boundaries, inside, at or past the end, negative. */
static long long fz_offset(void)
{
	int r = fz_below(MEMDRIVER_NR_REGIONS);

	switch (fz_below(8)) {
	case 0:
		return (long long)region_off(r) + (long long)fz_below(64) - 32;
	case 1:
		return (long long)info.total_size - (long long)fz_below(64);
	case 2:
		return (long long)info.total_size + (long long)fz_below(4 * page_size);
	case 3:
		return -1 - (long long)fz_below(4096);
	default:
		return fz_below(info.total_size);
	}
}

static struct fuzz_fd *fz_pick_fd(void)
{
	struct fuzz_fd *f = &fz.fds[fz_below(FUZZ_FDS)];

	if (f->fd < 0) {
		static const int modes[] = { O_RDWR, O_RDWR, O_RDONLY, O_WRONLY };

		f->mode = modes[fz_below(ARRAY_SIZE(modes))];
		f->fd = open(dev_path, f->mode);
		if (f->fd < 0)
			fz_fail("open", -errno, 0);
		f->pos = 0;
		f->nr_objs = 0;
		f->imported = false;
		f->file = ++fz.next_file;
	}
	return f;
}

static void fz_check_pos(struct fuzz_fd *f)
{
	long long pos = lseek(f->fd, 0, SEEK_CUR);

	fz_check("file position", pos, f->pos);
}

static bool fz_can(const struct fuzz_fd *f, bool write)
{
	return f->mode == O_RDWR || f->mode == (write ? O_WRONLY : O_RDONLY);
}

static long long fz_expected_rw(const struct fuzz_fd *f, long long off, size_t len,
				bool write)
{
	if (off < 0)
		return -EINVAL;
	/* The VFS checks the open mode before count, pointer and position. */
	if (!fz_can(f, write))
		return -EBADF;
	if (!len)
		return 0;
	if ((__u64)off >= info.total_size)
		return write ? -ENOSPC : 0;
	return len < info.total_size - off ? (long long)len : (long long)(info.total_size - off);
}

static void fz_rw(bool to_dev, bool positional, bool bad_pointer)
{
	struct fuzz_fd *f = fz_pick_fd();
	long long off = positional ? fz_offset() : f->pos;
	size_t len = fz_len();
	long long want = fz_expected_rw(f, off, len, to_dev);
	void *buf = bad_pointer ? unmapped_address() : fz.scratch;
	long long ret;

	if (!positional && off < 0)
		want = -EINVAL;	/* cannot happen: lseek keeps pos >= 0 */
	if (bad_pointer && want > 0)
		want = -EFAULT;
	snprintf(fz_note(), FUZZ_NOTE, "%s%s fd%d off %lld len %zu%s",
		 positional ? "p" : "", to_dev ? "write" : "read", (int)(f - fz.fds),
		 off, len, bad_pointer ? " (bad pointer)" : "");
	if (to_dev && !bad_pointer)
		fz_fill(fz.scratch, len);
	if (positional)
		ret = to_dev ? pwrite(f->fd, buf, len, off) : pread(f->fd, buf, len, off);
	else
		ret = to_dev ? write(f->fd, buf, len) : read(f->fd, buf, len);
	fz_check(to_dev ? "write" : "read", ret, want);
	if (ret > 0) {
		if (to_dev)
			memcpy(fz.bytes + off, fz.scratch, ret);
		else
			fz_bytes_match("bytes read", fz.scratch, off, ret);
		if (!positional)
			f->pos += ret;
	}
	fz_check_pos(f);
}

static void fz_lseek(void)
{
	static const int whences[] = { SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE, 77 };
	struct fuzz_fd *f = fz_pick_fd();
	int whence = whences[fz_below(ARRAY_SIZE(whences))];
	long long off = fz_offset(), want, ret;

	if (whence == SEEK_CUR || whence == SEEK_END)
		off = (long long)fz_below(2 * info.total_size + 2) - (long long)info.total_size - 1;
	snprintf(fz_note(), FUZZ_NOTE, "lseek fd%d %lld whence %d (pos %lld)",
		 (int)(f - fz.fds), off, whence, f->pos);
	switch (whence) {
	case SEEK_SET:
		want = off;
		break;
	case SEEK_CUR:
		want = f->pos + off;
		break;
	case SEEK_END:
		want = info.total_size + off;
		break;
	default:	/* fixed_size_llseek() knows no SEEK_DATA/SEEK_HOLE */
		want = -EINVAL;
	}
	if (want < 0 || (__u64)want > info.total_size)
		want = -EINVAL;
	ret = lseek(f->fd, off, whence);
	fz_check("lseek", ret, want);
	if (ret >= 0)
		f->pos = ret;
}

static bool fz_file_mapped(unsigned int file)
{
	int i;

	for (i = 0; i < FUZZ_MAPS; i++)
		if (fz.maps[i].addr && fz.maps[i].file == file)
			return true;
	return false;
}

static void fz_unmap(struct fuzz_map *m, const char *what)
{
	int i;

	fz_check(what, munmap(m->addr, m->len), 0);
	m->addr = NULL;
	if (!m->file || fz_file_mapped(m->file))
		return;
	/* The last mapping of a closed file: release() frees its objects. */
	for (i = 0; i < FUZZ_MAPS; i++)
		if (fz.zombies[i].file == m->file) {
			fz.live -= fz.zombies[i].nr;
			fz.zombies[i].file = 0;
		}
}

static struct fuzz_map *fz_free_map_slot(void)
{
	struct fuzz_map *m = &fz.maps[fz_below(FUZZ_MAPS)];

	if (m->addr)
		fz_unmap(m, "munmap before mmap");
	return m;
}

static void fz_mmap(void)
{
	struct fuzz_fd *f = fz_pick_fd();
	struct fuzz_map *m = fz_free_map_slot();
	int r = fz_below(MEMDRIVER_NR_REGIONS), kind = fz_below(10);
	__u64 pages = region_size(r) / page_size;
	__u64 first = fz_below(pages), npages = 1 + fz_below(pages - first);
	__u64 off = region_off(r) + first * page_size;
	int flags = MAP_SHARED, prot = PROT_READ | PROT_WRITE;
	long long want = 0;
	void *addr;

	/* Mostly small windows: page-table setup dominates the cost. */
	if (npages > 16 && fz_below(8))
		npages = 1 + fz_below(16);

	if (kind == 0) {	/* crosses into the next region or the end */
		npages = pages - first + 1 + fz_below(2);
		want = -EINVAL;
	} else if (kind == 1) {	/* at or past the end */
		off = info.total_size + fz_below(4) * page_size;
		want = -EINVAL;
	} else if (kind == 2) {	/* not page aligned */
		off += 1 + fz_below(page_size - 1);
		want = -EINVAL;
	} else if (kind == 3) {	/* a private copy is refused */
		flags = MAP_PRIVATE;
		want = -EINVAL;
	}
	/* A read-only fd mostly maps read-only: PROT_WRITE is refused. */
	if (f->mode == O_RDONLY && fz_below(4))
		prot = PROT_READ;
	/*
	 * The kernel checks the open mode after the offset's alignment and
	 * before the driver: no mapping without FMODE_READ, no shared
	 * writable one without FMODE_WRITE.
	 */
	if (kind != 2 && (f->mode == O_WRONLY ||
			  (f->mode == O_RDONLY && flags == MAP_SHARED && (prot & PROT_WRITE))))
		want = -EACCES;
	snprintf(fz_note(), FUZZ_NOTE, "mmap fd%d (mode %d) off %#llx pages %llu %s%s",
		 (int)(f - fz.fds), f->mode, (unsigned long long)off,
		 (unsigned long long)npages, flags == MAP_SHARED ? "shared" : "private",
		 prot & PROT_WRITE ? "" : " read-only");
	addr = mmap(NULL, npages * page_size, prot, flags, f->fd, off);
	fz_check("mmap", addr == MAP_FAILED ? -1 : 0, want);
	if (addr != MAP_FAILED) {
		m->addr = addr;
		m->prot = prot;
		m->file = f->file;
		m->off = off;
		m->len = npages * page_size;
	}
}

static struct fuzz_map *fz_pick_map(void)
{
	struct fuzz_map *m = &fz.maps[fz_below(FUZZ_MAPS)];

	return m->addr ? m : NULL;
}

static void fz_map_access(void)
{
	struct fuzz_map *m = fz_pick_map();
	size_t at, len;

	if (!m) {
		fz_mmap();
		return;
	}
	at = fz_below(m->len);
	len = 1 + fz_below(m->len - at < 512 ? m->len - at : 512);
	if ((m->prot & PROT_WRITE) && fz_below(2)) {
		snprintf(fz_note(), FUZZ_NOTE, "store %zu bytes at offset %#llx via mapping",
			 len, (unsigned long long)(m->off + at));
		fz_fill(m->addr + at, len);
		memcpy(fz.bytes + m->off + at, m->addr + at, len);
	} else {
		snprintf(fz_note(), FUZZ_NOTE, "load %zu bytes at offset %#llx via mapping",
			 len, (unsigned long long)(m->off + at));
		fz_bytes_match("bytes loaded via mapping", m->addr + at, m->off + at, len);
	}
}

static void fz_munmap_or_mremap(void)
{
	struct fuzz_map *m = fz_pick_map();
	size_t pages;
	void *addr;

	if (!m) {
		fz_mmap();
		return;
	}
	pages = m->len / page_size;
	switch (fz_below(3)) {
	case 0:
		snprintf(fz_note(), FUZZ_NOTE, "munmap %#llx", (unsigned long long)m->off);
		fz_unmap(m, "munmap");
		break;
	case 1:		/* growing is refused: VM_DONTEXPAND */
		snprintf(fz_note(), FUZZ_NOTE, "mremap grow %#llx", (unsigned long long)m->off);
		addr = mremap(m->addr, m->len, m->len + page_size, MREMAP_MAYMOVE);
		fz_check("mremap grow", addr == MAP_FAILED ? -1 : 0, -EFAULT);
		break;
	default:	/* shrinking keeps the start */
		if (pages < 2)
			return;
		snprintf(fz_note(), FUZZ_NOTE, "mremap shrink %#llx to %zu pages",
			 (unsigned long long)m->off, pages - 1);
		addr = mremap(m->addr, m->len, m->len - page_size, 0);
		fz_check("mremap shrink", addr == m->addr ? 0 : -1, 0);
		m->len -= page_size;
	}
}

static struct fuzz_object *fz_find(struct fuzz_fd *f, int id)
{
	int i;

	for (i = 0; i < f->nr_objs; i++)
		if (f->objs[i].id == id)
			return &f->objs[i];
	return NULL;
}

/* An id to try: our own, another fd's, never issued, or nonsense. */
static int fz_pick_id(struct fuzz_fd *f)
{
	struct fuzz_fd *other = &fz.fds[fz_below(FUZZ_FDS)];

	switch (fz_below(6)) {
	case 0:
		return (int)fz_below(3) - 1;	/* -1, 0, 1 */
	case 1:
		return 0x7fffffff - (int)fz_below(3);
	case 2:
		if (other->fd >= 0 && other->nr_objs)
			return other->objs[fz_below(other->nr_objs)].id;
		return 1 + (int)fz_below(1000);
	default:
		if (f->nr_objs)
			return f->objs[fz_below(f->nr_objs)].id;
		return 1 + (int)fz_below(1000);
	}
}

static void fz_alloc(struct fuzz_fd *f)
{
	long long want = 0;
	int id;

	snprintf(fz_note(), FUZZ_NOTE, "alloc fd%d (%d owned, %u live)",
		 (int)(f - fz.fds), f->nr_objs, fz.live);
	/*
	 * The open mode first, then the fd's own cap, then the module-wide
	 * one (an alloc bound for EDQUOT never takes a shared slot).
	 */
	if (!fz_can(f, true))
		want = -EBADF;
	else if ((unsigned int)f->nr_objs >= info.max_objects_per_fd)
		want = -EDQUOT;
	else if (fz.base_total + fz.live >= info.max_objects)
		want = -ENOSPC;
	id = ioctl(f->fd, MEM_IOCTL_ALLOC_OBJECT);
	if (want < 0) {
		fz_check("alloc at a cap", id, want);
		return;
	}
	if (id <= 0 || fz_find(f, id))
		fz_fail("alloc returned a live or bad id", id == -1 ? -errno : id, 1);
	f->objs = realloc(f->objs, (f->nr_objs + 1) * sizeof(*f->objs));
	if (!f->objs)
		fz_fail("out of memory", 0, 0);
	f->objs[f->nr_objs].id = id;
	memset(f->objs[f->nr_objs].data, 0, MEMDRIVER_PAYLOAD_SIZE);
	snprintf((char *)f->objs[f->nr_objs].data, MEMDRIVER_PAYLOAD_SIZE, "Object ID: %d", id);
	f->nr_objs++;
	fz.live++;
}

static void fz_free(struct fuzz_fd *f)
{
	int id = fz_pick_id(f), bad = !fz_below(20);
	struct fuzz_object *o = fz_find(f, id);

	snprintf(fz_note(), FUZZ_NOTE, "free fd%d id %d%s", (int)(f - fz.fds), id,
		 bad ? " (bad pointer)" : "");
	if (bad) {
		fz_check("free, bad pointer",
			 ioctl(f->fd, MEM_IOCTL_FREE_OBJECT, unmapped_address()),
			 fz_can(f, true) ? -EFAULT : -EBADF);
		return;
	}
	if (!fz_can(f, true)) {
		fz_check("free on a read-only fd", ioctl(f->fd, MEM_IOCTL_FREE_OBJECT, &id),
			 -EBADF);
		return;
	}
	fz_check("free", ioctl(f->fd, MEM_IOCTL_FREE_OBJECT, &id), o ? 0 : -ENOENT);
	if (o) {
		*o = f->objs[--f->nr_objs];
		fz.live--;
	}
}

static void fz_object_io(struct fuzz_fd *f, bool write)
{
	struct memdriver_object_io io = { .id = fz_pick_id(f) };
	struct fuzz_object *o = fz_find(f, io.id);
	int bad = !fz_below(20);
	long long want = o ? 0 : -ENOENT;

	if (!fz_below(10)) {
		io.flags = 1 + fz_below(0xffff);
		want = -EINVAL;
	}
	if (bad)
		want = -EFAULT;
	if (!fz_can(f, write))
		want = -EBADF;
	snprintf(fz_note(), FUZZ_NOTE, "%s object fd%d id %d flags %u%s",
		 write ? "write" : "read", (int)(f - fz.fds), io.id, io.flags,
		 bad ? " (bad pointer)" : "");
	if (write)
		fz_fill(io.data, sizeof(io.data));
	fz_check(write ? "write object" : "read object",
		 ioctl(f->fd, write ? MEM_IOCTL_WRITE_OBJECT : MEM_IOCTL_READ_OBJECT,
		       bad ? unmapped_address() : &io), want);
	if (want || !o)
		return;
	if (write)
		memcpy(o->data, io.data, sizeof(io.data));
	else if (memcmp(o->data, io.data, sizeof(io.data)))
		fz_fail("object payload", io.data[0], o->data[0]);
}

static void fz_info(struct fuzz_fd *f)
{
	struct memdriver_info now;

	snprintf(fz_note(), FUZZ_NOTE, "info fd%d", (int)(f - fz.fds));
	fz_check("info", get_info(f->fd, &now), 0);
	fz_check("info objects_fd", now.objects_fd, f->nr_objs);
	fz_check("info objects_total", now.objects_total, fz.base_total + fz.live);
	fz_check("info total_size", now.total_size, info.total_size);
}

/* Whether device windows [a, a + len) and [b, b + len) share a cache line. */
static bool fz_lines_overlap(__u64 a, __u64 b, __u64 len)
{
	__u64 line = info.dma_copy_align;

	return a / line * line < (b + len + line - 1) / line * line &&
	       b / line * line < (a + len + line - 1) / line * line;
}

/*
 * A copy from the fd's import, by the CPU: an engine reads what the last
 * SYNC gave the device, which the model does not follow on a non-coherent
 * system. The import is a window of the device's own, so a destination
 * that shares a line with the bytes it reads is refused.
 */
static void fz_import_copy(struct fuzz_fd *f, long long want)
{
	__u64 src, dst, len;

	/* A quarter of the time both ends lie inside the import, often overlapping. */
	if (f->imported && !fz_below(4)) {
		src = fz_below(f->imp_len);
		len = 1 + fz_below(f->imp_len - src);
		dst = f->imp_off + fz_below(f->imp_len - len + 1);
	} else {
		len = fz_below(4) ? 1 + fz_below(2 * page_size) : fz_len();
		src = f->imported && fz_below(8) ? fz_below(f->imp_len) : (__u64)fz_offset();
		dst = fz_offset();
	}
	if (!want && !len) {
		want = -EINVAL;
	} else if (!want && !f->imported) {
		want = -ENOENT;
	} else if (!want && (src >= f->imp_len || len > f->imp_len - src ||
			     window_region(dst, len) < 0)) {
		want = -EINVAL;
	} else if (!want && fz_lines_overlap(f->imp_off + src, dst, len)) {
		want = -EINVAL;
		fz.import_overlaps++;
	}
	snprintf(fz_note(), FUZZ_NOTE, "copy from fd%d's import %#llx -> %#llx len %llu",
		 (int)(f - fz.fds), (unsigned long long)src, (unsigned long long)dst,
		 (unsigned long long)len);
	fz_check("copy from import",
		 dma_copy_flags(f->fd, src, dst, len, MEMDRIVER_DMA_COPY_FROM_IMPORT |
				MEMDRIVER_DMA_COPY_CPU, NULL), want);
	if (!want) {
		memmove(fz.bytes + dst, fz.bytes + f->imp_off + src, len);
		fz.import_copies++;
	}
}

static void fz_dma_copy(struct fuzz_fd *f)
{
	__u64 src, dst, len;
	long long want = 0;
	__u32 engine = 0;

	/* Half the copies of an fd that holds an import are from the import. */
	if (f->imported && fz_below(2)) {
		fz_import_copy(f, fz_can(f, true) ? 0 : -EBADF);
		return;
	}
	src = fz_offset();
	dst = fz_offset();
	len = fz_below(4) ? 1 + fz_below(2 * page_size) : fz_len();
	if (!len || window_region(src, len) < 0 || window_region(dst, len) < 0)
		want = -EINVAL;
	else if (fz_lines_overlap(src, dst, len))
		want = -EINVAL;
	if (!fz_can(f, true))
		want = -EBADF;
	snprintf(fz_note(), FUZZ_NOTE, "dma copy fd%d %#llx -> %#llx len %llu",
		 (int)(f - fz.fds), (unsigned long long)src, (unsigned long long)dst,
		 (unsigned long long)len);
	fz_check("dma copy", dma_copy(f->fd, src, dst, len, &engine), want);
	if (!want) {
		memmove(fz.bytes + dst, fz.bytes + src, len);
		if (engine != dma_engine_for(src, dst, len, false))
			fz_fail("dma copy engine", engine, dma_engine_for(src, dst, len, false));
	}
}

/* What MEM_IOCTL_EXPORT_DMABUF must answer, in the order the module checks. */
static long long fz_expected_export(const struct fuzz_fd *f, __u64 off, __u64 len,
				    __u32 flags)
{
	int r;

	if (!fz_can(f, false))
		return -EBADF;
	if (flags & ~MEMDRIVER_DMABUF_RDWR)
		return -EINVAL;
	if (!len || off % page_size || len % page_size)
		return -EINVAL;
	r = window_region(off, len);
	if (r < 0)
		return -EINVAL;
	if (r == MEMDRIVER_REGION_DMA)
		return -EOPNOTSUPP;
	if ((flags & MEMDRIVER_DMABUF_RDWR) && !fz_can(f, true))
		return -EACCES;
	return 0;
}

static void fz_close_buf(struct fuzz_buf *b, const char *what)
{
	fz_check(what, close(b->fd), 0);
	b->fd = -1;
}

/* Mostly a window of whole pages of one region; sometimes not. */
static void fz_export(struct fuzz_fd *f)
{
	struct fuzz_buf *b = &fz.bufs[fz_below(FUZZ_BUFS)];
	int r = fz_below(MEMDRIVER_NR_REGIONS), kind = fz_below(10), ret;
	__u64 pages = region_size(r) / page_size;
	__u64 first = fz_below(pages), npages = 1 + fz_below(pages - first);
	__u64 off = region_off(r) + first * page_size, len;
	__u32 flags = fz_below(2) ? MEMDRIVER_DMABUF_RDWR : 0;
	long long want;

	if (kind == 0)
		off = fz_offset();
	if (kind == 1)
		npages = pages - first + 1;
	len = npages * page_size;
	if (kind == 2)
		len = fz_len();
	if (kind == 3)
		flags |= 1U << fz_below(32);
	want = fz_expected_export(f, off, len, flags);
	snprintf(fz_note(), FUZZ_NOTE, "export fd%d (mode %d) off %#llx len %#llx flags %#x",
		 (int)(f - fz.fds), f->mode, (unsigned long long)off,
		 (unsigned long long)len, flags);
	ret = export_window(f->fd, off, len, flags);
	fz_check("export", ret < 0 ? -1 : 0, want);
	if (ret < 0)
		return;
	if (b->fd >= 0)
		fz_close_buf(b, "close a dma-buf for another");
	b->fd = ret;
	b->rw = flags & MEMDRIVER_DMABUF_RDWR;
	b->off = off;
	b->len = len;
}

/* A mapping of a buffer joins the device's own in the model. */
static void fz_dmabuf_mmap(struct fuzz_buf *b)
{
	__u64 pages = b->len / page_size;
	__u64 first = fz_below(pages), npages = 1 + fz_below(pages - first);
	int prot = PROT_READ | PROT_WRITE;
	long long want = 0;
	struct fuzz_map *m;
	void *addr;

	if (npages > 16 && fz_below(8))
		npages = 1 + fz_below(16);
	if (!fz_below(10)) {	/* past the buffer's end */
		npages = pages - first + 1;
		want = -EINVAL;
	}
	if (!b->rw && fz_below(4))
		prot = PROT_READ;
	/* The VFS refuses a shared writable mapping of a read-only file first. */
	if (!b->rw && (prot & PROT_WRITE))
		want = -EACCES;
	m = fz_free_map_slot();
	snprintf(fz_note(), FUZZ_NOTE, "mmap dma-buf %d (%s) of %#llx pages %llu at %llu%s",
		 (int)(b - fz.bufs), b->rw ? "rw" : "ro", (unsigned long long)b->off,
		 (unsigned long long)npages, (unsigned long long)first,
		 prot & PROT_WRITE ? "" : " read-only");
	addr = mmap(NULL, npages * page_size, prot, MAP_SHARED, b->fd, first * page_size);
	fz_check("mmap dma-buf", addr == MAP_FAILED ? -1 : 0, want);
	if (addr != MAP_FAILED) {
		m->addr = addr;
		m->prot = prot;
		m->file = 0;
		m->off = b->off + first * page_size;
		m->len = npages * page_size;
	}
}

/* Import a buffer into an fd, drop the fd's import, or copy from it. */
static void fz_import(struct fuzz_fd *f, struct fuzz_buf *b)
{
	long long want = fz_can(f, true) ? 0 : -EBADF;
	unsigned int dice = fz_below(10);
	struct memdriver_dmabuf_import req = { .fd = b->fd };

	if (dice < 3 && b->fd >= 0) {
		if (!want && f->imported)
			want = -EBUSY;
		snprintf(fz_note(), FUZZ_NOTE, "import dma-buf %d into fd%d",
			 (int)(b - fz.bufs), (int)(f - fz.fds));
		fz_check("import", ioctl(f->fd, MEM_IOCTL_IMPORT_DMABUF, &req), want);
		if (!want) {
			f->imported = true;
			f->imp_off = b->off;
			f->imp_len = b->len;
			fz_check("import size", req.size, b->len);
		}
	} else if (dice < 4) {
		req.fd = -1;
		snprintf(fz_note(), FUZZ_NOTE, "drop fd%d's import", (int)(f - fz.fds));
		fz_check("drop import", ioctl(f->fd, MEM_IOCTL_IMPORT_DMABUF, &req), want);
		if (!want)
			f->imported = false;
	} else {
		fz_import_copy(f, want);
	}
}

/*
 * Export, map, sync, close or import: a buffer outlives the fd it came
 * from, and an import the buffer's fd.
 */
static void fz_dmabuf(struct fuzz_fd *f)
{
	struct fuzz_buf *b = &fz.bufs[fz_below(FUZZ_BUFS)];
	unsigned int dice = fz_below(12);
	struct dma_buf_sync sync = {
		.flags = (fz_below(2) ? DMA_BUF_SYNC_END : DMA_BUF_SYNC_START) |
			 (1 + fz_below(3)),
	};

	if (!fz.dmabuf)
		return;
	if (dice < 4 || b->fd < 0) {
		fz_export(f);
	} else if (dice < 7) {
		fz_dmabuf_mmap(b);
	} else if (dice < 8) {
		snprintf(fz_note(), FUZZ_NOTE, "dma-buf %d sync %#llx", (int)(b - fz.bufs),
			 (unsigned long long)sync.flags);
		fz_check("dma-buf sync", ioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sync), 0);
	} else if (dice < 10) {
		snprintf(fz_note(), FUZZ_NOTE, "close dma-buf %d", (int)(b - fz.bufs));
		fz_close_buf(b, "close dma-buf");
	} else {
		fz_import(f, b);
	}
}

static void fz_close(void)
{
	struct fuzz_fd *f = &fz.fds[fz_below(FUZZ_FDS)];

	if (f->fd < 0)
		return;
	snprintf(fz_note(), FUZZ_NOTE, "close fd%d (%d objects)", (int)(f - fz.fds),
		 f->nr_objs);
	fz_check("close", close(f->fd), 0);
	f->fd = -1;
	f->imported = false;
	if (fz_file_mapped(f->file)) {
		int i;

		for (i = 0; fz.zombies[i].file; i++)
			;
		fz.zombies[i].file = f->file;
		fz.zombies[i].nr = f->nr_objs;
	} else {
		fz.live -= f->nr_objs;
	}
	f->nr_objs = 0;
}

static void fz_ioctl(struct fuzz_fd *f, unsigned int dice)
{
	if (dice < 77) {
		fz_alloc(f);
	} else if (dice < 84) {
		fz_free(f);
	} else if (dice < 92) {
		fz_object_io(f, dice >= 88);
	} else if (dice < 94) {
		fz_info(f);
	} else if (dice < 96) {
		fz_dma_copy(f);
	} else if (dice < 98) {
		fz_dmabuf(f);
	} else {
		snprintf(fz_note(), FUZZ_NOTE, "unknown ioctl fd%d", (int)(f - fz.fds));
		fz_check("unknown ioctl", ioctl(f->fd, _IO(MEM_IOCTL_MAGIC, 9 + fz_below(100))),
			 -ENOTTY);
	}
}

static void fz_step(void)
{
	unsigned int dice = fz_below(100);

	snprintf(fz_note(), FUZZ_NOTE, "(nothing to do)");
	if (dice < 12)
		fz_rw(false, false, false);
	else if (dice < 24)
		fz_rw(true, false, false);
	else if (dice < 32)
		fz_rw(false, true, false);
	else if (dice < 40)
		fz_rw(true, true, false);
	else if (dice < 43)
		fz_rw(fz_below(2), fz_below(2), true);
	else if (dice < 50)
		fz_lseek();
	else if (dice < 54)
		fz_mmap();
	else if (dice < 62)
		fz_map_access();
	else if (dice < 65)
		fz_munmap_or_mremap();
	else if (dice < 67)
		fz_close();
	else
		fz_ioctl(fz_pick_fd(), dice);
}

int run_fuzz(unsigned long long seed, unsigned long ops)
{
	int fd = open_dev(), i;
	struct memdriver_info now = info_now(fd);

	memset(&fz, 0, sizeof(fz));
	fz.seed = seed;
	fz.rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	fz.ops = ops;
	fz.base_total = now.objects_total;
	fz.bytes = xmalloc(info.total_size);
	fz.scratch_len = info.total_size + 3 * page_size;
	fz.scratch = xmalloc(fz.scratch_len);
	for (i = 0; i < FUZZ_FDS; i++)
		fz.fds[i].fd = -1;
	for (i = 0; i < FUZZ_BUFS; i++)
		fz.bufs[i].fd = -1;
	fz.dmabuf = kernel_has_symbol(" dma_buf_export\n") == 1;
	ktap_plan(&fz.k, 1);
	printf("# fuzz: seed %llu, %lu operations on %s%s\n", seed, ops, dev_path,
	       fz.dmabuf ? "" : " (no dma-buf in this kernel)");
	if (pread(fd, fz.bytes, info.total_size, 0) != (ssize_t)info.total_size)
		fz_fail("reading the device into the model", -errno, info.total_size);

	for (fz.op = 0; fz.op < ops; fz.op++)
		fz_step();

	/* Tear down; every object must be accounted for. */
	for (i = 0; i < FUZZ_MAPS; i++)
		if (fz.maps[i].addr)
			munmap(fz.maps[i].addr, fz.maps[i].len);
	for (i = 0; i < FUZZ_BUFS; i++)
		if (fz.bufs[i].fd >= 0)
			close(fz.bufs[i].fd);
	for (i = 0; i < FUZZ_FDS; i++) {
		if (fz.fds[i].fd >= 0)
			close(fz.fds[i].fd);
		free(fz.fds[i].objs);
	}
	snprintf(fz_note(), FUZZ_NOTE, "final check");
	fz.live = 0;
	fz_check("objects after closing every fd", info_now(fd).objects_total,
		 fz.base_total);
	if (pread(fd, fz.scratch, info.total_size, 0) != (ssize_t)info.total_size)
		fz_fail("final read", -errno, info.total_size);
	fz_bytes_match("final contents", fz.scratch, 0, info.total_size);
	close(fd);
	free(fz.bytes);
	free(fz.scratch);
	/*
	 * Every mismatch ended the run already; a pass also needs the run to
	 * have compared something: each operation at least one result.
	 */
	case_begin();
	EXPECT_EQ(fz.op, ops);
	EXPECT_GT(ops, 0);
	EXPECT_GE(fz.checks, ops / 2);
	EXPECT_GE(fz.bytes_checked, info.total_size);
	ktap_case_result(&fz.k, "fuzz: %lu results and %lu bytes compared with the model",
			 fz.checks, fz.bytes_checked);
	printf("# fuzz: %lu operations matched the model (import: %u copies, %u overlapping)\n",
	       ops, fz.import_copies, fz.import_overlaps);
	return ktap_end(&fz.k);
}
