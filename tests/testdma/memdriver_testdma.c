// SPDX-License-Identifier: GPL-2.0
/*
 * memdriver_testdma - a dmaengine memcpy provider for memdriver's tests.
 *
 * Not a driver for any hardware and never packaged: the test guests load
 * it where no engine is emulated (QEMU has no Raspberry Pi 5), so that
 * memdriver's engine path runs at every page size and on every kernel,
 * under the debug kernels' checkers. It models what a client of the Pi 5's
 * engines must cope with, not their timing or bus behaviour:
 *
 * - Its channels sit on a platform device of their own, which no firmware
 *   describes: on arm64 its DMA is therefore non-coherent, as the BCM2712's
 *   and RP1's are, and the DMA API does cache maintenance for it.
 * - It moves bytes only through the bus addresses it is given, turned into
 *   physical ones as dma-direct does (dma_to_phys()): under swiotlb=force
 *   it reads and writes the bounce buffers, so a mapping in the wrong
 *   direction, a missing sync or an early unmap gives wrong bytes. An
 *   address beyond the device's DMA mask, or not RAM, fails the transfer.
 * - Descriptors complete from a workqueue, never inside submit or
 *   issue_pending, with callback_result and a residue.
 * - model= picks the limits: "dma40" (the BCM2712's 40-bit channels: a
 *   40-bit mask, segments up to 1 GiB), "lite" (its lite channels: at most
 *   64 KiB - 4 bytes a descriptor) or "rp1" (RP1's DesignWare AXI DMA: a
 *   32-bit view of memory, 4-byte aligned blocks up to 4 MiB).
 * - lacks= registers the provider without device_synchronize or
 *   device_terminate_all, as some real providers are (pl330, mv_xor).
 * - fault= (writable at run time) makes every descriptor fail (error: a
 *   read error, the whole length as residue), stop short (short: the last
 *   4 bytes not moved), never complete until terminated (hang), or
 *   complete after slow_ms (slow).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/version.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#define TESTDMA_NAME		"memdriver-testdma"
#define TESTDMA_MAX_CHANNELS	8

struct testdma_model {
	const char *name;
	unsigned int mask_bits;
	size_t max_len;		/* per descriptor, and the device's max segment */
	enum dmaengine_alignment align;
};

static const struct testdma_model testdma_models[] = {
	{ "dma40", 40, SZ_1G, DMAENGINE_ALIGN_4_BYTES },
	{ "lite", 40, SZ_64K - 4, DMAENGINE_ALIGN_4_BYTES },
	{ "rp1", 32, SZ_4M, DMAENGINE_ALIGN_4_BYTES },
};

static const char * const testdma_faults[] = { "none", "error", "short", "hang", "slow" };

enum { TESTDMA_NONE, TESTDMA_ERROR, TESTDMA_SHORT, TESTDMA_HANG, TESTDMA_SLOW };

static char *model = "dma40";
module_param(model, charp, 0444);
MODULE_PARM_DESC(model, "Engine modelled: dma40 (default), lite or rp1");

static char *lacks = "none";
module_param(lacks, charp, 0444);
MODULE_PARM_DESC(lacks, "Operation the provider lacks: none (default), device_synchronize, device_terminate_all");

static unsigned int channels = 2;
module_param(channels, uint, 0444);
MODULE_PARM_DESC(channels, "Memcpy channels (1-8, default 2)");

static unsigned int fault_mode;

static int testdma_fault_set(const char *val, const struct kernel_param *kp)
{
	int f = sysfs_match_string(testdma_faults, val);

	if (f < 0)
		return -EINVAL;
	WRITE_ONCE(fault_mode, f);
	return 0;
}

static int testdma_fault_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", testdma_faults[READ_ONCE(fault_mode)]);
}

static const struct kernel_param_ops testdma_fault_ops = {
	.set = testdma_fault_set,
	.get = testdma_fault_get,
};
module_param_cb(fault, &testdma_fault_ops, NULL, 0644);
MODULE_PARM_DESC(fault, "What every descriptor does: none (default), error, short, hang, slow");

static unsigned int slow_ms = 3000;
module_param(slow_ms, uint, 0644);
MODULE_PARM_DESC(slow_ms, "How late a descriptor completes with fault=slow (ms, default 3000)");

struct testdma_desc {
	struct dma_async_tx_descriptor tx;
	struct list_head node;
	dma_addr_t dst, src;
	size_t len;
};

struct testdma_chan {
	struct dma_chan chan;
	spinlock_t lock;		/* guards the lists and terminating */
	struct list_head submitted;
	struct list_head issued;
	struct work_struct work;
	wait_queue_head_t wq;		/* a slow descriptor's wait */
	unsigned long terminations;	/* counts terminate_all calls */
};

struct testdma {
	struct platform_device *pdev;
	/* Its own: 7.x deprecates system_unbound_wq, 6.1 lacks system_dfl_wq. */
	struct workqueue_struct *wq;
	const struct testdma_model *model;
	struct dma_device dd;
	struct testdma_chan chans[TESTDMA_MAX_CHANNELS];
	bool registered;	/* by the probe */
};

static struct testdma *testdma;

static struct testdma_chan *to_tchan(struct dma_chan *chan)
{
	return container_of(chan, struct testdma_chan, chan);
}

static struct testdma_desc *to_tdesc(struct dma_async_tx_descriptor *tx)
{
	return container_of(tx, struct testdma_desc, tx);
}

static dma_cookie_t testdma_tx_submit(struct dma_async_tx_descriptor *tx)
{
	struct testdma_chan *tc = to_tchan(tx->chan);
	dma_cookie_t cookie;

	spin_lock_bh(&tc->lock);
	cookie = tc->chan.cookie + 1;
	if (cookie < DMA_MIN_COOKIE)
		cookie = DMA_MIN_COOKIE;
	tc->chan.cookie = cookie;
	tx->cookie = cookie;
	list_add_tail(&to_tdesc(tx)->node, &tc->submitted);
	spin_unlock_bh(&tc->lock);
	return cookie;
}

static struct dma_async_tx_descriptor *
testdma_prep_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		    size_t len, unsigned long flags)
{
	struct testdma_desc *d;

	/* What the engine cannot take in one descriptor: the caller's CPU copies. */
	if (!len || len > testdma->model->max_len ||
	    !is_dma_copy_aligned(chan->device, src, dst, len))
		return NULL;
	d = kzalloc(sizeof(*d), GFP_NOWAIT);
	if (!d)
		return NULL;
	dma_async_tx_descriptor_init(&d->tx, chan);
	d->tx.flags = flags;
	d->tx.tx_submit = testdma_tx_submit;
	d->dst = dst;
	d->src = src;
	d->len = len;
	INIT_LIST_HEAD(&d->node);
	return &d->tx;
}

/* The RAM behind [addr, addr + len) as the device sees it, or false. */
static bool testdma_bus_ok(struct device *dev, dma_addr_t addr, size_t len)
{
	phys_addr_t phys = dma_to_phys(dev, addr);

	return addr + len - 1 >= addr && addr + len - 1 <= dma_get_mask(dev) &&
	       pfn_valid(PHYS_PFN(phys)) && pfn_valid(PHYS_PFN(phys + len - 1));
}

/*
 * Move @len bytes between bus addresses, page by page of the physical
 * memory they translate to: what the memory holds is what moves.
 */
static void testdma_move(struct device *dev, dma_addr_t dst, dma_addr_t src, size_t len)
{
	phys_addr_t d = dma_to_phys(dev, dst), s = dma_to_phys(dev, src);

	while (len) {
		size_t n = min3(len, PAGE_SIZE - offset_in_page(d), PAGE_SIZE - offset_in_page(s));
		void *dp = kmap_local_page(pfn_to_page(PHYS_PFN(d)));
		void *sp = kmap_local_page(pfn_to_page(PHYS_PFN(s)));

		memcpy(dp + offset_in_page(d), sp + offset_in_page(s), n);
		kunmap_local(sp);
		kunmap_local(dp);
		d += n;
		s += n;
		len -= n;
	}
}

/* The first issued descriptor, taken off the list; NULL if none may run. */
static struct testdma_desc *testdma_next(struct testdma_chan *tc)
{
	struct testdma_desc *d = NULL;

	spin_lock_bh(&tc->lock);
	if (!list_empty(&tc->issued) && READ_ONCE(fault_mode) != TESTDMA_HANG) {
		d = list_first_entry(&tc->issued, struct testdma_desc, node);
		list_del_init(&d->node);
	}
	spin_unlock_bh(&tc->lock);
	return d;
}

/* Whether the channel was terminated since @terminations was read. */
static bool testdma_terminated(struct testdma_chan *tc, unsigned long terminations)
{
	bool ret;

	spin_lock_bh(&tc->lock);
	ret = tc->terminations != terminations;
	spin_unlock_bh(&tc->lock);
	return ret;
}

static void testdma_run(struct testdma_chan *tc, struct testdma_desc *d)
{
	struct device *dev = testdma->dd.dev;
	struct dmaengine_result res = { DMA_TRANS_NOERROR, 0 };
	int fault = READ_ONCE(fault_mode);
	unsigned long terminations;
	size_t len = d->len;

	spin_lock_bh(&tc->lock);
	terminations = tc->terminations;
	spin_unlock_bh(&tc->lock);
	/* A slow descriptor that is terminated meanwhile never moves a byte. */
	if (fault == TESTDMA_SLOW &&
	    (wait_event_timeout(tc->wq, testdma_terminated(tc, terminations),
				msecs_to_jiffies(slow_ms)) ||
	     testdma_terminated(tc, terminations))) {
		kfree(d);
		return;
	}
	if (fault == TESTDMA_SHORT)
		len -= min_t(size_t, len, 4);
	if (fault == TESTDMA_ERROR || !testdma_bus_ok(dev, d->src, d->len)) {
		res.result = DMA_TRANS_READ_FAILED;
		len = 0;
	} else if (!testdma_bus_ok(dev, d->dst, d->len)) {
		res.result = DMA_TRANS_WRITE_FAILED;
		len = 0;
	}
	if (len)
		testdma_move(dev, d->dst, d->src, len);
	res.residue = d->len - len;

	/* Terminated meanwhile: the client has given up on it, no callback. */
	spin_lock_bh(&tc->lock);
	if (tc->terminations != terminations) {
		spin_unlock_bh(&tc->lock);
		kfree(d);
		return;
	}
	tc->chan.completed_cookie = d->tx.cookie;
	spin_unlock_bh(&tc->lock);
	if (d->tx.callback_result)
		d->tx.callback_result(d->tx.callback_param, &res);
	else if (d->tx.callback)
		d->tx.callback(d->tx.callback_param);
	kfree(d);
}

static void testdma_work(struct work_struct *work)
{
	struct testdma_chan *tc = container_of(work, struct testdma_chan, work);
	struct testdma_desc *d;

	while ((d = testdma_next(tc))) {
		testdma_run(tc, d);
		cond_resched();
	}
}

static void testdma_issue_pending(struct dma_chan *chan)
{
	struct testdma_chan *tc = to_tchan(chan);

	spin_lock_bh(&tc->lock);
	list_splice_tail_init(&tc->submitted, &tc->issued);
	spin_unlock_bh(&tc->lock);
	queue_work(testdma->wq, &tc->work);
}

static enum dma_status testdma_tx_status(struct dma_chan *chan, dma_cookie_t cookie,
					 struct dma_tx_state *state)
{
	dma_cookie_t used = READ_ONCE(chan->cookie), done = READ_ONCE(chan->completed_cookie);

	dma_set_tx_state(state, done, used, 0);
	return dma_async_is_complete(cookie, done, used);
}

static void testdma_free_list(struct list_head *list)
{
	struct testdma_desc *d, *tmp;

	list_for_each_entry_safe(d, tmp, list, node)
		kfree(d);
}

/* Drop every queued descriptor; one the work is moving completes silently. */
static int testdma_terminate_all(struct dma_chan *chan)
{
	struct testdma_chan *tc = to_tchan(chan);
	LIST_HEAD(dropped);

	spin_lock_bh(&tc->lock);
	list_splice_init(&tc->submitted, &dropped);
	list_splice_init(&tc->issued, &dropped);
	tc->terminations++;
	spin_unlock_bh(&tc->lock);
	wake_up(&tc->wq);
	testdma_free_list(&dropped);
	return 0;
}

/* Once this returns, no descriptor of the channel moves or calls back. */
static void testdma_synchronize(struct dma_chan *chan)
{
	flush_work(&to_tchan(chan)->work);
}

static void testdma_free_chan_resources(struct dma_chan *chan)
{
	struct testdma_chan *tc = to_tchan(chan);

	testdma_terminate_all(chan);
	cancel_work_sync(&tc->work);
}

static const char * const testdma_lacks_names[] = {
	"none", "device_synchronize", "device_terminate_all",
};

static int testdma_lookup(const char *val, const char * const *names, size_t n,
			  const char *param)
{
	int i = __sysfs_match_string(names, n, val);

	if (i < 0)
		pr_err("%s=%s is not known\n", param, val);
	return i;
}

/* The dmaengine core takes its owner from the device's driver: a probe. */
static int testdma_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct dma_device *dd = &testdma->dd;
	int l = testdma_lookup(lacks, testdma_lacks_names,
			       ARRAY_SIZE(testdma_lacks_names), "lacks");
	unsigned int i;
	int ret;

	if (l < 0)
		return l;
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(testdma->model->mask_bits));
	if (ret)
		return ret;
	dma_set_max_seg_size(dev, testdma->model->max_len);
	dma_cap_set(DMA_MEMCPY, dd->cap_mask);
	dd->dev = dev;
	dd->copy_align = testdma->model->align;
	dd->src_addr_widths = BIT(DMA_SLAVE_BUSWIDTH_4_BYTES);
	dd->dst_addr_widths = BIT(DMA_SLAVE_BUSWIDTH_4_BYTES);
	dd->directions = BIT(DMA_MEM_TO_MEM);
	dd->residue_granularity = DMA_RESIDUE_GRANULARITY_DESCRIPTOR;
	dd->device_free_chan_resources = testdma_free_chan_resources;
	dd->device_prep_dma_memcpy = testdma_prep_memcpy;
	dd->device_issue_pending = testdma_issue_pending;
	dd->device_tx_status = testdma_tx_status;
	if (l != 2)
		dd->device_terminate_all = testdma_terminate_all;
	if (l != 1)
		dd->device_synchronize = testdma_synchronize;
	INIT_LIST_HEAD(&dd->channels);
	for (i = 0; i < channels; i++) {
		struct testdma_chan *tc = &testdma->chans[i];

		spin_lock_init(&tc->lock);
		INIT_LIST_HEAD(&tc->submitted);
		INIT_LIST_HEAD(&tc->issued);
		INIT_WORK(&tc->work, testdma_work);
		init_waitqueue_head(&tc->wq);
		tc->chan.device = dd;
		list_add_tail(&tc->chan.device_node, &dd->channels);
	}
	ret = dma_async_device_register(dd);
	if (ret)
		return ret;
	testdma->registered = true;
	dev_info(dev, "%u %s memcpy channels, %u-bit DMA mask, %zu bytes a descriptor%s%s\n",
		 channels, testdma->model->name, testdma->model->mask_bits,
		 testdma->model->max_len, l ? ", without " : "",
		 l ? testdma_lacks_names[l] : "");
	return 0;
}

static void testdma_remove(struct platform_device *pdev)
{
	if (testdma->registered)
		dma_async_device_unregister(&testdma->dd);
	testdma->registered = false;
}

/* .remove returned int before 6.11 (and remove_new was the void one). */
#if KERNEL_VERSION(6, 11, 0) > LINUX_VERSION_CODE
static int testdma_remove_int(struct platform_device *pdev)
{
	testdma_remove(pdev);
	return 0;
}

#define TESTDMA_REMOVE .remove = testdma_remove_int
#else
#define TESTDMA_REMOVE .remove = testdma_remove
#endif

static struct platform_driver testdma_driver = {
	.driver = { .name = TESTDMA_NAME },
	.probe = testdma_probe,
	TESTDMA_REMOVE,
};

static int __init testdma_init(void)
{
	struct platform_device_info info = {
		.name = TESTDMA_NAME,
		.id = PLATFORM_DEVID_NONE,
		.dma_mask = DMA_BIT_MASK(32),
	};
	const char *names[ARRAY_SIZE(testdma_models)];
	int m, i, ret;

	for (i = 0; i < ARRAY_SIZE(testdma_models); i++)
		names[i] = testdma_models[i].name;
	m = testdma_lookup(model, names, ARRAY_SIZE(names), "model");
	if (m < 0 || !channels || channels > TESTDMA_MAX_CHANNELS)
		return -EINVAL;

	testdma = kzalloc(sizeof(*testdma), GFP_KERNEL);
	if (!testdma)
		return -ENOMEM;
	testdma->model = &testdma_models[m];
	testdma->wq = alloc_workqueue("memdriver-testdma", WQ_UNBOUND, 0);
	if (!testdma->wq) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = platform_driver_register(&testdma_driver);
	if (ret)
		goto err_destroy_wq;
	/* Probed here and now: the driver is registered first. */
	testdma->pdev = platform_device_register_full(&info);
	if (IS_ERR(testdma->pdev)) {
		ret = PTR_ERR(testdma->pdev);
		goto err_unregister_driver;
	}
	if (!testdma->registered) {
		ret = -ENODEV;
		goto err_unregister_device;
	}
	return 0;

err_unregister_device:
	platform_device_unregister(testdma->pdev);
err_unregister_driver:
	platform_driver_unregister(&testdma_driver);
err_destroy_wq:
	destroy_workqueue(testdma->wq);
err_free:
	kfree(testdma);
	return ret;
}

static void __exit testdma_exit(void)
{
	platform_device_unregister(testdma->pdev);
	platform_driver_unregister(&testdma_driver);
	destroy_workqueue(testdma->wq);
	kfree(testdma);
}

module_init(testdma_init);
module_exit(testdma_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A dmaengine memcpy provider for memdriver's tests (no hardware)");
MODULE_AUTHOR("memdriver developers");
