// SPDX-License-Identifier: GPL-2.0
/*
 * memdriver - every way a driver gets memory, handed to user space.
 *
 * Each /dev/memdriverN owns four buffers, one per allocator (kmalloc,
 * vmalloc, DMA coherent, page allocator), laid end to end in one offset
 * space that read/write/lseek and mmap share, plus a kmem_cache object pool
 * driven by ioctl. A window of a region can be exported as a dma-buf.
 *
 * Locking:
 * - Region buffers, sizes and offsets are fixed between load and unload, so
 *   read/write/mmap take no lock. Concurrent writers to the same bytes race
 *   like writers to shared memory; kernel state is never affected.
 * - Each open file owns its objects in its own xarray; xa_lock serialises
 *   insert, erase and payload copies, so an object is never freed while a
 *   payload copy is in flight.
 * - The module-wide object count is an atomic, and atomic_add_unless()
 *   enforces its cap so it can never be overshot. Per-device statistics
 *   are per-CPU counters, summed only when read.
 * - files_lock guards each device's list of open files (debugfs only).
 * - Each exported dma-buf's lock guards its list of attachments and whether
 *   each is mapped, so CPU-access syncs never meet a mapping half made.
 * - Each file's import_lock guards its import pointer; a copy from the
 *   import holds a reference (kref), so dropping it waits for nobody.
 * - memdriver_dma_lock guards the DMA channel and serialises descriptors on
 *   it; waits for it, and every wait made under it, are killable. Each
 *   device's dma_claims_lock (a spinlock) guards the whole cache lines that
 *   copies under way and importers of its dma-bufs map for device writes,
 *   so no two such mappings ever share a line.
 *
 * Lifetimes:
 * - Open files pin the module (cdev.owner), so nothing they use is freed
 *   under them. open() refuses until every device exists: a load that fails
 *   half way tears down devices nobody can have opened.
 * - An exported dma-buf pins the module (exp_info.owner) but no file: its
 *   bytes are a device's, which live until unload.
 * - A file's import keeps its dma-buf vmapped until it is dropped or the
 *   file is released, whichever driver exported it; a copy by the engine
 *   attaches and maps it for as long as it runs.
 * - Each device's memory (struct memdriver_dev, holding the struct device
 *   and the cdev) belongs to its struct device: cdev_device_add() makes the
 *   cdev hold the device, and the device's release frees the memory, however
 *   late the last kobject reference goes (CONFIG_DEBUG_KOBJECT_RELEASE delays
 *   it by seconds). Unload waits for those releases, since they run module
 *   code. The class is class_create()'s, released by kernel code.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/cdev.h>
#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/error-injection.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "memdriver.h"

/*
 * The parts, in layering order: each is one concern, and a part calls only
 * parts included before it (a new function goes in the lowest part that
 * has all it calls). They are included, not linked, as
 * kernel/sched/build_policy.c includes its parts: the module stays one
 * compilation unit built from this file, so everything stays static.
 */
#include "driver/internal.h"		/* limits, version shims, shared structures */
#include "driver/regions.c"		/* the four allocators; read/write/lseek, mmap */
#include "driver/objects.c"		/* the kmem_cache object pool and its caps */
#include "driver/dma_engine.c"		/* the memcpy channel, descriptors, fault knobs */
#include "driver/dma_copy.c"		/* streaming DMA copies and cache-line claims */
#include "driver/dmabuf_export.c"	/* a window as a dma-buf for other drivers */
#include "driver/dmabuf_import.c"	/* another driver's dma-buf as a copy's source */

/* ---- Module parameters ---- */

static unsigned int nr_devices = 1;
module_param(nr_devices, uint, 0444);
MODULE_PARM_DESC(nr_devices, "Number of /dev/memdriverN devices (1-8, default 1)");

static unsigned long kmalloc_size = MEMDRIVER_DEFAULT_KMALLOC_SIZE;
module_param(kmalloc_size, ulong, 0444);
MODULE_PARM_DESC(kmalloc_size, "kmalloc region bytes (default 4 KiB, max 4 MiB)");

static unsigned long vmalloc_size = MEMDRIVER_DEFAULT_VMALLOC_SIZE;
module_param(vmalloc_size, ulong, 0444);
MODULE_PARM_DESC(vmalloc_size, "vmalloc region bytes (default 1 MiB, max 256 MiB)");

static unsigned long dma_size = MEMDRIVER_DEFAULT_DMA_SIZE;
module_param(dma_size, ulong, 0444);
MODULE_PARM_DESC(dma_size, "DMA coherent region bytes (default 16 KiB, max 4 MiB)");

static unsigned long pages_size = MEMDRIVER_DEFAULT_PAGES_SIZE;
module_param(pages_size, ulong, 0444);
MODULE_PARM_DESC(pages_size, "Page allocator region bytes (default 16 KiB, max 4 MiB)");

static ushort dev_mode = 0600;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "Permissions of /dev/memdriverN (default 0600)");

static dev_t memdriver_devt;
static struct class *memdriver_class;
/* Set once every device exists; open() refuses before. */
static bool memdriver_ready;
/* Devices whose release has not run yet; unload waits for none. */
static atomic_t memdriver_unreleased = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(memdriver_release_wq);
static struct memdriver_dev *memdriver_devs[MEMDRIVER_MAX_DEVICES];

/* ---- MEM_IOCTL_DMA_COPY ---- */

/*
 * MEM_IOCTL_DMA_COPY: from a window of the device, or of this fd's import,
 * to a window of the device.
 */
static int memdriver_dma_copy(struct memdriver_file *mf,
			      struct memdriver_dma_copy __user *ureq)
{
	struct memdriver_import_mapping mapping;
	struct memdriver_import *imp = NULL;
	struct memdriver_dev *md = mf->md;
	struct memdriver_dma_window src, dst;
	struct memdriver_dma_copier copier;
	struct memdriver_dma_claim claim;
	struct memdriver_dma_span span;
	struct memdriver_dma_copy req;
	bool imp_mapped = false;
	u64 src_pos;
	u32 engine;
	int ret;

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if ((req.flags & ~(MEMDRIVER_DMA_COPY_CPU | MEMDRIVER_DMA_COPY_FROM_IMPORT)) ||
	    !req.len)
		return -EINVAL;
	src_pos = req.src;
	if (req.flags & MEMDRIVER_DMA_COPY_FROM_IMPORT) {
		imp = memdriver_import_get(mf);
		if (!imp)
			return -ENOENT;
		ret = memdriver_import_window_init(imp, req.src, req.len, &src);
	} else {
		ret = memdriver_dma_window_init(md, req.src, req.len, DMA_TO_DEVICE, &src);
	}
	ret = ret ?: memdriver_dma_window_init(md, req.dst, req.len, DMA_FROM_DEVICE, &dst);
	/*
	 * Two windows of the device must not share a line, nor may the
	 * device's own export, imported, share one with the destination.
	 */
	if (!ret && (!imp || memdriver_import_on_dev(imp, md, &src_pos)) &&
	    memdriver_dma_windows_overlap(src_pos, req.dst, req.len))
		ret = -EINVAL;
	if (ret)
		goto out;
	span = memdriver_dma_span(&dst, req.len);
	ret = memdriver_dma_copier_init(md, &copier, &src, &dst, &span, req.flags);
	if (ret)
		goto out;
	ret = memdriver_dma_claim(md, &claim, &dst, &span);
	if (ret)
		goto out;
	ret = memdriver_import_begin_read(imp);
	if (ret)
		goto out_unclaim;
	/* The engine reads an import through DMA addresses of its own device. */
	if (imp && copier.chan) {
		ret = memdriver_import_map(imp, copier.dev, &mapping, &src);
		if (ret)
			goto out_end_read;
		imp_mapped = true;
	}
	ret = memdriver_dma_copy_windows(&copier, &src, &dst, &span, &engine);
	if (!ret)
		ret = put_user(engine, &ureq->engine);
	/* An import the engine may still read keeps its mapping, for good. */
	if (imp_mapped && !copier.abandoned)
		memdriver_import_unmap(imp, &mapping);
out_end_read:
	memdriver_import_end_read(imp);
out_unclaim:
	if (copier.abandoned) {
		memdriver_dma_claim_abandon(md, &claim);
		if (imp_mapped)
			imp = NULL;
	} else {
		memdriver_dma_unclaim(md, &claim);
	}
out:
	memdriver_import_put(imp);
	return ret;
}

/* ---- ioctl: GET_INFO and the dispatcher ---- */

/* MEM_IOCTL_GET_INFO as built from a version-1 header: a shorter structure. */
#define MEMDRIVER_INFO_V1_SIZE	offsetof(struct memdriver_info, dma_engine_mode)
#define MEM_IOCTL_GET_INFO_V1	_IOC(_IOC_READ, MEM_IOCTL_MAGIC, 3, MEMDRIVER_INFO_V1_SIZE)

static int memdriver_get_info(struct memdriver_file *mf,
			      struct memdriver_info __user *uinfo, size_t size)
{
	struct memdriver_dev *md = mf->md;
	struct memdriver_info info = {
		.version = MEMDRIVER_INFO_VERSION,
		.page_size = PAGE_SIZE,
		.total_size = md->total_size,
		.payload_size = MEMDRIVER_PAYLOAD_SIZE,
		.max_objects_per_fd = max_objects_per_fd,
		.max_objects = max_objects,
		.objects_fd = READ_ONCE(mf->nr_objects),
		.objects_device = memdriver_live_objects(md),
		.objects_total = atomic_read(&memdriver_nr_objects),
		.dma_mask_bits = md->dma_mask_bits,
		.dma_copy_align = memdriver_dma_copy_align(),
	};
	int i;

	for (i = 0; i < MEMDRIVER_NR_REGIONS; i++) {
		info.regions[i].offset = md->regions[i].offset;
		info.regions[i].size = md->regions[i].size;
	}
	memdriver_dma_info(&info);
	/* An old caller gets the structure it knows, exactly. */
	if (size < sizeof(info))
		info.version = 1;
	return copy_to_user(uinfo, &info, size) ? -EFAULT : 0;
}

/*
 * What an open mode allows, as for read() and write(): changing device
 * memory, importing a copy's source or taking from the shared object budget
 * needs FMODE_WRITE, reading a payload or exporting a dma-buf (always
 * readable) FMODE_READ. Checked before anything else, so a refused call
 * changes nothing.
 */
static int memdriver_ioctl_allowed(struct file *file, unsigned int cmd)
{
	switch (cmd) {
	case MEM_IOCTL_ALLOC_OBJECT:
	case MEM_IOCTL_FREE_OBJECT:
	case MEM_IOCTL_WRITE_OBJECT:
	case MEM_IOCTL_DMA_COPY:
	case MEM_IOCTL_IMPORT_DMABUF:
		return file->f_mode & FMODE_WRITE ? 0 : -EBADF;
	case MEM_IOCTL_READ_OBJECT:
	case MEM_IOCTL_EXPORT_DMABUF:
		return file->f_mode & FMODE_READ ? 0 : -EBADF;
	default:
		return 0;
	}
}

static long memdriver_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct memdriver_file *mf = file->private_data;
	void __user *uarg = (void __user *)arg;
	int ret;

	ret = memdriver_ioctl_allowed(file, cmd);
	if (ret)
		return ret;

	switch (cmd) {
	case MEM_IOCTL_ALLOC_OBJECT:
		return memdriver_object_alloc(mf);
	case MEM_IOCTL_FREE_OBJECT:
		return memdriver_object_free(mf, uarg);
	case MEM_IOCTL_GET_INFO:
	case MEM_IOCTL_GET_INFO_V1:
		return memdriver_get_info(mf, uarg, _IOC_SIZE(cmd));
	case MEM_IOCTL_READ_OBJECT:
		return memdriver_object_io(mf, uarg, false);
	case MEM_IOCTL_WRITE_OBJECT:
		return memdriver_object_io(mf, uarg, true);
	case MEM_IOCTL_DMA_COPY:
		return memdriver_dma_copy(mf, uarg);
	case MEM_IOCTL_EXPORT_DMABUF:
		return memdriver_dmabuf_export(file, uarg);
	case MEM_IOCTL_IMPORT_DMABUF:
		return memdriver_dmabuf_import(mf, uarg);
	default:
		return -ENOTTY;
	}
}

/* ---- open / release ---- */

static int memdriver_open(struct inode *inode, struct file *file)
{
	struct memdriver_file *mf;

	/* Pairs with the store that ends a successful load. */
	if (!smp_load_acquire(&memdriver_ready))
		return -ENXIO;
	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return -ENOMEM;
	mf->md = container_of(inode->i_cdev, struct memdriver_dev, cdev);
	/*
	 * The kernel gives only regular files a position lock; with it, threads
	 * sharing this fd each move f_pos by exactly the bytes they moved.
	 */
	file->f_mode |= FMODE_ATOMIC_POS;
	xa_init_flags(&mf->objects, XA_FLAGS_ALLOC | XA_FLAGS_ACCOUNT);
	spin_lock_init(&mf->import_lock);
	mf->owner = get_pid(task_tgid(current));
	mutex_lock(&mf->md->files_lock);
	mf->serial = mf->md->next_file++;
	list_add_tail(&mf->node, &mf->md->files);
	mutex_unlock(&mf->md->files_lock);
	file->private_data = mf;
	return 0;
}

static int memdriver_release(struct inode *inode, struct file *file)
{
	struct memdriver_file *mf = file->private_data;
	struct memdriver_object *obj;
	unsigned long index;

	mutex_lock(&mf->md->files_lock);
	list_del(&mf->node);
	mutex_unlock(&mf->md->files_lock);
	/*
	 * The last reference is gone: nobody else can touch mf->objects. An fd
	 * may hold millions of objects: yield between them.
	 */
	xa_for_each(&mf->objects, index, obj) {
		kmem_cache_free(memdriver_object_cache, obj);
		cond_resched();
	}
	xa_destroy(&mf->objects);
	memdriver_object_uncount(mf, mf->nr_objects);
	memdriver_import_put(mf->import);
	put_pid(mf->owner);
	kfree(mf);
	return 0;
}

static const struct file_operations memdriver_fops = {
	.owner = THIS_MODULE,
	.open = memdriver_open,
	.release = memdriver_release,
	.read_iter = memdriver_read_iter,
	.write_iter = memdriver_write_iter,
	.llseek = memdriver_llseek,
	.mmap = memdriver_mmap,
	.unlocked_ioctl = memdriver_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/* ---- sysfs: read-only region sizes and object counts ---- */

static ssize_t region_size_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct memdriver_dev *md = dev_get_drvdata(dev);
	unsigned long idx = (unsigned long)container_of(attr,
				struct dev_ext_attribute, attr)->var;

	return sysfs_emit(buf, "%zu\n", md->regions[idx].size);
}

#define MEMDRIVER_REGION_ATTR(_name, _idx)				\
	struct dev_ext_attribute dev_attr_##_name = {			\
		__ATTR(_name, 0444, region_size_show, NULL),		\
		(void *)(_idx)						\
	}

static MEMDRIVER_REGION_ATTR(kmalloc_size, MEMDRIVER_REGION_KMALLOC);
static MEMDRIVER_REGION_ATTR(vmalloc_size, MEMDRIVER_REGION_VMALLOC);
static MEMDRIVER_REGION_ATTR(dma_size, MEMDRIVER_REGION_DMA);
static MEMDRIVER_REGION_ATTR(pages_size, MEMDRIVER_REGION_PAGES);

static ssize_t total_size_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct memdriver_dev *md = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lld\n", md->total_size);
}
static DEVICE_ATTR_RO(total_size);

static ssize_t objects_show(struct device *dev,
			    struct device_attribute *attr, char *buf)
{
	struct memdriver_dev *md = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", memdriver_live_objects(md));
}
static DEVICE_ATTR_RO(objects);

static ssize_t dma_mask_bits_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct memdriver_dev *md = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", md->dma_mask_bits);
}
static DEVICE_ATTR_RO(dma_mask_bits);

/* Who the next copy goes by; see memdriver_dma_describe(). */
static ssize_t dma_engine_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	char note[MEMDRIVER_DMA_NOTE_LEN];

	memdriver_dma_describe(note, sizeof(note));
	return sysfs_emit(buf, "%s\n", note);
}
static DEVICE_ATTR_RO(dma_engine);

static struct attribute *memdriver_attrs[] = {
	&dev_attr_kmalloc_size.attr.attr,
	&dev_attr_vmalloc_size.attr.attr,
	&dev_attr_dma_size.attr.attr,
	&dev_attr_pages_size.attr.attr,
	&dev_attr_total_size.attr,
	&dev_attr_objects.attr,
	&dev_attr_dma_mask_bits.attr,
	&dev_attr_dma_engine.attr,
	NULL,
};
ATTRIBUTE_GROUPS(memdriver);

static char *memdriver_devnode(MEMDRIVER_DEVNODE_CONST struct device *dev,
			       umode_t *mode)
{
	if (mode)
		*mode = dev_mode;
	return NULL;
}

/* ---- debugfs: how each region is really backed (root only) ---- */

#define MEMDRIVER_RUNS_LISTED	16

static unsigned long memdriver_pfn_of(void *addr)
{
	/* vmalloc memory, and on arm64 the coherent buffer, is a remap. */
	return page_to_pfn(memdriver_kaddr_page(addr));
}

static void memdriver_show_run(struct seq_file *m, unsigned long nr,
			       unsigned long pfn, unsigned long len)
{
	if (nr <= MEMDRIVER_RUNS_LISTED)
		seq_printf(m, " %#lx+%lu", pfn, len);
	else if (nr == MEMDRIVER_RUNS_LISTED + 1)
		seq_puts(m, " ...");
}

/* Physically contiguous runs of the region's pages, first PFN of each. */
static void memdriver_show_region(struct seq_file *m, struct memdriver_dev *md,
				  struct memdriver_region *r)
{
	unsigned long pages = r->size >> PAGE_SHIFT, runs = 0, start = 0, len = 0, i;

	seq_printf(m, "[%s]\nallocator: %s\noffset: %lld\nsize: %zu\npages: %lu\n",
		   r->ops->name, r->ops->allocator, r->offset, r->size, pages);
	seq_printf(m, "cpu_mapping: %s\n", is_vmalloc_addr(r->cpu_addr) ?
		   "vmalloc area (a page-table remap)" : "linear map");
	seq_puts(m, "run_pfns:");
	for (i = 0; i < pages; i++) {
		unsigned long pfn = memdriver_pfn_of(r->cpu_addr + i * PAGE_SIZE);

		if (len && pfn == start + len) {
			len++;
			continue;
		}
		if (len)
			memdriver_show_run(m, ++runs, start, len);
		start = pfn;
		len = 1;
	}
	memdriver_show_run(m, ++runs, start, len);
	seq_printf(m, "\nruns: %lu\n", runs);
	if (r->ops->flags & MEMDRIVER_REGION_COHERENT) {
		phys_addr_t phys = PFN_PHYS(memdriver_pfn_of(r->cpu_addr));

		seq_printf(m, "dma_mask_bits: %u\ndma_address: %pad\n",
			   md->dma_mask_bits, &r->dma_handle);
		seq_printf(m, "dma_address_is_physical: %s\n",
			   (u64)r->dma_handle == (u64)phys ? "yes" : "no");
	}
}

static int memdriver_regions_show(struct seq_file *m, void *unused)
{
	struct memdriver_dev *md = m->private;
	int i;

	seq_printf(m, "page_size: %lu\n", PAGE_SIZE);
	for (i = 0; i < MEMDRIVER_NR_REGIONS; i++)
		memdriver_show_region(m, md, &md->regions[i]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(memdriver_regions);

static int memdriver_objects_show(struct seq_file *m, void *unused)
{
	struct memdriver_dev *md = m->private;
	struct memdriver_stats sum = memdriver_stats_sum(md);
	struct memdriver_file *mf;

	seq_printf(m, "cache: memdriver_object\nobject_size: %u\npayload_size: %u\n",
		   kmem_cache_size(memdriver_object_cache), MEMDRIVER_PAYLOAD_SIZE);
	seq_printf(m, "live: %u\nallocated: %lu\nfreed: %lu\ncap_hits: %lu\n",
		   memdriver_live(&sum), sum.allocs, sum.frees, sum.cap_hits);
	seq_printf(m, "max_objects_per_fd: %u\nmax_objects: %u\nmodule_live: %d\n",
		   max_objects_per_fd, max_objects, atomic_read(&memdriver_nr_objects));
	mutex_lock(&md->files_lock);
	list_for_each_entry(mf, &md->files, node)
		/* The pid as the reader's pid namespace numbers it. */
		seq_printf(m, "file %u pid %d: %u objects\n", mf->serial,
			   pid_vnr(mf->owner), READ_ONCE(mf->nr_objects));
	mutex_unlock(&md->files_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(memdriver_objects);

static void memdriver_debugfs_create(struct memdriver_dev *md)
{
	/* debugfs failures are not fatal and need no checks. */
	md->debugfs = debugfs_create_dir(dev_name(&md->dev), memdriver_debugfs_root);
	debugfs_create_file("regions", 0400, md->debugfs, md, &memdriver_regions_fops);
	debugfs_create_file("objects", 0400, md->debugfs, md, &memdriver_objects_fops);
}

/* ---- One device: load and unload mirror each other ---- */

static int memdriver_set_dma_mask(struct memdriver_dev *md)
{
	struct device *dev = &md->pdev->dev;

	/* The BCM2712 addresses 36 bits; older paths stop at 32. */
	md->dma_mask_bits = 36;
	if (!dma_set_mask_and_coherent(dev, DMA_BIT_MASK(36)))
		return 0;
	md->dma_mask_bits = 32;
	if (!dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32)))
		return 0;
	dev_err(dev, "no usable DMA mask\n");
	return -ENODEV;
}

static void memdriver_regions_free(struct memdriver_dev *md, int n)
{
	while (n--)
		md->regions[n].ops->free(md, &md->regions[n]);
}

static int memdriver_regions_alloc(struct memdriver_dev *md)
{
	const unsigned long sizes[MEMDRIVER_NR_REGIONS] = {
		kmalloc_size, vmalloc_size, dma_size, pages_size,
	};
	loff_t offset = 0;
	int i, ret;

	for (i = 0; i < MEMDRIVER_NR_REGIONS; i++) {
		struct memdriver_region *r = &md->regions[i];

		r->ops = &memdriver_region_ops[i];
		r->size = PAGE_ALIGN(sizes[i]);
		r->offset = offset;
		ret = r->ops->alloc(md, r);
		if (ret) {
			dev_err(&md->pdev->dev, "%s region of %zu bytes: error %d\n",
				r->ops->name, r->size, ret);
			memdriver_regions_free(md, i);
			return ret;
		}
		offset += r->size;
	}
	md->total_size = offset;
	return 0;
}

static void memdriver_dev_release(struct device *dev)
{
	struct memdriver_dev *md = container_of(dev, struct memdriver_dev, dev);

	mutex_destroy(&md->files_lock);
	kfree(md);
	if (atomic_dec_and_test(&memdriver_unreleased))
		wake_up(&memdriver_release_wq);
}

static struct memdriver_dev *memdriver_dev_create(unsigned int index)
{
	struct memdriver_dev *md;
	char dma_note[MEMDRIVER_DMA_NOTE_LEN];
	int ret;

	md = kzalloc(sizeof(*md), GFP_KERNEL);
	if (!md)
		return ERR_PTR(-ENOMEM);
	mutex_init(&md->files_lock);
	INIT_LIST_HEAD(&md->files);
	spin_lock_init(&md->dma_claims_lock);
	INIT_LIST_HEAD(&md->dma_claims);
	/* From here on the device's release frees md. */
	atomic_inc(&memdriver_unreleased);
	device_initialize(&md->dev);
	md->dev.release = memdriver_dev_release;
	md->dev.class = memdriver_class;
	md->dev.devt = MKDEV(MAJOR(memdriver_devt), index);
	md->dev.groups = memdriver_groups;
	dev_set_drvdata(&md->dev, md);
	ret = dev_set_name(&md->dev, MEMDRIVER_NAME "%u", index);
	if (ret)
		goto err_put_dev;
	md->stats = alloc_percpu(struct memdriver_stats);
	if (!md->stats) {
		ret = -ENOMEM;
		goto err_put_dev;
	}

	md->pdev = platform_device_register_simple(MEMDRIVER_NAME, index, NULL, 0);
	if (IS_ERR(md->pdev)) {
		ret = PTR_ERR(md->pdev);
		goto err_free_stats;
	}
	md->dev.parent = &md->pdev->dev;
	ret = memdriver_set_dma_mask(md);
	if (ret)
		goto err_unregister_pdev;
	ret = memdriver_regions_alloc(md);
	if (ret)
		goto err_unregister_pdev;

	cdev_init(&md->cdev, &memdriver_fops);
	md->cdev.owner = THIS_MODULE;
	ret = cdev_device_add(&md->cdev, &md->dev);
	if (ret)
		goto err_free_regions;

	memdriver_dma_describe(dma_note, sizeof(dma_note));
	dev_info(&md->dev, "major %d, kmalloc %zu + vmalloc %zu + dma %zu + pages %zu bytes, DMA mask %u bits, DMA copies by %s (dma_engine=%s)\n",
		 MAJOR(md->dev.devt), md->regions[MEMDRIVER_REGION_KMALLOC].size,
		 md->regions[MEMDRIVER_REGION_VMALLOC].size,
		 md->regions[MEMDRIVER_REGION_DMA].size,
		 md->regions[MEMDRIVER_REGION_PAGES].size, md->dma_mask_bits,
		 dma_note, memdriver_dma_modes[dma_engine_mode]);
	memdriver_debugfs_create(md);
	return md;

err_free_regions:
	memdriver_regions_free(md, MEMDRIVER_NR_REGIONS);
err_unregister_pdev:
	platform_device_unregister(md->pdev);
err_free_stats:
	free_percpu(md->stats);
err_put_dev:
	put_device(&md->dev);
	return ERR_PTR(ret);
}

static void memdriver_dev_destroy(struct memdriver_dev *md)
{
	debugfs_remove_recursive(md->debugfs);
	cdev_device_del(&md->cdev, &md->dev);
	memdriver_regions_free(md, MEMDRIVER_NR_REGIONS);
	platform_device_unregister(md->pdev);
	free_percpu(md->stats);
	put_device(&md->dev);
}

/* ---- Module load and unload ---- */

static int memdriver_check_range(const char *name, unsigned long val,
				 unsigned long max)
{
	if (val && val <= max)
		return 0;
	pr_err("%s=%lu is out of range: must be 1..%lu\n", name, val, max);
	return -EINVAL;
}

static int memdriver_check_params(void)
{
	if (dev_mode & ~0777) {
		pr_err("dev_mode=%#o is not a permission mode\n", dev_mode);
		return -EINVAL;
	}
	return memdriver_check_range("nr_devices", nr_devices, MEMDRIVER_MAX_DEVICES) ?:
	       memdriver_check_range("kmalloc_size", kmalloc_size, MEMDRIVER_MAX_KMALLOC) ?:
	       memdriver_check_range("vmalloc_size", vmalloc_size, MEMDRIVER_MAX_VMALLOC) ?:
	       memdriver_check_range("dma_size", dma_size, MEMDRIVER_MAX_DMA) ?:
	       memdriver_check_range("pages_size", pages_size, MEMDRIVER_MAX_PAGES) ?:
	       memdriver_check_range("max_objects_per_fd", max_objects_per_fd,
				     MEMDRIVER_MAX_OBJECTS) ?:
	       memdriver_check_range("max_objects", max_objects, MEMDRIVER_MAX_OBJECTS);
}

/*
 * Destroy the first @n devices, then wait until each one's memory is
 * released: the release is module code, and the cdev's kobject may hold
 * the device for a while after cdev_device_del().
 */
static void memdriver_devs_destroy(unsigned int n)
{
	while (n--)
		memdriver_dev_destroy(memdriver_devs[n]);
	wait_event(memdriver_release_wq, !atomic_read(&memdriver_unreleased));
}

static int __init memdriver_init(void)
{
	unsigned int i;
	int ret;

	ret = memdriver_check_params();
	if (ret)
		return ret;

	memdriver_object_cache = kmem_cache_create("memdriver_object",
						   sizeof(struct memdriver_object),
						   0, SLAB_ACCOUNT, NULL);
	if (!memdriver_object_cache)
		return -ENOMEM;

	ret = alloc_chrdev_region(&memdriver_devt, 0, nr_devices, MEMDRIVER_NAME);
	if (ret)
		goto err_destroy_cache;

	memdriver_class = memdriver_class_create(MEMDRIVER_NAME);
	if (IS_ERR(memdriver_class)) {
		ret = PTR_ERR(memdriver_class);
		goto err_unregister_chrdev;
	}
	memdriver_class->devnode = memdriver_devnode;

	memdriver_debugfs_root = debugfs_create_dir(MEMDRIVER_NAME, NULL);
	memdriver_dma_init();

	for (i = 0; i < nr_devices; i++) {
		memdriver_devs[i] = memdriver_dev_create(i);
		if (IS_ERR(memdriver_devs[i])) {
			ret = PTR_ERR(memdriver_devs[i]);
			goto err_destroy_devs;
		}
	}
	/* Only now may anyone open a device: no failure can follow. */
	smp_store_release(&memdriver_ready, true);
	return 0;

err_destroy_devs:
	memdriver_devs_destroy(i);
	memdriver_dma_chan_release();
	debugfs_remove_recursive(memdriver_debugfs_root);
	class_destroy(memdriver_class);
err_unregister_chrdev:
	unregister_chrdev_region(memdriver_devt, nr_devices);
err_destroy_cache:
	kmem_cache_destroy(memdriver_object_cache);
	return ret;
}

static void __exit memdriver_exit(void)
{
	memdriver_devs_destroy(nr_devices);
	memdriver_dma_chan_release();
	debugfs_remove_recursive(memdriver_debugfs_root);
	class_destroy(memdriver_class);
	unregister_chrdev_region(memdriver_devt, nr_devices);
	kmem_cache_destroy(memdriver_object_cache);
	pr_info("unloaded\n");
}

module_init(memdriver_init);
module_exit(memdriver_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Memory allocation demonstration driver: kmalloc, vmalloc, DMA, pages, kmem_cache");
MODULE_AUTHOR("memdriver developers");

/* The KUnit suite, built only with "make MEMDRIVER_KUNIT=1" (see Kbuild). */
#ifdef MEMDRIVER_KUNIT
#include "kunit/memdriver_kunit.c"
#endif
