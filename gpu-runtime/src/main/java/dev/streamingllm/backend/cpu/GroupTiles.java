package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.InterleavedRows.GROUP;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Gemm}'s work on a matrix held in {@link InterleavedRows}, read from the copy instead of the file, so that a
 * model whose copies are kept never reads those pages of its file again. A group's 32 rows are decoded once into a
 * tile of floats, weight by weight ({@link InterleavedRows#decode}), and each token's 32 sums stay in two vectors,
 * a lane a row: the kernels broadcast an activation against a weight's two vectors and never sum across lanes, which
 * makes them 1.5-1.6 times as fast as {@code Gemm}'s on one thread (BENCHMARKS.md). Every kernel adds a row's
 * products in the same order, so a token gets the same bits whichever batch it is in. The kernels name their
 * accumulators rather than keep them in an array of vectors, which C2 would allocate.
 */
final class GroupTiles {

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_512;

    private GroupTiles() {
    }

    /**
     * Rows {@code [start, end)} of {@code copy}, whole groups, against {@code batch} float tokens
     * ({@code x[b * cols + k]}), into {@code out[b * rows + r]}; {@code tile} holds a group ({@code 32 * cols} floats).
     */
    static void multiply(InterleavedRows copy, int cols, float[] x, float[] out, int rows, int batch, int start, int end, float[] tile) {
        if (start % GROUP != 0 || end % GROUP != 0) {
            throw new IllegalArgumentException("rows [" + start + ", " + end + ") cut a group of " + GROUP);
        }
        for (int g = start / GROUP; g < end / GROUP; g++) {
            copy.decode(g, tile);
            int b = 0;
            for (; b + 8 <= batch; b += 8) {
                tokens8(tile, cols, x, b, out, rows, g * GROUP);
            }
            for (; b + 4 <= batch; b += 4) {
                tokens4(tile, cols, x, b, out, rows, g * GROUP);
            }
            for (; b < batch; b++) {
                token(tile, cols, x, b, out, rows, g * GROUP);
            }
        }
    }

    /** Tokens {@code [token, token + 8)} against a decoded group: sixteen sums of 16 rows, each weight vector loaded once for all. */
    private static void tokens8(float[] tile, int cols, float[] x, int token, float[] out, int rows, int rowOffset) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        FloatVector e0 = a0, e1 = a0, f0 = a0, f1 = a0, g0 = a0, g1 = a0, h0 = a0, h1 = a0;
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
            v = FloatVector.broadcast(FLOATS, x[at + 4 * cols]);
            e0 = w0.fma(v, e0);
            e1 = w1.fma(v, e1);
            v = FloatVector.broadcast(FLOATS, x[at + 5 * cols]);
            f0 = w0.fma(v, f0);
            f1 = w1.fma(v, f1);
            v = FloatVector.broadcast(FLOATS, x[at + 6 * cols]);
            g0 = w0.fma(v, g0);
            g1 = w1.fma(v, g1);
            v = FloatVector.broadcast(FLOATS, x[at + 7 * cols]);
            h0 = w0.fma(v, h0);
            h1 = w1.fma(v, h1);
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
        e0.intoArray(out, o + 4 * rows);
        e1.intoArray(out, o + 4 * rows + 16);
        f0.intoArray(out, o + 5 * rows);
        f1.intoArray(out, o + 5 * rows + 16);
        g0.intoArray(out, o + 6 * rows);
        g1.intoArray(out, o + 6 * rows + 16);
        h0.intoArray(out, o + 7 * rows);
        h1.intoArray(out, o + 7 * rows + 16);
    }

    /** Tokens {@code [token, token + 4)} as {@link #tokens8} takes eight. */
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

    /** One token against a decoded group, each row's sum in the same order as in {@link #tokens8}. */
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
