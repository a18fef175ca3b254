package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/** Plain 32-bit floats. */
sealed class F32Matrix extends WeightMatrix permits F32VectorMatrix {

    F32Matrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int i = 0; i < cols; i++) {
            sum += data.get(F32, base + 4L * i) * x[xOffset + i];
        }
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int i = 0; i < cols; i++) {
            out[outOffset + i] = data.get(F32, base + 4L * i);
        }
    }
}
