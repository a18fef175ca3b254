package dev.streamingllm.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A K-quant matrix (Q5_K, Q6_K) held in {@link InterleavedRows} super-block by super-block of 256 weights: the part of
 * the layout and the batching its group kernels share. A kernel takes a batch's tokens one by one, each group's tokens
 * before the next group so that its bytes are read from memory once for the batch.
 */
abstract sealed class InterleavedSuperBlocks implements InterleavedRows permits InterleavedQ5_K, InterleavedQ6_K {

    static final int BLOCK = 256;
    /** A group's 32 rows: bytes loaded into 16-bit lanes, whose sums widen into two vectors of 32-bit lanes, rows 0-15 and 16-31. */
    static final VectorSpecies<Byte> ROW_BYTES = ByteVector.SPECIES_256;
    static final VectorSpecies<Short> ROW_SHORTS = ShortVector.SPECIES_512;
    static final VectorSpecies<Integer> INTS = IntVector.SPECIES_512;
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_512;
    /** Half a group's rows' one-byte scales, widened to {@link #INTS}. */
    static final VectorSpecies<Byte> SCALE_BYTES = ByteVector.SPECIES_128;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    /**
     * Tokens from which a matmul goes through float tiles of the copy instead ({@link GroupTiles}), which are faster
     * from four (Xeon with AMX: llama-134m's 32,000 x 768 Q6_K output matrix on 2 threads, group kernels 3.1, 4.2 and
     * 5.9 ms at 3, 4 and 6 tokens, tiles 3.3, 2.8 and 3.2; a 2,048 x 768 Q5_K matrix on one thread, 298, 389 and 574
     * us against 387, 327 and 452).
     */
    static final int TILED_FROM = 4;

    final MemorySegment data;
    final int blocks;
    private final long blockBytes;
    private final int sub;

    /**
     * A copy of {@code cols} weights a row over {@code data}, {@code blockBytes} per group and super-block, whose
     * sub-blocks hold {@code sub} weights.
     */
    InterleavedSuperBlocks(int cols, long blockBytes, int sub, MemorySegment data) {
        this.blocks = cols / BLOCK;
        this.blockBytes = blockBytes;
        this.sub = sub;
        this.data = data;
    }

    /** Where super-block {@code block} of group {@code group} starts. */
    final long at(int group, int block) {
        return ((long) group * blocks + block) * blockBytes;
    }

    /** The group's weights as floats, sub-block by sub-block, rows 0-15 then 16-31 ({@link #decodeRows}). */
    @Override
    public final void decode(int group, float[] tile) {
        for (int b = 0; b < blocks; b++) {
            long block = at(group, b);
            for (int s = 0; s < BLOCK / sub; s++) {
                int k = (b * BLOCK + s * sub) * GROUP;
                decodeRows(block, s, 0, tile, k);
                decodeRows(block, s, 16, tile, k + 16);
            }
        }
    }

    /**
     * Rows {@code r} to {@code r + 15} of sub-block {@code subBlock} of the super-block at {@code block}: weight
     * {@code i} of row {@code r + l} at {@code tile[at + i * 32 + l]}.
     */
    abstract void decodeRows(long block, int subBlock, int r, float[] tile, int at);

    /**
     * Whole groups in vectors ({@link #multiply(int, QuantizedActivations, int, float[], int)}); the rows of a group
     * that the range cuts one by one ({@link #multiplyCutRows}).
     */
    @Override
    public final void multiply(QuantizedActivations x, float[] out, int rows, int batch, int start, int end) {
        multiplyCutRows(x, out, rows, batch, start, end);
        for (int g = (start + GROUP - 1) / GROUP; g < end / GROUP; g++) {
            for (int b = 0; b < batch; b++) {
                multiply(g, x, b, out, b * rows + g * GROUP);
            }
        }
    }

    /** {@code out[outOffset + r] = row(group * 32 + r) . x[token]} for the group's 32 rows. */
    abstract void multiply(int group, QuantizedActivations x, int token, float[] out, int outOffset);
}
