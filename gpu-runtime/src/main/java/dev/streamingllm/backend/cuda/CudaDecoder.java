package dev.streamingllm.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaDeviceSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;

import dev.streamingllm.backend.Decoder;
import dev.streamingllm.backend.Segment;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Llama-family decoder on a CUDA device: weights uploaded once ({@link DeviceWeights}), kernels
 * compiled at start with NVRTC, and a pool of equal sink-cache slots in device memory, one per session
 * ({@link CacheSlots}).
 *
 * <p>Positions and eviction are the CPU's: every session keeps a {@link SinkCache} without host
 * storage for its bookkeeping ({@link SinkCache#admit(int)} plans each token), and the kernels apply
 * the plan ({@link RowPlan}) to the session's device slot. {@link #forward} runs one session's chunk
 * (prefill, or a single decode token); {@link #decodeBatch} advances any set of sessions by one token
 * each in one batched pass (continuous batching: sessions join and leave between steps).
 *
 * <p>One stream, one pass at a time: calls are serialized on this object.
 */
public final class CudaDecoder implements Decoder {

    private static final Logger LOG = LoggerFactory.getLogger(CudaDecoder.class);
    private static final int NORM_BLOCK = 256;

    private final ModelConfig config;
    private final CudaDevice device;
    private final CudaOptions options;
    private final Weights hostWeights;
    private final Kernels kernels;
    private final DeviceWeights weights;
    private final Matmul matmul;
    private final RowPlan plan;
    private final CacheSlots pool;

    // Activations for up to maxRows rows.
    private final Cuda.DevicePtr x, xb, q, qWindow, qSink, attention, k, v, projected, gate, up, logits;
    private final List<Cuda.DevicePtr> activations = new ArrayList<>();

    public CudaDecoder(GGUFFile gguf, ModelConfig config, Weights hostWeights, CudaDevice device, CudaOptions options) {
        this.config = config;
        this.device = device;
        this.options = options;
        this.hostWeights = hostWeights;
        Cuda.check(cudaSetDevice(device.index()), "cudaSetDevice");
        long start = System.nanoTime();
        this.kernels = new Kernels(device);
        LOG.info("CUDA kernels compiled with NVRTC for {} in {} ms", device.architecture(), (System.nanoTime() - start) / 1_000_000);
        this.weights = new DeviceWeights(gguf, config, hostWeights);

        int rows = options.maxRows();
        int dim = config.dim();
        int qDim = config.qDim();
        int kvDim = config.kvDim();
        int ffn = config.ffnDim();
        this.x = floats(rows, dim, "x");
        this.xb = floats(rows, dim, "xb");
        this.q = floats(rows, qDim, "q");
        this.qWindow = floats(rows, qDim, "q window");
        this.qSink = floats(rows, qDim, "q sink");
        this.attention = floats(rows, qDim, "attention");
        this.k = floats(rows, kvDim, "k");
        this.v = floats(rows, kvDim, "v");
        this.projected = floats(rows, Math.max(dim, qDim), "projected");
        this.gate = floats(rows, ffn, "gate");
        this.up = floats(rows, ffn, "up");
        this.logits = floats(rows, config.vocabularySize(), "logits");
        this.matmul = new Matmul(kernels, options, rows, Math.max(Math.max(dim, qDim), ffn), weights.largestQuantized());
        this.plan = new RowPlan(rows);

        int attentionShared = (2 * config.headDim() + options.slotCapacity() + 1) * Float.BYTES;
        if (attentionShared > 48 * 1024) {
            kernels.allowSharedMemory("attention", attentionShared);
        }
        // Last, so that the pool takes what the weights and activations left.
        this.pool = new CacheSlots(config, options.slotCapacity(), options.maxSessions());
        LOG.info("CUDA decoder on {}: weights {} MiB, {} device cache slots", device, weights.bytes() >> 20, pool.size());
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    public CudaDevice device() {
        return device;
    }

    /** Slots in the pool: the most sessions that can hold a cache at once. */
    public int poolSlots() {
        return pool.size();
    }

    /** Slots not held by a live session. */
    public int freeSlots() {
        return pool.unheld();
    }

    /**
     * A cache backed by a free device slot. The slot returns to the pool on {@link #release} or, failing
     * that, once the cache is unreachable.
     */
    @Override
    public SinkCache newCache(CacheConfig cacheConfig) {
        return pool.lease(cacheConfig);
    }

    /** Returns {@code cache}'s slot to the pool now; the cache must not be used afterwards. */
    public void release(SinkCache cache) {
        pool.release(cache);
    }

    @Override
    public synchronized float[] forward(SinkCache cache, int[] tokens, int offset, int count, boolean allLogits) {
        int slot = pool.slotOf(cache);
        List<SinkCache.Step> steps = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            checkToken(tokens[offset + i]);
            steps.add(cache.admit(tokens[offset + i]));
        }
        int vocab = config.vocabularySize();
        float[] out = new float[(allLogits ? count : 1) * vocab];
        int ringSize = cache.slots() - cache.sinkCapacity();
        int start = 0;
        for (int end : RowGroups.split(steps, cache.sinkCapacity(), ringSize)) {
            for (int from = start; from < end; from += options.maxRows()) {
                int to = Math.min(end, from + options.maxRows());
                List<RowPlan.Row> rows = new ArrayList<>(to - from);
                for (int i = from; i < to; i++) {
                    rows.add(new RowPlan.Row(slot, cache, steps.get(i)));
                }
                int[] ids = Arrays.copyOfRange(tokens, offset + from, offset + to);
                if (allLogits) {
                    run(rows, ids, 0, rows.size(), out, from * vocab);
                } else if (to == count) {
                    run(rows, ids, rows.size() - 1, 1, out, 0);
                } else {
                    run(rows, ids, 0, 0, out, 0);
                }
            }
            start = end;
        }
        return out;
    }

    /**
     * The single-token segments (decode steps) go through {@link #decodeBatch} as one batch; longer ones
     * (prefill chunks) run one after another, each batched over its own rows.
     */
    @Override
    public synchronized float[][] forward(List<Segment> segments) {
        float[][] out = new float[segments.size()][];
        List<SinkCache> decodeCaches = new ArrayList<>();
        List<Integer> decodeIndexes = new ArrayList<>();
        for (int s = 0; s < segments.size(); s++) {
            Segment segment = segments.get(s);
            if (segment.count() == 1) {
                decodeCaches.add(segment.cache());
                decodeIndexes.add(s);
            } else {
                out[s] = forward(segment.cache(), segment.tokens(), segment.offset(), segment.count(), segment.allLogits());
            }
        }
        if (!decodeCaches.isEmpty()) {
            int[] tokens = decodeIndexes.stream().mapToInt(s -> segments.get(s).tokens()[segments.get(s).offset()]).toArray();
            float[][] logits = decodeBatch(decodeCaches, tokens);
            for (int d = 0; d < logits.length; d++) {
                out[decodeIndexes.get(d)] = logits[d];
            }
        }
        return out;
    }

    /**
     * Advances every session in {@code caches} by its token in {@code tokens} in one batched pass (split
     * by {@code maxRows}), returning each session's logits. Sessions may differ from call to call.
     */
    public synchronized float[][] decodeBatch(List<SinkCache> caches, int[] tokens) {
        if (caches.size() != tokens.length) {
            throw new IllegalArgumentException(caches.size() + " sessions but " + tokens.length + " tokens");
        }
        if (new HashSet<>(caches).size() != caches.size()) {
            throw new IllegalArgumentException("a session appears twice in one decode step");
        }
        int vocab = config.vocabularySize();
        float[][] result = new float[caches.size()][];
        for (int from = 0; from < caches.size(); from += options.maxRows()) {
            int to = Math.min(caches.size(), from + options.maxRows());
            List<RowPlan.Row> rows = new ArrayList<>(to - from);
            for (int i = from; i < to; i++) {
                checkToken(tokens[i]);
                SinkCache cache = caches.get(i);
                rows.add(new RowPlan.Row(pool.slotOf(cache), cache, cache.admit(tokens[i])));
            }
            float[] out = new float[rows.size() * vocab];
            run(rows, Arrays.copyOfRange(tokens, from, to), 0, rows.size(), out, 0);
            for (int i = from; i < to; i++) {
                result[i] = Arrays.copyOfRange(out, (i - from) * vocab, (i - from + 1) * vocab);
            }
        }
        return result;
    }

    private void checkToken(int token) {
        if (token < 0 || token >= config.vocabularySize()) {
            throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + config.vocabularySize() + ")");
        }
    }

    /**
     * One pass of {@code rows} through every layer; the logits of rows [logitsFrom, logitsFrom + logitsRows)
     * go to {@code out} from {@code outOffset}.
     */
    private void run(List<RowPlan.Row> rows, int[] tokens, int logitsFrom, int logitsRows, float[] out, int outOffset) {
        Cuda.check(cudaSetDevice(device.index()), "cudaSetDevice");
        int n = rows.size();
        int dim = config.dim();
        int qDim = config.qDim();
        int kvDim = config.kvDim();
        int ffn = config.ffnDim();

        // Embeddings are looked up on the host from the mapped file: n rows, not the whole table, cross the bus.
        float[] embeddings = new float[n * dim];
        for (int i = 0; i < n; i++) {
            hostWeights.tokenEmbedding().dequantizeRow(tokens[i], embeddings, i * dim);
        }
        Cuda.upload(x, embeddings, 0, embeddings.length);
        plan.upload(rows);

        int shared = (2 * config.headDim() + RowPlan.maxVisible(rows)) * Float.BYTES;
        int neox = config.ropeNeox() ? 1 : 0;
        for (int l = 0; l < config.layers(); l++) {
            DeviceWeights.Layer layer = weights.layer(l);
            kernels.launch("rmsnorm", n, 1, NORM_BLOCK, 0, xb, x, layer.attnNorm(), dim, config.rmsEps());
            matmul.multiply(layer.q(), xb, q, n);
            matmul.multiply(layer.k(), xb, k, n);
            matmul.multiply(layer.v(), xb, v, n);
            bias(q, layer.qBias(), qDim, n);
            bias(k, layer.kBias(), kvDim, n);
            bias(v, layer.vBias(), kvDim, n);
            kernels.launch("rope_store", n, 1, Kernels.BLOCK, 0, q, k, v, qWindow, qSink, pool.keys(), pool.values(),
                    plan.poolSlot, plan.cacheSlot, plan.windowPos, plan.sinkPos, plan.isSink,
                    weights.inverseFrequency(), config.ropeDim(), neox, config.heads(), config.kvHeads(), config.headDim(),
                    l, config.layers(), pool.stride());
            kernels.launch("attention", config.heads(), n, Kernels.BLOCK, shared, attention, qWindow, qSink, pool.keys(), pool.values(),
                    plan.poolSlot, plan.sinkCount, plan.ringStart, plan.ringCount, plan.sinkCapacity, plan.ringSize,
                    config.heads(), config.kvHeads(), config.headDim(), l, config.layers(), pool.stride());
            matmul.multiply(layer.o(), attention, projected, n);
            kernels.elementwise("add_in_place", x, projected, n * dim);
            kernels.launch("rmsnorm", n, 1, NORM_BLOCK, 0, xb, x, layer.ffnNorm(), dim, config.rmsEps());
            matmul.multiply(layer.gate(), xb, gate, n);
            matmul.multiply(layer.up(), xb, up, n);
            kernels.elementwise("silu_mul", gate, up, n * ffn);
            matmul.multiply(layer.down(), gate, projected, n);
            kernels.elementwise("add_in_place", x, projected, n * dim);
        }
        if (logitsRows > 0) {
            Cuda.DevicePtr first = xb.plus((long) logitsFrom * dim * Float.BYTES);
            kernels.launch("rmsnorm", logitsRows, 1, NORM_BLOCK, 0, first, x.plus((long) logitsFrom * dim * Float.BYTES),
                    weights.outputNorm(), dim, config.rmsEps());
            matmul.multiply(weights.output(), first, logits, logitsRows);
            Cuda.download(out, outOffset, logits, logitsRows * config.vocabularySize());
        } else {
            Cuda.check(cudaDeviceSynchronize(), "forward pass");
        }
    }

    private void bias(Cuda.DevicePtr values, Cuda.DevicePtr bias, int width, int n) {
        if (bias != null) {
            int total = width * n;
            kernels.launch("add_bias", (total + Kernels.BLOCK - 1) / Kernels.BLOCK, 1, Kernels.BLOCK, 0, values, bias, width, total);
        }
    }

    private Cuda.DevicePtr floats(int rows, int width, String what) {
        Cuda.DevicePtr p = Cuda.malloc((long) rows * width * Float.BYTES, what);
        activations.add(p);
        return p;
    }

    @Override
    public synchronized void close() {
        pool.close();
        plan.close();
        matmul.close();
        activations.forEach(Cuda::free);
        weights.close();
        kernels.close();
    }
}
