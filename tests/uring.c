// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring's registered buffers over each region's mapping: what users of
 * DMA buffer drivers ask for (zero-copy I/O into device memory). The
 * kernel pins a registered buffer with pin_user_pages(FOLL_LONGTERM): a
 * mapping made of pages can be pinned, a raw PFN map cannot.
 */
#include "util.h"

#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/io_uring.h>

/* One ring, one request at a time: no liburing on these machines. */
struct ring {
	int fd;
	struct io_uring_params p;
	__u8 *sq, *cq;
	size_t sq_len, cq_len, sqes_len;
	struct io_uring_sqe *sqes;
};

static int ring_init(struct ring *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = syscall(__NR_io_uring_setup, 4, &r->p);
	if (r->fd < 0)
		return -1;
	r->sq_len = r->p.sq_off.array + r->p.sq_entries * sizeof(__u32);
	r->cq_len = r->p.cq_off.cqes + r->p.cq_entries * sizeof(struct io_uring_cqe);
	r->sqes_len = r->p.sq_entries * sizeof(struct io_uring_sqe);
	r->sq = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		     IORING_OFF_SQ_RING);
	r->cq = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		     IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		       IORING_OFF_SQES);
	ASSERT_TRUE(r->sq != MAP_FAILED && r->cq != MAP_FAILED &&
		    r->sqes != MAP_FAILED);
	return 0;
}

static void ring_exit(struct ring *r)
{
	munmap(r->sq, r->sq_len);
	munmap(r->cq, r->cq_len);
	munmap(r->sqes, r->sqes_len);
	close(r->fd);
}

/* READ_FIXED or WRITE_FIXED of @len bytes at @addr, in registered buffer 0. */
static int ring_rw_fixed(struct ring *r, __u8 op, int file, void *addr, __u32 len)
{
	__u32 *sq_tail = (__u32 *)(r->sq + r->p.sq_off.tail);
	__u32 mask = *(__u32 *)(r->sq + r->p.sq_off.ring_mask);
	__u32 *array = (__u32 *)(r->sq + r->p.sq_off.array);
	__u32 *cq_head = (__u32 *)(r->cq + r->p.cq_off.head);
	__u32 cq_mask = *(__u32 *)(r->cq + r->p.cq_off.ring_mask);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(r->cq + r->p.cq_off.cqes);
	__u32 tail = *sq_tail, head;
	struct io_uring_sqe *sqe = &r->sqes[tail & mask];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = file;
	sqe->addr = (uintptr_t)addr;
	sqe->len = len;
	sqe->buf_index = 0;
	array[tail & mask] = tail & mask;
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = __atomic_load_n(cq_head, __ATOMIC_ACQUIRE);
	res = cqes[head & cq_mask].res;
	__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

struct uring_fixed_variant {
	const char *name;
	int region;
	bool pages;
};

static const struct uring_fixed_variant uring_fixed_variants[] = {
	{ "kmalloc", MEMDRIVER_REGION_KMALLOC, false },
	{ "vmalloc", MEMDRIVER_REGION_VMALLOC, true },
	{ "dma", MEMDRIVER_REGION_DMA, false },
	{ "pages", MEMDRIVER_REGION_PAGES, true },
};

/*
 * A region's whole mapping registered as buffer 0, then a memfd read into it
 * and the device's bytes written out of it, each checked through the
 * device. PFN maps: EFAULT. Before 6.5, io_uring refused every file-backed
 * mapping but shmem's and hugetlbfs's with EOPNOTSUPP (the check went to
 * pin_user_pages(), which lets a mapping without dirty tracking through).
 */
TEST_VARIANTS(uring_fixed)
{
	size_t len = region_size(variant->region);
	__u64 off = region_off(variant->region);
	__u8 *map = map_region_window(fd, off, len), *buf = xmalloc(len);
	struct iovec iov = { map, len };
	int mem = memfd_create("uring_fixed", MFD_CLOEXEC), ret, want = 0;
	struct ring r;

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_GE(mem, 0);
	if (ring_init(&r)) {
		/* Only where the kernel has no io_uring at all. */
		printf("# io_uring_setup: %s\n", strerror(errno));
		EXPECT_NE(kernel_has_symbol(" __io_uring_free\n"), 1);
		skip("the kernel has no io_uring");
		goto out;
	}
	if (!variant->pages)
		want = EFAULT;
	else if (!kernel_at_least(6, 5))
		want = EOPNOTSUPP;
	ret = syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_BUFFERS, &iov, 1);
	if (want) {
		EXPECT_ERRNO(ret, want);
		goto out_ring;
	}
	ASSERT_EQ(ret, 0);
	/* memfd -> device memory, by the kernel into the pinned pages. */
	fill_pattern(buf, len, off, 190);
	EXPECT_EQ(pwrite(mem, buf, len, 0), len);
	EXPECT_EQ(ring_rw_fixed(&r, IORING_OP_READ_FIXED, mem, map, len), len);
	memset(buf, 0, len);
	EXPECT_EQ(pread(fd, buf, len, off), len);
	EXPECT_EQ(check_pattern(buf, len, off, 190), -1);
	/* device memory -> memfd */
	write_pattern(fd, off, len, 191);
	EXPECT_EQ(ring_rw_fixed(&r, IORING_OP_WRITE_FIXED, mem, map, len), len);
	EXPECT_EQ(pread(mem, buf, len, 0), len);
	EXPECT_EQ(check_pattern(buf, len, off, 191), -1);
	EXPECT_EQ(syscall(__NR_io_uring_register, r.fd, IORING_UNREGISTER_BUFFERS, NULL, 0),
		  0);
out_ring:
	ring_exit(&r);
out:
	close(mem);
	EXPECT_EQ(munmap(map, len), 0);
	free(buf);
}

const struct test_case uring_cases[] = {
	CASE_VARIANTS(uring_fixed),
	{ }
};
