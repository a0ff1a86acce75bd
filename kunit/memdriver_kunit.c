// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for memdriver's in-kernel arithmetic: region lookup, DMA
 * window bounds, cache-line spans and claims, object ids and names; and
 * the table the dma-buf exporter hands an importer.
 *
 * Included at the end of memdriver.c when built with MEMDRIVER_KUNIT=1 (see
 * Kbuild), as ext4 includes mballoc-test.c, so the cases call the static
 * functions directly. The suite runs when the module loads.
 *
 * Devices and regions here are fakes: offsets and sizes set by hand, no
 * region memory allocated (the exporter's case uses the loaded device).
 * Sizes are in pages and cache lines, so every expected value holds on
 * 4 KiB and 16 KiB page kernels alike.
 */

#include <kunit/test.h>

/* The fake device's regions, in pages: offsets 0, 1, 5 and 6 pages. */
static const size_t memdriver_kunit_pages[MEMDRIVER_NR_REGIONS] = {
	[MEMDRIVER_REGION_KMALLOC] = 1,
	[MEMDRIVER_REGION_VMALLOC] = 4,
	[MEMDRIVER_REGION_DMA] = 1,
	[MEMDRIVER_REGION_PAGES] = 2,
};

#define KT_PAGE			((u64)PAGE_SIZE)
#define KT_VMALLOC_START	(1 * KT_PAGE)
#define KT_DMA_START		(5 * KT_PAGE)
#define KT_PAGES_START		(6 * KT_PAGE)
#define KT_TOTAL		(8 * KT_PAGE)

static struct memdriver_dev *memdriver_kunit_dev(struct kunit *test)
{
	struct memdriver_dev *md;
	loff_t offset = 0;
	int i;

	md = kunit_kzalloc(test, sizeof(*md), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, md);
	for (i = 0; i < MEMDRIVER_NR_REGIONS; i++) {
		md->regions[i].ops = &memdriver_region_ops[i];
		md->regions[i].size = memdriver_kunit_pages[i] * PAGE_SIZE;
		md->regions[i].offset = offset;
		offset += md->regions[i].size;
	}
	md->total_size = offset;
	spin_lock_init(&md->dma_claims_lock);
	INIT_LIST_HEAD(&md->dma_claims);
	return md;
}

/* Index of the region holding @pos, so failures print a number. */
static long memdriver_kunit_region_of(struct memdriver_dev *md, loff_t pos)
{
	return memdriver_region_at(md, pos) - md->regions;
}

/* ---- memdriver_region_at() ---- */

static void region_at_first_byte_is_kmalloc(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);

	KUNIT_EXPECT_EQ(test, memdriver_kunit_region_of(md, 0), MEMDRIVER_REGION_KMALLOC);
}

static void region_at_last_byte_stays_in_region(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);

	KUNIT_EXPECT_EQ(test, memdriver_kunit_region_of(md, KT_VMALLOC_START - 1),
			MEMDRIVER_REGION_KMALLOC);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_region_of(md, KT_DMA_START - 1),
			MEMDRIVER_REGION_VMALLOC);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_region_of(md, KT_PAGES_START - 1),
			MEMDRIVER_REGION_DMA);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_region_of(md, KT_TOTAL - 1),
			MEMDRIVER_REGION_PAGES);
}

static void region_at_first_byte_of_next_region(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);

	KUNIT_EXPECT_EQ(test, memdriver_kunit_region_of(md, KT_VMALLOC_START),
			MEMDRIVER_REGION_VMALLOC);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_region_of(md, KT_DMA_START),
			MEMDRIVER_REGION_DMA);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_region_of(md, KT_PAGES_START),
			MEMDRIVER_REGION_PAGES);
}

/* ---- memdriver_dma_window_init() ---- */

static int memdriver_kunit_window(struct memdriver_dev *md, u64 pos, u64 len,
				  struct memdriver_dma_window *w)
{
	return memdriver_dma_window_init(md, pos, len, DMA_TO_DEVICE, w);
}

static void window_inside_region(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window w = { .mapped = true };

	KUNIT_EXPECT_EQ(test, memdriver_dma_window_init(md, KT_VMALLOC_START + 100, 200,
							DMA_FROM_DEVICE, &w), 0);
	KUNIT_EXPECT_EQ(test, w.r - md->regions, MEMDRIVER_REGION_VMALLOC);
	KUNIT_EXPECT_EQ(test, w.off, 100);
	KUNIT_EXPECT_EQ(test, w.dir, DMA_FROM_DEVICE);
	KUNIT_EXPECT_FALSE(test, w.mapped);
}

static void window_fills_whole_region(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window w;

	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, KT_VMALLOC_START, 4 * KT_PAGE, &w), 0);
	KUNIT_EXPECT_EQ(test, w.r - md->regions, MEMDRIVER_REGION_VMALLOC);
	KUNIT_EXPECT_EQ(test, w.off, 0);
}

static void window_last_byte_of_device(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window w;

	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, KT_TOTAL - 1, 1, &w), 0);
	KUNIT_EXPECT_EQ(test, w.r - md->regions, MEMDRIVER_REGION_PAGES);
	KUNIT_EXPECT_EQ(test, w.off, 2 * KT_PAGE - 1);
}

static void window_crossing_into_next_region_einval(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window w;

	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, KT_DMA_START - 1, 2, &w), -EINVAL);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, KT_VMALLOC_START, 4 * KT_PAGE + 1, &w),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, 0, KT_TOTAL, &w), -EINVAL);
}

static void window_zero_len_at_region_end_is_next_region(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window w;

	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, KT_DMA_START, 0, &w), 0);
	KUNIT_EXPECT_EQ(test, w.r - md->regions, MEMDRIVER_REGION_DMA);
	KUNIT_EXPECT_EQ(test, w.off, 0);
}

static void window_pos_at_or_past_total_size_einval(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window w;

	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, KT_TOTAL, 0, &w), -EINVAL);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, KT_TOTAL, 1, &w), -EINVAL);
	/* Negative as an loff_t: must not look like a small offset. */
	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, 1ULL << 63, 0, &w), -EINVAL);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, U64_MAX, 0, &w), -EINVAL);
}

static void window_len_past_device_end_einval(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window w;

	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, KT_TOTAL - 10, 11, &w), -EINVAL);
}

static void window_len_wrapping_u64_einval(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window w;
	u64 pos = KT_VMALLOC_START + 1;

	/* pos + len wraps to 0, and to pos - 1. */
	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, pos, U64_MAX - pos + 1, &w), -EINVAL);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_window(md, pos, U64_MAX, &w), -EINVAL);
}

/* ---- memdriver_dma_span() ---- */

/*
 * Check the span of a destination window at @off bytes past a cache line
 * boundary, @len long, against its expected head, body and tail.
 */
static void memdriver_kunit_expect_span(struct kunit *test, size_t off, size_t len,
					size_t head, size_t body, size_t tail)
{
	size_t line = memdriver_dma_copy_align();
	struct memdriver_region r = {};
	struct memdriver_dma_window w = { .r = &r, .off = off };
	struct memdriver_dma_span span;
	u8 *buf;

	/* The span looks at the first byte and its line only, never at len bytes. */
	buf = kunit_kzalloc(test, off + 2 * line, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, buf);
	r.cpu_addr = PTR_ALIGN(buf, line);
	span = memdriver_dma_span(&w, len);
	KUNIT_EXPECT_EQ_MSG(test, span.head, head, "    off %zu len %zu line %zu", off, len, line);
	KUNIT_EXPECT_EQ_MSG(test, span.body, body, "    off %zu len %zu line %zu", off, len, line);
	KUNIT_EXPECT_EQ_MSG(test, span.tail, tail, "    off %zu len %zu line %zu", off, len, line);
	KUNIT_EXPECT_EQ(test, span.head + span.body + span.tail, len);
	KUNIT_EXPECT_EQ(test, span.body % line, 0);
}

static void span_len_zero_is_empty(struct kunit *test)
{
	memdriver_kunit_expect_span(test, 0, 0, 0, 0, 0);
	memdriver_kunit_expect_span(test, 3, 0, 0, 0, 0);
}

static void span_short_inside_one_line_is_head(struct kunit *test)
{
	memdriver_kunit_expect_span(test, 3, 10, 10, 0, 0);
}

static void span_aligned_short_is_tail(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	/* An aligned start has no head: less than a line is all tail. */
	memdriver_kunit_expect_span(test, 0, line - 1, 0, 0, line - 1);
}

static void span_exactly_one_line_is_body(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, 0, line, 0, line, 0);
}

static void span_aligned_whole_lines_are_body(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, 0, 3 * line, 0, 3 * line, 0);
}

static void span_aligned_start_unaligned_end(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, 0, 2 * line + 5, 0, 2 * line, 5);
}

static void span_unaligned_start_aligned_end(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, 3, line - 3 + 2 * line, line - 3, 2 * line, 0);
}

static void span_unaligned_start_and_end(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, 3, 3 * line, line - 3, 2 * line, 3);
}

static void span_unaligned_up_to_line_end_is_head(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, 3, line - 3, line - 3, 0, 0);
}

static void span_line_long_across_boundary_has_no_body(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	/* One line's worth of bytes, but no whole line of the destination. */
	memdriver_kunit_expect_span(test, line - 1, line, 1, 0, line - 1);
}

static void span_last_byte_of_line_is_head(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, line - 1, 1, 1, 0, 0);
}

static void span_start_in_second_line(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	/* Only the offset within the line counts, not how many lines in. */
	memdriver_kunit_expect_span(test, line + 3, 3 * line, line - 3, 2 * line, 3);
}

static void span_page_long_unaligned(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, 1, PAGE_SIZE, line - 1, PAGE_SIZE - line, 1);
}

static void span_size_max_len(struct kunit *test)
{
	size_t line = memdriver_dma_copy_align();

	memdriver_kunit_expect_span(test, 0, SIZE_MAX, 0, SIZE_MAX - line + 1, line - 1);
	memdriver_kunit_expect_span(test, 3, SIZE_MAX, line - 3, SIZE_MAX - line + 1, 2);
}

/* ---- memdriver_dma_windows_overlap() ---- */

static void overlap_same_window(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(0, 0, 1));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(KT_PAGE, KT_PAGE, KT_PAGE));
}

static void overlap_same_line_other_bytes(struct kunit *test)
{
	u64 line = memdriver_dma_copy_align();

	/* Disjoint bytes, one cache line: still an overlap. */
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(0, line / 2, line / 2));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(line / 2, 0, line / 2));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(line - 1, 0, 1));
}

static void overlap_adjacent_lines_do_not(struct kunit *test)
{
	u64 line = memdriver_dma_copy_align();

	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(0, line, line));
	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(line, 0, line));
	/* Last byte of one line, first byte of the next. */
	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(line - 1, line, 1));
}

static void overlap_end_reaching_into_next_line(struct kunit *test)
{
	u64 line = memdriver_dma_copy_align();

	/* [1, line + 1) ends one byte into the line where b starts. */
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(1, 2 * line - 1, line));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(2 * line - 1, 1, line));
}

static void overlap_at_page_boundary(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(0, KT_PAGE, KT_PAGE));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(0, KT_PAGE - 1, KT_PAGE));
	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(0, 4 * KT_PAGE, KT_PAGE));
}

static void overlap_zero_len(struct kunit *test)
{
	u64 line = memdriver_dma_copy_align();

	/*
	 * The ioctl refuses len 0; here a zero-length window on a line
	 * boundary covers no line, one inside a line covers that line.
	 */
	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(0, 0, 0));
	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(line, line, 0));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(3, 3, 0));
}

static void overlap_largest_device_offsets(struct kunit *test)
{
	u64 line = memdriver_dma_copy_align();
	/*
	 * The caller's windows end at or below total_size, an loff_t: the
	 * last line they can reach starts at top and holds LLONG_MAX.
	 */
	u64 top = round_down((u64)LLONG_MAX, line);

	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(top, top, line - 1));
	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(top - line, top, line - 1));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(top - 1, top + 3, line - 4));
}

static void overlap_near_u64_max_without_wrap(struct kunit *test)
{
	u64 line = memdriver_dma_copy_align();
	/* Every end stays at or below the last line boundary, U64_MAX + 1 - line. */
	u64 a = round_down(U64_MAX, line) - 4 * line;

	KUNIT_EXPECT_FALSE(test, memdriver_dma_windows_overlap(a, a + 2 * line, 2 * line));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(a, a + 2 * line - 1, 2 * line));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_windows_overlap(a + 2 * line, a + 3 * line - 1,
							      line));
}

/* ---- object ids and names ---- */

static void id_index_round_trip_first(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_id_to_index(1), 0UL);
	KUNIT_EXPECT_EQ(test, memdriver_index_to_id(0), 1U);
}

static void id_index_round_trip_int_max(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_id_to_index(INT_MAX), (unsigned long)INT_MAX - 1);
	KUNIT_EXPECT_EQ(test, memdriver_index_to_id(INT_MAX - 1), (u32)INT_MAX);
}

static void index_limit_gives_ids_1_to_int_max(struct kunit *test)
{
	struct xa_limit limit = MEMDRIVER_INDEX_LIMIT;

	KUNIT_EXPECT_EQ(test, memdriver_index_to_id(limit.min), 1U);
	KUNIT_EXPECT_EQ(test, memdriver_index_to_id(limit.max), (u32)INT_MAX);
}

static void object_name_zero(struct kunit *test)
{
	char data[MEMDRIVER_PAYLOAD_SIZE] = {};

	memdriver_object_name(data, 0);
	KUNIT_EXPECT_STREQ(test, data, "Object ID: 0");
}

static void object_name_one(struct kunit *test)
{
	char data[MEMDRIVER_PAYLOAD_SIZE] = {};

	memdriver_object_name(data, 1);
	KUNIT_EXPECT_STREQ(test, data, "Object ID: 1");
}

static void object_name_ten(struct kunit *test)
{
	char data[MEMDRIVER_PAYLOAD_SIZE] = {};

	memdriver_object_name(data, 10);
	KUNIT_EXPECT_STREQ(test, data, "Object ID: 10");
}

static void object_name_u32_max(struct kunit *test)
{
	char data[MEMDRIVER_PAYLOAD_SIZE] = {};

	memdriver_object_name(data, U32_MAX);
	KUNIT_EXPECT_STREQ(test, data, "Object ID: 4294967295");
}

static void object_name_writes_only_its_text(struct kunit *test)
{
	static const char want[] = "Object ID: 42";
	char data[MEMDRIVER_PAYLOAD_SIZE];

	/* No terminator: the payload comes zeroed. */
	memset(data, 'x', sizeof(data));
	memdriver_object_name(data, 42);
	KUNIT_EXPECT_EQ(test, memcmp(data, want, sizeof(want) - 1), 0);
	KUNIT_EXPECT_EQ(test, data[sizeof(want) - 1], 'x');
}

/* ---- memdriver_dma_chunk() ---- */

/* The length of the first mapping of @len bytes at @off in a region. */
static size_t memdriver_kunit_chunk(unsigned int region, size_t off, size_t len)
{
	struct memdriver_region r = {
		.ops = &memdriver_region_ops[region],
		.size = 4 * PAGE_SIZE,
	};
	struct memdriver_dma_window w = { .r = &r, .off = off };

	return memdriver_dma_chunk(&w, len);
}

static void chunk_scattered_ends_at_page_end(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC, 100, PAGE_SIZE),
			PAGE_SIZE - 100);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC,
						    PAGE_SIZE + 100, 3 * PAGE_SIZE),
			PAGE_SIZE - 100);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC, 100, SIZE_MAX),
			PAGE_SIZE - 100);
}

static void chunk_scattered_last_byte_of_page(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC,
						    PAGE_SIZE - 1, 10), 1);
}

static void chunk_scattered_whole_page_when_aligned(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC, 0, 4 * PAGE_SIZE),
			PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC,
						    2 * PAGE_SIZE, 2 * PAGE_SIZE),
			PAGE_SIZE);
}

static void chunk_scattered_len_below_rest_of_page(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC, 100, 50), 50);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC, 100,
						    PAGE_SIZE - 100), PAGE_SIZE - 100);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_VMALLOC, 100, 0), 0);
}

static void chunk_contiguous_is_len(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_KMALLOC, 100,
						    3 * PAGE_SIZE), 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_DMA, 100,
						    3 * PAGE_SIZE), 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_PAGES, PAGE_SIZE - 1,
						    2 * PAGE_SIZE), 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_chunk(MEMDRIVER_REGION_KMALLOC, 0, SIZE_MAX),
			SIZE_MAX);
}

/* ---- memdriver_dma_engine_may_serve() ---- */

static void engine_may_serve_needs_body(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window src = { .r = &md->regions[MEMDRIVER_REGION_KMALLOC] };
	struct memdriver_dma_window dst = { .r = &md->regions[MEMDRIVER_REGION_VMALLOC] };
	struct memdriver_dma_span edges = { .head = 3, .tail = 5 };
	struct memdriver_dma_span body = { .body = 64 };

	KUNIT_EXPECT_FALSE(test, memdriver_dma_engine_may_serve(&src, &dst, &edges));
	KUNIT_EXPECT_TRUE(test, memdriver_dma_engine_may_serve(&src, &dst, &body));
}

static void engine_may_serve_never_coherent(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_window coherent = { .r = &md->regions[MEMDRIVER_REGION_DMA] };
	struct memdriver_dma_window pages = { .r = &md->regions[MEMDRIVER_REGION_PAGES] };
	struct memdriver_dma_span body = { .body = 64 };

	KUNIT_EXPECT_FALSE(test, memdriver_dma_engine_may_serve(&coherent, &pages, &body));
	KUNIT_EXPECT_FALSE(test, memdriver_dma_engine_may_serve(&pages, &coherent, &body));
}

/* ---- memdriver_dma_engine_align() ---- */

static unsigned int memdriver_kunit_engine_align(struct kunit *test,
						 enum dmaengine_alignment copy_align)
{
	struct dma_device *dd = kunit_kzalloc(test, sizeof(*dd), GFP_KERNEL);
	struct dma_chan *chan = kunit_kzalloc(test, sizeof(*chan), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dd);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, chan);
	dd->copy_align = copy_align;
	chan->device = dd;
	return memdriver_dma_engine_align(chan);
}

static void engine_align_at_least_a_word(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_kunit_engine_align(test, DMAENGINE_ALIGN_1_BYTE), 4U);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_engine_align(test, DMAENGINE_ALIGN_2_BYTES), 4U);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_engine_align(test, DMAENGINE_ALIGN_4_BYTES), 4U);
}

static void engine_align_follows_provider_above_a_word(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_kunit_engine_align(test, DMAENGINE_ALIGN_8_BYTES), 8U);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_engine_align(test, DMAENGINE_ALIGN_64_BYTES), 64U);
}

/* ---- memdriver_dma_claim() ---- */

/* A claim of @lines whole lines from @start bytes into @region. */
static int memdriver_kunit_claim(struct memdriver_dev *md, struct memdriver_dma_claim *claim,
				 unsigned int region, size_t start, size_t lines)
{
	size_t line = memdriver_dma_copy_align();
	struct memdriver_dma_window dst = { .r = &md->regions[region], .off = start };
	struct memdriver_dma_span span = { .body = lines * line };

	return memdriver_dma_claim(md, claim, &dst, &span);
}

static void claim_same_lines_busy(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	size_t line = memdriver_dma_copy_align();
	struct memdriver_dma_claim a, b;

	KUNIT_ASSERT_EQ(test, memdriver_kunit_claim(md, &a, MEMDRIVER_REGION_PAGES, 0, 2), 0);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_claim(md, &b, MEMDRIVER_REGION_PAGES, line, 2),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_claim(md, &b, MEMDRIVER_REGION_PAGES, 0, 1),
			-EBUSY);
	memdriver_dma_unclaim(md, &a);
	KUNIT_EXPECT_TRUE(test, list_empty(&md->dma_claims));
}

static void claim_adjacent_lines_both_granted(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	size_t line = memdriver_dma_copy_align();
	struct memdriver_dma_claim a, b;

	KUNIT_ASSERT_EQ(test, memdriver_kunit_claim(md, &a, MEMDRIVER_REGION_PAGES, 0, 2), 0);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_claim(md, &b, MEMDRIVER_REGION_PAGES,
						    2 * line, 1), 0);
	KUNIT_EXPECT_EQ(test, b.start, KT_PAGES_START + 2 * line);
	KUNIT_EXPECT_EQ(test, b.end, KT_PAGES_START + 3 * line);
	memdriver_dma_unclaim(md, &b);
	memdriver_dma_unclaim(md, &a);
}

static void claim_counts_from_head(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	size_t line = memdriver_dma_copy_align();
	struct memdriver_dma_window dst = {
		.r = &md->regions[MEMDRIVER_REGION_VMALLOC], .off = line - 5,
	};
	struct memdriver_dma_span span = { .head = 5, .body = 2 * line, .tail = 1 };
	struct memdriver_dma_claim claim;

	KUNIT_ASSERT_EQ(test, memdriver_dma_claim(md, &claim, &dst, &span), 0);
	KUNIT_EXPECT_EQ(test, claim.start, KT_VMALLOC_START + line);
	KUNIT_EXPECT_EQ(test, claim.end, KT_VMALLOC_START + 3 * line);
	memdriver_dma_unclaim(md, &claim);
}

static void claim_skips_edges_only_and_coherent(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_dma_claim a, b;

	KUNIT_EXPECT_EQ(test, memdriver_kunit_claim(md, &a, MEMDRIVER_REGION_PAGES, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, memdriver_kunit_claim(md, &b, MEMDRIVER_REGION_DMA, 0, 2), 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&md->dma_claims));
	/* Neither was listed; unclaiming them is harmless. */
	memdriver_dma_unclaim(md, &a);
	memdriver_dma_unclaim(md, &b);
}

/* ---- memdriver_live() ---- */

static void live_counts_allocs_minus_frees(struct kunit *test)
{
	struct memdriver_stats sum = { .allocs = 5, .frees = 3 };

	KUNIT_EXPECT_EQ(test, memdriver_live(&sum), 2U);
}

static void live_clamps_negative_to_zero(struct kunit *test)
{
	struct memdriver_stats sum = { .allocs = 3, .frees = 5 };

	/* A snapshot that saw two frees without their allocs. */
	KUNIT_EXPECT_EQ(test, memdriver_live(&sum), 0U);
}

static void live_across_counter_wrap(struct kunit *test)
{
	struct memdriver_stats sum = { .allocs = 2, .frees = ULONG_MAX };

	/* allocs wrapped past ULONG_MAX: 3 more allocs than frees. */
	KUNIT_EXPECT_EQ(test, memdriver_live(&sum), 3U);
}

static void live_clamps_to_max_objects(struct kunit *test)
{
	struct memdriver_stats sum = { .allocs = (unsigned long)max_objects + 7 };

	KUNIT_EXPECT_EQ(test, memdriver_live(&sum), max_objects);
}

/* ---- memdriver_check_range() ---- */

static void check_range_accepts_1_to_max(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_check_range("kunit_param", 1, 8), 0);
	KUNIT_EXPECT_EQ(test, memdriver_check_range("kunit_param", 8, 8), 0);
	KUNIT_EXPECT_EQ(test, memdriver_check_range("kunit_param", ULONG_MAX, ULONG_MAX), 0);
}

static void check_range_rejects_0_and_above_max(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, memdriver_check_range("kunit_param", 0, 8), -EINVAL);
	KUNIT_EXPECT_EQ(test, memdriver_check_range("kunit_param", 9, 8), -EINVAL);
}

/* ---- the dma-buf exporter's map: what an importer is handed ---- */

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)
/*
 * An importer gets a copy of the mapping's DMA segments, without pages,
 * never the table memdriver keeps and syncs: 6.1's and 6.12's dma-buf core
 * scramble the pages of the table an exporter returns (DMABUF_DEBUG).
 * The case brings its own page and importer device: 6.1 runs a module's
 * suites before its init, when no memdriver device exists yet.
 */
static void export_map_hands_dma_segments_only(struct kunit *test)
{
	struct memdriver_dev *md = memdriver_kunit_dev(test);
	struct memdriver_region *r = &md->regions[MEMDRIVER_REGION_PAGES];
	struct dma_buf_attachment attach = {};
	struct platform_device *importer;
	struct scatterlist *sg, *kept;
	struct memdriver_attachment *a;
	struct memdriver_dmabuf *buf;
	struct dma_buf dmabuf = {};
	struct sg_table *sgt;
	struct page *page;
	int i;

	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	r->cpu_addr = page_address(page);
	importer = platform_device_register_simple("memdriver-kunit",
						   PLATFORM_DEVID_AUTO, NULL, 0);
	if (IS_ERR(importer)) {
		__free_page(page);
		KUNIT_FAIL(test, "platform device: %ld", PTR_ERR(importer));
		return;
	}
	KUNIT_EXPECT_EQ(test, dma_set_mask_and_coherent(&importer->dev,
							DMA_BIT_MASK(32)), 0);
	buf = memdriver_dmabuf_alloc(md, r, 0, PAGE_SIZE, true);
	KUNIT_EXPECT_NOT_NULL(test, buf);
	if (!buf)
		goto out;
	dmabuf.priv = buf;
	dmabuf.size = PAGE_SIZE;
	attach.dmabuf = &dmabuf;
	attach.dev = &importer->dev;
	KUNIT_EXPECT_EQ(test, memdriver_dmabuf_attach(&dmabuf, &attach), 0);
	if (!attach.priv)
		goto out_free;
	a = attach.priv;
	sgt = memdriver_dmabuf_map(&attach, DMA_TO_DEVICE);
	KUNIT_EXPECT_FALSE(test, IS_ERR(sgt));
	if (IS_ERR(sgt))
		goto out_detach;
	KUNIT_EXPECT_PTR_NE(test, sgt, &a->sgt);
	KUNIT_EXPECT_EQ(test, sgt->nents, a->sgt.nents);
	kept = a->sgt.sgl;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		KUNIT_EXPECT_TRUE(test, !sg_page(sg));
		KUNIT_EXPECT_EQ(test, sg_dma_address(sg), sg_dma_address(kept));
		KUNIT_EXPECT_EQ(test, sg_dma_len(sg), sg_dma_len(kept));
		kept = sg_next(kept);
	}
	memdriver_dmabuf_unmap(&attach, sgt, DMA_TO_DEVICE);
out_detach:
	memdriver_dmabuf_detach(&dmabuf, &attach);
out_free:
	memdriver_dmabuf_free(buf);
out:
	platform_device_unregister(importer);
	__free_page(page);
}
#endif

static struct kunit_case memdriver_kunit_cases[] = {
	KUNIT_CASE(region_at_first_byte_is_kmalloc),
	KUNIT_CASE(region_at_last_byte_stays_in_region),
	KUNIT_CASE(region_at_first_byte_of_next_region),
	KUNIT_CASE(window_inside_region),
	KUNIT_CASE(window_fills_whole_region),
	KUNIT_CASE(window_last_byte_of_device),
	KUNIT_CASE(window_crossing_into_next_region_einval),
	KUNIT_CASE(window_zero_len_at_region_end_is_next_region),
	KUNIT_CASE(window_pos_at_or_past_total_size_einval),
	KUNIT_CASE(window_len_past_device_end_einval),
	KUNIT_CASE(window_len_wrapping_u64_einval),
	KUNIT_CASE(span_len_zero_is_empty),
	KUNIT_CASE(span_short_inside_one_line_is_head),
	KUNIT_CASE(span_aligned_short_is_tail),
	KUNIT_CASE(span_exactly_one_line_is_body),
	KUNIT_CASE(span_aligned_whole_lines_are_body),
	KUNIT_CASE(span_aligned_start_unaligned_end),
	KUNIT_CASE(span_unaligned_start_aligned_end),
	KUNIT_CASE(span_unaligned_start_and_end),
	KUNIT_CASE(span_unaligned_up_to_line_end_is_head),
	KUNIT_CASE(span_line_long_across_boundary_has_no_body),
	KUNIT_CASE(span_last_byte_of_line_is_head),
	KUNIT_CASE(span_start_in_second_line),
	KUNIT_CASE(span_page_long_unaligned),
	KUNIT_CASE(span_size_max_len),
	KUNIT_CASE(overlap_same_window),
	KUNIT_CASE(overlap_same_line_other_bytes),
	KUNIT_CASE(overlap_adjacent_lines_do_not),
	KUNIT_CASE(overlap_end_reaching_into_next_line),
	KUNIT_CASE(overlap_at_page_boundary),
	KUNIT_CASE(overlap_zero_len),
	KUNIT_CASE(overlap_largest_device_offsets),
	KUNIT_CASE(overlap_near_u64_max_without_wrap),
	KUNIT_CASE(id_index_round_trip_first),
	KUNIT_CASE(id_index_round_trip_int_max),
	KUNIT_CASE(index_limit_gives_ids_1_to_int_max),
	KUNIT_CASE(object_name_zero),
	KUNIT_CASE(object_name_one),
	KUNIT_CASE(object_name_ten),
	KUNIT_CASE(object_name_u32_max),
	KUNIT_CASE(object_name_writes_only_its_text),
	KUNIT_CASE(chunk_scattered_ends_at_page_end),
	KUNIT_CASE(chunk_scattered_last_byte_of_page),
	KUNIT_CASE(chunk_scattered_whole_page_when_aligned),
	KUNIT_CASE(chunk_scattered_len_below_rest_of_page),
	KUNIT_CASE(chunk_contiguous_is_len),
	KUNIT_CASE(engine_may_serve_needs_body),
	KUNIT_CASE(engine_may_serve_never_coherent),
	KUNIT_CASE(engine_align_at_least_a_word),
	KUNIT_CASE(engine_align_follows_provider_above_a_word),
	KUNIT_CASE(claim_same_lines_busy),
	KUNIT_CASE(claim_adjacent_lines_both_granted),
	KUNIT_CASE(claim_counts_from_head),
	KUNIT_CASE(claim_skips_edges_only_and_coherent),
	KUNIT_CASE(live_counts_allocs_minus_frees),
	KUNIT_CASE(live_clamps_negative_to_zero),
	KUNIT_CASE(live_across_counter_wrap),
	KUNIT_CASE(live_clamps_to_max_objects),
	KUNIT_CASE(check_range_accepts_1_to_max),
	KUNIT_CASE(check_range_rejects_0_and_above_max),
#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)
	KUNIT_CASE(export_map_hands_dma_segments_only),
#endif
	{}
};

static struct kunit_suite memdriver_kunit_suite = {
	.name = "memdriver",
	.test_cases = memdriver_kunit_cases,
};

kunit_test_suite(memdriver_kunit_suite);
