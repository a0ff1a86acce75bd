/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memdriver's private header: limits, kernel version shims and the
 * structures its parts share. Part of memdriver.c, never built alone.
 */

#ifndef MEMDRIVER_INTERNAL_H
#define MEMDRIVER_INTERNAL_H

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

static struct dentry *memdriver_debugfs_root;

#endif /* MEMDRIVER_INTERNAL_H */
