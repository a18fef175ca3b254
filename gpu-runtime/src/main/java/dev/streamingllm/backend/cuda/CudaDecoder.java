package dev.streamingllm.backend.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_DEFAULT_MATH;
import static org.bytedeco.cuda.global.cublas.CUBLAS_GEMM_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cublas.cublasCreate_v2;
import static org.bytedeco.cuda.global.cublas.cublasDestroy_v2;
import static org.bytedeco.cuda.global.cublas.cublasGemmEx;
import static org.bytedeco.cuda.global.cublas.cublasSetMathMode;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;
import static org.bytedeco.cuda.global.cudart.cudaDeviceSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;

import dev.streamingllm.backend.Decoder;
import dev.streamingllm.backend.Segment;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Rope;
import dev.streamingllm.llama.Weights;
import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Llama-family decoder on a CUDA device: weights uploaded once, kernels compiled at start with
 * NVRTC, and a pool of equal sink-cache slots in device memory, one per session.
 *
 * <p>Positions and eviction are the CPU's: every session keeps a {@link SinkCache} without host
 * storage for its bookkeeping ({@link SinkCache#admit()} plans each token), and the kernels apply
 * the plan to the session's device slot. {@link #forward} runs one session's chunk (prefill, or a
 * single decode token); {@link #decodeBatch} advances any set of sessions by one token each in one
 * batched pass (continuous batching: sessions join and leave between steps).
 *
 * <p>One stream, one pass at a time: calls are serialized on this object.
 */
public final class CudaDecoder implements Decoder {

    private static final Logger LOG = LoggerFactory.getLogger(CudaDecoder.class);
    private static final Cleaner CLEANER = Cleaner.create();
    private static final int BLOCK = 128;
    private static final int NORM_BLOCK = 256;
    /** Input vectors per matrix-vector launch (MV_COLS in kernels.cu). */
    private static final int MV_COLS = 8;
    /** Device memory kept free beside the pool (cuBLAS workspaces, fragmentation). */
    private static final long HEADROOM = 512L << 20;

    private final ModelConfig config;
    private final CudaDevice device;
    private final CudaOptions options;
    private final Weights hostWeights;
    private final Kernels kernels;
    private final cublasContext cublas = new cublasContext();
    private final List<Cuda.DevicePtr> allocations = new ArrayList<>();
    private final List<DeviceMatrix> matrices = new ArrayList<>();

    private final DeviceLayer[] layers;
    private final Cuda.DevicePtr outputNorm;
    private final DeviceMatrix output;
    private final Cuda.DevicePtr inverseFrequency;

    // Activations for up to maxRows rows.
    private final Cuda.DevicePtr x, xb, q, qWindow, qSink, attention, k, v, projected, gate, up, logits;
    private final Cuda.DevicePtr halfActivations;
    private final Cuda.DevicePtr dequantized;
    // Per-row plan, uploaded before each pass.
    private final Cuda.DevicePtr rowPoolSlot, rowCacheSlot, rowWindowPos, rowSinkPos, rowIsSink, rowSinkCount,
            rowRingStart, rowRingCount, rowSinkCapacity, rowRingSize;

    private final Cuda.DevicePtr keyPool, valuePool;
    private final int poolSlots;
    private final int slotStride;
    private final Deque<Integer> freeSlots = new ArrayDeque<>();
    private final Map<SinkCache, Lease> leases = Collections.synchronizedMap(new WeakHashMap<>());

    /** A session's hold on a slot; cleaning it (explicitly or once the cache is unreachable) returns the slot exactly once. */
    private record Lease(int slot, Cleaner.Cleanable cleanable) {
    }

    private record DeviceLayer(Cuda.DevicePtr attnNorm, DeviceMatrix q, Cuda.DevicePtr qBias, DeviceMatrix k, Cuda.DevicePtr kBias,
                               DeviceMatrix v, Cuda.DevicePtr vBias, DeviceMatrix o, Cuda.DevicePtr ffnNorm,
                               DeviceMatrix gate, DeviceMatrix up, DeviceMatrix down) {
    }

    /** One token of one session in a pass. */
    private record Row(int poolSlot, SinkCache cache, SinkCache.Step step) {
    }

    public CudaDecoder(GGUFFile gguf, ModelConfig config, Weights hostWeights, CudaDevice device, CudaOptions options) {
        this.config = config;
        this.device = device;
        this.options = options;
        this.hostWeights = hostWeights;
        Cuda.check(cudaSetDevice(device.index()), "cudaSetDevice");
        long start = System.nanoTime();
        this.kernels = new Kernels(device);
        if (cublasCreate_v2(cublas) != CUBLAS_STATUS_SUCCESS) {
            throw new CudaException("cublasCreate failed");
        }
        // Default math: no TF32 for F32 GEMMs, so that they stay as exact as the CPU's.
        cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH);
        LOG.info("CUDA kernels compiled with NVRTC for {} in {} ms", device.architecture(), (System.nanoTime() - start) / 1_000_000);

        int dim = config.dim();
        this.layers = new DeviceLayer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "blk." + l + ".";
            Weights.Layer h = hostWeights.layers()[l];
            layers[l] = new DeviceLayer(vector(h.attnNorm(), p + "attn_norm"),
                    matrix(gguf, p + "attn_q.weight"), vector(h.attnQBias(), p + "attn_q.bias"),
                    matrix(gguf, p + "attn_k.weight"), vector(h.attnKBias(), p + "attn_k.bias"),
                    matrix(gguf, p + "attn_v.weight"), vector(h.attnVBias(), p + "attn_v.bias"),
                    matrix(gguf, p + "attn_output.weight"), vector(h.ffnNorm(), p + "ffn_norm"),
                    matrix(gguf, p + "ffn_gate.weight"), matrix(gguf, p + "ffn_up.weight"), matrix(gguf, p + "ffn_down.weight"));
        }
        this.outputNorm = vector(hostWeights.outputNorm(), "output_norm");
        this.output = matrix(gguf, gguf.findTensor("output.weight").isPresent() ? "output.weight" : "token_embd.weight");
        double[] inverse = Rope.inverseFrequencies(config, hostWeights.ropeFrequencyFactors());
        this.inverseFrequency = alloc((long) inverse.length * Double.BYTES, "rope frequencies");
        try (DoublePointer host = new DoublePointer(inverse)) {
            Cuda.upload(inverseFrequency, host, (long) inverse.length * Double.BYTES);
        }
        long weightBytes = matrices.stream().mapToLong(DeviceMatrix::bytes).sum();

        int rows = options.maxRows();
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
        this.halfActivations = alloc((long) rows * Math.max(Math.max(dim, qDim), ffn) * 2, "f16 activations");
        long largestQuantized = matrices.stream().filter(DeviceMatrix::quantized).mapToLong(m -> (long) m.rows() * m.cols()).max().orElse(0);
        this.dequantized = largestQuantized > 0 ? alloc(largestQuantized * 2, "dequantized weights") : null;
        this.rowPoolSlot = alloc(rows * 4L, "rows");
        this.rowCacheSlot = alloc(rows * 4L, "rows");
        this.rowWindowPos = alloc(rows * 8L, "rows");
        this.rowSinkPos = alloc(rows * 8L, "rows");
        this.rowIsSink = alloc(rows * 4L, "rows");
        this.rowSinkCount = alloc(rows * 4L, "rows");
        this.rowRingStart = alloc(rows * 4L, "rows");
        this.rowRingCount = alloc(rows * 4L, "rows");
        this.rowSinkCapacity = alloc(rows * 4L, "rows");
        this.rowRingSize = alloc(rows * 4L, "rows");

        int attentionShared = attentionSharedBytes();
        if (attentionShared > 48 * 1024) {
            kernels.allowSharedMemory("attention", attentionShared);
        }

        // The pool: equal slots of slotCapacity + 1 cache places (one for the token in flight), keys and values.
        this.slotStride = options.slotCapacity() + 1;
        long slotBytes = CacheConfig.dense(options.slotCapacity()).bytes(config.layers(), kvDim); // f32 on the device
        long free = freeMemory();
        long fit = Math.max(0, (free - HEADROOM) / slotBytes);
        int slots = (int) Math.min(Integer.MAX_VALUE, options.maxSessions() == 0 ? fit : Math.min(fit, options.maxSessions()));
        if (slots == 0) {
            throw new CudaException("no sink-cache slot of " + (slotBytes >> 20) + " MiB (" + options.slotCapacity()
                    + " tokens) fits in the " + (free >> 20) + " MiB of device memory left after the weights; use a smaller window");
        }
        this.poolSlots = slots;
        this.keyPool = alloc(slots * slotBytes / 2, "key cache pool");
        this.valuePool = alloc(slots * slotBytes / 2, "value cache pool");
        for (int s = 0; s < slots; s++) {
            freeSlots.add(s);
        }
        LOG.info("CUDA decoder on {}: weights {} MiB, sink-cache pool of {} slots x {} MiB ({} tokens each; {} MiB were free, so "
                        + "max sessions = {})", device, weightBytes >> 20, slots, slotBytes >> 20, options.slotCapacity(), free >> 20,
                options.maxSessions() == 0 ? "free / slot bytes = " + fit : Math.min(fit, options.maxSessions()) + " of " + fit + " that fit");
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
        return poolSlots;
    }

    /** Slots not held by a live session. */
    public int freeSlots() {
        synchronized (freeSlots) {
            return freeSlots.size();
        }
    }

    /**
     * A cache backed by a free device slot. The slot returns to the pool on {@link #release} or, failing
     * that, once the cache is unreachable.
     */
    @Override
    public SinkCache newCache(CacheConfig cacheConfig) {
        if (cacheConfig.capacity() > options.slotCapacity()) {
            throw new IllegalArgumentException("a cache of " + cacheConfig.capacity() + " tokens does not fit the device slots of "
                    + options.slotCapacity() + " tokens");
        }
        int slot;
        synchronized (freeSlots) {
            Integer s = freeSlots.poll();
            if (s == null) {
                throw new IllegalStateException("all " + poolSlots + " device cache slots are in use; release a session first");
            }
            slot = s;
        }
        // device slots hold 32-bit floats whatever the type asked for
        SinkCache cache = SinkCache.withoutHostStorage(cacheConfig.withType(CacheType.F32), config.layers(), config.kvDim());
        leases.put(cache, new Lease(slot, CLEANER.register(cache, () -> returnSlot(slot))));
        return cache;
    }

    /** Returns {@code cache}'s slot to the pool now; the cache must not be used afterwards. */
    public void release(SinkCache cache) {
        Lease lease = leases.remove(cache);
        if (lease != null) {
            lease.cleanable().clean();
        }
    }

    private void returnSlot(int slot) {
        synchronized (freeSlots) {
            freeSlots.add(slot);
        }
    }

    @Override
    public synchronized float[] forward(SinkCache cache, int[] tokens, int offset, int count, boolean allLogits) {
        int slot = slotOf(cache);
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
                List<Row> rows = new ArrayList<>(to - from);
                for (int i = from; i < to; i++) {
                    rows.add(new Row(slot, cache, steps.get(i)));
                }
                int[] ids = java.util.Arrays.copyOfRange(tokens, offset + from, offset + to);
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
        if (new java.util.HashSet<>(caches).size() != caches.size()) {
            throw new IllegalArgumentException("a session appears twice in one decode step");
        }
        int vocab = config.vocabularySize();
        float[][] result = new float[caches.size()][];
        for (int from = 0; from < caches.size(); from += options.maxRows()) {
            int to = Math.min(caches.size(), from + options.maxRows());
            List<Row> rows = new ArrayList<>(to - from);
            for (int i = from; i < to; i++) {
                checkToken(tokens[i]);
                SinkCache cache = caches.get(i);
                rows.add(new Row(slotOf(cache), cache, cache.admit(tokens[i])));
            }
            float[] out = new float[rows.size() * vocab];
            run(rows, java.util.Arrays.copyOfRange(tokens, from, to), 0, rows.size(), out, 0);
            for (int i = from; i < to; i++) {
                result[i] = java.util.Arrays.copyOfRange(out, (i - from) * vocab, (i - from + 1) * vocab);
            }
        }
        return result;
    }

    private int slotOf(SinkCache cache) {
        Lease lease = leases.get(cache);
        if (lease == null) {
            throw new IllegalArgumentException("this cache was not made by this CUDA decoder (or was released)");
        }
        return lease.slot();
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
    private void run(List<Row> rows, int[] tokens, int logitsFrom, int logitsRows, float[] out, int outOffset) {
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
        uploadPlan(rows);

        int maxVisible = 0;
        for (Row r : rows) {
            maxVisible = Math.max(maxVisible, r.step().sinkCount() + r.step().ringCount());
        }
        int shared = (2 * config.headDim() + maxVisible) * Float.BYTES;
        int neox = config.ropeNeox() ? 1 : 0;
        for (int l = 0; l < layers.length; l++) {
            DeviceLayer layer = layers[l];
            kernels.launch("rmsnorm", n, 1, NORM_BLOCK, 0, xb, x, layer.attnNorm(), dim, config.rmsEps());
            matmul(layer.q(), xb, q, n);
            matmul(layer.k(), xb, k, n);
            matmul(layer.v(), xb, v, n);
            bias(q, layer.qBias(), qDim, n);
            bias(k, layer.kBias(), kvDim, n);
            bias(v, layer.vBias(), kvDim, n);
            kernels.launch("rope_store", n, 1, BLOCK, 0, q, k, v, qWindow, qSink, keyPool, valuePool,
                    rowPoolSlot, rowCacheSlot, rowWindowPos, rowSinkPos, rowIsSink,
                    inverseFrequency, config.ropeDim(), neox, config.heads(), config.kvHeads(), config.headDim(),
                    l, config.layers(), slotStride);
            kernels.launch("attention", config.heads(), n, BLOCK, shared, attention, qWindow, qSink, keyPool, valuePool,
                    rowPoolSlot, rowSinkCount, rowRingStart, rowRingCount, rowSinkCapacity, rowRingSize,
                    config.heads(), config.kvHeads(), config.headDim(), l, config.layers(), slotStride);
            matmul(layer.o(), attention, projected, n);
            elementwise("add_in_place", x, projected, n * dim);
            kernels.launch("rmsnorm", n, 1, NORM_BLOCK, 0, xb, x, layer.ffnNorm(), dim, config.rmsEps());
            matmul(layer.gate(), xb, gate, n);
            matmul(layer.up(), xb, up, n);
            elementwise("silu_mul", gate, up, n * ffn);
            matmul(layer.down(), gate, projected, n);
            elementwise("add_in_place", x, projected, n * dim);
        }
        if (logitsRows > 0) {
            Cuda.DevicePtr first = xb.plus((long) logitsFrom * dim * Float.BYTES);
            kernels.launch("rmsnorm", logitsRows, 1, NORM_BLOCK, 0, first, x.plus((long) logitsFrom * dim * Float.BYTES),
                    outputNorm, dim, config.rmsEps());
            matmul(output, first, logits, logitsRows);
            Cuda.download(out, outOffset, logits, logitsRows * config.vocabularySize());
        } else {
            Cuda.check(cudaDeviceSynchronize(), "forward pass");
        }
    }

    private void uploadPlan(List<Row> rows) {
        int n = rows.size();
        int[] poolSlot = new int[n], cacheSlot = new int[n], isSink = new int[n], sinkCount = new int[n], ringStart = new int[n],
                ringCount = new int[n], sinkCapacity = new int[n], ringSize = new int[n];
        long[] windowPos = new long[n], sinkPos = new long[n];
        for (int i = 0; i < n; i++) {
            Row r = rows.get(i);
            SinkCache.Step s = r.step();
            poolSlot[i] = r.poolSlot();
            cacheSlot[i] = s.slot();
            isSink[i] = s.sink() ? 1 : 0;
            sinkCount[i] = s.sinkCount();
            ringStart[i] = s.ringStart();
            ringCount[i] = s.ringCount();
            sinkCapacity[i] = r.cache().sinkCapacity();
            ringSize[i] = r.cache().slots() - r.cache().sinkCapacity();
            windowPos[i] = s.windowPosition();
            sinkPos[i] = s.sinkPosition();
        }
        ints(rowPoolSlot, poolSlot);
        ints(rowCacheSlot, cacheSlot);
        ints(rowIsSink, isSink);
        ints(rowSinkCount, sinkCount);
        ints(rowRingStart, ringStart);
        ints(rowRingCount, ringCount);
        ints(rowSinkCapacity, sinkCapacity);
        ints(rowRingSize, ringSize);
        try (LongPointer w = new LongPointer(windowPos); LongPointer s = new LongPointer(sinkPos)) {
            Cuda.upload(rowWindowPos, w, n * 8L);
            Cuda.upload(rowSinkPos, s, n * 8L);
        }
    }

    private static void ints(Cuda.DevicePtr destination, int[] values) {
        try (IntPointer host = new IntPointer(values)) {
            Cuda.upload(destination, host, values.length * 4L);
        }
    }

    /** out[n][rows] = in[n][cols] x W^T: matrix-vector kernels for small n, cuBLAS GEMM from gemmMinRows on. */
    private void matmul(DeviceMatrix w, Cuda.DevicePtr in, Cuda.DevicePtr out, int n) {
        if (n < options.gemmMinRows()) {
            for (int c = 0; c < n; c += MV_COLS) {
                int cols = Math.min(MV_COLS, n - c);
                kernels.launch(w.matvecKernel(), (w.rows() + BLOCK / 32 - 1) / (BLOCK / 32), 1, BLOCK, 0,
                        out.plus((long) c * w.rows() * Float.BYTES), w.data(), in.plus((long) c * w.cols() * Float.BYTES),
                        w.rows(), w.cols(), cols);
            }
            return;
        }
        // Column-major view: C (rows x n) = A^T (A = W as cols x rows) x B (in as cols x n).
        Cuda.DevicePtr a = w.data();
        Cuda.DevicePtr b = in;
        int type = CUDA_R_32F;
        if (w.type() != GGMLType.F32) {
            if (w.quantized()) {
                dequantize(w);
                a = dequantized;
            }
            boolean bf16 = w.type() == GGMLType.BF16;
            type = bf16 ? CUDA_R_16BF : CUDA_R_16F;
            elementwise(bf16 ? "f32_to_bf16_rows" : "f32_to_f16_rows", halfActivations, in, n * w.cols());
            b = halfActivations;
        }
        try (FloatPointer alpha = new FloatPointer(1f); FloatPointer beta = new FloatPointer(0f)) {
            int status = cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, w.rows(), n, w.cols(), alpha, a, type, w.cols(), b, type, w.cols(),
                    beta, out, CUDA_R_32F, w.rows(), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            if (status != CUBLAS_STATUS_SUCCESS) {
                throw new CudaException("cublasGemmEx for " + w.name() + " (" + w.rows() + " x " + w.cols() + ", " + n + " rows) failed: status " + status);
            }
        }
    }

    private void dequantize(DeviceMatrix w) {
        long elements = (long) w.rows() * w.cols();
        long units = switch (w.type()) {
            case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 -> elements / 32;
            case Q4_K -> elements / 32; // eight sub-blocks of 32 per super-block of 256
            default -> throw new IllegalStateException("not quantized: " + w.type());
        };
        String kernel = switch (w.type()) {
            case Q8_0 -> "dequant_q8_0_f16";
            case Q4_0 -> "dequant_q4_0_f16";
            case Q4_1 -> "dequant_q4_1_f16";
            case Q5_0 -> "dequant_q5_0_f16";
            case Q5_1 -> "dequant_q5_1_f16";
            default -> "dequant_q4_k_f16";
        };
        kernels.launch(kernel, (int) ((units + BLOCK - 1) / BLOCK), 1, BLOCK, 0, dequantized, w.data(), units);
    }

    private void bias(Cuda.DevicePtr values, Cuda.DevicePtr bias, int width, int n) {
        if (bias != null) {
            int total = width * n;
            kernels.launch("add_bias", (total + BLOCK - 1) / BLOCK, 1, BLOCK, 0, values, bias, width, total);
        }
    }

    private void elementwise(String kernel, Cuda.DevicePtr a, Cuda.DevicePtr b, int total) {
        kernels.launch(kernel, (total + BLOCK - 1) / BLOCK, 1, BLOCK, 0, a, b, total);
    }

    private int attentionSharedBytes() {
        return (2 * config.headDim() + options.slotCapacity() + 1) * Float.BYTES;
    }

    private DeviceMatrix matrix(GGUFFile gguf, String name) {
        DeviceMatrix m = DeviceMatrix.upload(gguf.tensor(name));
        matrices.add(m);
        return m;
    }

    private Cuda.DevicePtr vector(float[] values, String what) {
        if (values == null) {
            return null;
        }
        Cuda.DevicePtr p = Cuda.uploadNew(values, what);
        allocations.add(p);
        return p;
    }

    private Cuda.DevicePtr floats(int rows, int width, String what) {
        return alloc((long) rows * width * Float.BYTES, what);
    }

    private Cuda.DevicePtr alloc(long bytes, String what) {
        Cuda.DevicePtr p = Cuda.malloc(bytes, what);
        allocations.add(p);
        return p;
    }

    private static long freeMemory() {
        try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            Cuda.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return free.get();
        }
    }

    @Override
    public synchronized void close() {
        matrices.forEach(DeviceMatrix::free);
        allocations.forEach(Cuda::free);
        cublasDestroy_v2(cublas);
        kernels.close();
    }
}
