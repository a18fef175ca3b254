package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import jdk.incubator.vector.FloatVector;

/**
 * The matmul of a batch of tokens (a prefill chunk, or the decode steps of many conversations at once): a thread
 * dequantizes a tile of {@value #TILE_ROWS} weight rows to floats once and multiplies it with every token of the
 * batch in a register-blocked kernel: four rows by four tokens in sixteen accumulators with AVX-512's 32 vector
 * registers, two rows by four in eight with AVX2's sixteen. A weight is decoded once per batch instead of once per
 * token, and the multiply runs at the rate of the FMA units rather than of the decoder: each step loads eight vectors
 * for sixteen FMAs (six for eight), where a row kernel loads one weight and one activation per FMA. (Three rows by
 * four ran a third slower on AVX2: twelve accumulators and the loads need more than its registers.)
 * The activations stay floats, so a batch is no less exact than a decode step. Only loaded when {@link Simd#ENABLED}.
 */
final class Gemm {

    /**
     * Tokens in a batch from which quantized weights go through tiles. The row kernels decode every weight again for
     * each token; a tile decodes it once. Tiles against row kernels at two to seven tokens (two threads, 16 lanes,
     * Xeon): Q4_K 1.4-3.9x, Q4_1 1.0-1.7x, Q8_0 0.8-1.3x (slower at two and four tokens, faster at the others);
     * against the integer row kernels of 8 lanes (Zen 3): Q4_0 1.1x, Q4_1 1.3-1.6x, Q4_K 2-4x at two and four. One
     * threshold for every quantized type. A batch of a few tokens is a decode step of a few conversations, or one of
     * them with a small prompt chunk beside it, where a row-kernel prompt token cost as much as a decode row.
     */
    static final int MIN_BATCH = 2;
    /** The same for weights stored as floats, which the row kernels read without decoding: F32's rows stay faster up to 7 tokens. */
    static final int MIN_FLOAT_BATCH = 8;
    /** Weight rows per tile: 24 rows of a 1,536-wide matrix are 144 KiB, which stays in L2 for the whole batch. */
    static final int TILE_ROWS = 24;

    /**
     * A thread's arrays for {@link #rows}: the tile of decoded weights, where the kernels store their accumulators to
     * sum them ({@link VectorKernels#sums}), and the tokens of its matmuls laid out for {@link GroupTiles}. Allocated
     * per call, the accumulators' arrays alone would churn a server's young generation by megabytes a step.
     */
    private static final class Scratch {
        float[] tile = new float[0];
        float[] blocked;
        final float[] lanes = new float[16 * L];
        final float[] sums = new float[16];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Gemm() {
    }

    /** Whether {@code matrix} times {@code batch} tokens goes through tiles. */
    static boolean applies(WeightMatrix matrix, int batch) {
        return batch >= (matrix.type.blockSize() > 1 ? MIN_BATCH : MIN_FLOAT_BATCH) && matrix.cols % L == 0;
    }

    /**
     * Rows {@code [start, end)} of {@code out = matrix x} for {@code batch} tokens, as {@link WeightMatrix#matmul} lays
     * them out: from {@code copy}, the matrix's interleaved rows, where not null and the rows are whole groups
     * ({@link GroupTiles}, the batch's tokens also in {@code blocked}, {@link #blocked}), else from the matrix's own
     * rows (a fused matmul whose earlier matrix ends inside a group of 32 cuts a later matrix's groups).
     */
    static void rows(WeightMatrix matrix, InterleavedRows copy, float[] x, float[] blocked, float[] out, int batch, int start, int end) {
        int cols = matrix.cols;
        Scratch scratch = SCRATCH.get();
        if (copy != null && start % InterleavedRows.GROUP == 0 && end % InterleavedRows.GROUP == 0) {
            GroupTiles.multiply(copy, cols, x, blocked, out, matrix.rows, batch, start, end, tile(scratch, InterleavedRows.GROUP * cols));
            return;
        }
        float[] tile = tile(scratch, Math.min(TILE_ROWS, end - start) * cols);
        float[] lanes = scratch.lanes;
        float[] sums = scratch.sums;
        for (int first = start; first < end; first += TILE_ROWS) {
            int count = Math.min(TILE_ROWS, end - first);
            for (int r = 0; r < count; r++) {
                matrix.dequantizeRow(first + r, tile, r * cols);
            }
            multiply(tile, count, cols, x, batch, out, matrix.rows, first, lanes, sums);
        }
    }

    /**
     * The batch's tokens laid out for {@link GroupTiles} ({@link GroupTiles#block}), in the calling thread's array, which
     * the matmul's threads read until it returns.
     */
    static float[] blocked(float[] x, int batch, int cols) {
        Scratch scratch = SCRATCH.get();
        scratch.blocked = GroupTiles.block(x, batch, cols, scratch.blocked);
        return scratch.blocked;
    }

    private static float[] tile(Scratch scratch, int size) {
        if (scratch.tile.length < size) {
            scratch.tile = new float[Math.max(size, TILE_ROWS * 2048)];
        }
        return scratch.tile;
    }

    /** {@code out[t * outRows + first + r] = w[r] . x[t]} for the {@code count} rows of the tile and every token. */
    private static void multiply(float[] w, int count, int cols, float[] x, int batch, float[] out, int outRows, int first,
                                 float[] lanes, float[] sums) {
        int t = 0;
        for (; t + 4 <= batch; t += 4) {
            int r = 0;
            for (; L == 16 && r + 4 <= count; r += 4) {
                kernel4x4(w, r * cols, x, t * cols, cols, out, t * outRows + first + r, outRows, lanes, sums);
            }
            for (; r + 2 <= count; r += 2) {
                kernel2x4(w, r * cols, x, t * cols, cols, out, t * outRows + first + r, outRows, lanes, sums);
            }
            if (r < count) {
                kernel1x4(w, r * cols, x, t * cols, cols, out, t * outRows + first + r, outRows);
            }
        }
        // The last one to three tokens: three at once with 16 lanes (AVX2 has too few registers), else two, then one.
        int group = L == 16 && batch - t == 3 ? 3 : batch - t >= 2 ? 2 : 0;
        if (group > 0) {
            int r = 0;
            for (; r + 4 <= count; r += 4) {
                if (group == 3) {
                    kernel4x3(w, r * cols, x, t * cols, cols, out, t * outRows + first + r, outRows, lanes, sums);
                } else {
                    kernel4x2(w, r * cols, x, t * cols, cols, out, t * outRows + first + r, outRows, lanes, sums);
                }
            }
            for (; r < count; r++) {
                for (int u = t; u < t + group; u++) {
                    out[u * outRows + first + r] = dot(w, r * cols, x, u * cols, cols);
                }
            }
            t += group;
        }
        for (; t < batch; t++) {
            int r = 0;
            for (; r + 4 <= count; r += 4) {
                kernel4x1(w, r * cols, x, t * cols, cols, out, t * outRows + first + r);
            }
            for (; r < count; r++) {
                out[t * outRows + first + r] = dot(w, r * cols, x, t * cols, cols);
            }
        }
    }

    /**
     * Four rows against three tokens, for 16 lanes: the tokens after the last group of four, twelve accumulators, four
     * row loads and three activation loads per twelve FMAs where one token at a time loads five per four.
     */
    private static void kernel4x3(float[] w, int w0, float[] x, int x0, int cols, float[] out, int o, int outRows,
                                  float[] lanes, float[] sums) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00;
        int w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
        int x1 = x0 + cols, x2 = x1 + cols;
        for (int i = 0; i < cols; i += L) {
            FloatVector r0 = FloatVector.fromArray(F, w, w0 + i);
            FloatVector r1 = FloatVector.fromArray(F, w, w1 + i);
            FloatVector r2 = FloatVector.fromArray(F, w, w2 + i);
            FloatVector r3 = FloatVector.fromArray(F, w, w3 + i);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a00 = r0.fma(v, a00);
            a10 = r1.fma(v, a10);
            a20 = r2.fma(v, a20);
            a30 = r3.fma(v, a30);
            v = FloatVector.fromArray(F, x, x1 + i);
            a01 = r0.fma(v, a01);
            a11 = r1.fma(v, a11);
            a21 = r2.fma(v, a21);
            a31 = r3.fma(v, a31);
            v = FloatVector.fromArray(F, x, x2 + i);
            a02 = r0.fma(v, a02);
            a12 = r1.fma(v, a12);
            a22 = r2.fma(v, a22);
            a32 = r3.fma(v, a32);
        }
        a00.intoArray(lanes, 0);
        a10.intoArray(lanes, L);
        a20.intoArray(lanes, 2 * L);
        a30.intoArray(lanes, 3 * L);
        a01.intoArray(lanes, 4 * L);
        a11.intoArray(lanes, 5 * L);
        a21.intoArray(lanes, 6 * L);
        a31.intoArray(lanes, 7 * L);
        a02.intoArray(lanes, 8 * L);
        a12.intoArray(lanes, 9 * L);
        a22.intoArray(lanes, 10 * L);
        a32.intoArray(lanes, 11 * L);
        VectorKernels.sums(lanes, 12, sums);
        for (int t = 0; t < 3; t++) {
            System.arraycopy(sums, 4 * t, out, o + t * outRows, 4);
        }
    }

    /** Four rows against two tokens: eight accumulators, four row loads and two activation loads per eight FMAs. */
    private static void kernel4x2(float[] w, int w0, float[] x, int x0, int cols, float[] out, int o, int outRows,
                                  float[] lanes, float[] sums) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00;
        FloatVector a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00;
        FloatVector a30 = a00, a31 = a00;
        int w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
        int x1 = x0 + cols;
        for (int i = 0; i < cols; i += L) {
            FloatVector r0 = FloatVector.fromArray(F, w, w0 + i);
            FloatVector r1 = FloatVector.fromArray(F, w, w1 + i);
            FloatVector r2 = FloatVector.fromArray(F, w, w2 + i);
            FloatVector r3 = FloatVector.fromArray(F, w, w3 + i);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a00 = r0.fma(v, a00);
            a10 = r1.fma(v, a10);
            a20 = r2.fma(v, a20);
            a30 = r3.fma(v, a30);
            v = FloatVector.fromArray(F, x, x1 + i);
            a01 = r0.fma(v, a01);
            a11 = r1.fma(v, a11);
            a21 = r2.fma(v, a21);
            a31 = r3.fma(v, a31);
        }
        a00.intoArray(lanes, 0);
        a10.intoArray(lanes, L);
        a20.intoArray(lanes, 2 * L);
        a30.intoArray(lanes, 3 * L);
        a01.intoArray(lanes, 4 * L);
        a11.intoArray(lanes, 5 * L);
        a21.intoArray(lanes, 6 * L);
        a31.intoArray(lanes, 7 * L);
        VectorKernels.sums(lanes, 8, sums);
        for (int t = 0; t < 2; t++) {
            System.arraycopy(sums, 4 * t, out, o + t * outRows, 4);
        }
    }

    /** One row against four tokens: the odd row of a tile. */
    private static void kernel1x4(float[] w, int w0, float[] x, int x0, int cols, float[] out, int o, int outRows) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        for (int i = 0; i < cols; i += L) {
            FloatVector r = FloatVector.fromArray(F, w, w0 + i);
            a0 = r.fma(FloatVector.fromArray(F, x, x0 + i), a0);
            a1 = r.fma(FloatVector.fromArray(F, x, x1 + i), a1);
            a2 = r.fma(FloatVector.fromArray(F, x, x2 + i), a2);
            a3 = r.fma(FloatVector.fromArray(F, x, x3 + i), a3);
        }
        out[o] = sum(a0);
        out[o + outRows] = sum(a1);
        out[o + 2 * outRows] = sum(a2);
        out[o + 3 * outRows] = sum(a3);
    }

    /** Four rows against one token: the tokens after the last group of four, four independent FMA chains. */
    private static void kernel4x1(float[] w, int w0, float[] x, int x0, int cols, float[] out, int o) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
        for (int i = 0; i < cols; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a0 = FloatVector.fromArray(F, w, w0 + i).fma(v, a0);
            a1 = FloatVector.fromArray(F, w, w1 + i).fma(v, a1);
            a2 = FloatVector.fromArray(F, w, w2 + i).fma(v, a2);
            a3 = FloatVector.fromArray(F, w, w3 + i).fma(v, a3);
        }
        out[o] = sum(a0);
        out[o + 1] = sum(a1);
        out[o + 2] = sum(a2);
        out[o + 3] = sum(a3);
    }

    /**
     * Rows {@code w0 .. w0 + 3 cols} against tokens {@code x0 .. x0 + 3 cols}, for 16 float lanes: sixteen accumulators,
     * four row loads and four activation loads per sixteen FMAs, within AVX-512's 32 vector registers (two rows by four
     * load six vectors per eight FMAs).
     */
    private static void kernel4x4(float[] w, int w0, float[] x, int x0, int cols, float[] out, int o, int outRows,
                                  float[] lanes, float[] sums) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
        int x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        for (int i = 0; i < cols; i += L) {
            FloatVector r0 = FloatVector.fromArray(F, w, w0 + i);
            FloatVector r1 = FloatVector.fromArray(F, w, w1 + i);
            FloatVector r2 = FloatVector.fromArray(F, w, w2 + i);
            FloatVector r3 = FloatVector.fromArray(F, w, w3 + i);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a00 = r0.fma(v, a00);
            a10 = r1.fma(v, a10);
            a20 = r2.fma(v, a20);
            a30 = r3.fma(v, a30);
            v = FloatVector.fromArray(F, x, x1 + i);
            a01 = r0.fma(v, a01);
            a11 = r1.fma(v, a11);
            a21 = r2.fma(v, a21);
            a31 = r3.fma(v, a31);
            v = FloatVector.fromArray(F, x, x2 + i);
            a02 = r0.fma(v, a02);
            a12 = r1.fma(v, a12);
            a22 = r2.fma(v, a22);
            a32 = r3.fma(v, a32);
            v = FloatVector.fromArray(F, x, x3 + i);
            a03 = r0.fma(v, a03);
            a13 = r1.fma(v, a13);
            a23 = r2.fma(v, a23);
            a33 = r3.fma(v, a33);
        }
        // Token by token, its four rows: out rows of one token are adjacent.
        a00.intoArray(lanes, 0);
        a10.intoArray(lanes, L);
        a20.intoArray(lanes, 2 * L);
        a30.intoArray(lanes, 3 * L);
        a01.intoArray(lanes, 4 * L);
        a11.intoArray(lanes, 5 * L);
        a21.intoArray(lanes, 6 * L);
        a31.intoArray(lanes, 7 * L);
        a02.intoArray(lanes, 8 * L);
        a12.intoArray(lanes, 9 * L);
        a22.intoArray(lanes, 10 * L);
        a32.intoArray(lanes, 11 * L);
        a03.intoArray(lanes, 12 * L);
        a13.intoArray(lanes, 13 * L);
        a23.intoArray(lanes, 14 * L);
        a33.intoArray(lanes, 15 * L);
        VectorKernels.sums(lanes, 16, sums);
        for (int t = 0; t < 4; t++) {
            System.arraycopy(sums, 4 * t, out, o + t * outRows, 4);
        }
    }

    /**
     * Rows {@code w0, w0 + cols} against tokens {@code x0 .. x0 + 3 cols}; out rows of one token are adjacent. The eight
     * accumulators are summed through {@code lanes} and {@code sums} ({@link VectorKernels#sums}).
     */
    private static void kernel2x4(float[] w, int w0, float[] x, int x0, int cols, float[] out, int o, int outRows,
                                  float[] lanes, float[] sums) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        int w1 = w0 + cols;
        int x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        for (int i = 0; i < cols; i += L) {
            FloatVector r0 = FloatVector.fromArray(F, w, w0 + i);
            FloatVector r1 = FloatVector.fromArray(F, w, w1 + i);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a00 = r0.fma(v, a00);
            a10 = r1.fma(v, a10);
            v = FloatVector.fromArray(F, x, x1 + i);
            a01 = r0.fma(v, a01);
            a11 = r1.fma(v, a11);
            v = FloatVector.fromArray(F, x, x2 + i);
            a02 = r0.fma(v, a02);
            a12 = r1.fma(v, a12);
            v = FloatVector.fromArray(F, x, x3 + i);
            a03 = r0.fma(v, a03);
            a13 = r1.fma(v, a13);
        }
        a00.intoArray(lanes, 0);
        a10.intoArray(lanes, L);
        a01.intoArray(lanes, 2 * L);
        a11.intoArray(lanes, 3 * L);
        a02.intoArray(lanes, 4 * L);
        a12.intoArray(lanes, 5 * L);
        a03.intoArray(lanes, 6 * L);
        a13.intoArray(lanes, 7 * L);
        VectorKernels.sums(lanes, 8, sums);
        for (int t = 0; t < 4; t++) {
            System.arraycopy(sums, 2 * t, out, o + t * outRows, 2);
        }
    }

    /**
     * One row against one token. Every kernel adds a row-token product in one FMA chain in the same order, so a
     * row's result does not depend on the group that a slice's boundaries put it in.
     */
    private static float dot(float[] w, int w0, float[] x, int x0, int cols) {
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0; i < cols; i += L) {
            acc = FloatVector.fromArray(F, w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), acc);
        }
        return sum(acc);
    }
}
