package dev.streamingllm.backend.cpu.decoder;

import dev.streamingllm.backend.Decoder;
import dev.streamingllm.backend.Segment;
import dev.streamingllm.backend.cpu.Ops;
import dev.streamingllm.backend.cpu.Parallel;
import dev.streamingllm.backend.cpu.WeightMatrix;
import dev.streamingllm.cache.CacheLayout;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Rope;
import dev.streamingllm.llama.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The Llama-family decoder (llama, qwen2) on the CPU: RMSNorm, attention with RoPE over a sink cache,
 * SwiGLU feed-forward. A call runs segments of tokens of one or more sessions through every layer at once:
 * a prefill chunk, a decode step of many sessions, or both (continuous batching).
 */
public final class Transformer implements Decoder {

    /** Multiply-adds of attention per parallel slice, as {@code WeightMatrix.MIN_SLICE_WORK} for matmuls. */
    static final int MIN_HEAD_WORK = 32 * 1024;
    /** Keys per parallel slice of the attention scores. */
    static final int SCORE_SPAN = 512;

    private final ModelConfig config;
    private final Weights weights;
    private final Rope rope;
    private final PrefillAttention prefillAttention;
    private final int[][] valuePieces;
    private final Ops ops = Ops.get();
    /** The workspace between passes; a pass takes it, so passes on other threads work in their own. */
    private final AtomicReference<Workspace> idle = new AtomicReference<>();

    public Transformer(ModelConfig config, Weights weights) {
        this.config = config;
        this.weights = weights;
        this.rope = new Rope(config, weights.ropeFrequencyFactors());
        this.prefillAttention = new PrefillAttention(config, rope);
        this.valuePieces = valuePieces(config);
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public SinkCache newCache(dev.streamingllm.cache.CacheConfig cacheConfig) {
        return new SinkCache(cacheConfig, config.layers(), config.kvDim());
    }

    @Override
    public float[][] forward(List<Segment> segments) {
        return forward(segments, null);
    }

    /** One segment's forward pass, showing every attention row to {@code observer} (may be null). */
    public float[] forward(SinkCache cache, int[] tokens, int offset, int count, boolean allLogits, AttentionObserver observer) {
        return forward(List.of(new Segment(cache, tokens, offset, count, allLogits)), observer)[0];
    }

    private float[][] forward(List<Segment> segments, AttentionObserver observer) {
        Workspace workspace = idle.getAndSet(null);
        if (workspace == null) {
            workspace = new Workspace(config);
        }
        try {
            return forward(segments, observer, workspace);
        } finally {
            idle.set(workspace);
        }
    }

    private float[][] forward(List<Segment> segments, AttentionObserver observer, Workspace workspace) {
        int dim = config.dim();
        int qDim = config.qDim();
        int kvDim = config.kvDim();
        int ffnDim = config.ffnDim();
        int heads = config.heads();
        int n = segments.size();
        if (segments.stream().map(Segment::cache).distinct().count() != n) {
            throw new IllegalArgumentException("a cache appears in more than one segment of a forward pass");
        }

        // Rows of all segments are stacked: segment s owns rows [first[s], first[s] + count). Long segments (prefill
        // chunks) attend in tiles; the others row by row, in waves.
        int[] first = new int[n];
        boolean[] tiled = new boolean[n];
        int count = 0;
        int longest = 0;
        for (int s = 0; s < n; s++) {
            first[s] = count;
            count += segments.get(s).count();
            tiled[s] = observer == null && segments.get(s).count() >= PrefillAttention.MIN_ROWS;
            longest = Math.max(longest, tiled[s] ? 0 : segments.get(s).count());
        }

        workspace.fit(count);
        float[] x = workspace.x;
        for (int s = 0; s < n; s++) {
            Segment segment = segments.get(s);
            for (int i = 0; i < segment.count(); i++) {
                int token = segment.tokens()[segment.offset() + i];
                if (token < 0 || token >= config.vocabularySize()) {
                    throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + config.vocabularySize() + ")");
                }
                weights.tokenEmbedding().dequantizeRow(token, x, (first[s] + i) * dim);
            }
        }

        SinkCache.Step[] steps = new SinkCache.Step[count];
        int[][] visibleRows = new int[count][];
        float[][] windowRope = new float[count][];
        float[][] sinkRope = new float[count][];
        for (int s = 0; s < n; s++) {
            Segment segment = segments.get(s);
            for (int i = 0; i < segment.count(); i++) {
                int r = first[s] + i;
                steps[r] = segment.cache().admit(segment.tokens()[segment.offset() + i]);
                windowRope[r] = rope.table(steps[r].windowPosition());
                sinkRope[r] = steps[r].sinkPosition() == steps[r].windowPosition() ? windowRope[r] : rope.table(steps[r].sinkPosition());
                visibleRows[r] = tiled[s] ? null : visibleRows(segment.cache(), steps[r]);
            }
        }

        float[] xb = workspace.xb;
        float[] q = workspace.q;
        float[] k = workspace.k;
        float[] v = workspace.v;
        float[] attention = workspace.attention;
        float[] projected = workspace.projected;
        float[] gate = workspace.gate;
        float[] up = workspace.up;
        float[][][] scores = new float[n][][];
        for (int s = 0; s < n; s++) {
            scores[s] = tiled[s] ? null : workspace.scores(s, segments.get(s).cache().slots());
        }
        float[][] qWindow = new float[n][qDim];
        float[][] qSink = new float[n][qDim];
        int[] waveSegments = new int[n];
        float[] rotatedKey = new float[kvDim];

        for (int l = 0; l < config.layers(); l++) {
            Weights.Layer layer = weights.layers()[l];

            rmsnorm(xb, x, layer.attnNorm(), count);
            WeightMatrix.matmul(xb, count, new WeightMatrix[] {layer.attnQ(), layer.attnK(), layer.attnV()}, new float[][] {q, k, v});
            addBias(q, layer.attnQBias(), count);
            addBias(k, layer.attnKBias(), count);
            addBias(v, layer.attnVBias(), count);

            for (int s = 0; s < n; s++) {
                if (tiled[s]) {
                    prefillAttention.attend(l, segments.get(s).cache(), steps, windowRope, sinkRope, first[s],
                            segments.get(s).count(), k, v, q, attention, workspace);
                }
            }
            // In waves: row i of every other segment, in order. A row's key may overwrite a ring slot that the row
            // before it in the same segment still sees, so within a segment rows store and attend one after another.
            for (int i = 0; i < longest; i++) {
                int active = 0;
                int widest = 0;
                for (int s = 0; s < n; s++) {
                    if (tiled[s] || segments.get(s).count() <= i) {
                        continue;
                    }
                    SinkCache cache = segments.get(s).cache();
                    int r = first[s] + i;
                    SinkCache.Step step = steps[r];
                    float[] keyRope = step.sink() ? sinkRope[r] : windowRope[r];
                    rope.rotateInto(k, r * kvDim, rotatedKey, 0, config.kvHeads(), keyRope);
                    cache.store(l, step.slot(), rotatedKey, 0, v, r * kvDim);
                    rope.rotateInto(q, r * qDim, qWindow[s], 0, heads, windowRope[r]);
                    rope.rotateInto(q, r * qDim, qSink[s], 0, heads, sinkRope[r]);
                    widest = Math.max(widest, visibleRows[r].length);
                    waveSegments[active++] = s;
                }
                attend(l, segments, first, i, steps, waveSegments, active, widest, visibleRows, qWindow, qSink, scores, attention);
                if (observer != null) {
                    // After the parallel heads, so an observer needs no locking.
                    for (int a = 0; a < active; a++) {
                        int s = waveSegments[a];
                        SinkCache.Step step = steps[first[s] + i];
                        for (int h = 0; h < heads; h++) {
                            observer.scores(l, h, step.windowPosition(), scores[s][h], step.sinkCount() + step.ringCount());
                        }
                    }
                }
            }

            layer.attnOutput().matmul(attention, projected, count);
            accumulate(x, projected, count);

            rmsnorm(xb, x, layer.ffnNorm(), count);
            WeightMatrix.matmul(xb, count, new WeightMatrix[] {layer.ffnGate(), layer.ffnUp()}, new float[][] {gate, up});
            // a prefill chunk's rows in parallel: alone on one thread they left the other idle for 5% of a prefill
            Parallel.forRange(count, Math.max(1, MIN_HEAD_WORK / ffnDim),
                    (from, to) -> ops.siluMul(gate, from * ffnDim, up, from * ffnDim, (to - from) * ffnDim));
            layer.ffnDown().matmul(gate, projected, count);
            accumulate(x, projected, count);
        }

        // Logits for each segment's last row, or all its rows, in one matmul.
        int rows = segments.stream().mapToInt(Segment::logitRows).sum();
        float[] last = workspace.last;
        int at = 0;
        for (int s = 0; s < n; s++) {
            Segment segment = segments.get(s);
            int from = first[s] + segment.count() - segment.logitRows();
            System.arraycopy(x, from * dim, last, at * dim, segment.logitRows() * dim);
            at += segment.logitRows();
        }
        float[] normed = workspace.normed;
        rmsnorm(normed, last, weights.outputNorm(), rows);
        int vocab = config.vocabularySize();
        float[] logits = new float[rows * vocab];
        weights.output().matmul(normed, logits, rows);
        if (n == 1) {
            return new float[][] {logits};
        }
        float[][] out = new float[n][];
        at = 0;
        for (int s = 0; s < n; s++) {
            int segmentRows = segments.get(s).logitRows();
            out[s] = Arrays.copyOfRange(logits, at * vocab, (at + segmentRows) * vocab);
            at += segmentRows;
        }
        return out;
    }

    /**
     * Attention of row {@code i} of each segment in the wave over its sinks and visible window, in three parallel
     * loops. Scores first, per (segment, KV head, span of keys): the query heads that share a KV head score its keys
     * together ({@link Ops#groupScores}), each key read and widened once for all of them, and spans of
     * {@value #SCORE_SPAN} keys keep both threads busy when one conversation has fewer KV heads than threads have
     * turns. Then softmax per (segment, head), and values per (segment, piece of a KV head's elements in one chunk of
     * the cache's values), the group's heads again together. Each query comes rotated twice: {@code qSink} by its place in
     * the cache (against sink keys, which sit at fixed places) and {@code qWindow} by its window position (against
     * window keys).
     */
    private void attend(int layer, List<Segment> segments, int[] first, int i, SinkCache.Step[] steps, int[] waveSegments,
                        int active, int widest, int[][] visibleRows, float[][] qWindow, float[][] qSink,
                        float[][][] scoreRows, float[] out) {
        int heads = config.heads();
        int kvHeads = config.kvHeads();
        int headDim = config.headDim();
        int qDim = config.qDim();
        int group = heads / kvHeads;
        float scale = (float) (1.0 / Math.sqrt(headDim));

        // Small models attend over a few floats per head: below MIN_HEAD_WORK a hand-off to another
        // thread costs more than the work itself (and much more when that thread is descheduled).
        int spans = Math.max(1, (widest + SCORE_SPAN - 1) / SCORE_SPAN);
        int spanWork = Math.min(widest, SCORE_SPAN) * headDim * group;
        Parallel.forRange(active * kvHeads * spans, Math.max(1, MIN_HEAD_WORK / Math.max(1, spanWork)), (from, to) -> {
            for (int unit = from; unit < to; unit++) {
                int s = waveSegments[unit / (kvHeads * spans)];
                int kvHead = unit / spans % kvHeads;
                int[] rows = visibleRows[first[s] + i];
                int start = unit % spans * SCORE_SPAN;
                int end = Math.min(rows.length, start + SCORE_SPAN);
                int firstHead = kvHead * group;
                SinkCache cache = segments.get(s).cache();
                scoreSpan(layer, cache, steps[first[s] + i], start, end, qSink[s], qWindow[s], firstHead * headDim, group,
                        kvHead * headDim, scale, scoreRows[s], firstHead);
            }
        });
        Parallel.forRange(active * heads, Math.max(1, MIN_HEAD_WORK / Math.max(1, widest)), (from, to) -> {
            for (int unit = from; unit < to; unit++) {
                int s = waveSegments[unit / heads];
                ops.softmax(scoreRows[s][unit % heads], 0, visibleRows[first[s] + i].length);
            }
        });
        // Values per (segment, piece of a KV head's elements within one chunk of the cache), the group's heads together.
        int pieces = valuePieces.length;
        Parallel.forRange(active * pieces, Math.max(1, MIN_HEAD_WORK / Math.max(1, widest * CacheLayout.CHUNK * group)), (from, to) -> {
            for (int unit = from; unit < to; unit++) {
                int s = waveSegments[unit / pieces];
                int[] piece = valuePieces[unit % pieces];
                int kvHead = piece[0];
                int element = kvHead * headDim + piece[1];
                int[] rows = visibleRows[first[s] + i];
                int firstHead = kvHead * group;
                int outOffset = (first[s] + i) * qDim + firstHead * headDim + piece[1];
                SinkCache cache = segments.get(s).cache();
                int valueOffset = CacheLayout.valueChunk(cache.stride(), element) + element % CacheLayout.CHUNK;
                switch (cache.type()) {
                    case F32 -> ops.groupWeightedSum(scoreRows[s], firstHead, group, cache.values(layer), rows, valueOffset, rows.length, out,
                            outOffset, headDim, piece[2]);
                    case F16 -> ops.groupWeightedSum(scoreRows[s], firstHead, group, cache.halfValues(layer), rows, valueOffset, rows.length,
                            out, outOffset, headDim, piece[2]);
                    case Q8_0 -> ops.groupWeightedSum(scoreRows[s], firstHead, group, cache.quantValues(layer), cache.valueScales(layer), rows,
                            valueOffset, rows.length, out, outOffset, headDim, piece[2]);
                }
            }
        });
    }

    /**
     * Each KV head's elements cut where the cache's value chunks end ({@link CacheLayout#valueIndex}): {kvHead, first
     * element in the head, count}. A weighted sum over one piece reads its rows one after another.
     */
    private static int[][] valuePieces(ModelConfig config) {
        List<int[]> pieces = new ArrayList<>();
        for (int kvHead = 0; kvHead < config.kvHeads(); kvHead++) {
            for (int e = 0; e < config.headDim(); ) {
                int element = kvHead * config.headDim() + e;
                int count = Math.min(config.headDim() - e, CacheLayout.CHUNK - element % CacheLayout.CHUNK);
                pieces.add(new int[] {kvHead, e, count});
                e += count;
            }
        }
        return pieces.toArray(int[][]::new);
    }

    /**
     * Scores of the keys {@code [start, end)} that {@code step} sees (in cache order: sinks, then the window oldest
     * first) by the query heads of one KV head, in runs of consecutive slots: the sinks, then the window up to the end
     * of the ring and from its start again. Sink keys take the query rotated by its place, window keys the one rotated
     * by its window position.
     */
    private void scoreSpan(int layer, SinkCache cache, SinkCache.Step step, int start, int end, float[] qSink, float[] qWindow,
                           int qOffset, int group, int element, float scale, float[][] scores, int firstHead) {
        int sinks = step.sinkCount();
        if (start < sinks) {
            scoreRun(layer, cache, qSink, qOffset, group, element, start, Math.min(end, sinks), scale, scores, firstHead, start);
        }
        for (int j = Math.max(start, sinks); j < end; ) {
            int slot = cache.ringSlot(step.ringStart() + j - sinks);
            int run = Math.min(end - j, cache.slots() - slot);
            scoreRun(layer, cache, qWindow, qOffset, group, element, slot, slot + run, scale, scores, firstHead, j);
            j += run;
        }
    }

    /** Scores of the keys in slots {@code [from, to)} into scores {@code [at, at + to - from)}. */
    private void scoreRun(int layer, SinkCache cache, float[] q, int qOffset, int group, int element, int from, int to,
                          float scale, float[][] scores, int firstHead, int at) {
        int slots = cache.stride();
        int headDim = config.headDim();
        switch (cache.type()) {
            case F32 -> ops.groupScores(q, qOffset, group, cache.keys(layer), slots, element, from, to, scale, scores, firstHead, at, headDim);
            case F16 -> ops.groupScores(q, qOffset, group, cache.halfKeys(layer), slots, element, from, to, scale, scores, firstHead, at, headDim);
            case Q8_0 -> ops.groupScores(q, qOffset, group, cache.quantKeys(layer), cache.keyScales(layer), slots, element, from, to,
                    scale, scores, firstHead, at, headDim);
        }
    }

    /** Where in a chunk of the layer's values the rows {@code step} sees begin: the sinks, then its window. */
    private int[] visibleRows(SinkCache cache, SinkCache.Step step) {
        int visible = step.sinkCount() + step.ringCount();
        int[] rows = new int[visible];
        for (int j = 0; j < visible; j++) {
            rows[j] = slot(cache, step, j) * CacheLayout.CHUNK;
        }
        return rows;
    }

    private static int slot(SinkCache cache, SinkCache.Step step, int j) {
        return j < step.sinkCount() ? j : cache.ringSlot(step.ringStart() + (j - step.sinkCount()));
    }

    private void rmsnorm(float[] out, float[] x, float[] weight, int rows) {
        for (int r = 0; r < rows; r++) {
            ops.rmsnorm(out, r * config.dim(), x, r * config.dim(), weight, config.rmsEps(), config.dim());
        }
    }

    private static void addBias(float[] x, float[] bias, int rows) {
        if (bias == null) {
            return;
        }
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < bias.length; i++) {
                x[r * bias.length + i] += bias[i];
            }
        }
    }

    private void accumulate(float[] x, float[] delta, int rows) {
        ops.axpy(1f, delta, 0, x, 0, rows * config.dim());
    }
}
