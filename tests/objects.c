// SPDX-License-Identifier: GPL-2.0
/*
 * The object pool: allocate, free, payloads, errors and the caps.
 */
#include "util.h"

TEST(objects_alloc_free)
{
	struct memdriver_info before = info_now(fd), now;
	char dir[256], want[MEMDRIVER_PAYLOAD_SIZE];
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];
	int ids[5], i, j;

	class_dir(dir, sizeof(dir));
	for (i = 0; i < 5; i++) {
		ids[i] = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
		EXPECT_GT(ids[i], 0);
		for (j = 0; j < i; j++)
			EXPECT_NE(ids[i], ids[j]);
		memset(want, 0, sizeof(want));
		snprintf(want, sizeof(want), "Object ID: %d", ids[i]);
		EXPECT_EQ(object_read(fd, ids[i], data), 0);
		EXPECT_MEMEQ(data, want, sizeof(want));
	}
	now = info_now(fd);
	EXPECT_EQ(now.objects_fd, before.objects_fd + 5);
	EXPECT_EQ(now.objects_device, before.objects_device + 5);
	EXPECT_EQ(now.objects_total, before.objects_total + 5);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), now.objects_device);
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(free_object(fd, ids[i]), 0);
		EXPECT_ERRNO(free_object(fd, ids[i]), ENOENT);
	}
	now = info_now(fd);
	EXPECT_EQ(now.objects_fd, before.objects_fd);
	EXPECT_EQ(now.objects_device, before.objects_device);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device);
}

TEST(object_payload)
{
	struct memdriver_object_io io;
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];
	int id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);

	EXPECT_GT(id, 0);
	memset(&io, 0, sizeof(io));
	io.id = id;
	fill_pattern(io.data, sizeof(io.data), 0, 42);
	EXPECT_EQ(ioctl(fd, MEM_IOCTL_WRITE_OBJECT, &io), 0);
	EXPECT_EQ(object_read(fd, id, data), 0);
	EXPECT_EQ(check_pattern(data, sizeof(data), 0, 42), -1);

	io.flags = 1;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_WRITE_OBJECT, &io), EINVAL);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, &io), EINVAL);
	io.flags = 0;
	io.id = 0;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, &io), ENOENT);
	io.id = -5;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_WRITE_OBJECT, &io), ENOENT);
	io.id = id + 1000000;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, &io), ENOENT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, NULL), EFAULT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_WRITE_OBJECT, unmapped_address()), EFAULT);
	/* A failed write leaves the payload alone. */
	EXPECT_EQ(object_read(fd, id, data), 0);
	EXPECT_EQ(check_pattern(data, sizeof(data), 0, 42), -1);
	EXPECT_EQ(free_object(fd, id), 0);
	io.id = id;
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_READ_OBJECT, &io), ENOENT);
}

TEST(object_errors)
{
	int other = open_dev();
	int id = ioctl(other, MEM_IOCTL_ALLOC_OBJECT);
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];

	EXPECT_GT(id, 0);
	/* Ids belong to the fd that allocated them. */
	EXPECT_ERRNO(free_object(fd, id), ENOENT);
	EXPECT_ERRNO(object_read(fd, id, data), ENOENT);
	EXPECT_ERRNO(free_object(fd, 0), ENOENT);
	EXPECT_ERRNO(free_object(fd, -1), ENOENT);
	EXPECT_ERRNO(free_object(fd, 0x7fffffff), ENOENT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_FREE_OBJECT, NULL), EFAULT);
	EXPECT_ERRNO(ioctl(fd, MEM_IOCTL_FREE_OBJECT, unmapped_address()), EFAULT);
	EXPECT_EQ(free_object(other, id), 0);
	close(other);
}

TEST(unknown_ioctl)
{
	int arg = 0;

	EXPECT_ERRNO(ioctl(fd, _IO(MEM_IOCTL_MAGIC, 99)), ENOTTY);
	EXPECT_ERRNO(ioctl(fd, _IO('X', 1)), ENOTTY);
	EXPECT_ERRNO(ioctl(fd, _IOR(MEM_IOCTL_MAGIC, 3, int), &arg), ENOTTY);
	EXPECT_ERRNO(ioctl(fd, _IOW(MEM_IOCTL_MAGIC, 1, int), &arg), ENOTTY);
}

TEST(release_frees_objects)
{
	struct memdriver_info before = info_now(fd);
	unsigned int room = before.max_objects - before.objects_total;
	unsigned int k = 10, i;
	int other = open_dev();
	char dir[256];

	/* Stay under both caps. */
	if (k > before.max_objects_per_fd)
		k = before.max_objects_per_fd;
	if (k > room)
		k = room;
	class_dir(dir, sizeof(dir));
	for (i = 0; i < k; i++)
		EXPECT_GT(ioctl(other, MEM_IOCTL_ALLOC_OBJECT), 0);
	EXPECT_GT(k, 0);
	EXPECT_EQ(info_now(fd).objects_device, before.objects_device + k);
	EXPECT_EQ(info_now(other).objects_fd, k);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device + k);
	close(other);
	EXPECT_EQ(info_now(fd).objects_device, before.objects_device);
	EXPECT_EQ(info_now(fd).objects_total, before.objects_total);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device);
}

#define CAP_TEST_LIMIT 262144U

/* Whether the caps are small enough to fill from 64 fds; else the case skips. */
static bool caps_fillable(const struct memdriver_info *now)
{
	unsigned int room = now->max_objects - now->objects_total;

	if (now->max_objects > CAP_TEST_LIMIT || now->max_objects_per_fd > CAP_TEST_LIMIT ||
	    room / now->max_objects_per_fd + 1 >= 64) {
		skip_load("caps too large to fill here");
		return false;
	}
	return true;
}

/* Per-fd cap: exactly max_objects_per_fd, unless the global cap bites. */
TEST(object_caps_per_fd)
{
	struct memdriver_info now = info_now(fd);
	unsigned int per_fd = now.max_objects_per_fd, room, got = 0, i;
	int f, id = 0;

	if (!caps_fillable(&now))
		return;
	room = now.max_objects - now.objects_total;
	f = open_dev();
	for (i = 0; i < per_fd && got < room; i++, got++) {
		id = ioctl(f, MEM_IOCTL_ALLOC_OBJECT);
		if (id <= 0)
			break;
	}
	EXPECT_GT(id, 0);
	EXPECT_EQ(got, per_fd < room ? per_fd : room);
	if (per_fd < room) {
		EXPECT_ERRNO(ioctl(f, MEM_IOCTL_ALLOC_OBJECT), EDQUOT);
		EXPECT_EQ(free_object(f, id), 0);
		EXPECT_GT(ioctl(f, MEM_IOCTL_ALLOC_OBJECT), 0);
	}
	EXPECT_EQ(info_now(f).objects_fd, got);
	close(f);
	EXPECT_EQ(info_now(fd).objects_total, now.objects_total);
}

/* Module-wide cap: filled from more fds, each up to its own cap, then one more fails. */
TEST(object_caps_module_wide)
{
	struct memdriver_info now = info_now(fd);
	unsigned int per_fd = now.max_objects_per_fd, room, got = 0;
	int fds[64], nfds = 0;

	if (!caps_fillable(&now))
		return;
	room = now.max_objects - now.objects_total;
	while (got < room && nfds < 64) {
		fds[nfds] = open_dev();
		got += alloc_objects(fds[nfds++], room - got < per_fd ? room - got : per_fd);
	}
	EXPECT_EQ(got, room);
	EXPECT_EQ(info_now(fd).objects_total, now.max_objects);
	if (got == room) {
		int f = open_dev();

		EXPECT_ERRNO(ioctl(f, MEM_IOCTL_ALLOC_OBJECT), ENOSPC);
		close(f);
	}
	while (nfds)
		close(fds[--nfds]);
	EXPECT_EQ(info_now(fd).objects_total, now.objects_total);
}

struct quota_hammer {
	int fd;
	int rounds;
	int edquot, other;
};

static void *quota_hammer_run(void *arg)
{
	struct quota_hammer *h = arg;
	int i;

	for (i = 0; i < h->rounds; i++) {
		if (ioctl(h->fd, MEM_IOCTL_ALLOC_OBJECT) == -1 && errno == EDQUOT)
			h->edquot++;
		else
			h->other++;
	}
	return NULL;
}

/*
 * One module-wide slot left, and two fds: a full one whose allocs must all
 * get EDQUOT (its own cap, which it hits first), and one with room whose
 * alloc+free pairs, at the same time, must all succeed: a doomed alloc on
 * the full fd never holds the last slot, even for a moment.
 */
TEST(object_quota_race)
{
	struct memdriver_info now = info_now(fd);
	unsigned int per_fd = now.max_objects_per_fd, room, rest, i;
	struct quota_hammer h = { .rounds = 5000 };
	int other, fails = 0;
	pthread_t tid;

	room = now.max_objects - now.objects_total;
	if (now.max_objects > CAP_TEST_LIMIT || room < per_fd + 2) {
		skip_load("caps too large to fill here, or no room beyond one fd's");
		return;
	}
	rest = room - per_fd - 1;
	h.fd = fd;
	other = open_dev();
	ASSERT_EQ(alloc_objects(fd, per_fd), per_fd);
	/* The other fd takes all but the last slot, over its own cap too. */
	ASSERT_LE(rest, per_fd);
	ASSERT_EQ(alloc_objects(other, rest), rest);
	EXPECT_EQ(info_now(fd).objects_total, now.max_objects - 1);
	ASSERT_EQ(pthread_create(&tid, NULL, quota_hammer_run, &h), 0);
	for (i = 0; i < (unsigned int)h.rounds; i++) {
		int id = ioctl(other, MEM_IOCTL_ALLOC_OBJECT);

		if (id <= 0 || free_object(other, id))
			fails++;
	}
	pthread_join(tid, NULL);
	EXPECT_EQ(h.edquot, h.rounds);
	EXPECT_EQ(h.other, 0);
	EXPECT_EQ(fails, 0);
	close(other);
}

const struct test_case objects_cases[] = {
	CASE(objects_alloc_free),
	CASE(object_payload),
	CASE(object_errors),
	CASE(unknown_ioctl),
	CASE(release_frees_objects),
	CASE(object_caps_per_fd),
	CASE(object_caps_module_wide),
	CASE(object_quota_race),
	{ }
};
