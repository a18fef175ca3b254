package dev.streamingllm.backend.cpu.decoder;

import dev.streamingllm.backend.cpu.Ops;
import dev.streamingllm.backend.cpu.Parallel;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.cache.CacheLayout;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Rope;
import java.util.Arrays;

/**
 * Attention of a prefill chunk as tiles of queries: the keys and values a tile of consecutive rows sees are gathered
 * once per KV head (keys transposed, halves widened) and every query of the tile scores them together, where one row
 * at a time read the whole cache again for each row and head.
 *
 * <p>A row's new key may go to the ring slot of the oldest key, which the rows before it in the chunk still see. The
 * gather takes the keys already in the cache before the tile stores its own, and the tile's own keys after (from the
 * cache, so rounded as stored), so every row sees exactly the keys it sees when the rows run one after another:
 * sinks, then its window in order. A tile holds at most as many rows as the ring has slots, so no two of its rows
 * share a slot.
 */
final class PrefillAttention {

    /** Rows from which a segment is attended in tiles; shorter ones (decode steps) run row by row. */
    static final int MIN_ROWS = 8;
    /** Rows per tile: the scores of a tile are {@code MAX_TILE x visible} floats per head. */
    static final int MAX_TILE = 64;

    private final ModelConfig config;
    private final Rope rope;
    private final Ops ops = Ops.get();

    PrefillAttention(ModelConfig config, Rope rope) {
        this.config = config;
        this.rope = rope;
    }

    /**
     * Attends rows {@code [first, first + count)} of the pass (one segment, over {@code cache}) in layer {@code layer}:
     * stores their keys (rotated) and values in the cache and writes their attention outputs to {@code out}.
     * {@code k}, {@code v} and {@code q} are the pass's projections, not yet rotated.
     */
    void attend(int layer, SinkCache cache, SinkCache.Step[] steps, float[][] windowRope, float[][] sinkRope,
                int first, int count, float[] k, float[] v, float[] q, float[] out, Workspace workspace) {
        int tile = Math.min(MAX_TILE, Math.max(1, ringSlots(cache)));
        for (int a = first; a < first + count; a += tile) {
            attendTile(layer, cache, steps, windowRope, sinkRope, a, Math.min(first + count, a + tile), k, v, q, out, workspace);
        }
    }

    /** Slots of the ring, which a tile's rows may not outnumber. */
    private static int ringSlots(SinkCache cache) {
        return cache.slots() - cache.sinkCapacity();
    }

    private void attendTile(int layer, SinkCache cache, SinkCache.Step[] steps, float[][] windowRope, float[][] sinkRope,
                            int a, int b, float[] k, float[] v, float[] q, float[] out, Workspace workspace) {
        int kvDim = config.kvDim();
        int qDim = config.qDim();
        int heads = config.heads();
        int kvHeads = config.kvHeads();
        int headDim = config.headDim();
        int rows = b - a;

        // The tile's entries: sinks [0, sinks), then the ring entries its rows see, in stream order from the first
        // row's ring start. A step's ring start is a slot, wrapping; start[r] counts on past the wrap.
        int sinks = steps[b - 1].sinkCount();
        int ringFrom = steps[a].ringStart();
        int ringSlots = ringSlots(cache);
        int[] start = new int[rows];
        for (int r = a + 1; r < b; r++) {
            start[r - a] = start[r - a - 1] + Math.floorMod(steps[r].ringStart() - steps[r - 1].ringStart(), ringSlots);
        }
        int ringTo = start[rows - 1] + steps[b - 1].ringCount();
        int entries = sinks + ringTo;
        // Vector loads start at any entry and run up to 15 floats past the last one.
        int stride = roundUp(entries, 16) + 16;

        // Entries the tile writes: a sink row writes sink entry slot(), a ring row the last entry it sees.
        boolean[] written = new boolean[entries];
        for (int r = a; r < b; r++) {
            written[steps[r].sink() ? steps[r].slot() : sinks + start[r - a] + steps[r].ringCount() - 1] = true;
        }

        float[][] keysT = workspace.keysT(headDim * stride);
        float[][] values = workspace.values(entries * headDim);
        gather(layer, cache, sinks, ringFrom, entries, written, false, keysT, values, stride);
        float[] rotated = new float[kvDim];
        for (int r = a; r < b; r++) {
            SinkCache.Step step = steps[r];
            rope.rotateInto(k, r * kvDim, rotated, 0, kvHeads, step.sink() ? sinkRope[r] : windowRope[r]);
            cache.store(layer, step.slot(), rotated, 0, v, r * kvDim);
        }
        gather(layer, cache, sinks, ringFrom, entries, written, true, keysT, values, stride);

        // Queries rotated for the sinks (by their places in the cache) and for the window (by window positions).
        float[][] queries = workspace.tileQueries(rows * qDim);
        float[] qWindow = queries[0];
        float[] qSink = queries[1];
        for (int r = a; r < b; r++) {
            rope.rotateInto(q, r * qDim, qWindow, (r - a) * qDim, heads, windowRope[r]);
            rope.rotateInto(q, r * qDim, qSink, (r - a) * qDim, heads, sinkRope[r]);
        }

        float scale = (float) (1.0 / Math.sqrt(headDim));
        int group = heads / kvHeads;
        float[][] tileScores = workspace.tileScores(rows * stride);
        float[][] rowWeights = workspace.rowWeights(entries);
        Parallel.forRange(heads, 1, (from, to) -> {
            for (int h = from; h < to; h++) {
                float[] weights = rowWeights[h];
                float[] scores = tileScores[h];
                float[] keys = keysT[h / group];
                ops.scoreTile(qSink, h * headDim, qDim, rows, keys, stride, 0, sinks, scale, scores, stride, headDim);
                ops.scoreTile(qWindow, h * headDim, qDim, rows, keys, stride, sinks, entries, scale, scores, stride, headDim);
                // Each row's softmax over the entries it sees, written back over its scores with 0 for the others.
                for (int r = 0; r < rows; r++) {
                    SinkCache.Step step = steps[a + r];
                    int row = r * stride;
                    int sinkCount = step.sinkCount();
                    int ringStart = sinks + start[r];
                    int ringCount = step.ringCount();
                    System.arraycopy(scores, row, weights, 0, sinkCount);
                    System.arraycopy(scores, row + ringStart, weights, sinkCount, ringCount);
                    ops.softmax(weights, 0, sinkCount + ringCount);
                    Arrays.fill(scores, row, row + entries, 0f);
                    System.arraycopy(weights, 0, scores, row, sinkCount);
                    System.arraycopy(weights, sinkCount, scores, row + ringStart, ringCount);
                }
                ops.weightedSumTile(scores, stride, rows, values[h / group], entries, out, a * qDim + h * headDim, qDim, headDim);
            }
        });
    }

    /**
     * Copies the entries that are ({@code written}) or are not (otherwise) the tile's own from the cache: keys
     * transposed per KV head, {@code keysT[g][d * stride + e]}, values as rows, {@code values[g][e * headDim + d]}.
     */
    private void gather(int layer, SinkCache cache, int sinks, int ringFrom, int entries, boolean[] written, boolean own,
                        float[][] keysT, float[][] values, int stride) {
        int headDim = config.headDim();
        int slots = cache.stride();
        CacheType type = cache.type();
        float[] vals = type == CacheType.F32 ? cache.values(layer) : null;
        short[] halfVals = type == CacheType.F16 ? cache.halfValues(layer) : null;
        byte[] quantVals = type == CacheType.Q8_0 ? cache.quantValues(layer) : null;
        short[] valueScales = type == CacheType.Q8_0 ? cache.valueScales(layer) : null;
        // One KV head per slice: a tile over a long window copies megabytes, which one thread did alone.
        Parallel.forRange(config.kvHeads(), 1, (from, to) -> {
            for (int g = from; g < to; g++) {
                float[] kt = keysT[g];
                float[] vg = values[g];
                for (int e = 0; e < entries; e++) {
                    if (written[e] != own) {
                        continue;
                    }
                    int slot = e < sinks ? e : cache.ringSlot(ringFrom + e - sinks);
                    // Keys come out of their tiles element by element; values by the pieces of the head in each chunk,
                    // widened as vectors.
                    for (int d = 0; d < headDim; d++) {
                        kt[d * stride + e] = cache.key(layer, slot, g * headDim + d);
                    }
                    for (int d = 0; d < headDim; ) {
                        int i = g * headDim + d;
                        int count = Math.min(headDim - d, CacheLayout.CHUNK - i % CacheLayout.CHUNK);
                        int at = CacheLayout.valueIndex(slots, slot, i);
                        switch (type) {
                            case F32 -> System.arraycopy(vals, at, vg, e * headDim + d, count);
                            case F16 -> ops.widen(halfVals, at, vg, e * headDim + d, count);
                            case Q8_0 -> ops.widen(quantVals, valueScales, at, vg, e * headDim + d, count);
                        }
                        d += count;
                    }
                }
            }
        });
    }

    private static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }
}
