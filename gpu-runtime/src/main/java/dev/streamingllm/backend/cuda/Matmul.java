package dev.streamingllm.backend.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_DEFAULT_MATH;
import static org.bytedeco.cuda.global.cublas.CUBLAS_GEMM_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cublas.cublasCreate_v2;
import static org.bytedeco.cuda.global.cublas.cublasDestroy_v2;
import static org.bytedeco.cuda.global.cublas.cublasGemmEx;
import static org.bytedeco.cuda.global.cublas.cublasSetMathMode;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import dev.streamingllm.gguf.GGMLType;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Matrix products on the device, {@code out[n][rows] = in[n][cols] x W^T}: the matrix-vector kernels
 * (which read the GGML encoding directly) for a few rows, cuBLAS GEMMs from {@link CudaOptions#gemmMinRows(GGMLType)}
 * on, with quantized weights first expanded to f16 in a scratch buffer.
 */
final class Matmul implements AutoCloseable {

    /** Input vectors per matrix-vector launch (MV_COLS in kernels.cu). */
    private static final int MV_COLS = 8;

    private final Kernels kernels;
    private final CudaOptions options;
    private final cublasContext cublas = new cublasContext();
    private final Cuda.DevicePtr halfActivations;
    private final Cuda.DevicePtr dequantized;
    /** cuBLAS's scalars, made once: native memory per GEMM cost two allocations and frees a product. */
    private final FloatPointer alpha = new FloatPointer(1f);
    private final FloatPointer beta = new FloatPointer(0f);

    /**
     * @param kernels          the compiled kernels
     * @param options          where cuBLAS takes over ({@link CudaOptions#gemmMinRows(GGMLType)})
     * @param maxRows          rows per pass
     * @param widest           the widest input row of any product
     * @param largestQuantized elements of the largest quantized matrix (0: none)
     */
    Matmul(Kernels kernels, CudaOptions options, int maxRows, int widest, long largestQuantized) {
        this.kernels = kernels;
        this.options = options;
        if (cublasCreate_v2(cublas) != CUBLAS_STATUS_SUCCESS) {
            throw new CudaException("cublasCreate failed");
        }
        // Default math: no TF32 for F32 GEMMs, so that they stay as exact as the CPU's.
        cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH);
        this.halfActivations = Cuda.malloc((long) maxRows * widest * 2, "f16 activations");
        this.dequantized = largestQuantized > 0 ? Cuda.malloc(largestQuantized * 2, "dequantized weights") : null;
    }

    void multiply(DeviceMatrix w, Cuda.DevicePtr in, Cuda.DevicePtr out, int n) {
        if (n < options.gemmMinRows(w.type())) {
            for (int c = 0; c < n; c += MV_COLS) {
                int cols = Math.min(MV_COLS, n - c);
                kernels.launch(w.matvecKernel(), (w.rows() + Kernels.BLOCK / 32 - 1) / (Kernels.BLOCK / 32), 1, Kernels.BLOCK, 0,
                        out.plus((long) c * w.rows() * Float.BYTES), w.data(), in.plus((long) c * w.cols() * Float.BYTES),
                        w.rows(), w.cols(), cols);
            }
            return;
        }
        // Column-major view: C (rows x n) = A^T (A = W as cols x rows) x B (in as cols x n).
        Cuda.DevicePtr a = w.data();
        Cuda.DevicePtr b = in;
        int type = CUDA_R_32F;
        if (w.type() != GGMLType.F32) {
            if (w.quantized()) {
                dequantize(w);
                a = dequantized;
            }
            boolean bf16 = w.type() == GGMLType.BF16;
            type = bf16 ? CUDA_R_16BF : CUDA_R_16F;
            kernels.elementwise(bf16 ? "f32_to_bf16_rows" : "f32_to_f16_rows", halfActivations, in, n * w.cols());
            b = halfActivations;
        }
        int status = cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, w.rows(), n, w.cols(), alpha, a, type, w.cols(), b, type, w.cols(),
                beta, out, CUDA_R_32F, w.rows(), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (status != CUBLAS_STATUS_SUCCESS) {
            throw new CudaException("cublasGemmEx for " + w.name() + " (" + w.rows() + " x " + w.cols() + ", " + n + " rows) failed: status " + status);
        }
    }

    private void dequantize(DeviceMatrix w) {
        long elements = (long) w.rows() * w.cols();
        long units = switch (w.type()) {
            case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 -> elements / 32;
            case Q4_K -> elements / 32; // eight sub-blocks of 32 per super-block of 256
            case Q6_K -> elements / 4; // 64 threads of four elements per super-block of 256
            default -> throw new IllegalStateException("not quantized: " + w.type());
        };
        String kernel = switch (w.type()) {
            case Q8_0 -> "dequant_q8_0_f16";
            case Q4_0 -> "dequant_q4_0_f16";
            case Q4_1 -> "dequant_q4_1_f16";
            case Q5_0 -> "dequant_q5_0_f16";
            case Q5_1 -> "dequant_q5_1_f16";
            case Q6_K -> "dequant_q6_k_f16";
            default -> "dequant_q4_k_f16";
        };
        kernels.launch(kernel, (int) ((units + Kernels.BLOCK - 1) / Kernels.BLOCK), 1, Kernels.BLOCK, 0, dequantized, w.data(), units);
    }

    @Override
    public void close() {
        Cuda.free(halfActivations);
        if (dequantized != null) {
            Cuda.free(dequantized);
        }
        cublasDestroy_v2(cublas);
        alpha.close();
        beta.close();
    }
}
