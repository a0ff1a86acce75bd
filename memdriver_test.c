// SPDX-License-Identifier: GPL-2.0
/*
 * memdriver_test - test suite and tutorial replay for /dev/memdriverN.
 *
 *   memdriver_test [-d DEVICE] [--fresh] [test] [CASE]  the suite, KTAP output
 *   memdriver_test [-d DEVICE] tutorial           the tutorial's flow, verbose
 *   memdriver_test [-d DEVICE] info               an annotated memory map
 *   memdriver_test [-d DEVICE] fuzz [--seed N] [--ops N]
 *                                   random operations checked against a model
 *   memdriver_test [-d DEVICE] bench [--quick] [--runs N] [P1..P7...]
 *                                   each path's speed against its limit
 *   memdriver_test [-d DEVICE] stress [--procs N] [--threads N] [--rounds N]
 *                                   processes x threads on shared and own fds
 *   memdriver_test [-d DEVICE] faults   fail each call's allocations in turn
 *   memdriver_test [-d DEVICE] load-faults [--stride N] [--offset N] MODULE.ko [PARAMS]
 *                                   the same for loading the module
 *   memdriver_test [-d DEVICE] hold N   close an fd holding N objects
 *   memdriver_test [-d DEVICE] dmabuf-unload
 *                                   rmmod refused while a dma-buf is exported
 *
 * Every size and offset comes from MEM_IOCTL_GET_INFO and the page size from
 * sysconf(), so the suite runs unchanged on 4 KiB and 16 KiB page kernels and
 * with any module parameters. --fresh adds the check that a just-loaded
 * device reads as zeros. The cases and modes live in tests/.
 */
#include "tests/util.h"

#ifndef MEMDRIVER_VERSION
#define MEMDRIVER_VERSION "unknown"
#endif

/*
 * The suite's subjects in order, each a file of tests/ with its cases;
 * zeroed_at_load must come before any write. No subject is named as a mode
 * is ("info", "tutorial"), so "test SUBJECT" and "MODE" never meet.
 */
static const struct {
	const char *subject;
	const struct test_case *cases;
} suite[] = {
	{ "get_info", get_info_cases }, { "rw", rw_cases }, { "objects", objects_cases },
	{ "mmap", mmap_cases }, { "access", access_cases },
	{ "concurrency", concurrency_cases }, { "device", device_cases },
	{ "debugfs", debugfs_cases }, { "dma", dma_cases }, { "engine", engine_cases },
	{ "dmabuf", dmabuf_cases }, { "import", import_cases },
	{ "uring", uring_cases },
	{ "odirect", odirect_cases },
	{ "tutorial_flow", tutorial_flow_cases },
};

/* Whether @only names a variant of @c: "case.variant". */
static bool case_of_variant(const struct test_case *c, const char *only)
{
	return c->nr_variants && strchr(only, '.') && harness_count(c, only);
}

/* Whether @c is picked by @only (NULL: everything) in subject @g. */
static bool picks(int g, const struct test_case *c, const char *only)
{
	return !only || !strcmp(only, suite[g].subject) || !strcmp(only, c->name) ||
	       case_of_variant(c, only);
}

/* How many cases @only picks: a name that picks none is a typo. */
static int count_picked(const char *only)
{
	const struct test_case *c;
	int g, n = 0;

	for (g = 0; g < (int)ARRAY_SIZE(suite); g++)
		for (c = suite[g].cases; c->name; c++)
			n += picks(g, c, only);
	return n;
}

/* -l: every subject's cases and variants, as "test" takes them. */
static int list_cases(void)
{
	const struct test_case *c;
	size_t v;
	int g;

	for (g = 0; g < (int)ARRAY_SIZE(suite); g++) {
		printf("%s:\n", suite[g].subject);
		for (c = suite[g].cases; c->name; c++) {
			printf("  %s\n", c->name);
			for (v = 0; v < c->nr_variants; v++)
				printf("  %s.%s\n", c->name, harness_variant_name(c, v));
		}
	}
	return 0;
}

/*
 * Every case, or those of one subject, or one case or one variant of it:
 * the plan counts them.
 */
static int run_suite(const char *only)
{
	const struct test_case *run[128], *c;
	struct ktap k;
	int n = 0, g, planned = 0;

	for (g = 0; g < (int)ARRAY_SIZE(suite); g++)
		for (c = suite[g].cases; c->name; c++) {
			if (!picks(g, c, only))
				continue;
			if (n == (int)ARRAY_SIZE(run)) {
				printf("# more than %d cases: raise run[]\n", n);
				return 2;
			}
			run[n++] = c;
		}
	for (g = 0; g < n; g++)
		planned += harness_count(run[g], only);
	ktap_plan(&k, planned);
	printf("# %s: page size %ld, %llu bytes in 4 regions, DMA mask %u bits\n",
	       dev_path, page_size, (unsigned long long)info.total_size,
	       info.dma_mask_bits);
	harness_run(&k, run, n, only, open_dev);
	return ktap_end(&k);
}

static const char usage[] =
	"usage: memdriver_test [-d DEVICE] [--fresh] [test [SUBJECT|CASE[.VARIANT]] | tutorial | info |\n"
	"                      fuzz [--seed N] [--ops N] |\n"
	"                      bench [--quick] [--runs N] [P1..P7...] |\n"
	"                      stress [--procs N] [--threads N] [--rounds N] |\n"
	"                      faults | hold N | dmabuf-unload |\n"
	"                      load-faults [--stride N] [--offset N] MODULE.ko [PARAMS]]\n"
	"       memdriver_test -l | --list | -h | --help | --version\n"
	"Exit status: 0 every case passed, 1 one failed, 2 a usage or set-up error\n"
	"(the device missing or not permitted).\n"
	"Environment (memdriver_test(1)): MEMDRIVER_TEST_TIMEOUT_SCALE,\n"
	"MEMDRIVER_EXPECT_ENGINE, MEMDRIVER_EXPECT_VGEM, MEMDRIVER_EXPECT_BRD.\n";

/* A wrong command line: the usage on stderr, exit 2. */
void die_usage(void)
{
	fputs(usage, stderr);
	exit(2);
}

static int run_tutorial(void)
{
	int fd = open_dev();

	case_begin();
	tutorial_flow(fd, true);
	close(fd);
	if (case_failed())
		printf("tutorial flow FAILED\n");
	else
		printf("tutorial flow passed\n");
	return case_failed();
}

int main(int argc, char **argv)
{
	const char *mode = "test", *only = NULL;
	unsigned long long seed = time(NULL);
	unsigned long ops = 100000, hold = 0;
	int i, fd, procs = 4, threads = 4, rounds = 1000;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* What needs no device, whatever else the line says. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("memdriver_test %s (UAPI info version %d)\n", MEMDRIVER_VERSION,
			       MEMDRIVER_INFO_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "-l") || !strcmp(argv[i], "--list"))
			return list_cases();
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-d") && i + 1 < argc)
			dev_path = argv[++i];
		else if (!strcmp(argv[i], "--fresh"))
			fresh_load = true;
		else if (!strcmp(argv[i], "bench"))
			return run_bench(argc - i - 1, argv + i + 1);
		else if (!strcmp(argv[i], "load-faults"))
			return run_load_faults(argc - i - 1, argv + i + 1);
		else if (!strcmp(argv[i], "hold") && i + 1 < argc)
			mode = argv[i], hold = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			ops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
			procs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "test") || !strcmp(argv[i], "tutorial") ||
			 !strcmp(argv[i], "info") || !strcmp(argv[i], "fuzz") ||
			 !strcmp(argv[i], "stress") || !strcmp(argv[i], "faults") ||
			 !strcmp(argv[i], "dmabuf-unload"))
			mode = argv[i];
		else if (!strcmp(mode, "test") && argv[i][0] != '-' && !only)
			only = argv[i];
		else
			die_usage();
	}
	/* A name that picks no case is a typo: said before the device is needed. */
	if (only && !count_picked(only)) {
		fprintf(stderr, "memdriver_test: no subject or case named %s (-l lists them)\n",
			only);
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);
	fd = open_dev();
	if (get_info(fd, &info)) {
		printf("# MEM_IOCTL_GET_INFO on %s: %s\n", dev_path, strerror(errno));
		return 2;
	}
	close(fd);

	if (!strcmp(mode, "info"))
		return show_info();
	if (!strcmp(mode, "fuzz"))
		return run_fuzz(seed, ops);
	if (!strcmp(mode, "stress"))
		return run_stress(procs, threads, rounds);
	if (!strcmp(mode, "faults"))
		return run_faults();
	if (!strcmp(mode, "dmabuf-unload"))
		return run_dmabuf_unload();
	if (!strcmp(mode, "hold"))
		return run_hold(hold);
	if (!strcmp(mode, "tutorial"))
		return run_tutorial();
	return run_suite(only);
}
