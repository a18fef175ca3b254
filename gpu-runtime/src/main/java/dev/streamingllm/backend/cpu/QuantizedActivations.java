package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.H;
import static dev.streamingllm.backend.cpu.VectorKernels.I;
import static dev.streamingllm.backend.cpu.VectorKernels.L;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * A batch of activation rows quantized once per matmul, for kernels that multiply integers: blocks of
 * 32 values, each block one float scale {@code d = max|x| / 1023} and the values rounded to integers in
 * [-1023, 1023]. Eleven bits is the most that keeps the 4-bit kernels' 16-bit sums exact (their pair
 * sum adds four products of at most 8 x 1023 in 16 bits), and eight times finer than the 8-bit activations llama.cpp
 * uses, which moved the logits of the Q4_0 test model by 2% of the largest against the float64
 * reference; these stay well inside 1%.
 */
final class QuantizedActivations {

    static final int BLOCK = 32;
    static final int MAX = 1023;
    /** 1.5 * 2^23: added to and subtracted from a float below 2^22, it leaves the float rounded to an integer. */
    private static final float ROUND = 0x1.8p23f;

    /** {@code batch x cols} values in [-MAX, MAX], as shorts: the kernels multiply 16-bit lanes. */
    final short[] values;
    /** Per block: its scale {@code d}. */
    final float[] scales;
    /** Per block: {@code d} times the sum of its values, for weights stored with an offset (Q4_K's minimum). */
    final float[] sums;

    /**
     * Rounds {@code batch} rows of {@code cols} values, with the Vector API (this class serves the vector
     * kernels only): one block is a few vector operations where element by element it was 5% of a
     * decode step, run on one thread while the others wait.
     */
    QuantizedActivations(float[] x, int batch, int cols) {
        int blocks = batch * cols / BLOCK;
        values = new short[batch * cols];
        scales = new float[blocks];
        sums = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            int from = b * BLOCK;
            FloatVector amax = FloatVector.zero(F);
            for (int i = 0; i < BLOCK; i += L) {
                amax = amax.max(FloatVector.fromArray(F, x, from + i).abs());
            }
            float d = amax.reduceLanes(VectorOperators.MAX) / MAX;
            if (d == 0) {
                continue;
            }
            IntVector sum = IntVector.zero(I);
            for (int i = 0; i < BLOCK; i += L) {
                // Clamped: with subnormal activations d keeps too few bits for x / d to stay within MAX.
                // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer (ties to even).
                FloatVector scaled = FloatVector.fromArray(F, x, from + i).div(d).max(-MAX).min(MAX).add(ROUND).sub(ROUND);
                IntVector q = (IntVector) scaled.convert(VectorOperators.F2I, 0);
                ((ShortVector) q.convertShape(VectorOperators.I2S, H, 0)).intoArray(values, from + i);
                sum = sum.add(q);
            }
            scales[b] = d;
            sums[b] = d * sum.reduceLanes(VectorOperators.ADD);
        }
    }

    /** The value of element {@code i} as the kernels see it: {@code d * q}. */
    float dequantized(int i) {
        return scales[i / BLOCK] * values[i];
    }
}
