package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A weight matrix of {@code rows x cols} in one of the GGML types, read in place from the mapped
 * file: dot products decode a block at a time and multiply it with float activations; nothing is
 * dequantized ahead. Each type has a plain-Java class; its Vector API subclass is used when the JVM
 * has {@code jdk.incubator.vector} (see {@link Simd}).
 */
public abstract sealed class WeightMatrix
        permits F32Matrix, F16Matrix, BF16Matrix, Q8_0Matrix, Q4_0Matrix, Q4_1Matrix, Q5_0Matrix, Q5_1Matrix, Q4_KMatrix,
        Q5_KMatrix, Q6_KMatrix {

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A raw IEEE half or bfloat16, little-endian. */
    static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;
    /** A 32-bit word, little-endian (Q5_0's and Q5_1's fifth bits). */
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A 64-bit word, little-endian (eight of Q6_K's scales). */
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Rows whose weights stay in L1/L2 while a batched matmul runs every token of the batch over them. */
    static final int ROW_TILE = 16;
    /** Multiply-adds per parallel slice: below that the hand-off costs more than it saves. */
    static final int MIN_SLICE_WORK = 32 * 1024;

    final String name;
    final GGMLType type;
    final MemorySegment data;
    final int rows;
    final int cols;
    final long rowBytes;

    WeightMatrix(GGUFTensor tensor) {
        this.name = tensor.name();
        this.type = tensor.type();
        this.data = tensor.data();
        this.rows = tensor.rows();
        this.cols = tensor.cols();
        this.rowBytes = type.byteSize(cols);
    }

    /** The matrix over {@code tensor}, with the fastest kernels this JVM can run. */
    public static WeightMatrix of(GGUFTensor tensor) {
        return of(tensor, Simd.ENABLED);
    }

    /**
     * A matrix that is only read a row at a time ({@link #dequantizeRow}) and never multiplied, as a token embedding
     * that is not also the output head: the plain kernels, which keep no tables beside the file's bytes (the K-quants'
     * {@link SubBlockFactors}).
     */
    public static WeightMatrix rowsOnly(GGUFTensor tensor) {
        return of(tensor, false);
    }

    /** Vector API kernels when {@code simd}, else plain Java; tests pick a path explicitly. */
    static WeightMatrix of(GGUFTensor tensor, boolean simd) {
        GGMLType type = tensor.type();
        if (!type.isComputable()) {
            throw new IllegalArgumentException("tensor '" + tensor.name() + "' has type " + type
                    + ", which has no CPU kernels (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
        }
        if (tensor.shape().length == 0 || tensor.cols() % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + tensor.name() + "' of type " + type + " has rows of "
                    + (tensor.shape().length == 0 ? 0 : tensor.cols()) + " elements, not a multiple of the block size " + type.blockSize());
        }
        long bytes = (long) tensor.rows() * type.byteSize(tensor.cols());
        if (tensor.data().byteSize() < bytes) {
            throw new IllegalArgumentException("tensor '" + tensor.name() + "' needs " + bytes + " bytes but has " + tensor.data().byteSize());
        }
        if (simd) {
            return VectorKernels.matrix(tensor);
        }
        return switch (type) {
            case F32 -> new F32Matrix(tensor);
            case F16 -> new F16Matrix(tensor);
            case BF16 -> new BF16Matrix(tensor);
            case Q8_0 -> new Q8_0Matrix(tensor);
            case Q4_0 -> new Q4_0Matrix(tensor);
            case Q4_1 -> new Q4_1Matrix(tensor);
            case Q5_0 -> new Q5_0Matrix(tensor);
            case Q5_1 -> new Q5_1Matrix(tensor);
            case Q4_K -> new Q4_KMatrix(tensor);
            case Q5_K -> new Q5_KMatrix(tensor);
            case Q6_K -> new Q6_KMatrix(tensor);
            default -> throw new AssertionError(type);
        };
    }

    public String name() {
        return name;
    }

    public GGMLType type() {
        return type;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** The dot product of row {@code row} with {@code x[xOffset .. xOffset + cols)}. */
    public abstract float dot(int row, float[] x, int xOffset);

    /** Writes row {@code row} as floats to {@code out[outOffset .. outOffset + cols)} (embedding lookup). */
    public abstract void dequantizeRow(int row, float[] out, int outOffset);

    /**
     * Whether {@link #matmul} quantizes the activations ({@link QuantizedActivations}) and multiplies
     * integers in a decode step, through the {@code QuantizedActivations} overload of {@link #dot}:
     * where that is faster than widening the weights to floats.
     */
    boolean quantizesActivations() {
        return false;
    }

    /** Whether a matmul of {@code batch} tokens multiplies quantized activations: a decode step's, outside {@link Gemm}'s tiles. */
    private boolean readsQuantized(int batch) {
        return !tiled(batch) && quantizesActivations();
    }

    /**
     * Whether the float kernels ({@link #dot2}) read each block's activation sum ({@link VectorKernels#blockSums}):
     * weights stored with an offset per block, whose offset then costs one scalar multiply-add per block.
     */
    boolean readsBlockSums() {
        return false;
    }

    /**
     * Whether large enough batches ({@link Gemm#applies}) go through {@link Gemm}, which dequantizes tiles of rows and
     * multiplies floats: the Vector API matrices.
     */
    boolean batchesInTiles() {
        return false;
    }

    /**
     * Whether a matmul of {@code batch} tokens goes through {@link Gemm}: with {@link #interleaved} rows, from
     * its {@link InterleavedRows.Lazy#tiledFrom} tokens.
     */
    boolean tiled(int batch) {
        return batchesInTiles() && Gemm.applies(this, batch) && (interleaved() == null || batch >= interleaved().tiledFrom());
    }

    /**
     * The copy that {@link Gemm}'s batches read instead of the file's rows ({@link GroupTiles}), or null: the
     * {@link #interleaved} rows once made (a model decoded on the GPU never makes them, and a batch does not make
     * them). Taken once per matmul, since its slices are cut by it ({@link #tiledRowUnit}).
     */
    InterleavedRows tiledCopy() {
        InterleavedRows.Lazy groups = interleaved();
        return groups != null && groups.isBuilt() ? groups.get() : null;
    }

    /** The rows a tiled matmul's slices are cut at multiples of: whole groups where it reads {@code copy}. */
    static int tiledRowUnit(InterleavedRows copy) {
        return copy != null ? InterleavedRows.GROUP : 1;
    }

    /**
     * This matrix's rows interleaved in groups for the group kernel against quantized activations, made when first
     * needed ({@link InterleavedRows.Lazy}), or null: the 4-bit Vector API matrices hold them where
     * {@link InterleavedRows#applies}.
     */
    InterleavedRows.Lazy interleaved() {
        return null;
    }

    /**
     * Makes this matrix's {@link #interleaved} copy now, in {@code store}, where it has one, rather than in the first
     * decode step, which would otherwise pause while every matrix of the model is copied.
     */
    public void prepareForDecode(CopyStore store) {
        InterleavedRows.Lazy groups = interleaved();
        if (groups != null) {
            groups.get(store);
        }
    }

    /**
     * Whether a decode step's matmul rounds the activations it multiplies (the integer kernels, {@link
     * QuantizedActivations}), so its results differ from float arithmetic by that rounding.
     */
    public boolean roundsActivations() {
        return quantizesActivations();
    }

    /** {@link #dot(int, float[], int)} against row {@code b} of quantized activations; only when {@link #quantizesActivations()}. */
    float dot(int row, QuantizedActivations x, int b) {
        throw new UnsupportedOperationException(type + " kernels multiply float activations");
    }

    /**
     * Row {@code row} against four activation vectors at once, {@code x[xOffset + k * cols ..]} for
     * {@code k < 4}, into {@code out[outOffset + k * rows]}: the float weights' kernels (batches of four to
     * seven, below {@link Gemm#MIN_FLOAT_BATCH}) load each weight once for the four. This default just calls
     * {@link #dot} four times.
     */
    void dot4(int row, float[] x, int xOffset, float[] out, int outOffset) {
        for (int k = 0; k < 4; k++) {
            out[outOffset + k * rows] = dot(row, x, xOffset + k * cols);
        }
    }

    /**
     * Rows {@code row} and {@code row + 1} against {@code x[xOffset ..]}, into {@code out[outOffset]} and
     * {@code out[outOffset + 1]}: the tokens of a matmul outside groups of four (a decode step) go through
     * here when their activations stay floats. A kernel that overrides it reads each activation once for
     * both rows and, larger than C2 inlines at a hot call site, is compiled on its own: inlined into
     * {@link #matmul} beside another type's kernel (a model's Q8_0 output head), a kernel ran out of C2's
     * inlining budget, boxed its vectors and ran several times slower. This default calls {@link #dot}
     * for each row. {@code blockSums} holds the block sums of these activations when {@link #readsBlockSums()}, else null.
     */
    void dot2(int row, float[] x, int xOffset, float[] blockSums, float[] out, int outOffset) {
        for (int k = 0; k < 2; k++) {
            out[outOffset + k] = dot(row + k, x, xOffset);
        }
    }

    /**
     * {@code out[b * rows + r] = dot(r, x, b * cols)} for every row {@code r} and every
     * {@code b < batch}, the rows split across {@link Parallel} threads. A batch goes through {@link Gemm} from
     * {@link Gemm#MIN_BATCH} tokens (quantized weights) or {@link Gemm#MIN_FLOAT_BATCH} (float weights); a smaller one runs in tiles of {@value #ROW_TILE} rows, every token over one tile before the next, so each
     * weight is read from memory once per tile rather than once per token.
     */
    public final void matmul(float[] x, float[] out, int batch) {
        checkShapes(x, out, batch);
        if (batch == 0) {
            return;
        }
        if (tiled(batch)) {
            InterleavedRows copy = tiledCopy();
            float[] blocked = copy != null ? Gemm.blocked(x, batch, cols) : null;
            forUnits(rows, tiledRowUnit(copy), Gemm.TILE_ROWS, (start, end) -> Gemm.rows(this, copy, x, blocked, out, batch, start, end));
            return;
        }
        QuantizedActivations quantized = readsQuantized(batch) ? new QuantizedActivations(x, batch, cols) : null;
        float[][] blockSums = readsBlockSums() ? VectorKernels.blockSums(x, batch, cols) : null;
        int grain = (int) Math.max(1, MIN_SLICE_WORK / ((long) cols * batch));
        int unit = quantized != null ? quantizedRowUnit() : 2;
        forUnits(rows, unit, grain, (start, end) -> matmulRows(x, quantized, blockSums, out, batch, start, end));
    }

    /**
     * {@link Parallel#forRange} over {@code [0, n)} in slices that end on multiples of {@code unit} (but the last),
     * a multiple of two: the two-row kernels ({@link #dot2}) take every row of an even matrix, and a group kernel
     * ({@link #quantizedRowUnit}) every row of a matrix in whole groups. A lone row at the end of each slice ran the
     * one-row kernel often enough for C2 to inline it beside the others, where it ran out of nodes and boxed its vectors.
     */
    private static void forUnits(int n, int unit, int grain, Parallel.Range body) {
        Parallel.forRange((n + unit - 1) / unit, (grain + unit - 1) / unit, (start, end) -> body.run(unit * start, Math.min(n, unit * end)));
    }

    /**
     * The rows a kernel against quantized activations takes at once ({@link #multiplyQuantized}), a power of two of
     * at least 2: a matmul's slices are cut at multiples of it.
     */
    int quantizedRowUnit() {
        return interleaved() != null ? InterleavedRows.GROUP : 2;
    }

    /**
     * {@code matrices[i].matmul(x, outs[i], batch)} for matrices of the same width (Q, K and V; gate
     * and up) as one parallel loop over all their rows: decoding a token hands work to the other
     * threads once instead of once per matrix.
     */
    public static void matmul(float[] x, int batch, WeightMatrix[] matrices, float[][] outs) {
        if (matrices.length != outs.length) {
            throw new IllegalArgumentException(matrices.length + " matrices but " + outs.length + " outputs");
        }
        int totalRows = 0;
        boolean quantize = false;
        boolean sumBlocks = false;
        for (int i = 0; i < matrices.length; i++) {
            if (matrices[i].cols != matrices[0].cols) {
                throw new IllegalArgumentException("fused matmul needs one width: " + matrices[0] + " and " + matrices[i]);
            }
            matrices[i].checkShapes(x, outs[i], batch);
            totalRows += matrices[i].rows;
            quantize |= matrices[i].readsQuantized(batch);
            sumBlocks |= !matrices[i].tiled(batch) && matrices[i].readsBlockSums();
        }
        if (batch == 0 || totalRows == 0) {
            return;
        }
        QuantizedActivations quantized = quantize ? new QuantizedActivations(x, batch, matrices[0].cols) : null;
        float[][] blockSums = sumBlocks ? VectorKernels.blockSums(x, batch, matrices[0].cols) : null;
        int grain = (int) Math.max(1, MIN_SLICE_WORK / ((long) matrices[0].cols * batch));
        if (matrices[0].tiled(batch)) {
            grain = Math.max(grain, Gemm.TILE_ROWS);
        }
        InterleavedRows[] copies = new InterleavedRows[matrices.length];
        int unit = 2;
        boolean anyCopy = false;
        for (int i = 0; i < matrices.length; i++) {
            WeightMatrix matrix = matrices[i];
            copies[i] = matrix.tiled(batch) ? matrix.tiledCopy() : null;
            anyCopy |= copies[i] != null;
            unit = Math.max(unit, matrix.tiled(batch) ? tiledRowUnit(copies[i]) : matrix.readsQuantized(batch) ? matrix.quantizedRowUnit() : 2);
        }
        float[] blocked = anyCopy ? Gemm.blocked(x, batch, matrices[0].cols) : null;
        forUnits(totalRows, unit, grain, (start, end) -> {
            int first = 0;
            for (int i = 0; i < matrices.length && first < end; first += matrices[i].rows, i++) {
                int from = Math.max(start, first) - first;
                int to = Math.min(end, first + matrices[i].rows) - first;
                if (from < to && matrices[i].tiled(batch)) {
                    Gemm.rows(matrices[i], copies[i], x, blocked, outs[i], batch, from, to);
                } else if (from < to) {
                    matrices[i].matmulRows(x, matrices[i].readsQuantized(batch) ? quantized : null, blockSums, outs[i], batch, from, to);
                }
            }
        });
    }

    private void checkShapes(float[] x, float[] out, int batch) {
        if (batch < 0 || (long) batch * cols > x.length || (long) batch * rows > out.length) {
            throw new IllegalArgumentException("matmul of " + name + " [" + rows + " x " + cols + "] with batch " + batch
                    + ": x has " + x.length + " floats, out has " + out.length);
        }
    }

    /**
     * Rows {@code [start, end)} of a matmul; {@code quantized} is {@code x} quantized when {@link #readsQuantized},
     * {@code blockSums} its block sums per token when {@link #readsBlockSums}.
     */
    private void matmulRows(float[] x, QuantizedActivations quantized, float[][] blockSums, float[] out, int batch, int start, int end) {
        if (quantized != null) {
            multiplyQuantized(quantized, out, batch, start, end);
            return;
        }
        for (int tile = start; tile < end; tile += ROW_TILE) {
            int tileEnd = Math.min(end, tile + ROW_TILE);
            int b = 0;
            for (; b + 4 <= batch; b += 4) {
                for (int r = tile; r < tileEnd; r++) {
                    dot4(r, x, b * cols, out, b * rows + r);
                }
            }
            for (; b < batch; b++) {
                int r = tile;
                for (; r + 2 <= tileEnd; r += 2) {
                    dot2(r, x, b * cols, blockSums == null ? null : blockSums[b], out, b * rows + r);
                }
                for (; r < tileEnd; r++) {
                    out[b * rows + r] = dot(r, x, b * cols);
                }
            }
        }
    }

    /**
     * Rows {@code [start, end)} of a matmul against quantized activations, into {@code out[b * rows + r]}: through the
     * {@link #interleaved} groups where there are some, else {@link #dot(int, QuantizedActivations, int)} per row and
     * token, every token over a tile of {@value #ROW_TILE} rows before the next tile.
     */
    void multiplyQuantized(QuantizedActivations x, float[] out, int batch, int start, int end) {
        InterleavedRows.Lazy groups = interleaved();
        if (groups != null) {
            groups.get().multiply(x, out, rows, batch, start, end);
            return;
        }
        for (int tile = start; tile < end; tile += ROW_TILE) {
            int tileEnd = Math.min(end, tile + ROW_TILE);
            for (int b = 0; b < batch; b++) {
                for (int r = tile; r < tileEnd; r++) {
                    out[b * rows + r] = dot(r, x, b);
                }
            }
        }
    }

    /**
     * The IEEE half at {@code offset} as a float, looked up: a block's scale is read once per 32 weights, and there
     * {@link Float#float16ToFloat}'s conversion (a move into a vector register and back) took a third of a Q4_1 row
     * kernel's time, where a load from this table, whose few hot lines stay in the L1 cache, costs one load.
     */
    static float f16(MemorySegment data, long offset) {
        return f16(data.get(HALF, offset));
    }

    /** The IEEE half in the low 16 bits of {@code bits} as a float, as {@link #f16(MemorySegment, long)}. */
    static float f16(int bits) {
        return HALF_TO_FLOAT[bits & 0xFFFF];
    }

    /** {@code Float.float16ToFloat} of every 16-bit pattern. */
    private static final float[] HALF_TO_FLOAT = new float[1 << 16];

    static {
        for (int i = 0; i < HALF_TO_FLOAT.length; i++) {
            HALF_TO_FLOAT[i] = Float.float16ToFloat((short) i);
        }
    }

    @Override
    public String toString() {
        return name + " " + type + " [" + rows + " x " + cols + "]";
    }
}
