package dev.streamingllm.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A quantized matrix's rows copied, when the CPU backend loads it ({@link Lazy}), into groups of {@value #GROUP} rows
 * interleaved weight by weight, so that one 512-bit vector of 16-bit lanes holds the same weight of every row of a
 * group: a decode step multiplies a group's rows at once against the activations quantized to 11 bits
 * ({@link QuantizedActivations}), each activation broadcast once for all of them, and no lane is ever summed across.
 * Read row by row, a block's scale conversion, loads and reduction cost once per row; here once per group. Batches
 * read the copy too, decoded to floats a group at a time ({@link GroupTiles}), so the file's pages of a copied matrix
 * are not read again.
 */
sealed interface InterleavedRows permits InterleavedNibbles, InterleavedSuperBlocks {

    /** Rows per group: the 16-bit lanes of a 512-bit vector. */
    int GROUP = 32;

    /** Whether matrices are held this way where they can be: unless {@code -Dstreamingllm.interleave=false}. */
    boolean ENABLED = Boolean.parseBoolean(System.getProperty("streamingllm.interleave", "true"));

    /**
     * Whether {@code matrix} can be held this way: rows in whole groups, on a machine whose preferred vectors are
     * 512 bits (with 256 the group kernels' vectors would be split in two).
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
     * Group {@code group}'s 32 rows as floats, weight by weight: weight {@code k} of row {@code r} at
     * {@code tile[k * 32 + r]}, for {@link GroupTiles}.
     */
    void decode(int group, float[] tile);

    /** Row {@code row} against token {@code token}: its lane of the group kernel, in scalars, with the same arithmetic. */
    float row(int row, QuantizedActivations x, int token);

    /**
     * The part of {@link #multiply} that the group kernels cannot take: the rows of {@code [start, end)} in the groups
     * that the range cuts, one by one ({@link #row}); the whole groups are those from {@code (start + 31) / 32} to
     * {@code end / 32}.
     */
    default void multiplyCutRows(QuantizedActivations x, float[] out, int rows, int batch, int start, int end) {
        int first = Math.min(end, (start + GROUP - 1) / GROUP * GROUP);
        int last = Math.max(first, end / GROUP * GROUP);
        for (int b = 0; b < batch; b++) {
            for (int r = start; r < first; r++) {
                out[b * rows + r] = row(r, x, b);
            }
            for (int r = last; r < end; r++) {
                out[b * rows + r] = row(r, x, b);
            }
        }
    }

    /**
     * A matrix's copy, made when first needed: the CPU backend has it made at load, in its {@link CopyStore}
     * ({@link WeightMatrix#prepareForDecode}), while a model decoded on the GPU keeps its host matrices for the embedding
     * rows and never makes it; a multiply that finds none makes it in the process's memory. The first threads to need
     * the copy wait while one of them makes it.
     */
    final class Lazy {

        private final String name;
        private final long bytes;
        private final Function<MemorySegment, ? extends InterleavedRows> view;
        private final Consumer<MemorySegment> fill;
        private final int tiledFrom;
        private volatile InterleavedRows built;

        private Lazy(String name, long bytes, Function<MemorySegment, ? extends InterleavedRows> view, Consumer<MemorySegment> fill,
                int tiledFrom) {
            this.name = name;
            this.bytes = bytes;
            this.view = view;
            this.fill = fill;
            this.tiledFrom = tiledFrom;
        }

        /**
         * {@code matrix}'s copy in {@code layout}, {@code groupBlockBytes} bytes per group and block of {@code block}
         * weights, named in a store ({@link CopyStore}) by the matrix and the layout, read through {@code view} and
         * written by {@code fill}; from {@code tiledFrom} tokens a matmul goes through float tiles instead ({@link Gemm}, which
         * reads the copy once made, {@link GroupTiles}).
         */
        static <T extends InterleavedRows> Lazy of(WeightMatrix matrix, String layout, int block, long groupBlockBytes,
                Function<MemorySegment, T> view, Consumer<T> fill, int tiledFrom) {
            long bytes = (long) matrix.rows / GROUP * (matrix.cols / block) * groupBlockBytes;
            return new Lazy(matrix.name + "." + layout, bytes, view, segment -> fill.accept(view.apply(segment)), tiledFrom);
        }

        int tiledFrom() {
            return tiledFrom;
        }

        /** The copy, made in the process's memory if it is not made yet. */
        InterleavedRows get() {
            return get(CopyStore.ANONYMOUS);
        }

        /** The copy, made in {@code store} if it is not made yet. */
        InterleavedRows get(CopyStore store) {
            InterleavedRows groups = built;
            if (groups == null) {
                synchronized (this) {
                    groups = built;
                    if (groups == null) {
                        groups = view.apply(store.segment(name, bytes, fill));
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
