// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf export: a window of a region, for other drivers. Part of
 * memdriver.c, never built alone.
 */

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)

/*
 * An exported window. Its bytes are the device's (regions live until
 * unload) and the dma-buf pins the module (exp_info.owner), so it needs
 * nothing from the memdriver fd that exported it.
 */
struct memdriver_dmabuf {
	struct memdriver_dev *md;
	struct memdriver_region *r;
	unsigned long off;		/* window start in the region */
	bool read_only;
	unsigned int nr_pages;
	struct page **pages;
	struct mutex lock;		/* guards attachments and their state */
	struct list_head attachments;
};

/*
 * One importing device and its own DMA addresses for the window: sgt is
 * ours, mapped and synced; the importer gets a copy of its DMA segments
 * (handed), which the dma-buf core may scramble under DMABUF_DEBUG.
 */
struct memdriver_attachment {
	struct device *dev;
	struct sg_table sgt;
	struct sg_table handed;		/* while mapped */
	bool mapped;
	enum dma_data_direction dir;	/* while mapped */
	struct memdriver_dma_claim claim;	/* while mapped for device writes */
	struct list_head node;		/* in attachments */
};

static void *memdriver_dmabuf_vaddr(struct memdriver_dmabuf *buf)
{
	return buf->r->cpu_addr + buf->off;
}

static int memdriver_dmabuf_attach(struct dma_buf *dmabuf,
				   struct dma_buf_attachment *attach)
{
	struct memdriver_dmabuf *buf = dmabuf->priv;
	/* Segments no longer than the importer's device takes in one piece. */
	size_t seg = min_t(size_t, dma_get_max_seg_size(attach->dev),
			   dma_max_mapping_size(attach->dev));
	struct memdriver_attachment *a;
	int ret;

	seg = max_t(size_t, round_down(seg, PAGE_SIZE), PAGE_SIZE);
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	ret = sg_alloc_table_from_pages_segment(&a->sgt, buf->pages,
						buf->nr_pages, 0, dmabuf->size,
						min_t(size_t, seg, UINT_MAX),
						GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	a->dev = attach->dev;
	attach->priv = a;
	mutex_lock(&buf->lock);
	list_add(&a->node, &buf->attachments);
	mutex_unlock(&buf->lock);
	return 0;
}

static void memdriver_dmabuf_detach(struct dma_buf *dmabuf,
				    struct dma_buf_attachment *attach)
{
	struct memdriver_dmabuf *buf = dmabuf->priv;
	struct memdriver_attachment *a = attach->priv;

	mutex_lock(&buf->lock);
	list_del(&a->node);
	mutex_unlock(&buf->lock);
	sg_free_table(&a->sgt);
	kfree(a);
}

/*
 * @from's DMA segments without its pages, for an importer, as 7.2's dma-buf
 * core hands them out under DMABUF_DEBUG. 6.1's and 6.12's scramble the
 * table an exporter returns in place until unmap, so our syncs must read
 * a table of our own.
 */
static int memdriver_sgt_dup_dma(struct sg_table *to, struct sg_table *from)
{
	struct scatterlist *to_sg, *from_sg;
	int ret, i;

	ret = sg_alloc_table(to, from->nents, GFP_KERNEL);
	if (ret)
		return ret;
	to_sg = to->sgl;
	for_each_sgtable_dma_sg(from, from_sg, i) {
		sg_dma_address(to_sg) = sg_dma_address(from_sg);
		sg_dma_len(to_sg) = sg_dma_len(from_sg);
		to_sg = sg_next(to_sg);
	}
	return 0;
}

/* Cache maintenance for the device happens here, as for any mapping. */
static struct sg_table *memdriver_dmabuf_map(struct dma_buf_attachment *attach,
					     enum dma_data_direction dir)
{
	struct memdriver_dmabuf *buf = attach->dmabuf->priv;
	struct memdriver_attachment *a = attach->priv;
	int ret;

	/* A read-only buffer: devices may read it, never write it. */
	if (buf->read_only && dir != DMA_TO_DEVICE)
		return ERR_PTR(-EACCES);
	/* One set of DMA addresses per attachment. */
	if (a->mapped)
		return ERR_PTR(-EBUSY);
	/*
	 * A device that may write owns the window's lines while mapped, as a
	 * copy's destination does (DMA-API debug refuses overlapping
	 * writable mappings): another such import, or a copy into them, is
	 * EBUSY until it unmaps.
	 */
	INIT_LIST_HEAD(&a->claim.node);
	if (dir != DMA_TO_DEVICE) {
		u64 start = buf->r->offset + buf->off;

		ret = memdriver_claim_lines(buf->md, &a->claim, start,
					    start + attach->dmabuf->size);
		if (ret)
			return ERR_PTR(ret);
	}
	ret = dma_map_sgtable(a->dev, &a->sgt, dir, 0);
	if (ret)
		goto err_unclaim;
	ret = memdriver_sgt_dup_dma(&a->handed, &a->sgt);
	if (ret)
		goto err_unmap;
	mutex_lock(&buf->lock);
	a->dir = dir;
	a->mapped = true;
	mutex_unlock(&buf->lock);
	return &a->handed;

err_unmap:
	dma_unmap_sgtable(a->dev, &a->sgt, dir, 0);
err_unclaim:
	memdriver_dma_unclaim(buf->md, &a->claim);
	return ERR_PTR(ret);
}

static void memdriver_dmabuf_unmap(struct dma_buf_attachment *attach,
				   struct sg_table *sgt,
				   enum dma_data_direction dir)
{
	struct memdriver_dmabuf *buf = attach->dmabuf->priv;
	struct memdriver_attachment *a = attach->priv;

	mutex_lock(&buf->lock);
	a->mapped = false;
	mutex_unlock(&buf->lock);
	dma_unmap_sgtable(a->dev, &a->sgt, dir, 0);
	sg_free_table(&a->handed);
	memdriver_dma_unclaim(buf->md, &a->claim);
}

/*
 * DMA_BUF_IOCTL_SYNC's start and end (and kernel importers' own calls):
 * every device mapping synced for the CPU, then back for the devices, in
 * the direction it was mapped with, which DMA-API debug insists on. On a
 * non-coherent system (a Pi 5) this is what makes a device's writes visible
 * to the CPU and the CPU's to the device; under swiotlb it copies the
 * bounce buffers. The vmalloc region's second kernel mapping (vmap's) is
 * kept coherent with the pages where caches could alias.
 */
static int memdriver_dmabuf_begin_cpu_access(struct dma_buf *dmabuf,
					     enum dma_data_direction dir)
{
	struct memdriver_dmabuf *buf = dmabuf->priv;
	struct memdriver_attachment *a;

	mutex_lock(&buf->lock);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->mapped)
			dma_sync_sgtable_for_cpu(a->dev, &a->sgt, a->dir);
	mutex_unlock(&buf->lock);
	if (is_vmalloc_addr(buf->r->cpu_addr))
		invalidate_kernel_vmap_range(memdriver_dmabuf_vaddr(buf),
					     dmabuf->size);
	return 0;
}

static int memdriver_dmabuf_end_cpu_access(struct dma_buf *dmabuf,
					   enum dma_data_direction dir)
{
	struct memdriver_dmabuf *buf = dmabuf->priv;
	struct memdriver_attachment *a;

	if (is_vmalloc_addr(buf->r->cpu_addr))
		flush_kernel_vmap_range(memdriver_dmabuf_vaddr(buf),
					dmabuf->size);
	mutex_lock(&buf->lock);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->mapped)
			dma_sync_sgtable_for_device(a->dev, &a->sgt, a->dir);
	mutex_unlock(&buf->lock);
	return 0;
}

/* The dma-buf core checked the range against the buffer's size. */
static int memdriver_dmabuf_mmap(struct dma_buf *dmabuf,
				 struct vm_area_struct *vma)
{
	struct memdriver_dmabuf *buf = dmabuf->priv;

	/*
	 * The kernel refuses writable mappings of our read-only fd itself,
	 * but an importer's dma_buf_mmap() brings its own file's rights.
	 */
	if (buf->read_only) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		memdriver_vm_flags_mod(vma, 0, VM_MAYWRITE);
	}
	/* From here on it is a mapping of the device's offset space. */
	vma->vm_pgoff += (buf->r->offset + buf->off) >> PAGE_SHIFT;
	return memdriver_mmap_region(buf->md, buf->r, vma);
}

/* Every exportable region already has a kernel mapping. */
static int memdriver_dmabuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	iosys_map_set_vaddr(map, memdriver_dmabuf_vaddr(dmabuf->priv));
	return 0;
}

static void memdriver_dmabuf_free(struct memdriver_dmabuf *buf)
{
	kvfree(buf->pages);
	mutex_destroy(&buf->lock);
	kfree(buf);
}

static void memdriver_dmabuf_release(struct dma_buf *dmabuf)
{
	memdriver_dmabuf_free(dmabuf->priv);
}

static const struct dma_buf_ops memdriver_dmabuf_ops = {
	.attach = memdriver_dmabuf_attach,
	.detach = memdriver_dmabuf_detach,
	.map_dma_buf = memdriver_dmabuf_map,
	.unmap_dma_buf = memdriver_dmabuf_unmap,
	.begin_cpu_access = memdriver_dmabuf_begin_cpu_access,
	.end_cpu_access = memdriver_dmabuf_end_cpu_access,
	.mmap = memdriver_dmabuf_mmap,
	.vmap = memdriver_dmabuf_vmap,
	.release = memdriver_dmabuf_release,
};

static struct memdriver_dmabuf *memdriver_dmabuf_alloc(struct memdriver_dev *md,
						       struct memdriver_region *r,
						       unsigned long off,
						       size_t len, bool read_only)
{
	struct memdriver_dmabuf *buf;
	unsigned int i;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return NULL;
	buf->nr_pages = len >> PAGE_SHIFT;
	buf->pages = kvmalloc_array(buf->nr_pages, sizeof(*buf->pages),
				    GFP_KERNEL);
	if (!buf->pages) {
		kfree(buf);
		return NULL;
	}
	for (i = 0; i < buf->nr_pages; i++)
		buf->pages[i] = memdriver_kaddr_page(r->cpu_addr + off +
						     i * PAGE_SIZE);
	buf->md = md;
	buf->r = r;
	buf->off = off;
	buf->read_only = read_only;
	mutex_init(&buf->lock);
	INIT_LIST_HEAD(&buf->attachments);
	return buf;
}

static int memdriver_dmabuf_export(struct file *file,
				   struct memdriver_dmabuf_export __user *uexp)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct memdriver_file *mf = file->private_data;
	struct memdriver_dmabuf_export req;
	struct memdriver_region *r;
	struct memdriver_dmabuf *buf;
	struct dma_buf *dmabuf;
	char *name;
	int fd;

	if (copy_from_user(&req, uexp, sizeof(req)))
		return -EFAULT;
	if ((req.flags & ~MEMDRIVER_DMABUF_RDWR) || req.pad)
		return -EINVAL;
	if (!req.len || !PAGE_ALIGNED(req.offset) || !PAGE_ALIGNED(req.len))
		return -EINVAL;
	r = memdriver_region_holding(mf->md, req.offset, req.len);
	if (!r)
		return -EINVAL;
	if (r->ops->flags & MEMDRIVER_REGION_COHERENT)
		return -EOPNOTSUPP;
	if ((req.flags & MEMDRIVER_DMABUF_RDWR) && !(file->f_mode & FMODE_WRITE))
		return -EACCES;

	/* As /sys/kernel/debug/dma_buf/bufinfo and fdinfo show it. */
	name = kasprintf(GFP_KERNEL, "%s:%s+0x%llx", dev_name(&mf->md->dev),
			 r->ops->name, req.offset - r->offset);
	if (!name)
		return -ENOMEM;
	buf = memdriver_dmabuf_alloc(mf->md, r, req.offset - r->offset, req.len,
				     !(req.flags & MEMDRIVER_DMABUF_RDWR));
	if (!buf) {
		kfree(name);
		return -ENOMEM;
	}
	exp_info.ops = &memdriver_dmabuf_ops;
	exp_info.size = req.len;
	exp_info.flags = (buf->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		kfree(name);
		memdriver_dmabuf_free(buf);
		return PTR_ERR(dmabuf);
	}
	/* bufinfo lists the buffer already; from here its release frees. */
	spin_lock(&dmabuf->name_lock);
	dmabuf->name = name;
	spin_unlock(&dmabuf->name_lock);

	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(dmabuf);
	return fd;
}

#else /* !CONFIG_DMA_SHARED_BUFFER */

static int memdriver_dmabuf_export(struct file *file,
				   struct memdriver_dmabuf_export __user *uexp)
{
	return -EOPNOTSUPP;
}

#endif /* CONFIG_DMA_SHARED_BUFFER */
