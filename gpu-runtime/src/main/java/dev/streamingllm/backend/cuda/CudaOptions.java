package dev.streamingllm.backend.cuda;

import dev.streamingllm.gguf.GGMLType;

/**
 * Sizing of the CUDA decoder.
 *
 * @param slotCapacity tokens one session's device cache holds (sinks + window, the largest a session may ask for);
 *                     every slot of the pool has this size. 0: as large as the cache the model is loaded for
 *                     ({@link #forCapacity})
 * @param maxSessions  slots to allocate; 0 allocates as many as fit in the device memory left after the weights
 * @param maxRows      rows (tokens) per forward pass: the largest prefill group or decode batch run at once
 * @param gemmMinRows  from this many rows on, products with quantized and BF16 matrices go through cuBLAS GEMMs
 *                     instead of the matrix-vector kernels
 * @param f16GemmMinRows the same for F16 and F32 matrices, which cuBLAS multiplies without expanding them first
 */
public record CudaOptions(int slotCapacity, int maxSessions, int maxRows, int gemmMinRows, int f16GemmMinRows) {

    public static final int DEFAULT_MAX_ROWS = 128;
    /**
     * From three rows on, cuBLAS beat the matrix-vector kernels on an H200 (TinyLlama-1.1B F16 and Q4_0, Llama-2-7B
     * F16: 1.3-2.4x at 4 and 8 rows); at two, Q4_0's whole-matrix dequantization cost more than it saved.
     */
    public static final int DEFAULT_GEMM_MIN_ROWS = 3;
    /**
     * F16 and F32 matrices go through cuBLAS from one row: with nothing to dequantize it beat the matrix-vector kernels
     * at every row count on an H200 (one session of TinyLlama-1.1B F16 4.0-4.2 ms a step against 7.1, of Llama-2-7B F16
     * 9.3-9.4 against 19.4). The activations are rounded to f16 for it, as for every batch of three rows or more.
     */
    public static final int DEFAULT_F16_GEMM_MIN_ROWS = 1;

    public CudaOptions {
        if (slotCapacity != 0 && slotCapacity < 2) {
            throw new IllegalArgumentException("slotCapacity must be >= 2 (sinks + window), or 0 for the model's cache, was " + slotCapacity);
        }
        if (maxSessions < 0) {
            throw new IllegalArgumentException("maxSessions must be >= 0 (0 = as many as fit), was " + maxSessions);
        }
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be >= 1, was " + maxRows);
        }
        if (gemmMinRows < 1) {
            throw new IllegalArgumentException("gemmMinRows must be >= 1, was " + gemmMinRows);
        }
        if (f16GemmMinRows < 1) {
            throw new IllegalArgumentException("f16GemmMinRows must be >= 1, was " + f16GemmMinRows);
        }
    }

    /** Rows from which a product with a matrix of {@code type} (as held on the device) goes through cuBLAS. */
    public int gemmMinRows(GGMLType type) {
        return type == GGMLType.F16 || type == GGMLType.F32 ? f16GemmMinRows : gemmMinRows;
    }

    /** Slots as large as the model's cache, as many as fit, default batch sizes. */
    public static final CudaOptions DEFAULT = new CudaOptions(0, 0, DEFAULT_MAX_ROWS, DEFAULT_GEMM_MIN_ROWS, DEFAULT_F16_GEMM_MIN_ROWS);

    /** These options with slots of {@code capacity} tokens where the slot capacity is left to the model's cache (0). */
    public CudaOptions forCapacity(int capacity) {
        return slotCapacity != 0 ? this : new CudaOptions(capacity, maxSessions, maxRows, gemmMinRows, f16GemmMinRows);
    }
}
