// SPDX-License-Identifier: GPL-2.0
/*
 * memdriver - every way a driver gets memory, handed to user space.
 *
 * Each /dev/memdriverN owns four buffers, one per allocator (kmalloc,
 * vmalloc, DMA coherent, page allocator), laid end to end in one offset
 * space that read/write/lseek and mmap share, plus a kmem_cache object pool
 * driven by ioctl.
 *
 * Locking:
 * - Region buffers, sizes and offsets are fixed between load and unload, so
 *   read/write/mmap take no lock. Concurrent writers to the same bytes race
 *   like writers to shared memory; kernel state is never affected.
 * - Each open file owns its objects in its own xarray; xa_lock serialises
 *   insert, erase and payload copies, so an object is never freed while a
 *   payload copy is in flight.
 * - Object counts are atomics; the module-wide cap is enforced with
 *   atomic_add_unless() so it can never be overshot.
 * - A char device is opened only between cdev_add() and cdev_del(); open
 *   files pin the module, so nothing they use is freed under them.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>

#include "memdriver.h"

#define MEMDRIVER_NAME		"memdriver"
#define MEMDRIVER_MAX_DEVICES	8
#define MEMDRIVER_MAX_KMALLOC	(4UL << 20)	/* KMALLOC_MAX_SIZE on 4K pages */
#define MEMDRIVER_MAX_VMALLOC	(256UL << 20)
#define MEMDRIVER_MAX_DMA	(4UL << 20)
#define MEMDRIVER_MAX_PAGES	(4UL << 20)	/* below MAX_ORDER on every config */
#define MEMDRIVER_MAX_OBJECTS	(16U * 1024 * 1024)

/* ---- Kernel version shims: every 6.1-vs-newer difference lives here ---- */

#if KERNEL_VERSION(6, 3, 0) > LINUX_VERSION_CODE
static inline void memdriver_vm_flags_set(struct vm_area_struct *vma,
					  vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#else
#define memdriver_vm_flags_set vm_flags_set
#endif

/* class->devnode takes a const device from 6.2 on. */
#if KERNEL_VERSION(6, 2, 0) > LINUX_VERSION_CODE
#define MEMDRIVER_DEVNODE_CONST
#else
#define MEMDRIVER_DEVNODE_CONST const
#endif

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

static unsigned int max_objects_per_fd = 1U << 17;
module_param(max_objects_per_fd, uint, 0444);
MODULE_PARM_DESC(max_objects_per_fd, "Live objects one open file may own (default 131072)");

static unsigned int max_objects = 1U << 18;
module_param(max_objects, uint, 0444);
MODULE_PARM_DESC(max_objects, "Live objects in the whole module (default 262144)");

static ushort dev_mode = 0600;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "Permissions of /dev/memdriverN (default 0600)");

/* ---- Data structures ---- */

struct memdriver_dev;
struct memdriver_region;

/* How one allocator gets, releases and maps its buffer. */
struct memdriver_region_ops {
	const char *name;
	int (*alloc)(struct memdriver_dev *md, struct memdriver_region *r);
	void (*free)(struct memdriver_dev *md, struct memdriver_region *r);
	/* Map [off, off + vma size) of the region into @vma. */
	int (*mmap)(struct memdriver_dev *md, struct memdriver_region *r,
		    struct vm_area_struct *vma, unsigned long off);
};

struct memdriver_region {
	const struct memdriver_region_ops *ops;
	size_t size;		/* page aligned */
	loff_t offset;		/* in the device's offset space */
	void *cpu_addr;
	dma_addr_t dma_handle;	/* DMA region only */
};

struct memdriver_dev {
	struct platform_device *pdev;	/* DMA-capable parent */
	struct device *dev;		/* the /dev node's class device */
	struct cdev cdev;
	unsigned int index;
	unsigned int dma_mask_bits;
	loff_t total_size;
	atomic_t nr_objects;
	struct memdriver_region regions[MEMDRIVER_NR_REGIONS];
};

/* Per open file: the objects it owns. */
struct memdriver_file {
	struct memdriver_dev *md;
	struct xarray objects;
	unsigned int nr_objects;	/* under xa_lock(&objects) */
};

struct memdriver_object {
	u32 id;
	char data[MEMDRIVER_PAYLOAD_SIZE];
};

static dev_t memdriver_devt;
static struct kmem_cache *memdriver_object_cache;
static struct memdriver_dev *memdriver_devs[MEMDRIVER_MAX_DEVICES];
static atomic_t memdriver_nr_objects = ATOMIC_INIT(0);

/* ---- Regions: each allocator's alloc, free and mmap side by side ---- */

/* kmalloc and the page allocator both live in the linear map. */
static int memdriver_mmap_linear(struct memdriver_dev *md,
				 struct memdriver_region *r,
				 struct vm_area_struct *vma, unsigned long off)
{
	unsigned long pfn = virt_to_phys(r->cpu_addr + off) >> PAGE_SHIFT;

	return remap_pfn_range(vma, vma->vm_start, pfn,
			       vma->vm_end - vma->vm_start, vma->vm_page_prot);
}

static int memdriver_kmalloc_alloc(struct memdriver_dev *md,
				   struct memdriver_region *r)
{
	r->cpu_addr = kzalloc(r->size, GFP_KERNEL);
	if (!r->cpu_addr)
		return -ENOMEM;
	/* remap_pfn_range() maps whole pages, so the buffer must own them. */
	if (WARN_ON_ONCE(!PAGE_ALIGNED(r->cpu_addr))) {
		kfree(r->cpu_addr);
		return -EINVAL;
	}
	return 0;
}

static void memdriver_kmalloc_free(struct memdriver_dev *md,
				   struct memdriver_region *r)
{
	kfree(r->cpu_addr);
}

static int memdriver_vmalloc_alloc(struct memdriver_dev *md,
				   struct memdriver_region *r)
{
	/* vmalloc_user() zeroes and marks the area mappable to user space. */
	r->cpu_addr = vmalloc_user(r->size);
	return r->cpu_addr ? 0 : -ENOMEM;
}

static void memdriver_vmalloc_free(struct memdriver_dev *md,
				   struct memdriver_region *r)
{
	vfree(r->cpu_addr);
}

static int memdriver_vmalloc_mmap(struct memdriver_dev *md,
				  struct memdriver_region *r,
				  struct vm_area_struct *vma, unsigned long off)
{
	return remap_vmalloc_range(vma, r->cpu_addr, off >> PAGE_SHIFT);
}

static int memdriver_dma_alloc(struct memdriver_dev *md,
			       struct memdriver_region *r)
{
	/* dma_alloc_coherent() always returns zeroed memory. */
	r->cpu_addr = dma_alloc_coherent(&md->pdev->dev, r->size,
					 &r->dma_handle, GFP_KERNEL);
	return r->cpu_addr ? 0 : -ENOMEM;
}

static void memdriver_dma_free(struct memdriver_dev *md,
			       struct memdriver_region *r)
{
	dma_free_coherent(&md->pdev->dev, r->size, r->cpu_addr, r->dma_handle);
}

static int memdriver_dma_mmap(struct memdriver_dev *md,
			      struct memdriver_region *r,
			      struct vm_area_struct *vma, unsigned long off)
{
	unsigned long pgoff = vma->vm_pgoff;
	int ret;

	/*
	 * The CPU address may be a remap (arm64) and the handle is a bus
	 * address, so only the DMA API knows the pages. It reads the offset
	 * into the buffer from vm_pgoff.
	 */
	vma->vm_pgoff = off >> PAGE_SHIFT;
	ret = dma_mmap_coherent(&md->pdev->dev, vma, r->cpu_addr,
				r->dma_handle, r->size);
	vma->vm_pgoff = pgoff;
	return ret;
}

static int memdriver_pages_alloc(struct memdriver_dev *md,
				 struct memdriver_region *r)
{
	/* __GFP_COMP lets hardened usercopy bound-check the whole block. */
	r->cpu_addr = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO |
					       __GFP_COMP, get_order(r->size));
	return r->cpu_addr ? 0 : -ENOMEM;
}

static void memdriver_pages_free(struct memdriver_dev *md,
				 struct memdriver_region *r)
{
	free_pages((unsigned long)r->cpu_addr, get_order(r->size));
}

static const struct memdriver_region_ops memdriver_region_ops[MEMDRIVER_NR_REGIONS] = {
	[MEMDRIVER_REGION_KMALLOC] = {
		.name = "kmalloc",
		.alloc = memdriver_kmalloc_alloc,
		.free = memdriver_kmalloc_free,
		.mmap = memdriver_mmap_linear,
	},
	[MEMDRIVER_REGION_VMALLOC] = {
		.name = "vmalloc",
		.alloc = memdriver_vmalloc_alloc,
		.free = memdriver_vmalloc_free,
		.mmap = memdriver_vmalloc_mmap,
	},
	[MEMDRIVER_REGION_DMA] = {
		.name = "dma",
		.alloc = memdriver_dma_alloc,
		.free = memdriver_dma_free,
		.mmap = memdriver_dma_mmap,
	},
	[MEMDRIVER_REGION_PAGES] = {
		.name = "pages",
		.alloc = memdriver_pages_alloc,
		.free = memdriver_pages_free,
		.mmap = memdriver_mmap_linear,
	},
};

/* The region holding byte @pos; the caller guarantees pos < total_size. */
static struct memdriver_region *memdriver_region_at(struct memdriver_dev *md,
						    loff_t pos)
{
	int i;

	for (i = MEMDRIVER_NR_REGIONS - 1; i > 0; i--)
		if (pos >= md->regions[i].offset)
			break;
	return &md->regions[i];
}

/* ---- read / write / lseek ---- */

/*
 * Copy between user space and [*ppos, *ppos + count), crossing regions as
 * needed. The position advances by exactly the bytes moved.
 */
static ssize_t memdriver_copy(struct memdriver_dev *md, char __user *ubuf,
			      size_t count, loff_t *ppos, bool to_device)
{
	loff_t pos = *ppos;
	size_t done = 0;

	if (!count)
		return 0;
	if (pos >= md->total_size)
		return to_device ? -ENOSPC : 0;
	count = min_t(u64, count, md->total_size - pos);

	while (done < count) {
		struct memdriver_region *r = memdriver_region_at(md, pos);
		void *kaddr = r->cpu_addr + (pos - r->offset);
		size_t chunk = min_t(u64, count - done, r->offset + r->size - pos);
		size_t left;

		if (to_device)
			left = copy_from_user(kaddr, ubuf + done, chunk);
		else
			left = copy_to_user(ubuf + done, kaddr, chunk);
		done += chunk - left;
		pos += chunk - left;
		if (left)
			break;
	}
	if (!done)
		return -EFAULT;
	*ppos = pos;
	return done;
}

static ssize_t memdriver_read(struct file *file, char __user *buf,
			      size_t count, loff_t *ppos)
{
	struct memdriver_file *mf = file->private_data;

	return memdriver_copy(mf->md, buf, count, ppos, false);
}

static ssize_t memdriver_write(struct file *file, const char __user *buf,
			       size_t count, loff_t *ppos)
{
	struct memdriver_file *mf = file->private_data;

	return memdriver_copy(mf->md, (char __user *)buf, count, ppos, true);
}

static loff_t memdriver_llseek(struct file *file, loff_t offset, int whence)
{
	struct memdriver_file *mf = file->private_data;

	return fixed_size_llseek(file, offset, whence, mf->md->total_size);
}

/* ---- mmap ---- */

static int memdriver_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct memdriver_file *mf = file->private_data;
	struct memdriver_dev *md = mf->md;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct memdriver_region *r;
	loff_t pos;

	/* A private copy of device memory would silently stop sharing. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= md->total_size >> PAGE_SHIFT)
		return -EINVAL;
	pos = (loff_t)vma->vm_pgoff << PAGE_SHIFT;
	r = memdriver_region_at(md, pos);
	if (len > r->offset + r->size - pos)
		return -EINVAL;	/* crosses into the next region */

	memdriver_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	return r->ops->mmap(md, r, vma, pos - r->offset);
}

/* ---- Object pool ---- */

static int memdriver_object_alloc(struct memdriver_file *mf)
{
	struct memdriver_object *obj;
	u32 id;
	int ret;

	if (!atomic_add_unless(&memdriver_nr_objects, 1, max_objects))
		return -ENOSPC;
	obj = kmem_cache_zalloc(memdriver_object_cache, GFP_KERNEL);
	if (!obj) {
		ret = -ENOMEM;
		goto err_uncount;
	}

	xa_lock(&mf->objects);
	if (mf->nr_objects >= max_objects_per_fd) {
		ret = -EDQUOT;
	} else {
		/* Count first: __xa_alloc() may drop the lock to allocate. */
		mf->nr_objects++;
		ret = __xa_alloc(&mf->objects, &id, obj, xa_limit_31b, GFP_KERNEL);
		if (ret) {
			mf->nr_objects--;
		} else {
			/* Payload readers take xa_lock, so none sees it half made. */
			obj->id = id;
			snprintf(obj->data, sizeof(obj->data), "Object ID: %u", id);
		}
	}
	xa_unlock(&mf->objects);
	if (ret)
		goto err_free;

	atomic_inc(&mf->md->nr_objects);
	return id;

err_free:
	kmem_cache_free(memdriver_object_cache, obj);
err_uncount:
	atomic_dec(&memdriver_nr_objects);
	return ret == -EBUSY ? -ENOSPC : ret;
}

static void memdriver_object_uncount(struct memdriver_file *mf, int n)
{
	atomic_sub(n, &mf->md->nr_objects);
	atomic_sub(n, &memdriver_nr_objects);
}

static int memdriver_object_free(struct memdriver_file *mf, int __user *uid)
{
	struct memdriver_object *obj;
	int id;

	if (get_user(id, uid))
		return -EFAULT;
	if (id <= 0)
		return -ENOENT;

	xa_lock(&mf->objects);
	obj = __xa_erase(&mf->objects, id);
	if (obj)
		mf->nr_objects--;
	xa_unlock(&mf->objects);
	if (!obj)
		return -ENOENT;

	kmem_cache_free(memdriver_object_cache, obj);
	memdriver_object_uncount(mf, 1);
	return 0;
}

/* Read or write one object's payload; copies happen under xa_lock. */
static int memdriver_object_io(struct memdriver_file *mf,
			       struct memdriver_object_io __user *uio,
			       bool to_object)
{
	struct memdriver_object_io io;
	struct memdriver_object *obj;

	if (copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (io.flags)
		return -EINVAL;
	if (io.id <= 0)
		return -ENOENT;

	xa_lock(&mf->objects);
	obj = xa_load(&mf->objects, io.id);
	if (obj) {
		if (to_object)
			memcpy(obj->data, io.data, sizeof(obj->data));
		else
			memcpy(io.data, obj->data, sizeof(io.data));
	}
	xa_unlock(&mf->objects);
	if (!obj)
		return -ENOENT;

	if (!to_object && copy_to_user(uio->data, io.data, sizeof(io.data)))
		return -EFAULT;
	return 0;
}

static int memdriver_get_info(struct memdriver_file *mf,
			      struct memdriver_info __user *uinfo)
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
		.objects_device = atomic_read(&md->nr_objects),
		.objects_total = atomic_read(&memdriver_nr_objects),
		.dma_mask_bits = md->dma_mask_bits,
	};
	int i;

	for (i = 0; i < MEMDRIVER_NR_REGIONS; i++) {
		info.regions[i].offset = md->regions[i].offset;
		info.regions[i].size = md->regions[i].size;
	}
	return copy_to_user(uinfo, &info, sizeof(info)) ? -EFAULT : 0;
}

static long memdriver_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct memdriver_file *mf = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MEM_IOCTL_ALLOC_OBJECT:
		return memdriver_object_alloc(mf);
	case MEM_IOCTL_FREE_OBJECT:
		return memdriver_object_free(mf, uarg);
	case MEM_IOCTL_GET_INFO:
		return memdriver_get_info(mf, uarg);
	case MEM_IOCTL_READ_OBJECT:
		return memdriver_object_io(mf, uarg, false);
	case MEM_IOCTL_WRITE_OBJECT:
		return memdriver_object_io(mf, uarg, true);
	default:
		return -ENOTTY;
	}
}

/* ---- open / release ---- */

static int memdriver_open(struct inode *inode, struct file *file)
{
	struct memdriver_file *mf;

	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return -ENOMEM;
	mf->md = container_of(inode->i_cdev, struct memdriver_dev, cdev);
	xa_init_flags(&mf->objects, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	file->private_data = mf;
	return 0;
}

static int memdriver_release(struct inode *inode, struct file *file)
{
	struct memdriver_file *mf = file->private_data;
	struct memdriver_object *obj;
	unsigned long id;

	/* The last reference is gone: nobody else can touch mf->objects. */
	xa_for_each(&mf->objects, id, obj)
		kmem_cache_free(memdriver_object_cache, obj);
	xa_destroy(&mf->objects);
	memdriver_object_uncount(mf, mf->nr_objects);
	kfree(mf);
	return 0;
}

static const struct file_operations memdriver_fops = {
	.owner = THIS_MODULE,
	.open = memdriver_open,
	.release = memdriver_release,
	.read = memdriver_read,
	.write = memdriver_write,
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

	return sysfs_emit(buf, "%d\n", atomic_read(&md->nr_objects));
}
static DEVICE_ATTR_RO(objects);

static ssize_t dma_mask_bits_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct memdriver_dev *md = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", md->dma_mask_bits);
}
static DEVICE_ATTR_RO(dma_mask_bits);

static struct attribute *memdriver_attrs[] = {
	&dev_attr_kmalloc_size.attr.attr,
	&dev_attr_vmalloc_size.attr.attr,
	&dev_attr_dma_size.attr.attr,
	&dev_attr_pages_size.attr.attr,
	&dev_attr_total_size.attr,
	&dev_attr_objects.attr,
	&dev_attr_dma_mask_bits.attr,
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

static struct class memdriver_class = {
	.name = MEMDRIVER_NAME,
	.devnode = memdriver_devnode,
};

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

static struct memdriver_dev *memdriver_dev_create(unsigned int index)
{
	dev_t devt = MKDEV(MAJOR(memdriver_devt), index);
	struct memdriver_dev *md;
	int ret;

	md = kzalloc(sizeof(*md), GFP_KERNEL);
	if (!md)
		return ERR_PTR(-ENOMEM);
	md->index = index;
	atomic_set(&md->nr_objects, 0);

	md->pdev = platform_device_register_simple(MEMDRIVER_NAME, index, NULL, 0);
	if (IS_ERR(md->pdev)) {
		ret = PTR_ERR(md->pdev);
		goto err_free_md;
	}
	ret = memdriver_set_dma_mask(md);
	if (ret)
		goto err_unregister_pdev;
	ret = memdriver_regions_alloc(md);
	if (ret)
		goto err_unregister_pdev;

	cdev_init(&md->cdev, &memdriver_fops);
	md->cdev.owner = THIS_MODULE;
	ret = cdev_add(&md->cdev, devt, 1);
	if (ret)
		goto err_free_regions;

	md->dev = device_create_with_groups(&memdriver_class, &md->pdev->dev,
					    devt, md, memdriver_groups,
					    MEMDRIVER_NAME "%u", index);
	if (IS_ERR(md->dev)) {
		ret = PTR_ERR(md->dev);
		goto err_cdev_del;
	}

	dev_info(md->dev, "major %d, kmalloc %zu + vmalloc %zu + dma %zu + pages %zu bytes, DMA mask %u bits\n",
		 MAJOR(devt), md->regions[MEMDRIVER_REGION_KMALLOC].size,
		 md->regions[MEMDRIVER_REGION_VMALLOC].size,
		 md->regions[MEMDRIVER_REGION_DMA].size,
		 md->regions[MEMDRIVER_REGION_PAGES].size, md->dma_mask_bits);
	return md;

err_cdev_del:
	cdev_del(&md->cdev);
err_free_regions:
	memdriver_regions_free(md, MEMDRIVER_NR_REGIONS);
err_unregister_pdev:
	platform_device_unregister(md->pdev);
err_free_md:
	kfree(md);
	return ERR_PTR(ret);
}

static void memdriver_dev_destroy(struct memdriver_dev *md)
{
	device_destroy(&memdriver_class, md->dev->devt);
	cdev_del(&md->cdev);
	memdriver_regions_free(md, MEMDRIVER_NR_REGIONS);
	platform_device_unregister(md->pdev);
	kfree(md);
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

static void memdriver_devs_destroy(unsigned int n)
{
	while (n--)
		memdriver_dev_destroy(memdriver_devs[n]);
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

	ret = class_register(&memdriver_class);
	if (ret)
		goto err_unregister_chrdev;

	for (i = 0; i < nr_devices; i++) {
		memdriver_devs[i] = memdriver_dev_create(i);
		if (IS_ERR(memdriver_devs[i])) {
			ret = PTR_ERR(memdriver_devs[i]);
			goto err_destroy_devs;
		}
	}
	return 0;

err_destroy_devs:
	memdriver_devs_destroy(i);
	class_unregister(&memdriver_class);
err_unregister_chrdev:
	unregister_chrdev_region(memdriver_devt, nr_devices);
err_destroy_cache:
	kmem_cache_destroy(memdriver_object_cache);
	return ret;
}

static void __exit memdriver_exit(void)
{
	memdriver_devs_destroy(nr_devices);
	class_unregister(&memdriver_class);
	unregister_chrdev_region(memdriver_devt, nr_devices);
	kmem_cache_destroy(memdriver_object_cache);
	pr_info("unloaded\n");
}

module_init(memdriver_init);
module_exit(memdriver_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Memory allocation demonstration driver: kmalloc, vmalloc, DMA, pages, kmem_cache");
MODULE_AUTHOR("memdriver developers");
