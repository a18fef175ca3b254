package dev.streamingllm.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.gguf.GGMLQuantizer;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.gguf.GGUFTensor;
import dev.streamingllm.testing.QuantizedModels;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Every weight type, both paths, against a double-precision dequantize-then-dot reference. */
class WeightMatrixTest {

    /**
     * Files and tensors: every type (the K-quant files add Q6_K output heads), rows of 256 and 768, and F32 rows
     * of 172 (vector tails). Q4_1, Q5_0 and Q5_1 are quantized here from tiny-gqa-f32 ({@link QuantizedModels}).
     */
    static final String[] MODELS = {"tiny-gqa-f32", "tiny-gqa-f16", "tiny-gqa-bf16", "tiny-gqa-q8_0", "tiny-gqa-q4_0",
        "tiny-gqa-q4_1", "tiny-gqa-q5_0", "tiny-gqa-q5_1", "tiny-gqa-q4_k_m", "tiny-gqa-q5_k_m", "tiny-gqa-q6_k", "stories260K"};
    static final String[] TENSORS = {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.ffn_down.weight", "output.weight"};
    static final double TOLERANCE = 1e-5;
    /** Activations rounded to 11 bits per block of 32 move a dot product by about 1e-3 of the largest. */
    static final double QUANTIZED_ERROR = 2e-3;

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(Runtime.getRuntime().availableProcessors());
    }

    static Stream<Arguments> paths() {
        List<Arguments> cases = new ArrayList<>();
        for (String model : MODELS) {
            cases.add(Arguments.of(model, false));
            cases.add(Arguments.of(model, true));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} simd={1}")
    @MethodSource("paths")
    void dotMatchesTheReference(String model, boolean simd) {
        try (GGUFFile gguf = open(model)) {
            for (String name : TENSORS) {
                GGUFTensor t = gguf.tensor(name);
                WeightMatrix m = WeightMatrix.of(t, simd);
                float[] x = random(t.cols() + 5, 1);
                float[] got = new float[t.rows()];
                double[] want = new double[t.rows()];
                for (int r = 0; r < t.rows(); r++) {
                    got[r] = m.dot(r, x, 5);
                    want[r] = Reference.dot(t, r, x, 5);
                }
                assertThat(relativeError(got, want)).as("%s %s", model, t).isLessThanOrEqualTo(TOLERANCE);
            }
        }
    }

    @ParameterizedTest(name = "{0} simd={1}")
    @MethodSource("paths")
    void matmulMatchesTheReferenceForEveryBatchAndThreadCount(String model, boolean simd) {
        try (GGUFFile gguf = open(model)) {
            for (String name : TENSORS) {
                GGUFTensor t = gguf.tensor(name);
                WeightMatrix m = WeightMatrix.of(t, simd);
                double[][] w = new double[t.rows()][];
                for (int r = 0; r < t.rows(); r++) {
                    w[r] = Reference.row(t, r);
                }
                for (int batch : new int[] {1, 3, 5, 17, 64}) {
                    float[] x = random(batch * t.cols(), batch);
                    double[] want = product(w, x, batch, t.cols());
                    if (m.quantizesActivations() && !m.tiled(batch)) {
                        // Integer kernels (a decode step, outside Gemm's float tiles) see the activations rounded to 11 bits:
                        // exact against those values, and within the rounding's error of the floats.
                        float[] got = new float[batch * t.rows()];
                        m.matmul(x, got, batch);
                        assertThat(relativeError(got, want)).as("%s %s batch %d, quantized against float activations", model, t, batch)
                                .isLessThanOrEqualTo(QUANTIZED_ERROR);
                        float[] seen = dequantized(new QuantizedActivations(x, batch, t.cols()));
                        want = product(w, seen, batch, t.cols());
                    }
                    for (int threads : new int[] {1, 3}) {
                        Parallel.setThreads(threads);
                        float[] got = new float[batch * t.rows() + 1];
                        got[got.length - 1] = 42f;
                        m.matmul(x, got, batch);
                        assertThat(got[got.length - 1]).as("written past the batch").isEqualTo(42f);
                        assertThat(relativeError(Arrays.copyOf(got, want.length), want))
                                .as("%s %s batch %d threads %d", model, t, batch, threads).isLessThanOrEqualTo(TOLERANCE);
                    }
                }
            }
        }
    }

    /**
     * A token outside groups of four goes through {@code dot2} two rows at a time, the last odd row through
     * {@code dot}: the two must add in the same order, or a row's bits would depend on how the rows were
     * split between threads.
     */
    @ParameterizedTest(name = "{0} simd={1}")
    @MethodSource("paths")
    void aSingleTokenMatmulEqualsDotBitForBit(String model, boolean simd) {
        try (GGUFFile gguf = open(model)) {
            for (String name : TENSORS) {
                WeightMatrix m = WeightMatrix.of(gguf.tensor(name), simd);
                if (m.quantizesActivations()) {
                    continue; // a matmul multiplies rounded activations there, dot the floats
                }
                float[] x = random(m.cols(), 3);
                float[] got = new float[m.rows()];
                m.matmul(x, got, 1);
                float[] want = new float[m.rows()];
                for (int r = 0; r < m.rows(); r++) {
                    want[r] = m.dot(r, x, 0);
                }
                assertThat(got).as("%s %s", model, m).containsExactly(want);
            }
        }
    }

    @ParameterizedTest(name = "{0} simd={1}")
    @MethodSource("paths")
    void dequantizedRowsMatchTheReference(String model, boolean simd) {
        try (GGUFFile gguf = open(model)) {
            GGUFTensor t = gguf.tensor("token_embd.weight");
            WeightMatrix m = WeightMatrix.of(t, simd);
            float[] out = new float[t.cols() + 3];
            for (int r = 0; r < t.rows(); r += 7) {
                m.dequantizeRow(r, out, 3);
                double[] want = Reference.row(t, r);
                for (int i = 0; i < t.cols(); i++) {
                    assertThat((double) out[3 + i]).as("%s row %d [%d]", t, r, i).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-6 * Math.abs(want[i]) + 1e-12));
                }
            }
        }
    }

    @Test
    void theVectorPathUsesTheVectorClasses() {
        try (GGUFFile gguf = open("tiny-gqa-q4_k_m")) {
            assertThat(WeightMatrix.of(gguf.tensor("blk.0.attn_q.weight"), true)).isInstanceOf(Q4_KVectorMatrix.class);
            assertThat(WeightMatrix.of(gguf.tensor("output.weight"), true)).isInstanceOf(Q6_KVectorMatrix.class);
            assertThat(WeightMatrix.of(gguf.tensor("output.weight"), false)).isExactlyInstanceOf(Q6_KMatrix.class);
        }
        try (GGUFFile gguf = open("tiny-gqa-q4_1")) {
            assertThat(WeightMatrix.of(gguf.tensor("blk.0.attn_q.weight"), true)).isInstanceOf(Q4_1VectorMatrix.class);
            assertThat(WeightMatrix.of(gguf.tensor("blk.0.attn_q.weight"), false)).isExactlyInstanceOf(Q4_1Matrix.class);
        }
    }

    @Test
    void aTypeWithoutKernelsIsRejectedByName() {
        GGUFTensor t = new GGUFTensor("blk.7.ffn_up.weight", new long[] {64, 2}, GGMLType.Q8_1, MemorySegment.ofArray(new byte[2 * 40]));
        assertThatThrownBy(() -> WeightMatrix.of(t)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blk.7.ffn_up.weight").hasMessageContaining("Q8_1");
    }

    @Test
    void aShortOrMisalignedTensorIsRejected() {
        GGUFTensor shortData = new GGUFTensor("w", new long[] {32, 4}, GGMLType.Q8_0, MemorySegment.ofArray(new byte[3 * 34]));
        assertThatThrownBy(() -> WeightMatrix.of(shortData)).hasMessageContaining("'w' needs 136 bytes");
        GGUFTensor ragged = new GGUFTensor("v", new long[] {48, 1}, GGMLType.Q4_0, MemorySegment.ofArray(new byte[64]));
        assertThatThrownBy(() -> WeightMatrix.of(ragged)).hasMessageContaining("not a multiple of the block size 32");
    }

    /**
     * A row's product in a tiled matmul does not depend on the kernel that takes it: tiles that start one, two or
     * three rows later put each row in another group of a kernel of four, two or one rows, and give the same bits,
     * with the batch's last tokens in groups of three, two or one.
     */
    @ParameterizedTest(name = "{0} simd={1}")
    @MethodSource("paths")
    void aTiledRowGivesTheSameBitsInEveryGroup(String model, boolean simd) {
        try (GGUFFile gguf = open(model)) {
            for (String name : TENSORS) {
                WeightMatrix m = WeightMatrix.of(gguf.tensor(name), simd);
                for (int batch : new int[] {2, 3, 8, 17, 18, 19, 64}) {
                    if (!m.tiled(batch)) {
                        continue;
                    }
                    float[] x = random(batch * m.cols(), batch);
                    float[] whole = new float[batch * m.rows()];
                    Gemm.rows(m, null, x, null, whole, batch, 0, m.rows());
                    for (int shift = 1; shift <= 3; shift++) {
                        float[] split = new float[batch * m.rows()];
                        Gemm.rows(m, null, x, null, split, batch, 0, shift);
                        Gemm.rows(m, null, x, null, split, batch, shift, m.rows());
                        assertThat(split).as("%s %s batch %d, tiles from row %d", model, m, batch, shift).containsExactly(whole);
                    }
                }
            }
        }
    }

    /**
     * Q8_0's two-row kernel gives each row the bits of the one-row kernel, so a decode step's logits do not depend on
     * it: rows of an even and of an odd number of blocks (the kernels take blocks in pairs).
     */
    @ParameterizedTest(name = "{0} blocks")
    @ValueSource(ints = {8, 9})
    void aQ8_0RowPairGivesEachRowItsOwnBits(int blocks) {
        int rows = 6;
        int cols = 32 * blocks;
        ByteBuffer bytes = ByteBuffer.allocate(rows * blocks * 34);
        GGMLQuantizer.encode(random(rows * cols, blocks), GGMLType.Q8_0, bytes);
        WeightMatrix m = WeightMatrix.of(new GGUFTensor("q8_0", new long[] {cols, rows}, GGMLType.Q8_0, MemorySegment.ofArray(bytes.array())), true);
        float[] x = random(cols + 3, 9);
        float[] pair = new float[2];
        for (int r = 0; r + 1 < rows; r += 2) {
            m.dot2(r, x, 3, null, pair, 0);
            assertThat(pair).as("%s rows %d, %d", m, r, r + 1).containsExactly(m.dot(r, x, 3), m.dot(r + 1, x, 3));
        }
    }

    /** Files whose {@code blk.0.attn_q.weight} is held in {@link InterleavedRows} on 512-bit machines: Q4_0, Q4_1, Q4_K, Q5_K, Q6_K. */
    static final String[] INTERLEAVED = {"tiny-gqa-q4_0", "tiny-gqa-q4_1", "tiny-gqa-q4_k_m", "tiny-gqa-q5_k_m", "tiny-gqa-q6_k"};

    static Stream<String> interleaved() {
        return Stream.of(INTERLEAVED);
    }

    /**
     * A matrix held in interleaved groups of 32 rows (512-bit machines) takes the rows of a group that a slice
     * cuts one by one, and gives the group kernel's bits: slices from rows 20 and 40 leave whole groups, a group's
     * first rows and a group's last rows.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("interleaved")
    void aGroupCutByASliceGivesWhatTheGroupKernelGives(String model) {
        try (GGUFFile gguf = open(model)) {
            WeightMatrix m = WeightMatrix.of(gguf.tensor("blk.0.attn_q.weight"), true);
            assertThat(m.quantizedRowUnit()).as("rows per unit of %s", m).isEqualTo(VectorKernels.L == 16 ? InterleavedRows.GROUP : 2);
            int batch = VectorKernels.L == 16 ? m.interleaved().tiledFrom() - 1 : 1;
            assertThat(m.tiled(batch)).as("%s at %d tokens", m, batch).isFalse();
            QuantizedActivations x = new QuantizedActivations(random(batch * m.cols(), 7), batch, m.cols());
            float[] whole = new float[batch * m.rows()];
            m.multiplyQuantized(x, whole, batch, 0, m.rows());
            float[] split = new float[batch * m.rows()];
            m.multiplyQuantized(x, split, batch, 0, 20);
            m.multiplyQuantized(x, split, batch, 20, 40);
            m.multiplyQuantized(x, split, batch, 40, m.rows());
            assertThat(split).as("%s in slices from rows 20 and 40", m).containsExactly(whole);
        }
    }

    /**
     * The group kernels take four tokens at a time, then two, then one: a token gets the same bits whichever of them
     * it goes through, so a conversation's reply does not depend on how many others share its decode steps.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("interleaved")
    void aTokenGetsTheSameBitsInABatchAsAlone(String model) {
        try (GGUFFile gguf = open(model)) {
            WeightMatrix m = WeightMatrix.of(gguf.tensor("blk.0.attn_q.weight"), true);
            assumeTrue(m.interleaved() != null, "matrices are interleaved on 512-bit machines only");
            for (int batch = 1; batch < m.interleaved().tiledFrom(); batch++) {
                assertThat(m.tiled(batch)).as("%s at %d tokens", m, batch).isFalse();
                float[] x = random(batch * m.cols(), 11 + batch);
                float[] together = new float[batch * m.rows()];
                m.matmul(x, together, batch);
                for (int b = 0; b < batch; b++) {
                    float[] alone = new float[m.rows()];
                    m.matmul(Arrays.copyOfRange(x, b * m.cols(), (b + 1) * m.cols()), alone, 1);
                    assertThat(Arrays.copyOfRange(together, b * m.rows(), (b + 1) * m.rows()))
                            .as("%s token %d of %d", m, b, batch).containsExactly(alone);
                }
            }
        }
    }

    /**
     * Once a matrix has its interleaved copy, a batch that goes through tiles reads the copy, not the file's
     * rows: the same products within float rounding, slices cut at whole groups (the same bits on one thread and on
     * three), and a token's bits whichever batch it is in (its rows' sums run in one order in every kernel).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("interleaved")
    void aTiledBatchReadsTheCopyOnceItIsMade(String model) {
        try (GGUFFile gguf = open(model)) {
            for (String name : new String[] {"blk.0.attn_q.weight", "blk.0.ffn_down.weight", "output.weight"}) {
                WeightMatrix m = WeightMatrix.of(gguf.tensor(name), true);
                assumeTrue(VectorKernels.L == 16, "matrices are interleaved on 512-bit machines only");
                if (m.interleaved() == null) {
                    continue; // a type without a copy (Q8_0 output heads)
                }
                int batch = 19;
                assertThat(m.tiled(batch)).as("%s at %d tokens", m, batch).isTrue();
                float[] x = random(batch * m.cols(), 23);
                float[] fromFile = new float[batch * m.rows()];
                m.matmul(x, fromFile, batch);
                assertThat(m.tiledCopy()).as("%s before a decode step", m).isNull();

                m.matmul(random(m.cols(), 24), new float[m.rows()], 1);
                InterleavedRows copy = m.tiledCopy();
                assertThat(copy).as("%s after a decode step", m).isNotNull();
                float[] fromCopy = new float[batch * m.rows()];
                GroupTiles.multiply(copy, m.cols(), x, GroupTiles.block(x, batch, m.cols(), null), fromCopy, m.rows(), batch, 0, m.rows(),
                        new float[InterleavedRows.GROUP * m.cols()]);
                assertThat(relativeError(fromCopy, toDoubles(fromFile))).as("%s copy against file", m).isLessThanOrEqualTo(TOLERANCE);
                for (int threads : new int[] {1, 3}) {
                    Parallel.setThreads(threads);
                    float[] got = new float[batch * m.rows()];
                    m.matmul(x, got, batch);
                    assertThat(got).as("%s threads %d", m, threads).containsExactly(fromCopy);
                }
                // in 19 tokens, 0-11 go through the twelve-token kernel, 12-15 the four-token one, 16-17 the two-token one and 18
                // alone;
                // a batch of 12 made of tokens 12-18 and 0-4 takes them all through the twelve-token kernel
                float[] rotated = new float[12 * m.cols()];
                System.arraycopy(x, 12 * m.cols(), rotated, 0, 7 * m.cols());
                System.arraycopy(x, 0, rotated, 7 * m.cols(), 5 * m.cols());
                float[] twelve = new float[12 * m.rows()];
                m.matmul(rotated, twelve, 12);
                assertThat(Arrays.copyOf(twelve, 7 * m.rows())).as("%s tokens 12-18", m)
                        .containsExactly(Arrays.copyOfRange(fromCopy, 12 * m.rows(), 19 * m.rows()));
                assertThat(Arrays.copyOfRange(twelve, 7 * m.rows(), 12 * m.rows())).as("%s tokens 0-4", m)
                        .containsExactly(Arrays.copyOf(fromCopy, 5 * m.rows()));
                assertThatThrownBy(() -> GroupTiles.multiply(copy, m.cols(), x, null, new float[batch * m.rows()], m.rows(), batch, 0, 20,
                        new float[InterleavedRows.GROUP * m.cols()])).hasMessageContaining("cut a group");
            }
        }
    }

    /**
     * A 4-bit matrix makes its interleaved copy at its first decode multiply, not at load, nor for a batch that goes
     * through tiles: a model decoded on the GPU holds its host matrices without ever multiplying them. The CPU backend
     * has it made at load ({@link WeightMatrix#prepareForDecode}).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("interleaved")
    void theInterleavedCopyIsMadeAtTheFirstDecodeMultiply(String model) {
        try (GGUFFile gguf = open(model)) {
            WeightMatrix m = WeightMatrix.of(gguf.tensor("blk.0.attn_q.weight"), true);
            assumeTrue(m.interleaved() != null, "matrices are interleaved on 512-bit machines only");
            assertThat(m.interleaved().isBuilt()).as("%s after load", m).isFalse();
            int batch = m.interleaved().tiledFrom();
            m.matmul(random(batch * m.cols(), 5), new float[batch * m.rows()], batch);
            assertThat(m.interleaved().isBuilt()).as("%s after a batch of %d", m, batch).isFalse();
            m.matmul(random(m.cols(), 6), new float[m.rows()], 1);
            assertThat(m.interleaved().isBuilt()).as("%s after a decode step", m).isTrue();

            WeightMatrix prepared = WeightMatrix.of(gguf.tensor("blk.0.attn_k.weight"), true);
            prepared.prepareForDecode(CopyStore.ANONYMOUS); // as the CPU backend does at load
            assertThat(prepared.interleaved().isBuilt()).as("%s prepared", prepared).isTrue();
        }
    }

    @ParameterizedTest(name = "{0} simd={1}")
    @MethodSource("paths")
    void fusedMatmulEqualsOneMatmulPerMatrix(String model, boolean simd) {
        try (GGUFFile gguf = open(model)) {
            WeightMatrix[] qkv = Stream.of("blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight")
                    .map(name -> WeightMatrix.of(gguf.tensor(name), simd)).toArray(WeightMatrix[]::new);
            for (int batch : new int[] {1, 5}) {
                float[] x = random(batch * qkv[0].cols(), batch);
                for (int threads : new int[] {1, 3}) {
                    Parallel.setThreads(threads);
                    float[][] fused = new float[qkv.length][];
                    for (int i = 0; i < qkv.length; i++) {
                        fused[i] = new float[batch * qkv[i].rows()];
                    }
                    WeightMatrix.matmul(x, batch, qkv, fused);
                    for (int i = 0; i < qkv.length; i++) {
                        float[] alone = new float[batch * qkv[i].rows()];
                        qkv[i].matmul(x, alone, batch);
                        assertThat(fused[i]).as("%s %s batch %d threads %d", model, qkv[i], batch, threads).containsExactly(alone);
                    }
                }
            }
        }
    }

    @Test
    void fusedMatmulNeedsOneWidth() {
        try (GGUFFile gguf = open("tiny-gqa-q8_0")) {
            WeightMatrix k = WeightMatrix.of(gguf.tensor("blk.0.attn_k.weight"));
            WeightMatrix down = WeightMatrix.of(gguf.tensor("blk.0.ffn_down.weight"));
            assertThatThrownBy(() -> WeightMatrix.matmul(new float[4096], 1, new WeightMatrix[] {k, down}, new float[][] {new float[4096], new float[4096]}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("one width");
        }
    }

    @Test
    void matmulChecksItsArrays() {
        try (GGUFFile gguf = open("tiny-gqa-q8_0")) {
            WeightMatrix m = WeightMatrix.of(gguf.tensor("blk.0.attn_k.weight"));
            assertThatThrownBy(() -> m.matmul(new float[256], new float[64], 2)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void activationsAreRoundedToElevenBitsPerBlock() {
        float[] x = random(4 * 96, 7);
        Arrays.fill(x, 32, 64, 0f); // a block of zeros
        Arrays.fill(x, 64, 96, Float.MIN_VALUE * 1070); // subnormal: d rounds to MIN_VALUE and x / d to 1070
        x[100] = -1e30f;
        QuantizedActivations q = new QuantizedActivations(x, 4, 96);
        for (int b = 0; b < x.length / 32; b++) {
            int largest = 0;
            int sum = 0;
            for (int i = 0; i < 32; i++) {
                int v = b * 32 + i;
                assertThat(Math.abs(q.values[v])).as("value %d", v).isLessThanOrEqualTo(QuantizedActivations.MAX);
                largest = Math.max(largest, Math.abs(q.values[v]));
                sum += q.values[v];
                if (b != 2) {
                    assertThat((double) Math.abs(q.dequantized(v) - x[v])).as("rounding of value %d", v)
                            .isLessThanOrEqualTo(q.scales[b] * 0.5001);
                }
            }
            assertThat(largest).as("block %d spans the range", b).isEqualTo(b == 1 ? 0 : QuantizedActivations.MAX);
            assertThat(q.sums[b]).as("sum of block %d", b).isEqualTo(q.scales[b] * sum);
        }
    }

    /** {@code w} times each of the {@code batch} rows of {@code x}, in doubles, laid out as matmul's output. */
    static double[] product(double[][] w, float[] x, int batch, int cols) {
        double[] out = new double[batch * w.length];
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < w.length; r++) {
                double s = 0;
                for (int i = 0; i < cols; i++) {
                    s += w[r][i] * x[b * cols + i];
                }
                out[b * w.length + r] = s;
            }
        }
        return out;
    }

    static float[] dequantized(QuantizedActivations q) {
        float[] x = new float[q.values.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = q.dequantized(i);
        }
        return x;
    }

    static GGUFFile open(String model) {
        return GGUFFile.open(QuantizedModels.model(model));
    }

    static float[] random(int n, long seed) {
        Random random = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    /** The largest error relative to the largest reference value. */
    static double[] toDoubles(float[] values) {
        double[] doubles = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            doubles[i] = values[i];
        }
        return doubles;
    }

    static double relativeError(float[] got, double[] want) {
        double maxError = 0;
        double maxValue = 0;
        for (int i = 0; i < want.length; i++) {
            maxError = Math.max(maxError, Math.abs(got[i] - want[i]));
            maxValue = Math.max(maxValue, Math.abs(want[i]));
        }
        return maxError / maxValue;
    }
}
