package dev.streamingllm.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.llama.ModelConfig;
import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.Map;
import java.util.WeakHashMap;
import org.bytedeco.javacpp.SizeTPointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pool of sink caches in device memory: equal slots of {@code capacity + 1} places (one for the
 * token in flight) for every layer's keys and values, 32-bit floats whatever the cache type asked for.
 * A session holds one slot through its {@link SinkCache}; the slot returns on {@link #release} or,
 * failing that, once the cache is unreachable.
 */
final class CacheSlots implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CacheSlots.class);
    private static final Cleaner CLEANER = Cleaner.create();
    /** Device memory kept free beside the pool (cuBLAS workspaces, fragmentation). */
    private static final long HEADROOM = 512L << 20;

    private final ModelConfig config;
    private final int capacity;
    private final int stride;
    private final int size;
    private final Cuda.DevicePtr keys, values;
    private final Deque<Integer> unheld = new ArrayDeque<>();
    private final Map<SinkCache, Lease> leases = Collections.synchronizedMap(new WeakHashMap<>());

    /** A session's hold on a slot; cleaning it (explicitly or once the cache is unreachable) returns the slot exactly once. */
    private record Lease(int slot, Cleaner.Cleanable cleanable) {
    }

    /** As many slots of {@code capacity} tokens as fit in the free device memory, at most {@code maxSessions} (0: no limit). */
    CacheSlots(ModelConfig config, int capacity, int maxSessions) {
        this.config = config;
        this.capacity = capacity;
        this.stride = capacity + 1;
        long slotBytes = CacheConfig.dense(capacity).bytes(config.layers(), config.kvDim()); // f32 on the device
        long available = freeMemory();
        long fit = Math.max(0, (available - HEADROOM) / slotBytes);
        this.size = (int) Math.min(Integer.MAX_VALUE, maxSessions == 0 ? fit : Math.min(fit, maxSessions));
        if (size == 0) {
            throw new CudaException("no sink-cache slot of " + (slotBytes >> 20) + " MiB (" + capacity
                    + " tokens) fits in the " + (available >> 20) + " MiB of device memory left after the weights and activations; use a smaller window");
        }
        this.keys = Cuda.malloc(size * slotBytes / 2, "key cache pool");
        this.values = Cuda.malloc(size * slotBytes / 2, "value cache pool");
        for (int s = 0; s < size; s++) {
            unheld.add(s);
        }
        LOG.info("CUDA sink-cache pool of {} slots x {} MiB ({} tokens each; {} MiB were free, so max sessions = {})",
                size, slotBytes >> 20, capacity, available >> 20,
                maxSessions == 0 ? "free / slot bytes = " + fit : Math.min(fit, maxSessions) + " of " + fit + " that fit");
    }

    /** Cache places between one slot and the next. */
    int stride() {
        return stride;
    }

    Cuda.DevicePtr keys() {
        return keys;
    }

    Cuda.DevicePtr values() {
        return values;
    }

    /** Slots in the pool: the most sessions that can hold a cache at once. */
    int size() {
        return size;
    }

    /** Slots not held by a live session. */
    int unheld() {
        synchronized (unheld) {
            return unheld.size();
        }
    }

    /** A cache backed by a free slot. */
    SinkCache lease(CacheConfig cacheConfig) {
        if (cacheConfig.capacity() > capacity) {
            throw new IllegalArgumentException("a cache of " + cacheConfig.capacity() + " tokens does not fit the device slots of "
                    + capacity + " tokens");
        }
        int slot;
        synchronized (unheld) {
            Integer s = unheld.poll();
            if (s == null) {
                throw new IllegalStateException("all " + size + " device cache slots are in use; release a session first");
            }
            slot = s;
        }
        SinkCache cache = SinkCache.withoutHostStorage(cacheConfig.withType(CacheType.F32), config.layers(), config.kvDim());
        leases.put(cache, new Lease(slot, CLEANER.register(cache, () -> giveBack(slot))));
        return cache;
    }

    /** Returns {@code cache}'s slot to the pool now; the cache must not be used afterwards. */
    void release(SinkCache cache) {
        Lease lease = leases.remove(cache);
        if (lease != null) {
            lease.cleanable().clean();
        }
    }

    /** The slot {@code cache} holds. */
    int slotOf(SinkCache cache) {
        Lease lease = leases.get(cache);
        if (lease == null) {
            throw new IllegalArgumentException("this cache was not made by this CUDA decoder (or was released)");
        }
        return lease.slot();
    }

    private void giveBack(int slot) {
        synchronized (unheld) {
            unheld.add(slot);
        }
    }

    private static long freeMemory() {
        try (SizeTPointer available = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            Cuda.check(cudaMemGetInfo(available, total), "cudaMemGetInfo");
            return available.get();
        }
    }

    @Override
    public void close() {
        Cuda.free(keys);
        Cuda.free(values);
    }
}
