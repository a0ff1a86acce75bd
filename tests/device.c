// SPDX-License-Identifier: GPL-2.0
/*
 * The device node and devices independent of each other.
 */
#include "util.h"

/*
 * The group memdriver's id in /etc/group, or -1. Not getgrnam(): the
 * static memdriver_test the guests run would need glibc's NSS libraries.
 */
static long long memdriver_gid(void)
{
	long long gid = -1;
	char line[1024], *p;
	FILE *f = fopen("/etc/group", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "memdriver:", 10))
			continue;
		p = strchr(line + 10, ':');
		if (p)
			gid = strtoll(p + 1, NULL, 10);
		break;
	}
	fclose(f);
	return gid;
}

/*
 * The node has the mode the kernel gave it (dev_mode), unless udev's rule
 * (contrib/60-memdriver.rules) gave it to the group memdriver: then 0660.
 */
TEST(device_node)
{
	long long mode = module_param("dev_mode");
	char dir[256];
	struct stat st;

	class_dir(dir, sizeof(dir));
	EXPECT_EQ(stat(dev_path, &st), 0);
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	if (st.st_gid == memdriver_gid())
		mode = 0660;
	EXPECT_EQ(st.st_mode & 07777, mode);
	EXPECT_EQ(fstat(fd, &st), 0);
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(read_sysfs_number(dir, "objects"), info_now(fd).objects_device);
}

/* With nr_devices >= 2, every device has its own memory and objects. */
TEST(devices_independent)
{
	const char *second = "/dev/memdriver1";
	__u8 a[64], b[64];
	int fd1, id;

	if (strcmp(dev_path, "/dev/memdriver0") || access(second, F_OK)) {
		skip_load("one device");
		return;
	}
	fd1 = open(second, O_RDWR);
	ASSERT_GE(fd1, 0);
	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	EXPECT_EQ(pwrite(fd, a, sizeof(a), 0), sizeof(a));
	EXPECT_EQ(pwrite(fd1, b, sizeof(b), 0), sizeof(b));
	EXPECT_EQ(pread(fd, b, sizeof(b), 0), sizeof(b));
	EXPECT_EQ(b[0], 0xa1);
	EXPECT_EQ(b[63], 0xa1);
	id = ioctl(fd1, MEM_IOCTL_ALLOC_OBJECT);
	EXPECT_GT(id, 0);
	EXPECT_EQ(info_now(fd1).objects_device, 1);
	EXPECT_EQ(info_now(fd).objects_device, 0);
	EXPECT_EQ(free_object(fd1, id), 0);
	close(fd1);
}

const struct test_case device_cases[] = {
	CASE(device_node),
	CASE(devices_independent),
	{ }
};
