package dev.streamingllm.cache;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * What a sink cache gained since an earlier state of it (the base, named by its {@code tokensSeen}), as bytes: the
 * bookkeeping now and, for the tokens fed since the base that are still held, their slot, token id and keys and values
 * (in the cache's element type), followed by a CRC-32C like every {@link SnapshotFrame}. Those tokens are the last held
 * entries in cache order, and no other held entry changes: a slot keeps its entry until it is evicted, and what the
 * base held and the cache evicted since is no longer visible. So applying the delta to the base restored gives the
 * same held entries as a full {@link SinkCacheSnapshot} of the cache.
 */
public final class SinkCacheDelta {

    private static final int MAGIC = 0x534b4431; // "SKD1"

    private SinkCacheDelta() {
    }

    /** The delta of {@code cache} since it had seen {@code baseTokensSeen} tokens. */
    public static byte[] write(SinkCache cache, long baseTokensSeen) {
        SinkCache.State state = cache.state();
        if (baseTokensSeen < 0 || baseTokensSeen > state.tokensSeen()) {
            throw new IllegalArgumentException("a cache that has seen " + state.tokensSeen() + " tokens has no delta since "
                    + baseTokensSeen + " tokens");
        }
        int occupied = state.sinkCount() + state.ringCount();
        int fresh = freshEntries(state, baseTokensSeen);
        int[] slots = cache.occupiedSlots(occupied - fresh, occupied);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream((int) (96 + 8L * fresh + KvRows.bytes(cache, fresh)));
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            CacheFields.writeGeometry(out, cache);
            out.writeLong(baseTokensSeen);
            CacheFields.writeState(out, state);
            out.writeInt(fresh);
            int[] tokens = cache.tokens();
            for (int i = 0; i < fresh; i++) {
                out.writeInt(slots[i]);
                out.writeInt(tokens[occupied - fresh + i]);
            }
            KvRows.write(out, cache, slots);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return SnapshotFrame.seal(bytes.toByteArray());
    }

    /**
     * Brings {@code cache}, restored from the delta's base, to the state the delta was written from. A delta of another
     * geometry or element type, one written on a base that had seen another number of tokens, a corrupt or a truncated
     * one is an {@link IllegalArgumentException} saying which, and leaves the cache as it was.
     */
    public static void apply(byte[] delta, SinkCache cache) {
        int body = SnapshotFrame.open(delta, 0, "cache delta");
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(delta, 0, body))) {
            if (in.readInt() != MAGIC) {
                throw new IllegalArgumentException("not a sink cache delta");
            }
            int layers = in.readInt();
            int kvDim = in.readInt();
            if (layers != cache.layers() || kvDim != cache.kvDim()) {
                throw new IllegalArgumentException("cache delta is for " + layers + " layers x " + kvDim + " KV values, the cache has "
                        + cache.layers() + " x " + cache.kvDim());
            }
            int sinks = in.readInt();
            int window = in.readInt();
            int evictBatch = in.readInt();
            int type = in.readInt();
            CacheConfig config = cache.config();
            if (sinks != config.sinks() || window != config.window() || evictBatch != config.evictBatch() || type != config.type().ordinal()) {
                throw new IllegalArgumentException("cache delta is for sinks " + sinks + ", window " + window + ", evict batch " + evictBatch
                        + ", type " + (type >= 0 && type < CacheType.values().length ? CacheType.values()[type] : type)
                        + "; the cache is " + config);
            }
            long base = in.readLong();
            if (base != cache.tokensSeen()) {
                throw new IllegalArgumentException("cache delta continues a cache that had seen " + base + " tokens; this one has seen "
                        + cache.tokensSeen());
            }
            SinkCache.State state = CacheFields.readState(in);
            int fresh = in.readInt();
            if (fresh < 0 || fresh > state.sinkCount() + state.ringCount() || fresh != freshEntries(state, base)) {
                throw new IllegalArgumentException("cache delta claims " + fresh + " new entries for state " + state + ": it is corrupt");
            }
            int[] slots = new int[fresh];
            int[] tokens = new int[fresh];
            for (int i = 0; i < fresh; i++) {
                slots[i] = in.readInt();
                tokens[i] = in.readInt();
                if (slots[i] < 0 || slots[i] >= cache.slots()) {
                    throw new IllegalArgumentException("cache delta names slot " + slots[i] + " of " + cache.slots() + ": it is corrupt");
                }
            }
            if (in.available() != KvRows.bytes(cache, fresh)) {
                throw new IllegalArgumentException("cache delta has " + in.available() + " bytes of keys and values for " + fresh
                        + " entries, expected " + KvRows.bytes(cache, fresh));
            }
            // everything is checked before the cache changes
            cache.restore(state);
            for (int i = 0; i < fresh; i++) {
                cache.token(slots[i], tokens[i]);
            }
            KvRows.read(in, cache, slots);
        } catch (IOException e) {
            throw new IllegalArgumentException("cache delta is truncated: " + e.getMessage(), e);
        }
    }

    /**
     * How many held entries were fed after the first {@code base} tokens: sink {@code j} holds token {@code j} of the
     * stream, and the ring the latest {@code ringCount} tokens.
     */
    private static int freshEntries(SinkCache.State state, long base) {
        long fed = state.tokensSeen() - base;
        long sinks = Math.max(0, state.sinkCount() - base);
        return (int) (Math.min(sinks, state.sinkCount()) + Math.min(state.ringCount(), Math.max(0, fed)));
    }
}
