package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/** bfloat16: the upper half of a float32. */
sealed class BF16Matrix extends WeightMatrix permits BF16VectorMatrix {

    BF16Matrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int i = 0; i < cols; i++) {
            sum += Ops.bf16ToFloat(data.get(HALF, base + 2L * i)) * x[xOffset + i];
        }
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int i = 0; i < cols; i++) {
            out[outOffset + i] = Ops.bf16ToFloat(data.get(HALF, base + 2L * i));
        }
    }
}
