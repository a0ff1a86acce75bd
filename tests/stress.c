// SPDX-License-Identifier: GPL-2.0
/*
 * The stress and hold modes: processes x threads, and an fd holding many
 * objects.
 */
#include "util.h"

/* ---- memdriver_test hold: release() of an fd with many objects ---- */

/*
 * Fill one fd with @n objects and close it: release() frees them all, and
 * must yield the CPU while it does (the guest watches for soft lockups).
 */
int run_hold(unsigned long n)
{
	int fd = open_dev(), other = open_dev(), id = 0;
	struct memdriver_info before = info_now(other);
	struct timespec t0, t1;
	unsigned long i;
	struct ktap k;

	ktap_plan(&k, 1);
	case_begin();
	for (i = 0; i < n; i++) {
		id = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
		if (id <= 0)
			break;
	}
	EXPECT_EQ(i, n);
	if (id <= 0)
		printf("# alloc %lu: %s\n", i + 1, strerror(errno));
	EXPECT_EQ(info_now(fd).objects_fd, i);
	EXPECT_EQ(info_now(other).objects_device, before.objects_device + i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(close(fd), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_EQ(info_now(other).objects_total, before.objects_total);
	close(other);
	printf("# hold: closing an fd with %lu objects took %.0f ms\n", i,
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	ktap_case_result(&k, "hold %lu objects, then close", n);
	return ktap_end(&k);
}

/* ---- memdriver_test stress: processes x threads on shared and own fds ---- */

#define STRESS_MAX_WORKERS	64
#define STRESS_MAX_LIVE		32	/* objects one worker holds at most */

struct stress_shared {
	pthread_barrier_t held;		/* every worker holds its objects */
	pthread_barrier_t counted;	/* the parent has counted them */
	int stop_watch;
	unsigned long watch_reads, watch_bad;
	long long watch_worst;		/* the first impossible count seen */
	int live[STRESS_MAX_WORKERS];
	int errors[STRESS_MAX_WORKERS];
};

struct stress_worker {
	struct stress_shared *sh;
	int index, fd, rounds;
	bool own_fd;
	size_t slice;
	__u64 off;
	int ids[STRESS_MAX_LIVE];
	int nr_ids;
};

/* One object's payload names its worker and id, so mixups show. */
static void stress_payload(__u8 *data, int worker, int id)
{
	memset(data, 0, MEMDRIVER_PAYLOAD_SIZE);
	snprintf((char *)data, MEMDRIVER_PAYLOAD_SIZE, "worker %d id %d", worker, id);
}

/* op 0 allocates, 1 frees, 2 reads back; pick chooses among the held ids. */
static bool stress_object(struct stress_worker *w, unsigned int op, unsigned int pick)
{
	struct memdriver_object_io io = {};
	__u8 want[MEMDRIVER_PAYLOAD_SIZE];
	int k;

	if (op == 0 && w->nr_ids < STRESS_MAX_LIVE) {
		io.id = ioctl(w->fd, MEM_IOCTL_ALLOC_OBJECT);
		if (io.id <= 0)
			return false;
		w->ids[w->nr_ids++] = io.id;
		stress_payload(io.data, w->index, io.id);
		return ioctl(w->fd, MEM_IOCTL_WRITE_OBJECT, &io) == 0;
	}
	if (!w->nr_ids)
		return true;
	k = pick % w->nr_ids;
	if (op == 1) {
		if (free_object(w->fd, w->ids[k]))
			return false;
		w->ids[k] = w->ids[--w->nr_ids];
		return true;
	}
	stress_payload(want, w->index, w->ids[k]);
	return object_read(w->fd, w->ids[k], io.data) == 0 &&
	       !memcmp(io.data, want, sizeof(want));
}

/* The worker's own slice of the vmalloc region, by write() or by mmap(). */
static bool stress_bytes(struct stress_worker *w, unsigned int seed, bool mapped)
{
	__u8 *buf = xmalloc(w->slice);
	bool ok = true;

	fill_pattern(buf, w->slice, w->off, seed);
	if (mapped) {
		void *p = map_region_window(w->fd, w->off, w->slice);

		ok = p != MAP_FAILED;
		if (ok) {
			memcpy(p, buf, w->slice);
			ok = munmap(p, w->slice) == 0;
		}
	} else {
		ok = pwrite(w->fd, buf, w->slice, w->off) == (ssize_t)w->slice;
	}
	ok = ok && pread(w->fd, buf, w->slice, w->off) == (ssize_t)w->slice &&
	     check_pattern(buf, w->slice, w->off, seed) == -1;
	free(buf);
	return ok;
}

static void *stress_run(void *arg)
{
	struct stress_worker *w = arg;
	unsigned int rng = w->index * 2654435761U + 1;
	int round, errors = 0;

	if (w->own_fd)
		w->fd = open_dev();
	for (round = 0; round < w->rounds; round++) {
		unsigned int dice = rand_r(&rng) % 8;
		bool ok;

		if (dice < 5)
			ok = stress_object(w, dice % 3, rand_r(&rng));
		else
			ok = stress_bytes(w, rng, dice == 7);
		errors += !ok;
	}
	w->sh->live[w->index] = w->nr_ids;
	pthread_barrier_wait(&w->sh->held);
	pthread_barrier_wait(&w->sh->counted);
	while (w->nr_ids)
		errors += free_object(w->fd, w->ids[--w->nr_ids]) != 0;
	if (w->own_fd)
		close(w->fd);
	w->sh->errors[w->index] = errors;
	return NULL;
}

static void stress_process(struct stress_shared *sh, int proc, int threads,
			   int rounds, int shared_fd, size_t slice)
{
	struct stress_worker w[STRESS_MAX_WORKERS];
	pthread_t t[STRESS_MAX_WORKERS];
	int i;

	memset(w, 0, sizeof(w));
	for (i = 0; i < threads; i++) {
		w[i].sh = sh;
		w[i].index = proc * threads + i;
		w[i].own_fd = i % 2;
		w[i].fd = shared_fd;
		w[i].rounds = rounds;
		w[i].slice = slice;
		w[i].off = region_off(MEMDRIVER_REGION_VMALLOC) + w[i].index * slice;
		if (pthread_create(&t[i], NULL, stress_run, &w[i]))
			_exit(3);
	}
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
}

/* A count the device reports must lie in 0..max_objects at every moment. */
static void stress_watch_value(struct stress_shared *sh, long long v, long long max)
{
	if (v >= 0 && v <= max)
		return;
	if (!sh->watch_bad++)
		sh->watch_worst = v;
}

/* Reads every object count while the workers run, until told to stop. */
static void stress_watch(struct stress_shared *sh, int fd)
{
	struct memdriver_info now;
	char dir[256];

	class_dir(dir, sizeof(dir));
	while (!__atomic_load_n(&sh->stop_watch, __ATOMIC_ACQUIRE)) {
		memset(&now, 0, sizeof(now));
		if (get_info(fd, &now)) {
			stress_watch_value(sh, -errno, 0);
			continue;
		}
		stress_watch_value(sh, now.objects_device, now.max_objects);
		stress_watch_value(sh, now.objects_total, now.max_objects);
		stress_watch_value(sh, read_sysfs_number(dir, "objects"), now.max_objects);
		sh->watch_reads++;
	}
}

int run_stress(int procs, int threads, int rounds)
{
	int workers = procs * threads, i, status, fd = open_dev();
	size_t slice = region_size(MEMDRIVER_REGION_VMALLOC) / (workers ? workers : 1);
	struct memdriver_info before = info_now(fd), held;
	int live = 0, live_shared = 0, errors = 0;
	pthread_barrierattr_t attr;
	struct stress_shared *sh;
	char dir[256];
	pid_t pid, watcher;
	struct ktap k;

	slice -= slice % page_size;
	ktap_plan(&k, 1);
	printf("# stress: %d processes x %d threads, %d rounds each; even threads share one fd\n",
	       procs, threads, rounds);
	if (workers < 1 || workers > STRESS_MAX_WORKERS || !slice ||
	    before.max_objects_per_fd < (unsigned int)workers * STRESS_MAX_LIVE ||
	    before.max_objects - before.objects_total < (unsigned int)workers * STRESS_MAX_LIVE) {
		ktap_result(&k, KTAP_SKIP,
			    SKIP_LOAD_PREFIX "vmalloc region or object caps too small", "stress");
		return 0;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	memset(sh, 0, sizeof(*sh));
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->held, &attr, workers + 1);
	pthread_barrier_init(&sh->counted, &attr, workers + 1);
	/* A worker that dies would leave the barriers waiting forever. */
	alarm(1200);
	case_begin();
	watcher = fork();
	if (watcher == 0) {
		stress_watch(sh, fd);
		_exit(0);
	}
	EXPECT_GT(watcher, 0);
	for (i = 0; i < procs; i++) {
		pid = fork();
		if (pid == 0) {
			stress_process(sh, i, threads, rounds, fd, slice);
			_exit(0);
		}
		EXPECT_GT(pid, 0);
	}

	pthread_barrier_wait(&sh->held);
	held = info_now(fd);
	for (i = 0; i < workers; i++) {
		live += sh->live[i];
		if (i % threads % 2 == 0)
			live_shared += sh->live[i];
	}
	class_dir(dir, sizeof(dir));
	EXPECT_EQ(held.objects_fd, live_shared);
	EXPECT_EQ(held.objects_device, before.objects_device + live);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device + live);
	pthread_barrier_wait(&sh->counted);

	for (i = 0; i < procs; i++) {
		pid = wait(&status);
		EXPECT_TRUE(pid > 0 && pid != watcher);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	__atomic_store_n(&sh->stop_watch, 1, __ATOMIC_RELEASE);
	EXPECT_EQ(waitpid(watcher, &status, 0), watcher);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Never negative (4294967295) or above the cap, at any moment. */
	EXPECT_EQ(sh->watch_bad, 0);
	EXPECT_GT(sh->watch_reads, 0);
	printf("# stress: %lu readings of each count while workers ran, %lu impossible",
	       sh->watch_reads, sh->watch_bad);
	printf(" (first %lld)\n", sh->watch_worst);
	for (i = 0; i < workers; i++)
		errors += sh->errors[i];
	EXPECT_EQ(errors, 0);
	EXPECT_EQ(info_now(fd).objects_total, before.objects_total);
	EXPECT_EQ(read_sysfs_number(dir, "objects"), before.objects_device);
	alarm(0);
	close(fd);
	printf("# stress: %d objects held at the count (%d on the shared fd), all accounted for\n",
	       live, live_shared);
	ktap_case_result(&k, "stress");
	return ktap_end(&k);
}
