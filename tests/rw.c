// SPDX-License-Identifier: GPL-2.0
/*
 * read(), write() and lseek() over the whole device and each region.
 */
#include "util.h"

TEST(zeroed_at_load)
{
	__u8 *buf;
	__u64 i;

	if (!fresh_load) {
		skip_load("needs --fresh (a just-loaded module)");
		return;
	}
	buf = xmalloc(info.total_size);
	EXPECT_EQ(pread(fd, buf, info.total_size, 0), info.total_size);
	for (i = 0; i < info.total_size; i++)
		if (buf[i]) {
			printf("# byte %llu is %u: written since the load?\n",
			       (unsigned long long)i, buf[i]);
			printf("# --fresh wants a just-loaded module (rmmod, insmod)\n");
			EXPECT_TRUE(!"non-zero byte after load");
			break;
		}
	free(buf);
}

/* One write() of the whole device, one read() back: crosses every region. */
TEST(whole_device_rw)
{
	__u8 *buf = xmalloc(info.total_size);

	fill_pattern(buf, info.total_size, 0, 1);
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(write(fd, buf, info.total_size), info.total_size);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), info.total_size);
	memset(buf, 0, info.total_size);
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(read(fd, buf, info.total_size), info.total_size);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), info.total_size);
	EXPECT_EQ(check_pattern(buf, info.total_size, 0, 1), -1);
	free(buf);
}

/* Each region alone, and a 200-byte window across each boundary. */
TEST(region_rw)
{
	__u8 win[200];
	int r;

	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		size_t len = region_size(r);
		__u8 *buf = xmalloc(len);

		fill_pattern(buf, len, region_off(r), 10 + r);
		EXPECT_EQ(pwrite(fd, buf, len, region_off(r)), len);
		memset(buf, 0, len);
		EXPECT_EQ(pread(fd, buf, len, region_off(r)), len);
		EXPECT_EQ(check_pattern(buf, len, region_off(r), 10 + r), -1);
		free(buf);
	}
	for (r = 1; r < MEMDRIVER_NR_REGIONS; r++) {
		off_t at = region_off(r) - 100;

		fill_pattern(win, sizeof(win), at, 20 + r);
		EXPECT_EQ(pwrite(fd, win, sizeof(win), at), sizeof(win));
		memset(win, 0, sizeof(win));
		EXPECT_EQ(pread(fd, win, sizeof(win), at), sizeof(win));
		EXPECT_EQ(check_pattern(win, sizeof(win), at, 20 + r), -1);
	}
}

/* The tutorial moved f_pos backwards inside read/write; ours must not. */
TEST(file_position)
{
	__u64 vm = region_off(MEMDRIVER_REGION_VMALLOC) + 10;
	__u8 buf[1000];

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(write(fd, buf, 1000), 1000);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 1000);
	EXPECT_EQ(read(fd, buf, 500), 500);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 1500);
	EXPECT_EQ(lseek(fd, vm, SEEK_SET), vm);
	EXPECT_EQ(read(fd, buf, 300), 300);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), vm + 300);
	EXPECT_EQ(write(fd, buf, 300), 300);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), vm + 600);
	EXPECT_EQ(pread(fd, buf, 10, 0), 10);
	EXPECT_EQ(pwrite(fd, buf, 10, 0), 10);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), vm + 600);
}

/* What `cat` does: read until 0, which must come exactly at the end. */
TEST(cat_terminates)
{
	__u8 *buf = xmalloc(65536);
	__u64 total = 0;
	ssize_t n;
	int reads = 0;

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	while ((n = read(fd, buf, 65536)) > 0 && reads++ < 1000000)
		total += n;
	EXPECT_EQ(n, 0);
	EXPECT_EQ(total, info.total_size);
	EXPECT_EQ(read(fd, buf, 65536), 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), info.total_size);
	free(buf);
}

TEST(end_of_device)
{
	off_t end = info.total_size;
	__u8 buf[16];

	memset(buf, 0x5a, sizeof(buf));
	EXPECT_EQ(lseek(fd, 0, SEEK_END), end);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
	EXPECT_ERRNO(write(fd, buf, sizeof(buf)), ENOSPC);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), end);
	EXPECT_EQ(write(fd, buf, 0), 0);
	EXPECT_EQ(pread(fd, buf, sizeof(buf), end), 0);
	EXPECT_EQ(pread(fd, buf, sizeof(buf), end + 4096), 0);
	EXPECT_ERRNO(pwrite(fd, buf, sizeof(buf), end), ENOSPC);
	EXPECT_ERRNO(pwrite(fd, buf, sizeof(buf), end + 4096), ENOSPC);
	/* A write that straddles the end is cut short at it. */
	EXPECT_EQ(lseek(fd, end - 4, SEEK_SET), end - 4);
	EXPECT_EQ(write(fd, buf, sizeof(buf)), 4);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), end);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(pread(fd, buf, sizeof(buf), end - 4), 4);
	EXPECT_EQ(buf[0], 0x5a);
	EXPECT_EQ(buf[3], 0x5a);
	EXPECT_EQ(buf[4], 0);
	EXPECT_ERRNO(pread(fd, buf, sizeof(buf), -1), EINVAL);
	EXPECT_ERRNO(pwrite(fd, buf, sizeof(buf), -1), EINVAL);
}

/* Unmapped buffers: EFAULT, the position unmoved, the device unchanged. */
TEST(bad_user_pointers)
{
	void *bad = unmapped_address();
	__u8 back[16];

	write_pattern(fd, 100, sizeof(back), 7);
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_ERRNO(read(fd, bad, 16), EFAULT);
	EXPECT_ERRNO(write(fd, bad, 16), EFAULT);
	EXPECT_ERRNO(pread(fd, bad, 16, 100), EFAULT);
	EXPECT_ERRNO(pwrite(fd, bad, 16, 100), EFAULT);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
	/* A write that fails leaves the device as it was. */
	EXPECT_EQ(pread(fd, back, sizeof(back), 100), sizeof(back));
	EXPECT_EQ(check_pattern(back, sizeof(back), 100, 7), -1);
}

/*
 * A buffer whose second page is inaccessible: a short count, and the
 * position (0 on this fresh fd) moves by exactly that count.
 * copy_to/from_user() may stop a little before the faulting byte (arm64
 * does), so the count is at most one page, not exactly one.
 */
TEST(bad_user_pointers_partial)
{
	__u8 *two;

	two = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(two != MAP_FAILED);
	EXPECT_EQ(mprotect(two + page_size, page_size, PROT_NONE), 0);
	if (info.total_size >= 2 * (__u64)page_size) {
		__u8 *check = xmalloc(page_size);
		ssize_t n;

		EXPECT_EQ(pwrite(fd, two, page_size, 0), page_size);
		n = read(fd, two, 2 * page_size);
		EXPECT_TRUE(n > 0 && n <= page_size);
		EXPECT_EQ(lseek(fd, 0, SEEK_CUR), n);
		fill_pattern(two, page_size, 0, 99);
		EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
		n = write(fd, two, 2 * page_size);
		EXPECT_TRUE(n > 0 && n <= page_size);
		EXPECT_EQ(lseek(fd, 0, SEEK_CUR), n);
		/* The bytes counted are the bytes that landed. */
		if (n > 0) {
			EXPECT_EQ(pread(fd, check, n, 0), n);
			EXPECT_EQ(check_pattern(check, n, 0, 99), -1);
		}
		free(check);
	}
	EXPECT_EQ(munmap(two, 2 * page_size), 0);
}

TEST(lseek)
{
	off_t end = info.total_size;

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(lseek(fd, end, SEEK_SET), end);
	EXPECT_EQ(lseek(fd, 100, SEEK_SET), 100);
	EXPECT_ERRNO(lseek(fd, end + 1, SEEK_SET), EINVAL);
	EXPECT_ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 100);
	EXPECT_EQ(lseek(fd, 50, SEEK_CUR), 150);
	EXPECT_EQ(lseek(fd, -150, SEEK_CUR), 0);
	EXPECT_ERRNO(lseek(fd, -1, SEEK_CUR), EINVAL);
	EXPECT_ERRNO(lseek(fd, end + 1, SEEK_CUR), EINVAL);
	EXPECT_EQ(lseek(fd, 0, SEEK_END), end);
	EXPECT_EQ(lseek(fd, -end, SEEK_END), 0);
	EXPECT_ERRNO(lseek(fd, 1, SEEK_END), EINVAL);
	EXPECT_ERRNO(lseek(fd, -end - 1, SEEK_END), EINVAL);
	EXPECT_ERRNO(lseek(fd, 0, 77), EINVAL);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
}

const struct test_case rw_cases[] = {
	CASE(zeroed_at_load),
	CASE(whole_device_rw),
	CASE(region_rw),
	CASE(file_position),
	CASE(cat_terminates),
	CASE(end_of_device),
	CASE(bad_user_pointers),
	CASE(bad_user_pointers_partial),
	CASE(lseek),
	{ }
};
