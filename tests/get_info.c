// SPDX-License-Identifier: GPL-2.0
/*
 * MEM_IOCTL_GET_INFO checked against sysfs, and the info mode: an
 * annotated map of the device.
 */
#include "util.h"

TEST(get_info)
{
	static const char *const attrs[MEMDRIVER_NR_REGIONS] = {
		"kmalloc_size", "vmalloc_size", "dma_size", "pages_size",
	};
	char dir[256];
	__u64 off = 0;
	int r;

	class_dir(dir, sizeof(dir));
	EXPECT_EQ(info.version, MEMDRIVER_INFO_VERSION);
	EXPECT_EQ(info.page_size, page_size);
	EXPECT_EQ(info.payload_size, MEMDRIVER_PAYLOAD_SIZE);
	EXPECT_TRUE(info.dma_copy_align >= 1 &&
		    !(info.dma_copy_align & (info.dma_copy_align - 1)));
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		long long param = module_param(attrs[r]);
		__u64 rounded = ((__u64)param + page_size - 1) &
				   ~(__u64)(page_size - 1);

		EXPECT_EQ(region_off(r), off);
		EXPECT_EQ(region_off(r) % page_size, 0);
		EXPECT_GT(region_size(r), 0);
		EXPECT_EQ(region_size(r), rounded);
		EXPECT_EQ(read_sysfs_number(dir, attrs[r]), region_size(r));
		off += region_size(r);
	}
	EXPECT_EQ(info.total_size, off);
	EXPECT_EQ(read_sysfs_number(dir, "total_size"), info.total_size);
	EXPECT_TRUE(info.dma_mask_bits == 36 || info.dma_mask_bits == 32);
	EXPECT_EQ(read_sysfs_number(dir, "dma_mask_bits"), info.dma_mask_bits);
	EXPECT_EQ(info.max_objects_per_fd, module_param("max_objects_per_fd"));
	EXPECT_EQ(info.max_objects, module_param("max_objects"));
	EXPECT_EQ(info.objects_fd, 0);
	EXPECT_ERRNO(get_info(fd, NULL), EFAULT);
	EXPECT_ERRNO(get_info(fd, unmapped_address()), EFAULT);
}

/* ---- memdriver_test info: an annotated map of the device ---- */

static const char *const region_lessons[MEMDRIVER_NR_REGIONS] = {
	"kmalloc: physically contiguous, from the linear map",
	"vmalloc: contiguous only in virtual addresses; page tables join scattered pages",
	"DMA coherent: a device address the hardware uses, memory CPU and device share",
	"page allocator: one 2^order block of buddy pages",
};

/*
 * Who the next MEM_IOCTL_DMA_COPY goes by: the engine, its channel and
 * device, or the CPU and why (sysfs dma_engine says: none now, and why).
 */
static void show_dma_engine(void)
{
	static const char *const modes[] = { "auto", "cpu", "engine" };
	const char *mode = info.dma_engine_mode < ARRAY_SIZE(modes) ?
			   modes[info.dma_engine_mode] : "?";
	char dir[256], path[320], why[160] = "";
	FILE *f;

	class_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/dma_engine", dir);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(why, sizeof(why), f))
			why[0] = '\0';
		fclose(f);
	}
	why[strcspn(why, "\n")] = '\0';
	if (info.dma_engine == MEMDRIVER_DMA_ENGINE_DMAENGINE)
		printf("DMA copies: dmaengine channel %s on %s (dma_engine=%s, %s),\n"
		       "  whole %u-byte cache lines by the engine, the edges by the CPU\n\n",
		       info.dma_chan, info.dma_device, mode,
		       info.dma_chan_held ? "held since the first copy" :
		       "found, taken by the first copy", info.dma_copy_align);
	else
		printf("DMA copies: the CPU (dma_engine=%s%s%s)\n\n", mode,
		       strncmp(why, "cpu none now: ", 14) ? "" : ", none now: ",
		       strncmp(why, "cpu none now: ", 14) ? "" : why + 14);
}

int show_info(void)
{
	struct region_view v[MEMDRIVER_NR_REGIONS];
	bool have_views = read_region_views(v);
	struct objects_view o;
	int r;

	printf("%s: %llu bytes in %d regions, page size %u, DMA mask %u bits\n\n",
	       dev_path, (unsigned long long)info.total_size, MEMDRIVER_NR_REGIONS,
	       info.page_size, info.dma_mask_bits);
	show_dma_engine();
	printf("%-10s %-10s %-8s %-19s %6s %5s\n", "offset", "size", "region",
	       "allocator", "pages", "runs");
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		printf("%#-10llx %-10llu %-8s %-19s", (unsigned long long)region_off(r),
		       (unsigned long long)region_size(r), region_names[r],
		       have_views ? v[r].allocator : "?");
		if (have_views)
			printf(" %6lld %5lld\n", v[r].pages, v[r].runs);
		else
			printf(" %6llu %5s\n",
			       (unsigned long long)(region_size(r) / info.page_size), "?");
	}
	printf("\n");
	for (r = 0; r < MEMDRIVER_NR_REGIONS; r++) {
		printf("%s\n", region_lessons[r]);
		if (!have_views)
			continue;
		printf("  -> %lld page%s in %lld physically contiguous run%s%s;",
		       v[r].pages, v[r].pages == 1 ? "" : "s", v[r].runs,
		       v[r].runs == 1 ? "" : "s",
		       v[r].runs == 1 ? "" : " (not contiguous)");
		printf(" the CPU sees it through the %s\n", v[r].cpu_mapping);
		if (r == MEMDRIVER_REGION_DMA)
			printf("  -> device address %s the physical address\n",
			       strcmp(v[r].dma_is_phys, "yes") ? "differs from" : "equals");
	}
	if (read_objects_view(&o))
		printf("\nobject pool: kmem_cache memdriver_object, %lld-byte objects\n"
		       "  (%u-byte payload)\n"
		       "  -> %lld live, %lld allocated, %lld freed, %lld refused at a cap\n",
		       o.object_size, info.payload_size, o.live, o.allocated, o.freed,
		       o.cap_hits);
	else
		printf("\nobject pool: %u live on this device\n"
		       "(run as root with debugfs mounted to see how pages are backed)\n",
		       info.objects_device);
	return 0;
}

const struct test_case get_info_cases[] = {
	CASE(get_info),
	{ }
};
