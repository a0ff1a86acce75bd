// SPDX-License-Identifier: GPL-2.0
/*
 * Threads and a child process on own and shared fds at once.
 */
#include "util.h"

/* ---- Concurrency ---- */

#define THREADS 4
#define THREAD_ROUNDS 100
/* Own-fd threads, shared-fd threads and a child: each its own data slice. */
#define WORKERS (2 * THREADS + 1)

struct worker {
	int fd;			/* own fd, or the shared one */
	int index;
	bool own_fd;
	int ids[THREAD_ROUNDS];
	int nr_ids;
	int errors;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	size_t slice = region_size(MEMDRIVER_REGION_VMALLOC) / WORKERS;
	__u64 off = region_off(MEMDRIVER_REGION_VMALLOC) + w->index * slice;
	size_t len = slice < 4096 ? slice : 4096;
	__u8 buf[4096], data[MEMDRIVER_PAYLOAD_SIZE];
	char want[MEMDRIVER_PAYLOAD_SIZE];
	int round;

	for (round = 0; round < THREAD_ROUNDS; round++) {
		int id = ioctl(w->fd, MEM_IOCTL_ALLOC_OBJECT);

		if (id <= 0) {
			w->errors++;
			continue;
		}
		memset(want, 0, sizeof(want));
		snprintf(want, sizeof(want), "Object ID: %d", id);
		if (object_read(w->fd, id, data) || memcmp(data, want, sizeof(want)))
			w->errors++;
		if (w->own_fd) {
			if (free_object(w->fd, id))
				w->errors++;
		} else {
			w->ids[w->nr_ids++] = id;	/* freed by the main thread */
		}
		fill_pattern(buf, len, off, round + w->index);
		if (pwrite(w->fd, buf, len, off) != (ssize_t)len ||
		    pread(w->fd, buf, len, off) != (ssize_t)len ||
		    check_pattern(buf, len, off, round + w->index) != -1)
			w->errors++;
	}
	return NULL;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * THREADS threads on fds of their own and THREADS on @shared, while a
 * child process works on an fd of its own: none may see an error. The ids
 * the shared-fd threads left allocated go to @all; returns their number.
 */
static int run_workers(int shared, int *all)
{
	struct worker w[2 * THREADS];
	pthread_t t[2 * THREADS];
	int n = 0, i, j, status;
	pid_t child = fork();

	if (child == 0) {
		struct worker cw = {
			.fd = open_dev(), .index = 2 * THREADS, .own_fd = true,
		};

		worker_run(&cw);
		_exit(cw.errors ? 1 : 0);
	}
	memset(w, 0, sizeof(w));
	for (i = 0; i < 2 * THREADS; i++) {
		w[i].own_fd = i < THREADS;
		w[i].fd = w[i].own_fd ? open_dev() : shared;
		w[i].index = i;
		EXPECT_EQ(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < 2 * THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(w[i].errors, 0);
		if (w[i].own_fd)
			close(w[i].fd);
		for (j = 0; j < w[i].nr_ids; j++)
			all[n++] = w[i].ids[j];
	}
	EXPECT_EQ(waitpid(child, &status, 0), child);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return n;
}

TEST(concurrency)
{
	struct memdriver_info before = info_now(fd);
	unsigned int needed = THREADS * THREAD_ROUNDS + THREADS + 1;
	int shared, all[THREADS * THREAD_ROUNDS], n, i;

	if (region_size(MEMDRIVER_REGION_VMALLOC) < WORKERS * (__u64)page_size ||
	    before.max_objects_per_fd < THREADS * THREAD_ROUNDS ||
	    before.max_objects - before.objects_total < needed) {
		skip_load("vmalloc region or object caps too small");
		return;
	}
	shared = open_dev();
	n = run_workers(shared, all);
	/* Shared-fd ids: all distinct and all accounted for. */
	EXPECT_EQ(n, THREADS * THREAD_ROUNDS);
	qsort(all, n, sizeof(all[0]), cmp_int);
	for (i = 1; i < n; i++)
		if (all[i] == all[i - 1]) {
			EXPECT_NE(all[i], all[i - 1]);
			break;
		}
	EXPECT_EQ(info_now(shared).objects_fd, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ(free_object(shared, all[i]), 0);
	EXPECT_EQ(info_now(shared).objects_fd, 0);
	close(shared);
	EXPECT_EQ(info_now(fd).objects_device, before.objects_device);
}

/*
 * Threads reading one shared fd: each read() takes its own 4-byte word and
 * moves f_pos by exactly 4 (FMODE_ATOMIC_POS), so every word is read once
 * and the position ends after the last.
 */
#define POS_WORDS 16384

struct pos_reader {
	pthread_t tid;
	int fd;
	__u32 got[POS_WORDS / THREADS];
	int bad;
};

static void *pos_reader_run(void *arg)
{
	struct pos_reader *r = arg;
	int i;

	for (i = 0; i < POS_WORDS / THREADS; i++)
		if (read(r->fd, &r->got[i], 4) != 4)
			r->bad++;
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

TEST(shared_fd_position)
{
	__u64 vm = region_off(MEMDRIVER_REGION_VMALLOC);
	static struct pos_reader r[THREADS];
	__u32 *words = xmalloc(POS_WORDS * 4);
	int i, t, dup = 0;

	if (region_size(MEMDRIVER_REGION_VMALLOC) < POS_WORDS * 4) {
		skip_load("vmalloc region below 64 KiB");
		free(words);
		return;
	}
	for (i = 0; i < POS_WORDS; i++)
		words[i] = i;
	ASSERT_EQ(pwrite(fd, words, POS_WORDS * 4, vm), POS_WORDS * 4);
	ASSERT_EQ(lseek(fd, vm, SEEK_SET), vm);
	for (t = 0; t < THREADS; t++) {
		r[t].fd = fd;
		r[t].bad = 0;
		ASSERT_EQ(pthread_create(&r[t].tid, NULL, pos_reader_run, &r[t]), 0);
	}
	for (t = 0; t < THREADS; t++) {
		pthread_join(r[t].tid, NULL);
		EXPECT_EQ(r[t].bad, 0);
		memcpy(words + t * (POS_WORDS / THREADS), r[t].got, sizeof(r[t].got));
	}
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), vm + POS_WORDS * 4);
	qsort(words, POS_WORDS, 4, cmp_u32);
	for (i = 0; i < POS_WORDS; i++)
		if (words[i] != (__u32)i)
			dup++;
	EXPECT_EQ(dup, 0);
	free(words);
}

const struct test_case concurrency_cases[] = {
	CASE(concurrency),
	CASE(shared_fd_position),
	{ }
};
