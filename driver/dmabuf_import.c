// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf import: another driver's buffer as a copy's source. Part of
 * memdriver.c, never built alone.
 */

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)

/*
 * A dma-buf this fd imported: attached to the device that copies from it
 * (the DMA engine's when one was held, else this memdriver device), mapped
 * for that device to read and vmapped for the CPU, from import to drop, as
 * a device that scans a buffer out holds it. Copies take a reference, so a
 * drop never pulls it from under one.
 */
struct memdriver_import {
	struct kref ref;
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	struct device *dev;
	struct iosys_map map;
};

static void memdriver_import_release(struct kref *ref)
{
	struct memdriver_import *imp = container_of(ref, struct memdriver_import, ref);

	memdriver_dma_buf_vunmap(imp->dmabuf, &imp->map);
	memdriver_dma_buf_unmap_attachment(imp->attach, imp->sgt, DMA_TO_DEVICE);
	dma_buf_detach(imp->dmabuf, imp->attach);
	dma_buf_put(imp->dmabuf);
	put_device(imp->dev);
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

/* The device whose DMA addresses an import gets: the next copy's. */
static struct device *memdriver_import_device(struct memdriver_dev *md)
{
	struct dma_chan *chan = NULL;

	if (dma_engine_mode != MEMDRIVER_DMA_MODE_CPU) {
		chan = memdriver_dma_chan_get();
		if (IS_ERR(chan))
			return ERR_CAST(chan);
	}
	return get_device(chan ? dmaengine_get_dma_device(chan) : &md->pdev->dev);
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

static struct memdriver_import *
memdriver_import_attach(struct memdriver_dev *md, int fd)
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
	imp->dev = memdriver_import_device(md);
	if (IS_ERR(imp->dev)) {
		ret = PTR_ERR(imp->dev);
		goto err_put_buf;
	}
	imp->attach = dma_buf_attach(imp->dmabuf, imp->dev);
	if (IS_ERR(imp->attach)) {
		ret = PTR_ERR(imp->attach);
		goto err_put_dev;
	}
	imp->sgt = memdriver_dma_buf_map_attachment(imp->attach, DMA_TO_DEVICE);
	if (IS_ERR(imp->sgt)) {
		ret = PTR_ERR(imp->sgt);
		goto err_detach;
	}
	/* Copies walk the segments up to any offset below the size. */
	if (memdriver_sgt_dma_len(imp->sgt) < imp->dmabuf->size) {
		ret = -EINVAL;
		goto err_unmap;
	}
	/* The CPU copies a copy's edges, and what the engine cannot take. */
	ret = memdriver_dma_buf_vmap(imp->dmabuf, &imp->map);
	if (ret) {
		/* dma-buf's answer for an exporter without vmap. */
		if (ret == -EINVAL)
			ret = -EOPNOTSUPP;
		goto err_unmap;
	}
	if (imp->map.is_iomem) {
		ret = -EOPNOTSUPP;
		goto err_vunmap;
	}
	return imp;

err_vunmap:
	memdriver_dma_buf_vunmap(imp->dmabuf, &imp->map);
err_unmap:
	memdriver_dma_buf_unmap_attachment(imp->attach, imp->sgt, DMA_TO_DEVICE);
err_detach:
	dma_buf_detach(imp->dmabuf, imp->attach);
err_put_dev:
	put_device(imp->dev);
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
	imp = memdriver_import_attach(mf->md, req.fd);
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

/* A copy's source window in @imp, its segments mapped already. */
static int memdriver_import_window_init(struct memdriver_import *imp, u64 pos,
					u64 len, struct memdriver_dma_window *w)
{
	if (pos >= imp->dmabuf->size || len > imp->dmabuf->size - pos)
		return -EINVAL;
	*w = (struct memdriver_dma_window) {
		.vaddr = imp->map.vaddr,
		.off = pos,
		.dir = DMA_TO_DEVICE,
		.dma_dev = imp->dev,
		.sg = imp->sgt->sgl,
	};
	return 0;
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

/* The exporter's cache maintenance around a copy that the CPU may read. */
static int memdriver_import_begin_read(struct memdriver_import *imp)
{
	return imp ? dma_buf_begin_cpu_access(imp->dmabuf, DMA_FROM_DEVICE) : 0;
}

static void memdriver_import_end_read(struct memdriver_import *imp)
{
	if (imp)
		dma_buf_end_cpu_access(imp->dmabuf, DMA_FROM_DEVICE);
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

static int memdriver_import_window_init(struct memdriver_import *imp, u64 pos,
					u64 len, struct memdriver_dma_window *w)
{
	return -EINVAL;
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
