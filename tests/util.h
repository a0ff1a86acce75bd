/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of memdriver_test share: the device under test, helpers
 * for its calls, regions and patterns, each file's cases and each mode.
 */
#ifndef MEMDRIVER_TESTS_UTIL_H
#define MEMDRIVER_TESTS_UTIL_H

#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../memdriver.h"
#include "harness.h"

/* Set by main() before any case or mode runs, then only read. */
extern const char *dev_path;
extern bool fresh_load;
extern long page_size;
extern struct memdriver_info info;	/* as read at start-up */

/* Prints the usage and exits 2. */
void die_usage(void);

/* ---- Helpers (util.c) ---- */

struct region_view {
	long long pages, runs, size, offset, dma_mask_bits;
	char allocator[32], cpu_mapping[64], dma_is_phys[8];
};

struct objects_view {
	long long live, allocated, freed, cap_hits, object_size, fd_objects;
};

int open_dev(void);
int open_dev_mode(int flags);
int get_info(int fd, struct memdriver_info *out);
void fill_pattern(__u8 *buf, size_t len, __u64 pos, unsigned int seed);
long long check_pattern(const __u8 *buf, size_t len, __u64 pos,
			unsigned int seed);
void write_pattern(int fd, __u64 off, size_t len, unsigned int seed);
void *xmalloc(size_t len);
void *unmapped_address(void);
void read_text(const char *path, char *buf, size_t len);
bool write_text(const char *path, const char *what);
long long read_sysfs_number(const char *dir, const char *name);
void class_dir(char *buf, size_t len);
long long module_param(const char *name);
__u64 region_off(int r);
__u64 region_size(int r);
extern const char *const region_names[MEMDRIVER_NR_REGIONS];
int object_read(int fd, int id, __u8 *data);
int free_object(int fd, int id);
unsigned int alloc_objects(int fd, unsigned int n);
int expect_engine(void);
const char *engine_name(__u32 engine);
int window_region(__u64 off, __u64 len);
__u32 dma_engine_for(__u64 src, __u64 dst, __u64 len, bool force_cpu);
bool dma_engine_missing(void);
int dma_copy_flags(int fd, __u64 src, __u64 dst, __u64 len, __u32 flags,
		   __u32 *engine);
int dma_copy(int fd, __u64 src, __u64 dst, __u64 len, __u32 *engine);
struct memdriver_info info_now(int fd);
void *map_region_window(int fd, __u64 off, size_t len);
void debugfs_path(char *buf, size_t len, const char *file);
bool read_region_views(struct region_view *v);
bool read_objects_view(struct objects_view *v);
void disarm_faults(void);
bool need_root(void);
bool need_debugfs(void);
bool module_loaded(void);
int export_window(int dev, __u64 off, __u64 len, __u32 flags);
bool need_dmabuf(int dev);
int dmabuf_sync(int buf, __u64 flags);
int kernel_has_symbol(const char *tail);
bool kernel_at_least(int major, int minor);

/*
 * Each file's cases, each array ended by an entry without a name, in the
 * suite's order (memdriver_test.c).
 */
extern const struct test_case get_info_cases[], rw_cases[], objects_cases[],
	mmap_cases[], access_cases[], concurrency_cases[], device_cases[],
	debugfs_cases[], dma_cases[], dmabuf_cases[], import_cases[],
	uring_cases[],
	odirect_cases[], tutorial_flow_cases[], engine_cases[];

/* ---- The other modes ---- */

int show_info(void);
int tutorial_flow(int fd, bool verbose);
int run_fuzz(unsigned long long seed, unsigned long ops);
int run_faults(void);
int run_load_faults(int argc, char **argv);
int run_dmabuf_unload(void);
int run_hold(unsigned long n);
int run_stress(int procs, int threads, int rounds);
int run_bench(int argc, char **argv);

#endif /* MEMDRIVER_TESTS_UTIL_H */
