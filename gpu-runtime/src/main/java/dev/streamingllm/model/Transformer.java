package dev.streamingllm.model;

import dev.streamingllm.backend.cpu.Ops;
import dev.streamingllm.backend.cpu.Parallel;
import dev.streamingllm.backend.cpu.WeightMatrix;
import dev.streamingllm.cache.SinkCache;

/**
 * The Llama-family decoder (llama, qwen2) on the CPU: RMSNorm, attention with RoPE over a sink cache,
 * SwiGLU feed-forward. A call runs a chunk of tokens through every layer at once (batched prefill);
 * decoding is a chunk of one.
 */
public final class Transformer implements Decoder {

    /** Multiply-adds of attention per parallel slice, as {@code WeightMatrix.MIN_SLICE_WORK} for matmuls. */
    static final int MIN_HEAD_WORK = 32 * 1024;

    private final ModelConfig config;
    private final Weights weights;
    private final Rope rope;
    private final Ops ops = Ops.get();

    public Transformer(ModelConfig config, Weights weights) {
        this.config = config;
        this.weights = weights;
        this.rope = new Rope(config, weights.ropeFrequencyFactors());
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
    public float[] forward(SinkCache cache, int[] tokens, int offset, int count, boolean allLogits) {
        return forward(cache, tokens, offset, count, allLogits, null);
    }

    /** {@link #forward(SinkCache, int[], int, int, boolean)}, showing every attention row to {@code observer} (may be null). */
    public float[] forward(SinkCache cache, int[] tokens, int offset, int count, boolean allLogits, AttentionObserver observer) {
        int dim = config.dim();
        int qDim = config.qDim();
        int kvDim = config.kvDim();
        int ffnDim = config.ffnDim();

        float[] x = new float[count * dim];
        for (int i = 0; i < count; i++) {
            int token = tokens[offset + i];
            if (token < 0 || token >= config.vocabularySize()) {
                throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + config.vocabularySize() + ")");
            }
            weights.tokenEmbedding().dequantizeRow(token, x, i * dim);
        }

        SinkCache.Step[] steps = new SinkCache.Step[count];
        float[][] windowRope = new float[count][];
        float[][] sinkRope = new float[count][];
        for (int i = 0; i < count; i++) {
            steps[i] = cache.admit(tokens[offset + i]);
            windowRope[i] = rope.table(steps[i].windowPosition());
            sinkRope[i] = steps[i].sinkPosition() == steps[i].windowPosition() ? windowRope[i] : rope.table(steps[i].sinkPosition());
        }

        float[] xb = new float[count * dim];
        float[] q = new float[count * qDim];
        float[] k = new float[count * kvDim];
        float[] v = new float[count * kvDim];
        float[] attention = new float[count * qDim];
        float[] projected = new float[count * dim];
        float[] gate = new float[count * ffnDim];
        float[] up = new float[count * ffnDim];
        float[][] scores = new float[config.heads()][cache.slots()];
        float[] qWindow = new float[qDim];
        float[] qSink = new float[qDim];

        for (int l = 0; l < config.layers(); l++) {
            Weights.Layer layer = weights.layers()[l];

            rmsnorm(xb, x, layer.attnNorm(), count);
            WeightMatrix.matmul(xb, count, new WeightMatrix[] {layer.attnQ(), layer.attnK(), layer.attnV()}, new float[][] {q, k, v});
            addBias(q, layer.attnQBias(), count);
            addBias(k, layer.attnKBias(), count);
            addBias(v, layer.attnVBias(), count);

            float[] keyCache = cache.keys(l);
            float[] valueCache = cache.values(l);
            for (int i = 0; i < count; i++) {
                SinkCache.Step step = steps[i];
                float[] keyRope = step.sink() ? sinkRope[i] : windowRope[i];
                rope.rotateInto(k, i * kvDim, keyCache, step.slot() * kvDim, config.kvHeads(), keyRope);
                System.arraycopy(v, i * kvDim, valueCache, step.slot() * kvDim, kvDim);
                rope.rotateInto(q, i * qDim, qWindow, 0, config.heads(), windowRope[i]);
                rope.rotateInto(q, i * qDim, qSink, 0, config.heads(), sinkRope[i]);
                attend(qWindow, qSink, step, cache, keyCache, valueCache, scores, attention, i * qDim);
                if (observer != null) {
                    // After the parallel heads, so an observer needs no locking.
                    for (int h = 0; h < config.heads(); h++) {
                        observer.scores(l, h, step.windowPosition(), scores[h], step.sinkCount() + step.ringCount());
                    }
                }
            }

            layer.attnOutput().matmul(attention, projected, count);
            accumulate(x, projected);

            rmsnorm(xb, x, layer.ffnNorm(), count);
            WeightMatrix.matmul(xb, count, new WeightMatrix[] {layer.ffnGate(), layer.ffnUp()}, new float[][] {gate, up});
            ops.siluMul(gate, 0, up, 0, count * ffnDim);
            layer.ffnDown().matmul(gate, projected, count);
            accumulate(x, projected);
        }

        int rows = allLogits ? count : 1;
        int first = count - rows;
        float[] last = new float[rows * dim];
        System.arraycopy(x, first * dim, last, 0, rows * dim);
        float[] normed = new float[rows * dim];
        rmsnorm(normed, last, weights.outputNorm(), rows);
        float[] logits = new float[rows * config.vocabularySize()];
        weights.output().matmul(normed, logits, rows);
        return logits;
    }

    /**
     * Attention of one token over the sinks and its visible window, every head in parallel. The query
     * comes rotated twice: {@code qSink} by its place in the cache (against sink keys, which sit at
     * fixed places) and {@code qWindow} by its window position (against window keys).
     */
    private void attend(float[] qWindow, float[] qSink, SinkCache.Step step, SinkCache cache,
                        float[] keyCache, float[] valueCache, float[][] scoreRows, float[] out, int outOffset) {
        int headDim = config.headDim();
        int kvDim = config.kvDim();
        int group = config.heads() / config.kvHeads();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int visible = step.sinkCount() + step.ringCount();

        // Small models attend over a few floats per head: below MIN_HEAD_WORK a hand-off to another
        // thread costs more than the head itself (and much more when that thread is descheduled).
        int grain = Math.max(1, MIN_HEAD_WORK / Math.max(1, 2 * visible * headDim));
        int[] rows = new int[visible];
        for (int j = 0; j < visible; j++) {
            rows[j] = slot(cache, step, j) * kvDim;
        }
        Parallel.forRange(config.heads(), grain, (first, last) -> {
            for (int h = first; h < last; h++) {
                int kvOffset = (h / group) * headDim;
                int qOffset = h * headDim;
                float[] scores = scoreRows[h];
                ops.scores(qSink, qOffset, keyCache, rows, kvOffset, 0, step.sinkCount(), scale, scores, headDim);
                ops.scores(qWindow, qOffset, keyCache, rows, kvOffset, step.sinkCount(), visible, scale, scores, headDim);
                ops.softmax(scores, 0, visible);
                ops.weightedSum(scores, valueCache, rows, kvOffset, visible, out, outOffset + qOffset, headDim);
            }
        });
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

    private void accumulate(float[] x, float[] delta) {
        ops.axpy(1f, delta, 0, x, 0, x.length);
    }
}
