package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.InterleavedRows.GROUP;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Gemm}'s work on a matrix held in {@link InterleavedRows}, read from the copy instead of the file, so that a
 * model whose copies are kept never reads those pages of its file again. A group's 32 rows are decoded once into a
 * tile of floats, weight by weight ({@link InterleavedRows#decode}), and each token's 32 sums stay in two vectors,
 * a lane a row: the kernels broadcast an activation against a weight's two vectors and never sum across lanes, which
 * makes them 1.5-1.6 times as fast as {@code Gemm}'s on one thread (BENCHMARKS.md). The widest kernel takes twelve
 * tokens whose activations the matmul has laid out weight by weight once ({@link #block}): its twelve broadcasts of a
 * step then read one line, where twelve rows of the batch apart they cost it a fifth of its speed. Every kernel adds a
 * row's products in the same order, so a token gets the same bits whichever batch it is in. The kernels name their
 * accumulators rather than keep them in an array of vectors, which C2 would allocate.
 */
final class GroupTiles {

    /** Tokens a pass of the widest kernel takes ({@link #tokens12}). */
    static final int BLOCK = 12;

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_512;

    private GroupTiles() {
    }

    /**
     * The batch's whole blocks of {@value #BLOCK} tokens, weight by weight: activation {@code k} of token {@code t} of
     * block {@code b} at {@code [(b * cols + k) * 12 + t]}, in {@code into} if it is large enough, else in a new array
     * ({@code into} itself, perhaps null, for a batch of fewer); the weights split across {@link Parallel} threads.
     */
    static float[] block(float[] x, int batch, int cols, float[] into) {
        int blocks = batch / BLOCK;
        if (blocks == 0) {
            return into;
        }
        float[] blocked = into != null && into.length >= blocks * BLOCK * cols ? into : new float[blocks * BLOCK * cols];
        Parallel.forRange(cols, 256, (from, to) -> {
            for (int b = 0; b < blocks; b++) {
                for (int t = 0; t < BLOCK; t++) {
                    int token = (b * BLOCK + t) * cols;
                    for (int k = from; k < to; k++) {
                        blocked[(b * cols + k) * BLOCK + t] = x[token + k];
                    }
                }
            }
        });
        return blocked;
    }

    /**
     * Rows {@code [start, end)} of {@code copy}, whole groups, against {@code batch} float tokens
     * ({@code x[b * cols + k]}, their whole blocks of twelve also in {@code blocked}, {@link #block}), into
     * {@code out[b * rows + r]}; {@code tile} holds a group ({@code 32 * cols} floats).
     */
    static void multiply(InterleavedRows copy, int cols, float[] x, float[] blocked, float[] out, int rows, int batch, int start, int end,
            float[] tile) {
        if (start % GROUP != 0 || end % GROUP != 0) {
            throw new IllegalArgumentException("rows [" + start + ", " + end + ") cut a group of " + GROUP);
        }
        for (int g = start / GROUP; g < end / GROUP; g++) {
            copy.decode(g, tile);
            int b = 0;
            for (; b + BLOCK <= batch; b += BLOCK) {
                tokens12(tile, cols, blocked, b / BLOCK, out, rows, g * GROUP);
            }
            for (; b + 4 <= batch; b += 4) {
                tokens4(tile, cols, x, b, out, rows, g * GROUP);
            }
            for (; b + 2 <= batch; b += 2) {
                tokens2(tile, cols, x, b, out, rows, g * GROUP);
            }
            for (; b < batch; b++) {
                token(tile, cols, x, b, out, rows, g * GROUP);
            }
        }
    }

    /**
     * Block {@code block} of twelve tokens ({@link #block}) against a decoded group: 24 sums of 16 rows, each weight
     * vector loaded once for all.
     */
    private static void tokens12(float[] tile, int cols, float[] blocked, int block, float[] out, int rows, int rowOffset) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        FloatVector e0 = a0, e1 = a0, f0 = a0, f1 = a0, g0 = a0, g1 = a0, h0 = a0, h1 = a0;
        FloatVector i0 = a0, i1 = a0, j0 = a0, j1 = a0, k0 = a0, k1 = a0, l0 = a0, l1 = a0;
        int xb = block * cols * BLOCK;
        for (int k = 0; k < cols; k++) {
            FloatVector w0 = FloatVector.fromArray(FLOATS, tile, k * GROUP);
            FloatVector w1 = FloatVector.fromArray(FLOATS, tile, k * GROUP + 16);
            int at = xb + k * BLOCK;
            FloatVector v = FloatVector.broadcast(FLOATS, blocked[at]);
            a0 = w0.fma(v, a0);
            a1 = w1.fma(v, a1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 1]);
            b0 = w0.fma(v, b0);
            b1 = w1.fma(v, b1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 2]);
            c0 = w0.fma(v, c0);
            c1 = w1.fma(v, c1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 3]);
            d0 = w0.fma(v, d0);
            d1 = w1.fma(v, d1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 4]);
            e0 = w0.fma(v, e0);
            e1 = w1.fma(v, e1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 5]);
            f0 = w0.fma(v, f0);
            f1 = w1.fma(v, f1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 6]);
            g0 = w0.fma(v, g0);
            g1 = w1.fma(v, g1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 7]);
            h0 = w0.fma(v, h0);
            h1 = w1.fma(v, h1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 8]);
            i0 = w0.fma(v, i0);
            i1 = w1.fma(v, i1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 9]);
            j0 = w0.fma(v, j0);
            j1 = w1.fma(v, j1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 10]);
            k0 = w0.fma(v, k0);
            k1 = w1.fma(v, k1);
            v = FloatVector.broadcast(FLOATS, blocked[at + 11]);
            l0 = w0.fma(v, l0);
            l1 = w1.fma(v, l1);
        }
        int o = block * BLOCK * rows + rowOffset;
        a0.intoArray(out, o);
        a1.intoArray(out, o + 16);
        b0.intoArray(out, o + rows);
        b1.intoArray(out, o + rows + 16);
        c0.intoArray(out, o + 2 * rows);
        c1.intoArray(out, o + 2 * rows + 16);
        d0.intoArray(out, o + 3 * rows);
        d1.intoArray(out, o + 3 * rows + 16);
        e0.intoArray(out, o + 4 * rows);
        e1.intoArray(out, o + 4 * rows + 16);
        f0.intoArray(out, o + 5 * rows);
        f1.intoArray(out, o + 5 * rows + 16);
        g0.intoArray(out, o + 6 * rows);
        g1.intoArray(out, o + 6 * rows + 16);
        h0.intoArray(out, o + 7 * rows);
        h1.intoArray(out, o + 7 * rows + 16);
        i0.intoArray(out, o + 8 * rows);
        i1.intoArray(out, o + 8 * rows + 16);
        j0.intoArray(out, o + 9 * rows);
        j1.intoArray(out, o + 9 * rows + 16);
        k0.intoArray(out, o + 10 * rows);
        k1.intoArray(out, o + 10 * rows + 16);
        l0.intoArray(out, o + 11 * rows);
        l1.intoArray(out, o + 11 * rows + 16);
    }

    /** Tokens {@code [token, token + 4)}, read from the batch as it is, each weight vector loaded once for the four. */
    private static void tokens4(float[] tile, int cols, float[] x, int token, float[] out, int rows, int rowOffset) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        int xa = token * cols;
        for (int k = 0; k < cols; k++) {
            FloatVector w0 = FloatVector.fromArray(FLOATS, tile, k * GROUP);
            FloatVector w1 = FloatVector.fromArray(FLOATS, tile, k * GROUP + 16);
            int at = xa + k;
            FloatVector v = FloatVector.broadcast(FLOATS, x[at]);
            a0 = w0.fma(v, a0);
            a1 = w1.fma(v, a1);
            v = FloatVector.broadcast(FLOATS, x[at + cols]);
            b0 = w0.fma(v, b0);
            b1 = w1.fma(v, b1);
            v = FloatVector.broadcast(FLOATS, x[at + 2 * cols]);
            c0 = w0.fma(v, c0);
            c1 = w1.fma(v, c1);
            v = FloatVector.broadcast(FLOATS, x[at + 3 * cols]);
            d0 = w0.fma(v, d0);
            d1 = w1.fma(v, d1);
        }
        int o = token * rows + rowOffset;
        a0.intoArray(out, o);
        a1.intoArray(out, o + 16);
        b0.intoArray(out, o + rows);
        b1.intoArray(out, o + rows + 16);
        c0.intoArray(out, o + 2 * rows);
        c1.intoArray(out, o + 2 * rows + 16);
        d0.intoArray(out, o + 3 * rows);
        d1.intoArray(out, o + 3 * rows + 16);
    }

    /**
     * Tokens {@code token} and {@code token + 1}: four chains of multiply-adds, where one token's two wait on each
     * other's latency.
     */
    private static void tokens2(float[] tile, int cols, float[] x, int token, float[] out, int rows, int rowOffset) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, b0 = a0, b1 = a0;
        int xa = token * cols;
        for (int k = 0; k < cols; k++) {
            FloatVector w0 = FloatVector.fromArray(FLOATS, tile, k * GROUP);
            FloatVector w1 = FloatVector.fromArray(FLOATS, tile, k * GROUP + 16);
            FloatVector v = FloatVector.broadcast(FLOATS, x[xa + k]);
            a0 = w0.fma(v, a0);
            a1 = w1.fma(v, a1);
            v = FloatVector.broadcast(FLOATS, x[xa + cols + k]);
            b0 = w0.fma(v, b0);
            b1 = w1.fma(v, b1);
        }
        int o = token * rows + rowOffset;
        a0.intoArray(out, o);
        a1.intoArray(out, o + 16);
        b0.intoArray(out, o + rows);
        b1.intoArray(out, o + rows + 16);
    }

    /** One token against a decoded group, each row's sum in the same order as in {@link #tokens12}. */
    private static void token(float[] tile, int cols, float[] x, int token, float[] out, int rows, int rowOffset) {
        FloatVector a0 = FloatVector.zero(FLOATS);
        FloatVector a1 = a0;
        int xa = token * cols;
        for (int k = 0; k < cols; k++) {
            FloatVector v = FloatVector.broadcast(FLOATS, x[xa + k]);
            a0 = FloatVector.fromArray(FLOATS, tile, k * GROUP).fma(v, a0);
            a1 = FloatVector.fromArray(FLOATS, tile, k * GROUP + 16).fma(v, a1);
        }
        a0.intoArray(out, token * rows + rowOffset);
        a1.intoArray(out, token * rows + rowOffset + 16);
    }
}
