package dev.streamingllm.backend.cpu;

import java.util.function.Supplier;

/**
 * A quantized matrix's rows copied, when the CPU backend loads it ({@link Lazy}), into groups of {@value #GROUP} rows
 * interleaved weight by weight, so that one 512-bit vector of 16-bit lanes holds the same weight of every row of a
 * group: a decode step multiplies a group's rows at once against the activations quantized to 11 bits
 * ({@link QuantizedActivations}), each activation broadcast once for all of them, and no lane is ever summed across.
 * Read row by row, a block's scale conversion, loads and reduction cost once per row; here once per group.
 */
sealed interface InterleavedRows permits InterleavedNibbles, InterleavedSuperBlocks {

    /** Rows per group: the 16-bit lanes of a 512-bit vector. */
    int GROUP = 32;

    /** Whether matrices are held this way where they can be: unless {@code -Dstreamingllm.interleave=false}. */
    boolean ENABLED = Boolean.parseBoolean(System.getProperty("streamingllm.interleave", "true"));

    /**
     * Whether {@code matrix} can be held this way: rows in whole groups, on a machine whose preferred vectors are
     * 512 bits (with 256 the group kernel's vectors would be split in two, and the row kernels multiply integers
     * there already).
     */
    static boolean applies(WeightMatrix matrix) {
        return ENABLED && VectorKernels.L == 16 && matrix.rows % GROUP == 0 && matrix.rows > 0;
    }

    /**
     * Rows {@code [start, end)} of the matrix's {@code rows} against {@code batch} tokens, into
     * {@code out[b * rows + r]}, a token getting the same bits whichever other tokens share the call.
     */
    void multiply(QuantizedActivations x, float[] out, int rows, int batch, int start, int end);

    /**
     * A matrix's copy, made when first needed: the CPU backend asks for it at load ({@link WeightMatrix#prepareForDecode}),
     * while a model decoded on the GPU keeps its host matrices for the embedding rows and never makes it. The first
     * threads to need the copy wait while one of them makes it.
     */
    final class Lazy {

        private final Supplier<InterleavedRows> copy;
        private final int tiledFrom;
        private volatile InterleavedRows built;

        /** {@code tiledFrom}: the tokens from which a matmul goes through {@link Gemm}'s float tiles instead. */
        Lazy(Supplier<InterleavedRows> copy, int tiledFrom) {
            this.copy = copy;
            this.tiledFrom = tiledFrom;
        }

        int tiledFrom() {
            return tiledFrom;
        }

        InterleavedRows get() {
            InterleavedRows groups = built;
            if (groups == null) {
                synchronized (this) {
                    groups = built;
                    if (groups == null) {
                        groups = copy.get();
                        built = groups;
                    }
                }
            }
            return groups;
        }

        /** Whether the copy has been made. */
        boolean isBuilt() {
            return built != null;
        }
    }
}
