package dev.streamingllm.backend.cpu;

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

    /** {@code batch x cols} values in [-MAX, MAX], as shorts: the kernels multiply 16-bit lanes. */
    final short[] values;
    /** Per block: its scale {@code d}. */
    final float[] scales;
    /** Per block: {@code d} times the sum of its values, for weights stored with an offset (Q4_K's minimum). */
    final float[] sums;

    QuantizedActivations(float[] x, int batch, int cols) {
        int blocks = batch * cols / BLOCK;
        values = new short[batch * cols];
        scales = new float[blocks];
        sums = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            int from = b * BLOCK;
            float amax = 0;
            for (int i = 0; i < BLOCK; i++) {
                amax = Math.max(amax, Math.abs(x[from + i]));
            }
            float d = amax / MAX;
            int sum = 0;
            for (int i = 0; i < BLOCK; i++) {
                // Clamped: with subnormal activations d keeps too few bits for x / d to stay within MAX.
                values[from + i] = d == 0 ? 0 : (short) Math.clamp(Math.round(x[from + i] / d), -MAX, MAX);
                sum += values[from + i];
            }
            scales[b] = d;
            sums[b] = d * sum;
        }
    }

    /** The value of element {@code i} as the kernels see it: {@code d * q}. */
    float dequantized(int i) {
        return scales[i / BLOCK] * values[i];
    }
}
