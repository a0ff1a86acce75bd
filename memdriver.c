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
 * - A file's import keeps its dma-buf attached, mapped and vmapped until
 *   it is dropped or the file is released, whichever driver exported it.
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

#define MEMDRIVER_NAME		"memdriver"
#define MEMDRIVER_MAX_DEVICES	8
#define MEMDRIVER_MAX_KMALLOC	(4UL << 20)	/* KMALLOC_MAX_SIZE on 4K pages */
#define MEMDRIVER_MAX_VMALLOC	(256UL << 20)
#define MEMDRIVER_MAX_DMA	(4UL << 20)
#define MEMDRIVER_MAX_PAGES	(4UL << 20)	/* below MAX_ORDER on every config */
#define MEMDRIVER_MAX_OBJECTS	(16U * 1024 * 1024)

/* ---- Kernel version shims: every 6.1-vs-newer difference lives here ---- */

#if KERNEL_VERSION(6, 3, 0) > LINUX_VERSION_CODE
static inline void memdriver_vm_flags_mod(struct vm_area_struct *vma,
					  vm_flags_t set, vm_flags_t clear)
{
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
}
#else
#define memdriver_vm_flags_mod vm_flags_mod
#endif

/* class_create() lost its owner argument in 6.4. */
#if KERNEL_VERSION(6, 4, 0) > LINUX_VERSION_CODE
#define memdriver_class_create(name) class_create(THIS_MODULE, name)
#else
#define memdriver_class_create(name) class_create(name)
#endif

/* class->devnode takes a const device from 6.2 on. */
#if KERNEL_VERSION(6, 2, 0) > LINUX_VERSION_CODE
#define MEMDRIVER_DEVNODE_CONST
#else
#define MEMDRIVER_DEVNODE_CONST const
#endif

/*
 * An importer that does not hold the reservation lock calls the _unlocked
 * variants from 6.2 on; before, the plain calls took what they needed.
 */
#if KERNEL_VERSION(6, 2, 0) > LINUX_VERSION_CODE
#define memdriver_dma_buf_map_attachment dma_buf_map_attachment
#define memdriver_dma_buf_unmap_attachment dma_buf_unmap_attachment
#define memdriver_dma_buf_vmap dma_buf_vmap
#define memdriver_dma_buf_vunmap dma_buf_vunmap
#else
#define memdriver_dma_buf_map_attachment dma_buf_map_attachment_unlocked
#define memdriver_dma_buf_unmap_attachment dma_buf_unmap_attachment_unlocked
#define memdriver_dma_buf_vmap dma_buf_vmap_unlocked
#define memdriver_dma_buf_vunmap dma_buf_vunmap_unlocked
#endif

/* Symbol namespaces are string literals from 6.13 on. */
#if KERNEL_VERSION(6, 13, 0) > LINUX_VERSION_CODE
MODULE_IMPORT_NS(DMA_BUF);
#else
MODULE_IMPORT_NS("DMA_BUF");
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
struct memdriver_import;

/* Region traits that streaming DMA cares about. */
#define MEMDRIVER_REGION_SCATTERED	BIT(0)	/* pages not physically contiguous */
#define MEMDRIVER_REGION_COHERENT	BIT(1)	/* already DMA memory */

/* How one allocator gets, releases and maps its buffer. */
struct memdriver_region_ops {
	const char *name;
	const char *allocator;
	unsigned int flags;
	int (*alloc)(struct memdriver_dev *md, struct memdriver_region *r);
	void (*free)(struct memdriver_dev *md, struct memdriver_region *r);
	/* Map [off, off + vma size) of the region into @vma. */
	int (*mmap)(struct memdriver_dev *md, struct memdriver_region *r,
		    struct vm_area_struct *vma, unsigned long off);
	/* The page at @off, where the region is mapped as pages; else NULL. */
	struct page *(*page)(struct memdriver_region *r, unsigned long off);
};

struct memdriver_region {
	const struct memdriver_region_ops *ops;
	size_t size;		/* page aligned */
	loff_t offset;		/* in the device's offset space */
	void *cpu_addr;
	dma_addr_t dma_handle;	/* DMA region only */
};

/* Object pool events since load, per CPU so that fds never contend. */
struct memdriver_stats {
	unsigned long allocs;
	unsigned long frees;
	unsigned long cap_hits;
};

struct memdriver_dev {
	struct device dev;		/* the /dev node's; owns this memory */
	struct cdev cdev;
	struct platform_device *pdev;	/* DMA-capable parent */
	unsigned int dma_mask_bits;
	loff_t total_size;
	struct memdriver_stats __percpu *stats;
	struct mutex files_lock;	/* guards files and next_file */
	struct list_head files;
	unsigned int next_file;
	struct dentry *debugfs;
	spinlock_t dma_claims_lock;	/* guards dma_claims */
	struct list_head dma_claims;	/* lines in-flight copies map */
	struct memdriver_region regions[MEMDRIVER_NR_REGIONS];
};

/* Per open file: the objects it owns. */
struct memdriver_file {
	struct memdriver_dev *md;
	struct xarray objects;
	unsigned int nr_objects;	/* under xa_lock(&objects) */
	struct list_head node;		/* in md->files */
	unsigned int serial;		/* names this file in debugfs */
	struct pid *owner;		/* process that opened it */
	spinlock_t import_lock;		/* guards import */
	struct memdriver_import *import;	/* MEM_IOCTL_IMPORT_DMABUF's */
};

struct memdriver_object {
	char data[MEMDRIVER_PAYLOAD_SIZE];
};

static dev_t memdriver_devt;
static struct class *memdriver_class;
/* Set once every device exists; open() refuses before. */
static bool memdriver_ready;
/* Devices whose release has not run yet; unload waits for none. */
static atomic_t memdriver_unreleased = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(memdriver_release_wq);
static struct kmem_cache *memdriver_object_cache;
static struct memdriver_dev *memdriver_devs[MEMDRIVER_MAX_DEVICES];
static atomic_t memdriver_nr_objects = ATOMIC_INIT(0);
static struct dentry *memdriver_debugfs_root;

/* ---- Regions: each allocator's alloc, free and mmap side by side ---- */

/*
 * Memory with struct pages that user space may map as pages (vmalloc, and
 * the page allocator's block; not slab memory, which vm_insert_page()
 * refuses, nor coherent memory, which only the DMA API maps) is mapped so
 * (VM_MIXEDMAP): get_user_pages() takes it, which O_DIRECT, io_uring's
 * registered buffers, process_vm_readv() and vmsplice() rely on, and a
 * range that MADV_DONTNEED zapped faults back in here.
 */
static vm_fault_t memdriver_fault(struct vm_fault *vmf)
{
	struct memdriver_region *r = vmf->vma->vm_private_data;
	u64 off = ((u64)vmf->pgoff << PAGE_SHIFT) - r->offset;

	if (off >= r->size)
		return VM_FAULT_SIGBUS;
	return vmf_insert_page(vmf->vma, vmf->address, r->ops->page(r, off));
}

static const struct vm_operations_struct memdriver_page_vm_ops = {
	.fault = memdriver_fault,
};

/* The page behind a kernel address of any region but the coherent one. */
static struct page *memdriver_kaddr_page(void *addr)
{
	return is_vmalloc_addr(addr) ? vmalloc_to_page(addr) : virt_to_page(addr);
}

/* kmalloc's slab memory: raw PFNs of the linear map (VM_PFNMAP). */
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

static struct page *memdriver_vmalloc_page(struct memdriver_region *r,
					   unsigned long off)
{
	return vmalloc_to_page(r->cpu_addr + off);
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

static struct page *memdriver_pages_page(struct memdriver_region *r,
					 unsigned long off)
{
	return virt_to_page(r->cpu_addr + off);
}

/* The block's pages, a batch at a time: one page table lock per batch. */
static int memdriver_pages_mmap(struct memdriver_dev *md,
				struct memdriver_region *r,
				struct vm_area_struct *vma, unsigned long off)
{
	struct page *batch[32];
	unsigned long addr = vma->vm_start, nr, left, i;
	int ret;

	while (addr < vma->vm_end) {
		nr = min_t(unsigned long, ARRAY_SIZE(batch),
			   (vma->vm_end - addr) >> PAGE_SHIFT);
		for (i = 0; i < nr; i++)
			batch[i] = memdriver_pages_page(r, off + i * PAGE_SIZE);
		left = nr;
		ret = vm_insert_pages(vma, addr, batch, &left);
		/* A page table it could not allocate above the PTEs: EFAULT. */
		if (ret)
			return ret == -EFAULT ? -ENOMEM : ret;
		addr += nr * PAGE_SIZE;
		off += nr * PAGE_SIZE;
	}
	return 0;
}

static const struct memdriver_region_ops memdriver_region_ops[MEMDRIVER_NR_REGIONS] = {
	[MEMDRIVER_REGION_KMALLOC] = {
		.name = "kmalloc",
		.allocator = "kzalloc",
		.alloc = memdriver_kmalloc_alloc,
		.free = memdriver_kmalloc_free,
		.mmap = memdriver_mmap_linear,
	},
	[MEMDRIVER_REGION_VMALLOC] = {
		.name = "vmalloc",
		.allocator = "vmalloc_user",
		.flags = MEMDRIVER_REGION_SCATTERED,
		.alloc = memdriver_vmalloc_alloc,
		.free = memdriver_vmalloc_free,
		.mmap = memdriver_vmalloc_mmap,
		.page = memdriver_vmalloc_page,
	},
	[MEMDRIVER_REGION_DMA] = {
		.name = "dma",
		.allocator = "dma_alloc_coherent",
		.flags = MEMDRIVER_REGION_COHERENT,
		.alloc = memdriver_dma_alloc,
		.free = memdriver_dma_free,
		.mmap = memdriver_dma_mmap,
	},
	[MEMDRIVER_REGION_PAGES] = {
		.name = "pages",
		.allocator = "__get_free_pages",
		.alloc = memdriver_pages_alloc,
		.free = memdriver_pages_free,
		.mmap = memdriver_pages_mmap,
		.page = memdriver_pages_page,
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

/* The region that holds all of [pos, pos + len); NULL if none does. */
static struct memdriver_region *
memdriver_region_holding(struct memdriver_dev *md, u64 pos, u64 len)
{
	struct memdriver_region *r;

	if (pos >= md->total_size || len > md->total_size - pos)
		return NULL;
	r = memdriver_region_at(md, pos);
	return len <= r->offset + r->size - pos ? r : NULL;
}

/* ---- read / write / lseek ---- */

/*
 * Copy between user space and [*ppos, *ppos + count), crossing regions as
 * needed. The position advances by exactly the bytes moved.
 *
 * copy_from_iter() rather than copy_from_user(): on a fault the latter
 * zero-fills the rest of its destination, which here is the device, so a
 * write from a bad buffer would wipe device memory and still fail.
 */
static ssize_t memdriver_copy(struct memdriver_dev *md, struct iov_iter *iter,
			      loff_t *ppos, bool to_device)
{
	size_t count = iov_iter_count(iter), done = 0;
	loff_t pos = *ppos;

	if (!count)
		return 0;
	if (pos >= md->total_size)
		return to_device ? -ENOSPC : 0;
	count = min_t(u64, count, md->total_size - pos);

	while (done < count) {
		struct memdriver_region *r = memdriver_region_at(md, pos);
		void *kaddr = r->cpu_addr + (pos - r->offset);
		size_t chunk = min_t(u64, count - done, r->offset + r->size - pos);
		size_t copied;

		if (to_device)
			copied = copy_from_iter(kaddr, chunk, iter);
		else
			copied = copy_to_iter(kaddr, chunk, iter);
		done += copied;
		pos += copied;
		if (copied < chunk)
			break;
	}
	if (!done)
		return -EFAULT;
	*ppos = pos;
	return done;
}

static ssize_t memdriver_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct memdriver_file *mf = iocb->ki_filp->private_data;

	return memdriver_copy(mf->md, to, &iocb->ki_pos, false);
}

static ssize_t memdriver_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct memdriver_file *mf = iocb->ki_filp->private_data;

	return memdriver_copy(mf->md, from, &iocb->ki_pos, true);
}

static loff_t memdriver_llseek(struct file *file, loff_t offset, int whence)
{
	struct memdriver_file *mf = file->private_data;

	return fixed_size_llseek(file, offset, whence, mf->md->total_size);
}

/* ---- mmap ---- */

/*
 * Map device bytes from vm_pgoff on, which lie in region @r, for the device
 * node's mmap and an exported dma-buf's alike.
 */
static int memdriver_mmap_region(struct memdriver_dev *md,
				 struct memdriver_region *r,
				 struct vm_area_struct *vma)
{
	loff_t pos = (loff_t)vma->vm_pgoff << PAGE_SHIFT;

	/*
	 * A private copy of device memory would silently stop sharing. For a
	 * file opened read-only the kernel clears VM_SHARED (and VM_MAYWRITE,
	 * so PROT_WRITE fails with EACCES before we are called) but keeps
	 * VM_MAYSHARE: that is the MAP_SHARED test.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	/* Device memory holds data, never code. */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_end - vma->vm_start > r->offset + r->size - pos)
		return -EINVAL;	/* crosses into the next region */

	/* No mprotect(PROT_EXEC) later either. */
	memdriver_vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYEXEC);
	if (r->ops->page) {
		vma->vm_ops = &memdriver_page_vm_ops;
		vma->vm_private_data = r;
	}
	return r->ops->mmap(md, r, vma, pos - r->offset);
}

static int memdriver_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct memdriver_file *mf = file->private_data;
	struct memdriver_dev *md = mf->md;

	if (vma->vm_pgoff >= md->total_size >> PAGE_SHIFT)
		return -EINVAL;
	return memdriver_mmap_region(md, memdriver_region_at(md,
				     (loff_t)vma->vm_pgoff << PAGE_SHIFT), vma);
}

/* ---- Object pool ---- */

/*
 * Object id N lives at index N - 1 of the file's xarray. Ids stay > 0, as
 * the ABI promises, while the usual lone object sits at index 0, which the
 * xarray keeps in its head pointer: no node is allocated and RCU-freed for
 * it on every alloc+free pair (XA_FLAGS_ALLOC1 would put id 1 at index 1,
 * which needs a node).
 */
#define MEMDRIVER_INDEX_LIMIT	XA_LIMIT(0, INT_MAX - 1)	/* ids 1..INT_MAX */

static inline u32 memdriver_index_to_id(u32 index)
{
	return index + 1;
}

/* Callers have checked id > 0. */
static inline unsigned long memdriver_id_to_index(int id)
{
	return id - 1;
}

/*
 * The new object's payload, "Object ID: <id>", into zeroed @data. By hand,
 * because snprintf() parses its format on every call: about 450
 * instructions, a sixth of an alloc+free pair.
 */
static void memdriver_object_name(char *data, u32 id)
{
	static const char prefix[] = "Object ID: ";
	char digits[10];	/* U32_MAX has 10 */
	int n = 0;

	BUILD_BUG_ON(sizeof(prefix) - 1 + sizeof(digits) >= MEMDRIVER_PAYLOAD_SIZE);
	do {
		digits[n++] = '0' + id % 10;
		id /= 10;
	} while (id);
	memcpy(data, prefix, sizeof(prefix) - 1);
	data += sizeof(prefix) - 1;
	while (n)
		*data++ = digits[--n];
}

/*
 * The fd's own cap is taken first, then the module-wide one: an alloc bound
 * for EDQUOT never holds, even for a moment, a slot that another fd's alloc
 * could have had.
 */
static int memdriver_object_alloc(struct memdriver_file *mf)
{
	struct memdriver_object *obj;
	u32 index, id;
	bool full;
	int ret;

	/* Counted at once: __xa_alloc() below may drop the lock to allocate. */
	xa_lock(&mf->objects);
	full = mf->nr_objects >= max_objects_per_fd;
	if (!full)
		mf->nr_objects++;
	xa_unlock(&mf->objects);
	if (full) {
		this_cpu_inc(mf->md->stats->cap_hits);
		return -EDQUOT;
	}
	if (!atomic_add_unless(&memdriver_nr_objects, 1, max_objects)) {
		this_cpu_inc(mf->md->stats->cap_hits);
		ret = -ENOSPC;
		goto err_unreserve;
	}
	obj = kmem_cache_zalloc(memdriver_object_cache, GFP_KERNEL);
	if (!obj) {
		ret = -ENOMEM;
		goto err_uncount;
	}

	xa_lock(&mf->objects);
	ret = __xa_alloc(&mf->objects, &index, obj, MEMDRIVER_INDEX_LIMIT, GFP_KERNEL);
	if (!ret) {
		/* Payload readers take xa_lock, so none sees it half made. */
		id = memdriver_index_to_id(index);
		memdriver_object_name(obj->data, id);
	}
	xa_unlock(&mf->objects);
	if (ret)
		goto err_free;

	this_cpu_inc(mf->md->stats->allocs);
	return id;

err_free:
	kmem_cache_free(memdriver_object_cache, obj);
err_uncount:
	atomic_dec(&memdriver_nr_objects);
err_unreserve:
	xa_lock(&mf->objects);
	mf->nr_objects--;
	xa_unlock(&mf->objects);
	return ret == -EBUSY ? -ENOSPC : ret;
}

static void memdriver_object_uncount(struct memdriver_file *mf, unsigned int n)
{
	this_cpu_add(mf->md->stats->frees, n);
	atomic_sub(n, &memdriver_nr_objects);
}

static struct memdriver_stats memdriver_stats_sum(struct memdriver_dev *md)
{
	struct memdriver_stats sum = {};
	int cpu;

	for_each_possible_cpu(cpu) {
		struct memdriver_stats *s = per_cpu_ptr(md->stats, cpu);

		sum.allocs += READ_ONCE(s->allocs);
		sum.frees += READ_ONCE(s->frees);
		sum.cap_hits += READ_ONCE(s->cap_hits);
	}
	return sum;
}

/*
 * Live objects on @md. The per-CPU sums are read one CPU at a time while
 * other CPUs count, so a free counted on one CPU can be seen without the
 * alloc counted on another: like percpu_counter_sum_positive(), clamp the
 * snapshot to what can be true, 0..max_objects.
 */
static unsigned int memdriver_live(const struct memdriver_stats *sum)
{
	long live = (long)(sum->allocs - sum->frees);

	return clamp_t(long, live, 0, max_objects);
}

static unsigned int memdriver_live_objects(struct memdriver_dev *md)
{
	struct memdriver_stats sum = memdriver_stats_sum(md);

	return memdriver_live(&sum);
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
	obj = __xa_erase(&mf->objects, memdriver_id_to_index(id));
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
	obj = xa_load(&mf->objects, memdriver_id_to_index(io.id));
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

/* ---- Streaming DMA: copy between two windows the way a device would ---- */

/*
 * dma_engine=auto|cpu|engine: who does MEM_IOCTL_DMA_COPY. Read-only once
 * loaded: the channel it leads to is taken once and kept until unload.
 */
static const char * const memdriver_dma_modes[] = {
	[MEMDRIVER_DMA_MODE_AUTO] = "auto",
	[MEMDRIVER_DMA_MODE_CPU] = "cpu",
	[MEMDRIVER_DMA_MODE_ENGINE] = "engine",
};

static unsigned int dma_engine_mode = MEMDRIVER_DMA_MODE_AUTO;

static int memdriver_dma_mode_set(const char *val, const struct kernel_param *kp)
{
	int mode = sysfs_match_string(memdriver_dma_modes, val);

	if (mode < 0) {
		pr_err("dma_engine=%s is not one of auto, cpu, engine\n", val);
		return -EINVAL;
	}
	*(unsigned int *)kp->arg = mode;
	return 0;
}

static int memdriver_dma_mode_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", memdriver_dma_modes[*(unsigned int *)kp->arg]);
}

static const struct kernel_param_ops memdriver_dma_mode_ops = {
	.set = memdriver_dma_mode_set,
	.get = memdriver_dma_mode_get,
};
module_param_cb(dma_engine, &memdriver_dma_mode_ops, &dma_engine_mode, 0444);
MODULE_PARM_DESC(dma_engine, "Who copies for MEM_IOCTL_DMA_COPY: auto (a dmaengine memcpy channel if one can be had, else the CPU; default), cpu, engine (ENODEV without a channel)");

/*
 * The memcpy channel is borrowed, not owned: the first copy that needs it
 * requests it, so a module that never copies holds none and a provider that
 * probes after load (-EPROBE_DEFER, a module loaded later) is still found;
 * it is released at unload. memdriver_dma_lock guards it and the retry state
 * and serialises every descriptor on it: dmaengine_terminate_sync() kills
 * every descriptor of the channel, so with one descriptor in flight at a
 * time, a timed-out copy can only ever terminate its own. Waiters for the
 * lock are killable, and so is every wait made while holding it.
 */
static DEFINE_MUTEX(memdriver_dma_lock);
static struct dma_chan *memdriver_dma_chan;
static bool memdriver_dma_tried;		/* a request failed ... */
static unsigned long memdriver_dma_retry;	/* ... and is not retried before */

/*
 * What the next copy will use, for GET_INFO, sysfs and the load message:
 * HELD, FOUND by the look at load (taken by the first copy), or NONE now,
 * and why. Updated by every request; under memdriver_dma_seen_lock, never
 * slept under.
 */
enum {
	MEMDRIVER_DMA_NONE,
	MEMDRIVER_DMA_FOUND,
	MEMDRIVER_DMA_HELD,
};

struct memdriver_dma_seen {
	int status;
	unsigned int align;
	char chan[32];
	char dev[64];
	char why[112];		/* NONE: why not */
};

static DEFINE_SPINLOCK(memdriver_dma_seen_lock);
static struct memdriver_dma_seen memdriver_dma_seen;

/* Fault injection from debugfs (Debian's kernels lack CONFIG_FAULT_INJECTION). */
enum {
	MEMDRIVER_DMA_FAULT_NONE,
	MEMDRIVER_DMA_FAULT_TIMEOUT,	/* the next descriptor times out */
	MEMDRIVER_DMA_FAULT_ERROR,	/* the next descriptor reports an error */
	MEMDRIVER_DMA_FAULT_STALL,	/* the next descriptor hangs for 5 s */
};

static const char * const memdriver_dma_faults[] = {
	[MEMDRIVER_DMA_FAULT_NONE] = "none",
	[MEMDRIVER_DMA_FAULT_TIMEOUT] = "timeout",
	[MEMDRIVER_DMA_FAULT_ERROR] = "error",
	[MEMDRIVER_DMA_FAULT_STALL] = "stall",
};

static atomic_t memdriver_dma_fault = ATOMIC_INIT(MEMDRIVER_DMA_FAULT_NONE);

/*
 * The provider operations a timed-out copy needs (memdriver_dma_abort()).
 * debugfs dma_provider_lacks makes the next request see a provider without
 * one of them, as on boards whose engine has none (mv_xor: no
 * device_terminate_all; pl330: no device_synchronize).
 */
enum {
	MEMDRIVER_DMA_LACKS_NONE,
	MEMDRIVER_DMA_LACKS_TERMINATE,
	MEMDRIVER_DMA_LACKS_SYNCHRONIZE,
};

static const char * const memdriver_dma_lacks[] = {
	[MEMDRIVER_DMA_LACKS_NONE] = "none",
	[MEMDRIVER_DMA_LACKS_TERMINATE] = "device_terminate_all",
	[MEMDRIVER_DMA_LACKS_SYNCHRONIZE] = "device_synchronize",
};

static atomic_t memdriver_dma_pretend = ATOMIC_INIT(MEMDRIVER_DMA_LACKS_NONE);

/*
 * Beyond what the provider declares (copy_align; bcm2835 declares none), an
 * engine gets whole 32-bit words at word-aligned addresses: what every
 * memcpy engine moves at full speed, and all that QEMU's bcm2835 model can
 * move (other lengths wrap its counter and hang the machine).
 */
#define MEMDRIVER_DMA_ENGINE_MIN_ALIGN	4

/* is_dma_copy_aligned()'s alignment in bytes, but never below a word. */
static unsigned int memdriver_dma_engine_align(struct dma_chan *chan)
{
	return max_t(unsigned int, 1U << chan->device->copy_align,
		     MEMDRIVER_DMA_ENGINE_MIN_ALIGN);
}

/*
 * What a provider lacks of what a timeout needs, or NULL: without
 * device_terminate_all, dmaengine_terminate_sync() fails and the descriptor
 * cannot be stopped; without device_synchronize it returns while the
 * descriptor's callback may still run.
 */
static const char *memdriver_dma_provider_lacks(struct dma_chan *chan)
{
	struct dma_device *dd = chan->device;
	int pretend = atomic_read(&memdriver_dma_pretend);

	if (!dd->device_terminate_all || pretend == MEMDRIVER_DMA_LACKS_TERMINATE)
		return memdriver_dma_lacks[MEMDRIVER_DMA_LACKS_TERMINATE];
	if (!dd->device_synchronize || pretend == MEMDRIVER_DMA_LACKS_SYNCHRONIZE)
		return memdriver_dma_lacks[MEMDRIVER_DMA_LACKS_SYNCHRONIZE];
	return NULL;
}

/*
 * A memcpy channel whose provider can stop a descriptor, with @seen saying
 * what was found (FOUND) or why there is none (NONE).
 */
static struct dma_chan *memdriver_dma_request(struct memdriver_dma_seen *seen)
{
	struct dma_chan *chan;
	dma_cap_mask_t mask;
	const char *lacks;

	dma_cap_zero(mask);
	dma_cap_set(DMA_MEMCPY, mask);
	chan = dma_request_chan_by_mask(&mask);
	if (IS_ERR(chan)) {
		seen->status = MEMDRIVER_DMA_NONE;
		snprintf(seen->why, sizeof(seen->why), "no memcpy channel (%pe)", chan);
		return chan;
	}
	lacks = memdriver_dma_provider_lacks(chan);
	if (lacks) {
		seen->status = MEMDRIVER_DMA_NONE;
		snprintf(seen->why, sizeof(seen->why), "%s on %s lacks %s",
			 dma_chan_name(chan), dev_name(chan->device->dev), lacks);
		dma_release_channel(chan);
		return ERR_PTR(-EOPNOTSUPP);
	}
	seen->status = MEMDRIVER_DMA_FOUND;
	seen->align = memdriver_dma_engine_align(chan);
	strscpy(seen->chan, dma_chan_name(chan), sizeof(seen->chan));
	strscpy(seen->dev, dev_name(chan->device->dev), sizeof(seen->dev));
	return chan;
}

static void memdriver_dma_seen_set(const struct memdriver_dma_seen *seen)
{
	spin_lock(&memdriver_dma_seen_lock);
	memdriver_dma_seen = *seen;
	spin_unlock(&memdriver_dma_seen_lock);
}

static struct memdriver_dma_seen memdriver_dma_seen_get(void)
{
	struct memdriver_dma_seen seen;

	spin_lock(&memdriver_dma_seen_lock);
	seen = memdriver_dma_seen;
	spin_unlock(&memdriver_dma_seen_lock);
	return seen;
}

/*
 * The channel, requested on first need; NULL while none can be had,
 * ERR_PTR(-EINTR) if killed while waiting for the lock.
 */
static struct dma_chan *memdriver_dma_chan_get(void)
{
	struct memdriver_dma_seen seen = {};
	struct dma_chan *chan;

	if (mutex_lock_killable(&memdriver_dma_lock))
		return ERR_PTR(-EINTR);
	chan = memdriver_dma_chan;
	/*
	 * Absent, or its provider not probed yet: ask again, but at most once
	 * a second, since each request walks every DMA device under the
	 * dmaengine core's global mutex.
	 */
	if (chan || (memdriver_dma_tried && time_before(jiffies, memdriver_dma_retry)))
		goto out;
	chan = memdriver_dma_request(&seen);
	if (IS_ERR(chan)) {
		memdriver_dma_tried = true;
		memdriver_dma_retry = jiffies + HZ;
		chan = NULL;
	} else {
		memdriver_dma_chan = chan;
		seen.status = MEMDRIVER_DMA_HELD;
		/* Debug only: the load message named it, and copies log nothing. */
		pr_debug("DMA copies by %s on %s\n", seen.chan, seen.dev);
	}
	memdriver_dma_seen_set(&seen);
out:
	mutex_unlock(&memdriver_dma_lock);
	return chan;
}

/* At unload, when no file is open and so no copy can run. */
static void memdriver_dma_chan_release(void)
{
	if (memdriver_dma_chan)
		dma_release_channel(memdriver_dma_chan);
	memdriver_dma_chan = NULL;
}

/*
 * Let go of the channel so that the next copy requests one afresh: a copy
 * under way finds it gone between pieces (memdriver_dma_by_engine()).
 */
static int memdriver_dma_chan_forget(void)
{
	struct memdriver_dma_seen seen;

	if (mutex_lock_killable(&memdriver_dma_lock))
		return -EINTR;
	if (memdriver_dma_chan) {
		memdriver_dma_chan_release();
		seen = memdriver_dma_seen_get();
		seen.status = MEMDRIVER_DMA_FOUND;
		memdriver_dma_seen_set(&seen);
	}
	memdriver_dma_tried = false;
	mutex_unlock(&memdriver_dma_lock);
	return 0;
}

/*
 * One side of a copy: a window inside one region, or inside an imported
 * dma-buf, whose exporter mapped it for one device (dma_dev) already.
 */
struct memdriver_dma_window {
	struct memdriver_region *r;	/* NULL: an import */
	u8 *vaddr;			/* the CPU's view of offset 0 */
	size_t off;			/* advances piece by piece */
	enum dma_data_direction dir;
	dma_addr_t addr;		/* bus address of the current piece */
	bool mapped;
	struct device *dma_dev;		/* an import's: its addresses are for it */
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
	w->dma_dev = NULL;
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

	/* An import's exporter mapped it for its device (memdriver_dma_chunk()). */
	if (w->sg) {
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

/*
 * One descriptor's fate, written by its callback. Off the stack: a
 * descriptor that cannot be stopped keeps it (memdriver_dma_abort()).
 */
struct memdriver_dma_job {
	struct completion done;
	struct dmaengine_result result;
};

/*
 * callback_result, not callback: only it tells a failed transfer from a
 * finished one. complete() comes last: the waiter may free the job at once.
 */
static void memdriver_dma_done(void *param, const struct dmaengine_result *result)
{
	struct memdriver_dma_job *job = param;

	job->result = *result;
	complete(&job->done);
}

/* A piece the engine would not take, for the CPU to copy instead. */
#define MEMDRIVER_DMA_BY_CPU		1
/* A descriptor that could not be stopped: its mappings must stay. */
#define MEMDRIVER_DMA_ABANDONED		2

/*
 * The wait ran out (@err -ETIMEDOUT) or the caller was killed (-EINTR).
 * memdriver_dma_lock keeps every other descriptor off the channel, so
 * terminating all of them kills no other thread's copy, and the provider
 * was checked for device_synchronize when the channel was taken, so once
 * terminate_sync returns 0 the engine is done with the mappings and the
 * callback has run or never will. If terminate fails all the same, the
 * descriptor gets a last, killable while: after that the channel, the job
 * and the piece's mappings are given up for good, and the module is pinned,
 * since the engine or the callback may still touch them.
 */
static int memdriver_dma_abort(struct dma_chan *chan, struct memdriver_dma_job *job,
			       int err)
{
	struct memdriver_dma_seen seen = { .status = MEMDRIVER_DMA_NONE };
	int ret = dmaengine_terminate_sync(chan);

	if (!ret)
		return err;
	if (wait_for_completion_killable_timeout(&job->done, 5 * HZ) > 0)
		return err;
	dev_err(chan->device->dev, "%s: cannot stop a copy (%d): channel abandoned, memdriver stays loaded\n",
		dma_chan_name(chan), ret);
	__module_get(THIS_MODULE);
	memdriver_dma_chan = NULL;
	snprintf(seen.why, sizeof(seen.why), "%s abandoned: a copy could not be stopped",
		 dma_chan_name(chan));
	memdriver_dma_seen_set(&seen);
	return MEMDRIVER_DMA_ABANDONED;
}

/*
 * One descriptor, start to finish, under memdriver_dma_lock: 0,
 * -ETIMEDOUT, -EINTR, -EIO, -ENOMEM, MEMDRIVER_DMA_ABANDONED, or
 * MEMDRIVER_DMA_BY_CPU when prep returns NULL (a length or alignment limit
 * of the provider's own: a CPU copy is still a copy).
 */
static int memdriver_dma_engine_piece(struct dma_chan *chan, dma_addr_t dst,
				      dma_addr_t src, size_t len)
{
	struct dma_async_tx_descriptor *tx;
	struct memdriver_dma_job *job;
	unsigned long timeout;
	dma_cookie_t cookie;
	long left;
	int fault, ret;

	lockdep_assert_held(&memdriver_dma_lock);
	job = kmalloc(sizeof(*job), GFP_KERNEL);
	if (!job)
		return -ENOMEM;
	tx = dmaengine_prep_dma_memcpy(chan, dst, src, len,
				       DMA_PREP_INTERRUPT | DMA_CTRL_ACK);
	if (!tx) {
		ret = MEMDRIVER_DMA_BY_CPU;
		goto out;
	}
	init_completion(&job->done);
	tx->callback_result = memdriver_dma_done;
	tx->callback_param = job;
	cookie = dmaengine_submit(tx);
	if (dma_submit_error(cookie)) {
		ret = -EIO;
		goto out;
	}
	/*
	 * An injected timeout or stall leaves the descriptor submitted but
	 * never issued: the wait then runs out for real, and terminate has our
	 * own queued descriptor to remove before the engine ever saw it.
	 */
	fault = atomic_xchg(&memdriver_dma_fault, MEMDRIVER_DMA_FAULT_NONE);
	timeout = msecs_to_jiffies(1000 + len / SZ_1M * 1000);
	if (fault == MEMDRIVER_DMA_FAULT_TIMEOUT)
		timeout = msecs_to_jiffies(10);
	else if (fault == MEMDRIVER_DMA_FAULT_STALL)
		timeout = 5 * HZ;
	else
		dma_async_issue_pending(chan);
	left = wait_for_completion_killable_timeout(&job->done, timeout);
	if (left <= 0) {
		ret = memdriver_dma_abort(chan, job, left ? -EINTR : -ETIMEDOUT);
		if (ret == MEMDRIVER_DMA_ABANDONED)
			return ret;	/* the job stays the callback's */
		goto out;
	}
	ret = -EIO;
	/* An injected error: a finished transfer reported as failed. */
	if (fault == MEMDRIVER_DMA_FAULT_ERROR)
		job->result.result = DMA_TRANS_READ_FAILED;
	/* A short transfer is a failed one too. */
	if (job->result.result != DMA_TRANS_NOERROR || job->result.residue)
		goto out;
	/* Some providers tell failures only through the cookie's status. */
	if (dmaengine_tx_status(chan, cookie, NULL) == DMA_ERROR)
		goto out;
	ret = 0;
out:
	kfree(job);
	return ret;
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
	/* An import's addresses serve only the device it is attached to. */
	if (chan && src->dma_dev && src->dma_dev != dmaengine_get_dma_device(chan))
		may_serve = false;
	if (chan && may_serve) {
		c->dev = dmaengine_get_dma_device(chan);
		c->chan = chan;
		c->align = memdriver_dma_engine_align(chan);
		c->fallback = dma_engine_mode == MEMDRIVER_DMA_MODE_AUTO;
	}
	c->max = memdriver_dma_map_limit(c->dev, !!c->chan, c->align);
	return 0;
}

/* GET_INFO's version-2 fields: what the next copy will use. */
static void memdriver_dma_info(struct memdriver_info *info)
{
	struct memdriver_dma_seen seen = memdriver_dma_seen_get();

	info->dma_engine_mode = dma_engine_mode;
	info->dma_engine = MEMDRIVER_DMA_ENGINE_CPU;
	if (dma_engine_mode == MEMDRIVER_DMA_MODE_CPU || seen.status == MEMDRIVER_DMA_NONE)
		return;
	info->dma_engine = MEMDRIVER_DMA_ENGINE_DMAENGINE;
	info->dma_engine_align = seen.align;
	info->dma_chan_held = seen.status == MEMDRIVER_DMA_HELD;
	strscpy(info->dma_chan, seen.chan, sizeof(info->dma_chan));
	strscpy(info->dma_device, seen.dev, sizeof(info->dma_device));
}

/*
 * Who the next copy goes by, for sysfs dma_engine and the load message:
 * "dmaengine <channel> <device> held|found", "cpu none now: <why>", or
 * "cpu dma_engine=cpu".
 */
#define MEMDRIVER_DMA_NOTE_LEN 192

static void memdriver_dma_describe(char *buf, size_t size)
{
	struct memdriver_dma_seen seen = memdriver_dma_seen_get();

	if (dma_engine_mode == MEMDRIVER_DMA_MODE_CPU)
		scnprintf(buf, size, "cpu dma_engine=cpu");
	else if (seen.status == MEMDRIVER_DMA_NONE)
		scnprintf(buf, size, "cpu none now: %s", seen.why);
	else
		scnprintf(buf, size, "dmaengine %s %s %s", seen.chan, seen.dev,
			  seen.status == MEMDRIVER_DMA_HELD ? "held" : "found");
}

/* A debugfs knob: one of @names, written by name, then @changed. */
struct memdriver_dma_knob {
	const char * const *names;
	size_t nr;
	atomic_t *value;
	int (*changed)(void);
};

static const struct memdriver_dma_knob memdriver_dma_fault_knob = {
	memdriver_dma_faults, ARRAY_SIZE(memdriver_dma_faults), &memdriver_dma_fault,
};

/* The provider is judged when a channel is taken: take it again. */
static const struct memdriver_dma_knob memdriver_dma_pretend_knob = {
	memdriver_dma_lacks, ARRAY_SIZE(memdriver_dma_lacks), &memdriver_dma_pretend,
	memdriver_dma_chan_forget,
};

static ssize_t memdriver_dma_knob_read(struct file *file, char __user *ubuf,
				       size_t count, loff_t *ppos)
{
	const struct memdriver_dma_knob *knob = file->private_data;
	char buf[32];
	int len = scnprintf(buf, sizeof(buf), "%s\n",
			    knob->names[atomic_read(knob->value)]);

	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

/*
 * dma_fault: "timeout", "error" or "stall" arms the next engine descriptor;
 * "none" disarms. dma_provider_lacks: the next channel request sees its
 * provider without that operation; "none" sees it as it is.
 */
static ssize_t memdriver_dma_knob_write(struct file *file, const char __user *ubuf,
					size_t count, loff_t *ppos)
{
	const struct memdriver_dma_knob *knob = file->private_data;
	char buf[32];
	int val;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	val = __sysfs_match_string(knob->names, knob->nr, buf);
	if (val < 0)
		return -EINVAL;
	atomic_set(knob->value, val);
	if (knob->changed) {
		int ret = knob->changed();

		if (ret)
			return ret;
	}
	return count;
}

static const struct file_operations memdriver_dma_knob_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = memdriver_dma_knob_read,
	.write = memdriver_dma_knob_write,
	.llseek = default_llseek,
};

/*
 * At load: the debugfs knobs, and a look for the engine copies would use,
 * for the load message and status. The channel is released at once: it is
 * taken for real only by the first copy that needs it.
 */
static void memdriver_dma_init(void)
{
	struct memdriver_dma_seen seen = {};
	struct dma_chan *chan;

	debugfs_create_file("dma_fault", 0600, memdriver_debugfs_root,
			    (void *)&memdriver_dma_fault_knob, &memdriver_dma_knob_fops);
	debugfs_create_file("dma_provider_lacks", 0600, memdriver_debugfs_root,
			    (void *)&memdriver_dma_pretend_knob, &memdriver_dma_knob_fops);
	if (dma_engine_mode == MEMDRIVER_DMA_MODE_CPU)
		return;
	chan = memdriver_dma_request(&seen);
	if (!IS_ERR(chan))
		dma_release_channel(chan);
	memdriver_dma_seen_set(&seen);
}

/* ---- dma-buf export: a window of a region, for other drivers ---- */

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

/* One importing device and its own DMA addresses for the window. */
struct memdriver_attachment {
	struct device *dev;
	struct sg_table sgt;
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
	if (ret) {
		memdriver_dma_unclaim(buf->md, &a->claim);
		return ERR_PTR(ret);
	}
	mutex_lock(&buf->lock);
	a->dir = dir;
	a->mapped = true;
	mutex_unlock(&buf->lock);
	return &a->sgt;
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
	dma_unmap_sgtable(a->dev, sgt, dir, 0);
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

/* ---- dma-buf import: another driver's buffer as a copy's source ---- */

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

static int memdriver_dmabuf_export(struct file *file,
				   struct memdriver_dmabuf_export __user *uexp)
{
	return -EOPNOTSUPP;
}

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

/* ---- MEM_IOCTL_DMA_COPY ---- */

/*
 * MEM_IOCTL_DMA_COPY: from a window of the device, or of this fd's import,
 * to a window of the device.
 */
static int memdriver_dma_copy(struct memdriver_file *mf,
			      struct memdriver_dma_copy __user *ureq)
{
	struct memdriver_import *imp = NULL;
	struct memdriver_dev *md = mf->md;
	struct memdriver_dma_window src, dst;
	struct memdriver_dma_copier copier;
	struct memdriver_dma_claim claim;
	struct memdriver_dma_span span;
	struct memdriver_dma_copy req;
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
	if (!ret) {
		ret = memdriver_dma_copy_windows(&copier, &src, &dst, &span, &engine);
		memdriver_import_end_read(imp);
	}
	/* An import the engine may still read keeps its mapping, for good. */
	if (copier.abandoned) {
		memdriver_dma_claim_abandon(md, &claim);
		imp = NULL;
	} else {
		memdriver_dma_unclaim(md, &claim);
	}
	if (!ret)
		ret = put_user(engine, &ureq->engine);
out:
	memdriver_import_put(imp);
	return ret;
}

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
