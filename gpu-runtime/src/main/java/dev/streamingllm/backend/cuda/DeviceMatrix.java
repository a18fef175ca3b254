package dev.streamingllm.backend.cuda;

import dev.streamingllm.backend.cpu.WeightMatrix;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFTensor;
import java.util.Set;

/**
 * A weight matrix on the device, uploaded once. F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K and
 * Q6_K keep their GGML encoding (the kernels read it as is); other types (Q5_K, in Q5_K_M files) are
 * dequantized on the host and stored as F32, exact but larger.
 */
record DeviceMatrix(String name, GGMLType type, int rows, int cols, Cuda.DevicePtr data, long bytes) {

    static final Set<GGMLType> NATIVE = Set.of(GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1,
            GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q4_K, GGMLType.Q6_K);

    static DeviceMatrix upload(GGUFTensor tensor) {
        int rows = tensor.rows();
        int cols = tensor.cols();
        if (NATIVE.contains(tensor.type())) {
            long bytes = tensor.data().byteSize();
            Cuda.DevicePtr data = Cuda.malloc(bytes, tensor.name());
            Cuda.upload(data, tensor.data());
            return new DeviceMatrix(tensor.name(), tensor.type(), rows, cols, data, bytes);
        }
        WeightMatrix host = WeightMatrix.of(tensor);
        long bytes = (long) rows * cols * Float.BYTES;
        Cuda.DevicePtr data = Cuda.malloc(bytes, tensor.name());
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            host.dequantizeRow(r, row, 0);
            Cuda.upload(data.plus((long) r * cols * Float.BYTES), row, 0, cols);
        }
        return new DeviceMatrix(tensor.name(), GGMLType.F32, rows, cols, data, bytes);
    }

    /** The matrix-vector kernel for this encoding. */
    String matvecKernel() {
        return switch (type) {
            case F32 -> "matvec_f32";
            case F16 -> "matvec_f16";
            case BF16 -> "matvec_bf16";
            case Q8_0 -> "matvec_q8_0";
            case Q4_0 -> "matvec_q4_0";
            case Q4_1 -> "matvec_q4_1";
            case Q5_0 -> "matvec_q5_0";
            case Q5_1 -> "matvec_q5_1";
            case Q4_K -> "matvec_q4_k";
            case Q6_K -> "matvec_q6_k";
            default -> throw new IllegalStateException("no kernel for " + type);
        };
    }

    /** Whether the GEMM path must first dequantize this matrix to f16. */
    boolean quantized() {
        return switch (type) {
            case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K -> true;
            default -> false;
        };
    }

    void free() {
        Cuda.free(data);
    }
}
