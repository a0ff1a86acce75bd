/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * memdriver user-space API, shared by the module and memdriver_test.
 *
 * Each /dev/memdriverN is one flat byte space made of four regions, in this
 * order, each starting on a page boundary:
 *
 *   kmalloc | vmalloc | DMA coherent | page allocator
 *
 * read/write/lseek/pread/pwrite and mmap all use the same offsets. Region
 * sizes are module parameters rounded up to the page size, so user space
 * asks MEM_IOCTL_GET_INFO instead of hard-coding any offset.
 *
 * Every structure uses fixed-width types with the same layout for 32- and
 * 64-bit user space, so one compat_ioctl path serves both.
 */
#ifndef _UAPI_MEMDRIVER_H
#define _UAPI_MEMDRIVER_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * 2: struct memdriver_info gained the dma_engine_* fields at its end. A
 * caller that passes the version-1 size (MEM_IOCTL_GET_INFO built from an
 * older header) still gets exactly the version-1 structure, marked 1.
 */
#define MEMDRIVER_INFO_VERSION		2

/* Region indices, in offset order. */
#define MEMDRIVER_REGION_KMALLOC	0
#define MEMDRIVER_REGION_VMALLOC	1
#define MEMDRIVER_REGION_DMA		2
#define MEMDRIVER_REGION_PAGES		3
#define MEMDRIVER_NR_REGIONS		4

/* Default region sizes in bytes (before rounding up to the page size). */
#define MEMDRIVER_DEFAULT_KMALLOC_SIZE	(4 * 1024)
#define MEMDRIVER_DEFAULT_VMALLOC_SIZE	(1024 * 1024)
#define MEMDRIVER_DEFAULT_DMA_SIZE	(16 * 1024)
#define MEMDRIVER_DEFAULT_PAGES_SIZE	(16 * 1024)

/* Each kmem_cache object carries this many payload bytes. */
#define MEMDRIVER_PAYLOAD_SIZE		64

struct memdriver_region_info {
	__u64 offset;		/* first byte in the device's offset space */
	__u64 size;		/* bytes, a multiple of page_size */
};

struct memdriver_info {
	__u32 version;		/* MEMDRIVER_INFO_VERSION */
	__u32 page_size;	/* the kernel's PAGE_SIZE */
	__u64 total_size;	/* sum of all region sizes */
	struct memdriver_region_info regions[MEMDRIVER_NR_REGIONS];
	__u32 payload_size;	/* MEMDRIVER_PAYLOAD_SIZE */
	__u32 max_objects_per_fd;
	__u32 max_objects;	/* across every device and fd */
	__u32 objects_fd;	/* live objects owned by this fd */
	__u32 objects_device;	/* live objects on this device */
	__u32 objects_total;	/* live objects in the whole module */
	__u32 dma_mask_bits;	/* DMA mask the device obtained */
	__u32 dma_copy_align;	/* MEM_IOCTL_DMA_COPY windows this far apart */
	/* Version 2: the engine that MEM_IOCTL_DMA_COPY uses. */
	__u32 dma_engine_mode;	/* MEMDRIVER_DMA_MODE_*: the dma_engine parameter */
	__u32 dma_engine;	/* MEMDRIVER_DMA_ENGINE_CPU or _DMAENGINE: who
				 * the next copy an engine can serve goes by
				 */
	__u32 dma_engine_align;	/* bytes: engine pieces start and end this aligned */
	__u32 dma_chan_held;	/* 1 from the first engine copy until unload */
	char dma_chan[32];	/* the channel, e.g. "dma0chan0"; "" if none */
	char dma_device[64];	/* its controller, e.g. "3f007000.dma-controller" */
};

/* The dma_engine module parameter. */
#define MEMDRIVER_DMA_MODE_AUTO		0	/* an engine when one can be had, else the CPU */
#define MEMDRIVER_DMA_MODE_CPU		1	/* always the CPU */
#define MEMDRIVER_DMA_MODE_ENGINE	2	/* an engine, or ENODEV */

/* Object ids are per open file, like file descriptors: always > 0. */
struct memdriver_object_io {
	__s32 id;
	__u32 flags;		/* must be zero */
	__u8 data[MEMDRIVER_PAYLOAD_SIZE];
};

/* Who moved the data of a MEM_IOCTL_DMA_COPY. */
#define MEMDRIVER_DMA_ENGINE_CPU	1	/* the CPU, between map and sync calls */
#define MEMDRIVER_DMA_ENGINE_DMAENGINE	2	/* a dmaengine memcpy channel */
#define MEMDRIVER_DMA_ENGINE_MIXED	3	/* the engine, and the CPU for the rest
						 * (cache-line edges, unaligned pieces)
						 */

/* memdriver_dma_copy.flags */
#define MEMDRIVER_DMA_COPY_CPU		0x1U	/* the CPU even if an engine exists */
#define MEMDRIVER_DMA_COPY_FROM_IMPORT	0x2U	/* src is an offset into this fd's
						 * import (MEM_IOCTL_IMPORT_DMABUF)
						 */

/*
 * Copy len bytes from one window to another through the streaming DMA API.
 * Each window must lie inside one region; the two must not share a cache
 * line (dma_copy_align). A dmaengine channel, when the dma_engine parameter
 * allows one, moves the whole cache lines of the destination that lie inside
 * the window; the CPU copies the partial lines at its edges, pieces the
 * engine cannot take, and windows in the DMA coherent region. Errors: EINVAL
 * (bad window or flags), ENODEV (dma_engine=engine and no channel), ENOMEM
 * (mapping), EBUSY (another copy into the same whole cache lines is under
 * way, or a device that imported them as a dma-buf has them mapped for
 * writing), ETIMEDOUT, EIO or EINTR (the engine timed out or failed, or a fatal
 * signal came: the window's bytes are then undefined, every byte beside it
 * is intact). With MEMDRIVER_DMA_COPY_FROM_IMPORT the source is this fd's
 * imported dma-buf: a copy by the engine attaches and maps it for the
 * engine's device while it runs (the exporter's errors, and EINVAL if its
 * mapping is shorter than the buffer), and the copy waits for the
 * exporter's fences as every dma-buf CPU access does, interruptibly: EINTR
 * on any signal, or a restart (SA_RESTART). ENOENT if the fd holds no
 * import.
 */
struct memdriver_dma_copy {
	__u64 src;		/* device offset of the source */
	__u64 dst;		/* device offset of the destination */
	__u64 len;
	__u32 flags;		/* MEMDRIVER_DMA_COPY_*, others must be zero */
	__u32 engine;		/* out: MEMDRIVER_DMA_ENGINE_* */
};

/* memdriver_dmabuf_export.flags */
#define MEMDRIVER_DMABUF_RDWR		0x1U	/* writable through mmap and by
						 * devices; needs an fd open
						 * for writing
						 */

/*
 * Export [offset, offset + len) of the device as a dma-buf that other
 * drivers can import (DRM PRIME, V4L2, ...). Returns the dma-buf's new fd,
 * close-on-exec, open read-write with MEMDRIVER_DMABUF_RDWR and read-only
 * without it: a read-only buffer refuses writable mappings (EACCES) and
 * device mappings that would let a device write into it. The window is
 * page aligned, not empty and inside the kmalloc, vmalloc or pages region;
 * the buffer shares those bytes with the device, outlives the fd it came
 * from and keeps the module loaded. Errors: EINVAL (bad window, flags or
 * pad), EOPNOTSUPP (the DMA coherent region, whose pages the DMA API owns,
 * or a kernel built without dma-buf), EBADF (this fd is not open for
 * reading), EACCES (MEMDRIVER_DMABUF_RDWR on an fd not open for writing),
 * ENOMEM, EMFILE.
 */
struct memdriver_dmabuf_export {
	__u64 offset;		/* device offset of the first byte */
	__u64 len;
	__u32 flags;		/* MEMDRIVER_DMABUF_*, others must be zero */
	__u32 pad;		/* must be zero */
};

/*
 * Import a dma-buf (another driver's, such as a dma-buf heap's or udmabuf's,
 * or memdriver's own) into this fd as MEM_IOCTL_DMA_COPY's source: take a
 * reference and the kernel's CPU mapping of it (vmap), as the CPU copies the
 * edges of a copy, until it is dropped (fd -1) or this fd is closed. No DMA
 * channel is taken, and nothing is mapped for a device until a copy runs.
 * One import per fd. Needs an fd open for writing (EBADF). Errors: EINVAL
 * (flags, or fd not a dma-buf), EBADF (fd not open), EBUSY (this fd holds an
 * import already), EOPNOTSUPP (no vmap, as udmabuf before 6.2, I/O memory,
 * or a kernel built without dma-buf), ENOMEM.
 */
struct memdriver_dmabuf_import {
	__s32 fd;		/* a dma-buf fd; -1 drops this fd's import */
	__u32 flags;		/* must be zero */
	__u64 size;		/* out: the buffer's size */
};

#define MEM_IOCTL_MAGIC		'M'
/* Returns a new object id (> 0); errno ENOMEM, EDQUOT (per-fd cap) or
 * ENOSPC (module-wide cap).
 */
#define MEM_IOCTL_ALLOC_OBJECT	_IO(MEM_IOCTL_MAGIC, 1)
/* Frees the object whose id the int points at; ENOENT if this fd owns none. */
#define MEM_IOCTL_FREE_OBJECT	_IOW(MEM_IOCTL_MAGIC, 2, int)
#define MEM_IOCTL_GET_INFO	_IOR(MEM_IOCTL_MAGIC, 3, struct memdriver_info)
#define MEM_IOCTL_READ_OBJECT	_IOWR(MEM_IOCTL_MAGIC, 4, struct memdriver_object_io)
#define MEM_IOCTL_WRITE_OBJECT	_IOW(MEM_IOCTL_MAGIC, 5, struct memdriver_object_io)
#define MEM_IOCTL_DMA_COPY	_IOWR(MEM_IOCTL_MAGIC, 6, struct memdriver_dma_copy)
/* Returns the new dma-buf fd. */
#define MEM_IOCTL_EXPORT_DMABUF	_IOW(MEM_IOCTL_MAGIC, 7, struct memdriver_dmabuf_export)
#define MEM_IOCTL_IMPORT_DMABUF	_IOWR(MEM_IOCTL_MAGIC, 8, struct memdriver_dmabuf_import)

#endif /* _UAPI_MEMDRIVER_H */
