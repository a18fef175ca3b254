package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/** IEEE half floats. */
sealed class F16Matrix extends WeightMatrix permits F16VectorMatrix {

    F16Matrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int i = 0; i < cols; i++) {
            sum += f16(data, base + 2L * i) * x[xOffset + i];
        }
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int i = 0; i < cols; i++) {
            out[outOffset + i] = f16(data, base + 2L * i);
        }
    }
}
