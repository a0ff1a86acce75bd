// SPDX-License-Identifier: GPL-2.0
/*
 * Streaming DMA: copy between two windows the way a device would, by the
 * engine or the CPU. Part of memdriver.c, never built alone.
 */

/*
 * One side of a copy: a window inside one region, or inside an imported
 * dma-buf, whose exporter maps it for the copy's device (sg).
 */
struct memdriver_dma_window {
	struct memdriver_region *r;	/* NULL: an import */
	u8 *vaddr;			/* the CPU's view of offset 0 */
	size_t off;			/* advances piece by piece */
	enum dma_data_direction dir;
	dma_addr_t addr;		/* bus address of the current piece */
	bool mapped;
	struct scatterlist *sg;		/* an import's: the segment holding off */
	size_t sg_start;		/* the offset of sg's first byte */
};

static int memdriver_dma_window_init(struct memdriver_dev *md, u64 pos, u64 len,
				     enum dma_data_direction dir,
				     struct memdriver_dma_window *w)
{
	w->r = memdriver_region_holding(md, pos, len);
	if (!w->r)
		return -EINVAL;
	w->vaddr = w->r->cpu_addr;
	w->off = pos - w->r->offset;
	w->dir = dir;
	w->mapped = false;
	w->sg = NULL;
	return 0;
}

static u8 *memdriver_dma_kaddr(const struct memdriver_dma_window *w)
{
	return w->vaddr + w->off;
}

static unsigned int memdriver_dma_window_flags(const struct memdriver_dma_window *w)
{
	return w->r ? w->r->ops->flags : 0;
}

/* Bytes from the window's offset that one mapping can cover. */
static size_t memdriver_dma_chunk(struct memdriver_dma_window *w, size_t len)
{
	/* An import the CPU copies: nothing to map. */
	if (!w->r && !w->sg)
		return len;
	/* An import: up to the end of the DMA segment holding the offset. */
	if (w->sg) {
		while (w->off >= w->sg_start + sg_dma_len(w->sg)) {
			w->sg_start += sg_dma_len(w->sg);
			w->sg = sg_next(w->sg);
		}
		return min_t(size_t, len, w->sg_start + sg_dma_len(w->sg) - w->off);
	}
	/* vmalloc pages are scattered: map them one at a time. */
	if (w->r->ops->flags & MEMDRIVER_REGION_SCATTERED)
		return min_t(size_t, len, PAGE_SIZE - offset_in_page(w->off));
	return len;
}

/*
 * Two mappings must not share a cache line: cache maintenance on one would
 * clobber the other, and DMA-API debug tracks L1 lines.
 */
static unsigned int memdriver_dma_copy_align(void)
{
	return max_t(unsigned int, dma_get_cache_alignment(), L1_CACHE_BYTES);
}

/*
 * The most one mapping on @dev may cover, in whole cache lines and @granules
 * (0: none): dma_max_mapping_size() is 256 KiB when swiotlb bounces, and an
 * engine device also states the longest segment it takes.
 */
static size_t memdriver_dma_map_limit(struct device *dev, bool engine,
				      size_t granule)
{
	size_t max = dma_max_mapping_size(dev);

	if (engine)
		max = min_t(size_t, max, dma_get_max_seg_size(dev));
	return round_down(max, max_t(size_t, memdriver_dma_copy_align(), granule));
}

/*
 * Map the window's next @len bytes for @dev. Not inlined, and open to
 * fail_function (CONFIG_FUNCTION_ERROR_INJECTION), so tests can fail it.
 */
static noinline int memdriver_dma_map(struct device *dev,
				      struct memdriver_dma_window *w, size_t len)
{
	void *kaddr = memdriver_dma_kaddr(w);
	struct page *page;

	/*
	 * An import: its exporter mapped it for the engine's device
	 * (memdriver_dma_chunk() found the segment), or the CPU copies it.
	 */
	if (!w->r) {
		if (w->sg)
			w->addr = sg_dma_address(w->sg) + (w->off - w->sg_start);
		return 0;
	}
	if (w->r->ops->flags & MEMDRIVER_REGION_COHERENT) {
		/* Coherent memory has a bus address already; nothing to map. */
		w->addr = w->r->dma_handle + w->off;
		return 0;
	}
	page = is_vmalloc_addr(kaddr) ? vmalloc_to_page(kaddr) : virt_to_page(kaddr);
	w->addr = dma_map_page(dev, page, offset_in_page(kaddr), len, w->dir);
	if (dma_mapping_error(dev, w->addr))
		return -ENOMEM;
	w->mapped = true;
	return 0;
}

ALLOW_ERROR_INJECTION(memdriver_dma_map, ERRNO);

static void memdriver_dma_unmap(struct device *dev, struct memdriver_dma_window *w,
				size_t len)
{
	if (w->mapped)
		dma_unmap_page(dev, w->addr, len, w->dir);
	w->mapped = false;
}

/* Who copies one call's pieces, and how much the engine moved. */
struct memdriver_dma_copier {
	struct device *dev;	/* the mappings are for it */
	struct dma_chan *chan;	/* NULL: the CPU */
	unsigned int align;	/* the engine's; 1 for the CPU */
	size_t max;		/* the longest piece */
	bool fallback;		/* the CPU takes what the engine cannot get */
	bool abandoned;		/* a piece the engine may still be moving */
	size_t by_engine;
};

/*
 * The engine takes a piece only when both ends are aligned as it requires,
 * judged on the memory's own addresses as well as the bus ones, so that a
 * bounce buffer (which realigns the bus side) does not change who copies.
 * -ENODEV: the channel went away since the copy began.
 */
static int memdriver_dma_by_engine(struct memdriver_dma_copier *c,
				   struct memdriver_dma_window *src,
				   struct memdriver_dma_window *dst, size_t n)
{
	int ret;

	if (!c->chan ||
	    (((uintptr_t)memdriver_dma_kaddr(src) |
	      (uintptr_t)memdriver_dma_kaddr(dst) | n) & (c->align - 1)) ||
	    !is_dma_copy_aligned(c->chan->device, src->addr, dst->addr, n))
		return MEMDRIVER_DMA_BY_CPU;
	if (mutex_lock_killable(&memdriver_dma_lock))
		return -EINTR;
	if (c->chan == memdriver_dma_chan)
		ret = memdriver_dma_engine_piece(c->chan, dst->addr, src->addr, n);
	else
		ret = -ENODEV;
	mutex_unlock(&memdriver_dma_lock);
	return ret;
}

/*
 * One piece, both ends mapped for the copier's device while it moves: by
 * the engine when it takes the piece, else by the CPU, which writes the
 * destination only once that is unmapped (unmapping a FROM_DEVICE buffer
 * copies the device's view of it, a bounce buffer say, back over it). The
 * CPU only reads the source, so that needs no sync. In dma_engine=auto a
 * piece the engine cannot get (a mapping, the job, the channel) goes to the
 * CPU too; in dma_engine=engine that fails the copy.
 */
static int memdriver_dma_piece(struct memdriver_dma_copier *c,
			       struct memdriver_dma_window *src,
			       struct memdriver_dma_window *dst, size_t n)
{
	int ret;

	ret = memdriver_dma_map(c->dev, src, n);
	if (!ret) {
		ret = memdriver_dma_map(c->dev, dst, n);
		if (!ret)
			ret = memdriver_dma_by_engine(c, src, dst, n);
		if (ret == MEMDRIVER_DMA_ABANDONED) {
			c->abandoned = true;
			return -EIO;	/* the engine may still use both */
		}
		memdriver_dma_unmap(c->dev, dst, n);
	}
	if (c->fallback && (ret == -ENOMEM || ret == -ENODEV))
		ret = MEMDRIVER_DMA_BY_CPU;
	if (ret == MEMDRIVER_DMA_BY_CPU) {
		memcpy(memdriver_dma_kaddr(dst), memdriver_dma_kaddr(src), n);
		ret = 0;
	} else if (!ret) {
		c->by_engine += n;
	}
	memdriver_dma_unmap(c->dev, src, n);
	return ret;
}

/*
 * Copy @len bytes in pieces no longer than the copier's limit or either
 * window's physically contiguous run. A fatal signal ends it between pieces.
 */
static int memdriver_dma_copy_pieces(struct memdriver_dma_copier *c,
				     struct memdriver_dma_window *src,
				     struct memdriver_dma_window *dst, size_t len)
{
	size_t done = 0;
	int ret;

	while (done < len) {
		size_t n = min3(len - done, memdriver_dma_chunk(src, len - done),
				memdriver_dma_chunk(dst, len - done));

		if (fatal_signal_pending(current))
			return -EINTR;
		n = min(n, c->max);
		ret = memdriver_dma_piece(c, src, dst, n);
		if (ret)
			return ret;
		src->off += n;
		dst->off += n;
		done += n;
		cond_resched();
	}
	return 0;
}

/*
 * The destination window cut at its cache lines: the body in whole lines,
 * the head and tail in the partial lines at its edges. Only the body's
 * lines belong to this copy alone: the edge lines hold bytes beside the
 * window too.
 */
struct memdriver_dma_span {
	size_t head, body, tail;
};

static struct memdriver_dma_span
memdriver_dma_span(const struct memdriver_dma_window *dst, size_t len)
{
	size_t line = memdriver_dma_copy_align();
	u8 *d = memdriver_dma_kaddr(dst);
	struct memdriver_dma_span span;

	span.head = min_t(size_t, len, PTR_ALIGN(d, line) - d);
	span.body = round_down(len - span.head, line);
	span.tail = len - span.head - span.body;
	return span;
}

/*
 * A copy, by engine or CPU, each rule for a reason:
 * - Only the destination's whole cache lines inside the window are ever
 *   mapped (memdriver_dma_span()), so no mapping shares a line with bytes
 *   of another copy, the CPU's or a mapping's: the Pi's DMA is not
 *   cache-coherent, and unmapping a FROM_DEVICE range invalidates whole
 *   lines, so a shared line would lose what the CPU wrote there meanwhile
 *   (write(), a mapping, another copy), and DMA-API debug reports two live
 *   mappings in one line. The CPU copies the partial edge lines without a
 *   mapping, after the body and only if that succeeded, so a failed copy
 *   leaves the bytes beside the window alone.
 * - Pieces are mapped, copied and unmapped one after another, each unmapped
 *   only once the engine is done with it: within the body, lines that two
 *   pieces share are ours alone and never mapped twice at once.
 * - A piece ends where a scattered (vmalloc) page ends on either side and at
 *   the mapping device's mapping and segment limits.
 * @engine says who moved the bytes: DMAENGINE, CPU, or MIXED for both.
 */
static int memdriver_dma_copy_windows(struct memdriver_dma_copier *c,
				      struct memdriver_dma_window *src,
				      struct memdriver_dma_window *dst,
				      const struct memdriver_dma_span *span,
				      u32 *engine)
{
	u8 *s0 = memdriver_dma_kaddr(src), *d0 = memdriver_dma_kaddr(dst);
	size_t len = span->head + span->body + span->tail;
	int ret;

	if (!c->max)
		return -ENOMEM;
	src->off += span->head;
	dst->off += span->head;
	ret = memdriver_dma_copy_pieces(c, src, dst, span->body);
	if (ret)
		return ret;
	/* The edges: plain CPU copies that no DMA mapping ever covers. */
	memcpy(d0, s0, span->head);
	memcpy(d0 + len - span->tail, s0 + len - span->tail, span->tail);
	*engine = !c->by_engine ? MEMDRIVER_DMA_ENGINE_CPU :
		  c->by_engine == len ? MEMDRIVER_DMA_ENGINE_DMAENGINE :
		  MEMDRIVER_DMA_ENGINE_MIXED;
	return 0;
}

/* Whether an engine could move any of this copy at all. */
static bool memdriver_dma_engine_may_serve(const struct memdriver_dma_window *src,
					   const struct memdriver_dma_window *dst,
					   const struct memdriver_dma_span *span)
{
	/* The coherent buffer's bus address is our device's, not the engine's. */
	if ((memdriver_dma_window_flags(src) | memdriver_dma_window_flags(dst)) &
	    MEMDRIVER_REGION_COHERENT)
		return false;
	return span->body;
}

/*
 * Whether two windows share a cache line. Both lie inside the device (each
 * passed memdriver_dma_window_init(), or is inside the device's own export),
 * so a + len and b + len are at most the device's size and nothing wraps.
 */
static bool memdriver_dma_windows_overlap(u64 a, u64 b, u64 len)
{
	u64 align = memdriver_dma_copy_align();

	return round_down(a, align) < round_up(b + len, align) &&
	       round_down(b, align) < round_up(a + len, align);
}

/*
 * The destination's whole lines, claimed on the device while a copy maps
 * them: two copies into the same lines at once would map them twice (a
 * DMA-API debug report, and lost bytes on a non-coherent system), so the
 * second gets EBUSY. Edge lines are never mapped and never claimed, so
 * copies into neighbouring bytes of one line both go ahead.
 */
struct memdriver_dma_claim {
	struct list_head node;
	u64 start, end;		/* device offsets, whole lines */
};

/*
 * Claim device offsets [start, end), whole lines, for a mapping a device
 * may write; EBUSY if another claim overlaps.
 */
static int memdriver_claim_lines(struct memdriver_dev *md,
				 struct memdriver_dma_claim *claim,
				 u64 start, u64 end)
{
	struct memdriver_dma_claim *other;
	int ret = 0;

	claim->start = start;
	claim->end = end;
	spin_lock(&md->dma_claims_lock);
	list_for_each_entry(other, &md->dma_claims, node) {
		if (start < other->end && other->start < end) {
			ret = -EBUSY;
			break;
		}
	}
	if (!ret)
		list_add(&claim->node, &md->dma_claims);
	spin_unlock(&md->dma_claims_lock);
	return ret;
}

static int memdriver_dma_claim(struct memdriver_dev *md,
			       struct memdriver_dma_claim *claim,
			       const struct memdriver_dma_window *dst,
			       const struct memdriver_dma_span *span)
{
	u64 start = dst->r->offset + dst->off + span->head;

	INIT_LIST_HEAD(&claim->node);
	if (!span->body || (dst->r->ops->flags & MEMDRIVER_REGION_COHERENT))
		return 0;
	return memdriver_claim_lines(md, claim, start, start + span->body);
}

static void memdriver_dma_unclaim(struct memdriver_dev *md,
				  struct memdriver_dma_claim *claim)
{
	spin_lock(&md->dma_claims_lock);
	list_del(&claim->node);
	spin_unlock(&md->dma_claims_lock);
}

/*
 * An abandoned copy's lines stay mapped for the engine, so they stay
 * claimed, for good: a later copy into them gets EBUSY rather than a second
 * mapping of lines the engine may still write. The claim moves off the
 * stack; without memory for it the lines are let go as before.
 */
static void memdriver_dma_claim_abandon(struct memdriver_dev *md,
					struct memdriver_dma_claim *claim)
{
	struct memdriver_dma_claim *kept = kmalloc(sizeof(*kept), GFP_KERNEL);

	spin_lock(&md->dma_claims_lock);
	if (kept && !list_empty(&claim->node)) {
		*kept = *claim;
		list_replace(&claim->node, &kept->node);
		kept = NULL;
	} else {
		list_del(&claim->node);
	}
	spin_unlock(&md->dma_claims_lock);
	kfree(kept);
}

/* Who copies: a channel when the mode and the windows allow, else the CPU. */
static int memdriver_dma_copier_init(struct memdriver_dev *md,
				     struct memdriver_dma_copier *c,
				     const struct memdriver_dma_window *src,
				     const struct memdriver_dma_window *dst,
				     const struct memdriver_dma_span *span, u32 flags)
{
	bool may_serve = memdriver_dma_engine_may_serve(src, dst, span);
	struct dma_chan *chan = NULL;

	/* dma_engine=engine never falls back to the CPU for want of a channel. */
	if (dma_engine_mode != MEMDRIVER_DMA_MODE_CPU &&
	    !(flags & MEMDRIVER_DMA_COPY_CPU) &&
	    (may_serve || dma_engine_mode == MEMDRIVER_DMA_MODE_ENGINE)) {
		chan = memdriver_dma_chan_get();
		if (IS_ERR(chan))
			return PTR_ERR(chan);
		if (!chan && dma_engine_mode == MEMDRIVER_DMA_MODE_ENGINE)
			return -ENODEV;
	}
	*c = (struct memdriver_dma_copier) {
		.dev = &md->pdev->dev,
		.align = 1,
	};
	if (chan && may_serve) {
		c->dev = dmaengine_get_dma_device(chan);
		c->chan = chan;
		c->align = memdriver_dma_engine_align(chan);
		c->fallback = dma_engine_mode == MEMDRIVER_DMA_MODE_AUTO;
	}
	c->max = memdriver_dma_map_limit(c->dev, !!c->chan, c->align);
	return 0;
}
