// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf import: another driver's buffer as a copy's source. Part of
 * memdriver.c, never built alone.
 */

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)

/*
 * A dma-buf this fd imported: vmapped for the CPU from import to drop.
 * A copy attaches and maps it for its engine's device only while it runs
 * (memdriver_import_map()), so no mapping of ours (a bounce buffer, lines
 * another CPU access synced) outlives the copy that reads through it, and
 * importing needs no channel. Copies take a reference, so a drop never
 * pulls it from under one.
 */
struct memdriver_import {
	struct kref ref;
	struct dma_buf *dmabuf;
	struct iosys_map map;
};

/* One copy's attachment and DMA addresses of an import. */
struct memdriver_import_mapping {
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
};

static void memdriver_import_release(struct kref *ref)
{
	struct memdriver_import *imp = container_of(ref, struct memdriver_import, ref);

	memdriver_dma_buf_vunmap(imp->dmabuf, &imp->map);
	dma_buf_put(imp->dmabuf);
	kfree(imp);
}

static void memdriver_import_put(struct memdriver_import *imp)
{
	if (imp)
		kref_put(&imp->ref, memdriver_import_release);
}

/* This fd's import, with a reference; NULL without one. */
static struct memdriver_import *memdriver_import_get(struct memdriver_file *mf)
{
	struct memdriver_import *imp;

	spin_lock(&mf->import_lock);
	imp = mf->import;
	if (imp)
		kref_get(&imp->ref);
	spin_unlock(&mf->import_lock);
	return imp;
}

/* The bytes an exporter's mapping gives the device, all segments. */
static u64 memdriver_sgt_dma_len(struct sg_table *sgt)
{
	struct scatterlist *sg;
	u64 len = 0;
	int i;

	for_each_sgtable_dma_sg(sgt, sg, i)
		len += sg_dma_len(sg);
	return len;
}

static struct memdriver_import *memdriver_import_vmap(int fd)
{
	struct memdriver_import *imp;
	int ret;

	imp = kzalloc(sizeof(*imp), GFP_KERNEL);
	if (!imp)
		return ERR_PTR(-ENOMEM);
	kref_init(&imp->ref);
	imp->dmabuf = dma_buf_get(fd);
	if (IS_ERR(imp->dmabuf)) {
		ret = PTR_ERR(imp->dmabuf);
		goto err_free;
	}
	/* The CPU copies a copy's edges, and what the engine cannot take. */
	ret = memdriver_dma_buf_vmap(imp->dmabuf, &imp->map);
	if (ret) {
		/* dma-buf's answer for an exporter without vmap. */
		if (ret == -EINVAL)
			ret = -EOPNOTSUPP;
		goto err_put_buf;
	}
	if (imp->map.is_iomem) {
		ret = -EOPNOTSUPP;
		goto err_vunmap;
	}
	return imp;

err_vunmap:
	memdriver_dma_buf_vunmap(imp->dmabuf, &imp->map);
err_put_buf:
	dma_buf_put(imp->dmabuf);
err_free:
	kfree(imp);
	return ERR_PTR(ret);
}

/* Make @imp this fd's import, unless it holds one (false). */
static bool memdriver_import_install(struct memdriver_file *mf,
				     struct memdriver_import *imp)
{
	bool installed;

	spin_lock(&mf->import_lock);
	installed = !mf->import;
	if (installed)
		mf->import = imp;
	spin_unlock(&mf->import_lock);
	return installed;
}

/* This fd's import, taken from it with the fd's reference; NULL without. */
static struct memdriver_import *memdriver_import_take(struct memdriver_file *mf)
{
	struct memdriver_import *imp;

	spin_lock(&mf->import_lock);
	imp = mf->import;
	mf->import = NULL;
	spin_unlock(&mf->import_lock);
	return imp;
}

static int memdriver_dmabuf_import(struct memdriver_file *mf,
				   struct memdriver_dmabuf_import __user *ureq)
{
	struct memdriver_dmabuf_import req;
	struct memdriver_import *imp;
	u64 size;

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if (req.flags)
		return -EINVAL;
	if (req.fd == -1) {
		memdriver_import_put(memdriver_import_take(mf));
		return 0;
	}
	/* Refused before the exporter hears of it, and at the install. */
	if (READ_ONCE(mf->import))
		return -EBUSY;
	imp = memdriver_import_vmap(req.fd);
	if (IS_ERR(imp))
		return PTR_ERR(imp);
	size = imp->dmabuf->size;
	if (put_user(size, &ureq->size)) {
		memdriver_import_put(imp);
		return -EFAULT;
	}
	if (!memdriver_import_install(mf, imp)) {
		memdriver_import_put(imp);
		return -EBUSY;
	}
	return 0;
}

/* A copy's source window in @imp; memdriver_import_map() gives its segments. */
static int memdriver_import_window_init(struct memdriver_import *imp, u64 pos,
					u64 len, struct memdriver_dma_window *w)
{
	if (pos >= imp->dmabuf->size || len > imp->dmabuf->size - pos)
		return -EINVAL;
	*w = (struct memdriver_dma_window) {
		.vaddr = imp->map.vaddr,
		.off = pos,
		.dir = DMA_TO_DEVICE,
	};
	return 0;
}

/*
 * Attach @imp to @dev and map it, for one copy from @w by @dev's engine:
 * the exporter cleans or bounces the buffer as it is now, CPU stores and
 * device writes up to this copy included. DMA_TO_DEVICE, as the device
 * only reads: DMA-API debug lets such a mapping share cache lines with
 * others (udmabuf's own, say), and memdriver's exporter refuses a
 * read-only buffer any other way.
 */
static int memdriver_import_map(struct memdriver_import *imp, struct device *dev,
				struct memdriver_import_mapping *m,
				struct memdriver_dma_window *w)
{
	int ret;

	m->attach = dma_buf_attach(imp->dmabuf, dev);
	if (IS_ERR(m->attach))
		return PTR_ERR(m->attach);
	m->sgt = memdriver_dma_buf_map_attachment(m->attach, DMA_TO_DEVICE);
	if (IS_ERR(m->sgt)) {
		ret = PTR_ERR(m->sgt);
		goto err_detach;
	}
	/* The copy walks the segments up to any offset below the size. */
	if (memdriver_sgt_dma_len(m->sgt) < imp->dmabuf->size) {
		ret = -EINVAL;
		goto err_unmap;
	}
	w->sg = m->sgt->sgl;
	w->sg_start = 0;
	return 0;

err_unmap:
	memdriver_dma_buf_unmap_attachment(m->attach, m->sgt, DMA_TO_DEVICE);
err_detach:
	dma_buf_detach(imp->dmabuf, m->attach);
	return ret;
}

static void memdriver_import_unmap(struct memdriver_import *imp,
				   struct memdriver_import_mapping *m)
{
	memdriver_dma_buf_unmap_attachment(m->attach, m->sgt, DMA_TO_DEVICE);
	dma_buf_detach(imp->dmabuf, m->attach);
}

/*
 * Whether @imp is a window that @md exported itself; if so, @pos, an
 * offset in the import, becomes the device offset of the same byte.
 */
static bool memdriver_import_on_dev(struct memdriver_import *imp,
				    struct memdriver_dev *md, u64 *pos)
{
	struct memdriver_dmabuf *buf = imp->dmabuf->priv;

	if (imp->dmabuf->ops != &memdriver_dmabuf_ops || buf->md != md)
		return false;
	*pos += buf->r->offset + buf->off;
	return true;
}

/*
 * The exporter's cache maintenance around a copy that the CPU reads (the
 * edges, or all of it), with no mapping of ours in place: the heaps sync
 * every attachment in their caller's direction. Both ways, a superset of
 * reading: 6.12's udmabuf maps a table of its own at the first CPU access
 * in that caller's direction and unmaps it both ways at release. The
 * exporter's fences are waited for interruptibly.
 */
static int memdriver_import_begin_read(struct memdriver_import *imp)
{
	return imp ? dma_buf_begin_cpu_access(imp->dmabuf, DMA_BIDIRECTIONAL) : 0;
}

static void memdriver_import_end_read(struct memdriver_import *imp)
{
	if (imp)
		dma_buf_end_cpu_access(imp->dmabuf, DMA_BIDIRECTIONAL);
}

#else /* !CONFIG_DMA_SHARED_BUFFER */

static int memdriver_dmabuf_import(struct memdriver_file *mf,
				   struct memdriver_dmabuf_import __user *ureq)
{
	return -EOPNOTSUPP;
}

static struct memdriver_import *memdriver_import_get(struct memdriver_file *mf)
{
	return NULL;
}

static void memdriver_import_put(struct memdriver_import *imp)
{
}

struct memdriver_import_mapping {
};

static int memdriver_import_window_init(struct memdriver_import *imp, u64 pos,
					u64 len, struct memdriver_dma_window *w)
{
	return -EINVAL;
}

static int memdriver_import_map(struct memdriver_import *imp, struct device *dev,
				struct memdriver_import_mapping *m,
				struct memdriver_dma_window *w)
{
	return -EINVAL;
}

static void memdriver_import_unmap(struct memdriver_import *imp,
				   struct memdriver_import_mapping *m)
{
}

static bool memdriver_import_on_dev(struct memdriver_import *imp,
				    struct memdriver_dev *md, u64 *pos)
{
	return false;
}

static int memdriver_import_begin_read(struct memdriver_import *imp)
{
	return 0;
}

static void memdriver_import_end_read(struct memdriver_import *imp)
{
}

#endif /* CONFIG_DMA_SHARED_BUFFER */
