// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: each allocator's alloc, free and mmap side by side, and
 * read/write/lseek and mmap over the four. Part of memdriver.c, never
 * built alone.
 */

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
