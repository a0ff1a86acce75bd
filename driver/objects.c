// SPDX-License-Identifier: GPL-2.0
/*
 * Object pool: objects from a kmem_cache, each owned by an open file, under
 * two caps. Part of memdriver.c, never built alone.
 */

static unsigned int max_objects_per_fd = 1U << 17;
module_param(max_objects_per_fd, uint, 0444);
MODULE_PARM_DESC(max_objects_per_fd, "Live objects one open file may own (default 131072)");

static unsigned int max_objects = 1U << 18;
module_param(max_objects, uint, 0444);
MODULE_PARM_DESC(max_objects, "Live objects in the whole module (default 262144)");

static struct kmem_cache *memdriver_object_cache;
static atomic_t memdriver_nr_objects = ATOMIC_INIT(0);

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
