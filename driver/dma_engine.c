// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA engine: the memcpy channel, one descriptor start to finish, and
 * the fault knobs. Part of memdriver.c, never built alone.
 */

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
