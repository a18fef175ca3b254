package dev.streamingllm.llama;

/**
 * Rotary position embedding. Angles are computed in double from the position so that the window's
 * ever-growing positions (see {@code SinkCache}) stay exact over millions of tokens.
 */
public final class Rope {

    private final int headDim;
    private final int ropeDim;
    private final boolean neox;
    private final double[] inverseFrequency;

    public Rope(ModelConfig config, float[] frequencyFactors) {
        this.headDim = config.headDim();
        this.ropeDim = config.ropeDim();
        this.neox = config.ropeNeox();
        this.inverseFrequency = inverseFrequencies(config, frequencyFactors);
    }

    /** The angle per position of each rotated pair; GPU backends compute their angles from the same values. */
    public static double[] inverseFrequencies(ModelConfig config, float[] frequencyFactors) {
        int ropeDim = config.ropeDim();
        double[] inverse = new double[ropeDim / 2];
        for (int i = 0; i < ropeDim / 2; i++) {
            double frequency = 1.0 / Math.pow(config.ropeBase(), (2.0 * i) / ropeDim) / config.ropeScale();
            // Llama 3.1 style per-dimension factors (rope_freqs.weight) divide the frequency.
            inverse[i] = frequencyFactors == null ? frequency : frequency / frequencyFactors[i];
        }
        return inverse;
    }

    /** cos and sin for one position, interleaved: table[2i] = cos, table[2i + 1] = sin. */
    public float[] table(long position) {
        float[] table = new float[ropeDim];
        for (int i = 0; i < ropeDim / 2; i++) {
            double angle = position * inverseFrequency[i];
            table[2 * i] = (float) Math.cos(angle);
            table[2 * i + 1] = (float) Math.sin(angle);
        }
        return table;
    }

    /** Rotates {@code heads} consecutive heads of {@code vector} starting at {@code offset}, in place. */
    public void rotate(float[] vector, int offset, int heads, float[] table) {
        int half = ropeDim / 2;
        for (int h = 0; h < heads; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < half; i++) {
                float cos = table[2 * i];
                float sin = table[2 * i + 1];
                int a = neox ? base + i : base + 2 * i;
                int b = neox ? base + i + half : base + 2 * i + 1;
                float x0 = vector[a];
                float x1 = vector[b];
                vector[a] = x0 * cos - x1 * sin;
                vector[b] = x0 * sin + x1 * cos;
            }
        }
    }

    /** Like {@link #rotate} but writes into {@code out} and leaves the source untouched. */
    public void rotateInto(float[] source, int sourceOffset, float[] out, int outOffset, int heads, float[] table) {
        System.arraycopy(source, sourceOffset, out, outOffset, heads * headDim);
        rotate(out, outOffset, heads, table);
    }
}
