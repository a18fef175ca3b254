package dev.streamingllm.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A 4-bit matrix (Q4_0, Q4_1, Q4_K) held in {@link InterleavedRows}: a weight costs a fifth of a 16-bit multiply, which
 * is why this layout decodes about twice as fast as the file's (BENCHMARKS.md). llama.cpp repacks Q4_0 the same way on
 * x86.
 *
 * <p>Per group and block: {@value #QUANT_BYTES} quant bytes, byte {@code j} of row {@code r} at {@code 32 * j + r}
 * (a byte holds weights {@code j} and {@code j + 16}, as in the file), then the rows' scales {@code d} as floats,
 * then, for Q4_1, each row's {@code 8 * d + m}: the weight {@code d * q + m} is taken as {@code d * (q - 8)} plus that
 * offset, so the products stay signed and four of them fit 16 bits ({@code 4 * 8 * 1023}). A Q4_K sub-block of 32 is
 * such a block, with {@code d} its scale times the super-block's and {@code m} minus its minimum times the
 * super-block's, both exact in floats. The copy lives off the Java heap, as large as the file's blocks plus a tenth
 * (a fifth for Q4_1, a third for Q4_K).
 */
final class InterleavedNibbles implements InterleavedRows {

    private static final int BLOCK = 32;
    private static final int QUANT_BYTES = GROUP * BLOCK / 2;
    private static final VectorSpecies<Short> ROW_SHORTS = ShortVector.SPECIES_512;
    private static final VectorSpecies<Byte> ROW_BYTES = ByteVector.SPECIES_256;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_512;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    private final MemorySegment data;
    private final int blocks;
    private final boolean offsets;
    private final long groupBlockBytes;

    /**
     * Tokens from which a matmul goes through float tiles of the copy instead ({@link GroupTiles}). The group kernels
     * unpack a group's weights once for up to four tokens, and a tile's decoding, shared by the whole batch, catches up
     * with them at about twelve (a 1,536 x 576 Q4_1 matrix on one thread, Xeon with AMX: group kernels 98, 199, 304
     * and 398 us at 4, 8, 12 and 16 tokens, tiles 164, 208, 278 and 317).
     */
    static final int TILED_FROM = 12;

    /** The layout's version in the names of kept copies ({@link CopyStore}): a change of layout changes it. */
    private static final String LAYOUT = "nibbles-1";

    /** A copy of {@code cols} weights a row over {@code data}, filled block by block with {@link #put}. */
    private InterleavedNibbles(int cols, boolean offsets, MemorySegment data) {
        this.blocks = cols / BLOCK;
        this.offsets = offsets;
        this.groupBlockBytes = groupBlockBytes(offsets);
        this.data = data;
    }

    private static long groupBlockBytes(boolean offsets) {
        return QUANT_BYTES + (offsets ? 2L : 1L) * GROUP * Float.BYTES;
    }

    /** {@code matrix}'s copy, with an offset per block when {@code offsets}, made by {@code fill} ({@link #put}). */
    static InterleavedRows.Lazy lazy(WeightMatrix matrix, boolean offsets, Consumer<InterleavedNibbles> fill) {
        return InterleavedRows.Lazy.of(matrix, LAYOUT + (offsets ? "-offsets" : ""), BLOCK, groupBlockBytes(offsets),
                data -> new InterleavedNibbles(matrix.cols, offsets, data), fill, TILED_FROM);
    }

    /**
     * A Q4_0 or Q4_1 matrix's copy: a block of {@code blockBytes} starts with its scale {@code d} as an IEEE half,
     * then, when {@code offsets}, its minimum {@code m}, then 16 quant bytes.
     */
    static InterleavedRows.Lazy ofBlocks(WeightMatrix matrix, long blockBytes, boolean offsets) {
        return lazy(matrix, offsets, groups -> {
            long quantsAt = offsets ? 4 : 2;
            byte[] quants = new byte[BLOCK / 2];
            for (int r = 0; r < matrix.rows; r++) {
                for (int b = 0; b < groups.blocks; b++) {
                    long from = (long) r * matrix.rowBytes + b * blockBytes;
                    MemorySegment.copy(matrix.data, ValueLayout.JAVA_BYTE, from + quantsAt, quants, 0, quants.length);
                    groups.put(r, b, quants, WeightMatrix.f16(matrix.data, from), offsets ? WeightMatrix.f16(matrix.data, from + 2) : 0f);
                }
            }
        });
    }

    /**
     * Block {@code block} of row {@code row}: its 16 quant bytes as Q4_0 and Q4_1 store them (byte {@code j} holds
     * weights {@code j} and {@code j + 16}, low nibble first), for weights {@code d * q + m} (Q4_1) or
     * {@code d * (q - 8)} (Q4_0, {@code m} unused).
     */
    void put(int row, int block, byte[] quants, float d, float m) {
        long to = at(row / GROUP, block);
        int r = row % GROUP;
        for (int j = 0; j < BLOCK / 2; j++) {
            data.set(ValueLayout.JAVA_BYTE, to + (long) GROUP * j + r, quants[j]);
        }
        data.set(FLOAT, to + QUANT_BYTES + (long) Float.BYTES * r, d);
        if (offsets) {
            data.set(FLOAT, to + QUANT_BYTES + (long) Float.BYTES * (GROUP + r), 8 * d + m);
        }
    }

    /**
     * Whole groups in vectors, four tokens at a time, then two, then one; the rows of a group that the range cuts one
     * by one ({@link #multiplyCutRows}). Every way gives a token the bits it gets alone.
     */
    @Override
    public void multiply(QuantizedActivations x, float[] out, int rows, int batch, int start, int end) {
        multiplyCutRows(x, out, rows, batch, start, end);
        int firstGroup = (start + GROUP - 1) / GROUP;
        int lastGroup = end / GROUP;
        int b = 0;
        for (int tokens; (tokens = batch - b >= 4 ? 4 : batch - b >= 2 ? 2 : 0) > 0; b += tokens) {
            for (int g = firstGroup; g < lastGroup; g++) {
                multiplyTokens(g, x, b, tokens, out, rows, g * GROUP);
            }
        }
        if (b < batch) {
            for (int g = firstGroup; g < lastGroup; g += 2) {
                multiply(g, Math.min(2, lastGroup - g), x, b, out, b * rows + g * GROUP);
            }
        }
    }

    /** The group's weights as floats, {@code d * (q - 8)} plus the block's offset. */
    @Override
    public void decode(int group, float[] tile) {
        VectorSpecies<Byte> rowBytes = ByteVector.SPECIES_128;
        for (int b = 0; b < blocks; b++) {
            long block = at(group, b);
            long scales = block + QUANT_BYTES;
            FloatVector d0 = FloatVector.fromMemorySegment(FLOATS, data, scales, LE);
            FloatVector d1 = FloatVector.fromMemorySegment(FLOATS, data, scales + 16 * Float.BYTES, LE);
            FloatVector m0 = offsets ? FloatVector.fromMemorySegment(FLOATS, data, scales + GROUP * Float.BYTES, LE) : FloatVector.zero(FLOATS);
            FloatVector m1 = offsets ? FloatVector.fromMemorySegment(FLOATS, data, scales + (GROUP + 16) * Float.BYTES, LE) : FloatVector.zero(FLOATS);
            int k = b * BLOCK * GROUP;
            for (int j = 0; j < BLOCK / 2; j++) {
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(rowBytes, data, block + (long) GROUP * j, LE).castShape(INTS, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(rowBytes, data, block + (long) GROUP * j + 16, LE).castShape(INTS, 0);
                int low = k + j * GROUP;
                int high = k + (j + 16) * GROUP;
                ((FloatVector) q0.and(0xF).sub(8).convert(VectorOperators.I2F, 0)).fma(d0, m0).intoArray(tile, low);
                ((FloatVector) q1.and(0xF).sub(8).convert(VectorOperators.I2F, 0)).fma(d1, m1).intoArray(tile, low + 16);
                ((FloatVector) q0.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8).convert(VectorOperators.I2F, 0)).fma(d0, m0).intoArray(tile, high);
                ((FloatVector) q1.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8).convert(VectorOperators.I2F, 0)).fma(d1, m1).intoArray(tile, high + 16);
            }
        }
    }

    /** One row's lane of the group kernel ({@link #multiply(int, int, QuantizedActivations, int, float[], int)}), in scalars. */
    @Override
    public float row(int row, QuantizedActivations x, int token) {
        int lane = row % GROUP;
        float acc = 0f;
        for (int b = 0; b < blocks; b++) {
            long block = at(row / GROUP, b);
            int xb = (token * blocks + b) * BLOCK;
            int sum = 0;
            for (int j = 0; j < BLOCK / 2; j++) {
                int q = data.get(ValueLayout.JAVA_BYTE, block + (long) GROUP * j + lane) & 0xFF;
                sum += ((q & 0xF) - 8) * x.values[xb + j] + ((q >>> 4) - 8) * x.values[xb + j + 16];
            }
            long scales = block + QUANT_BYTES;
            acc = Math.fma(sum * data.get(FLOAT, scales + (long) Float.BYTES * lane), x.scales[token * blocks + b], acc);
            if (offsets) {
                acc = Math.fma(data.get(FLOAT, scales + (long) Float.BYTES * (GROUP + lane)), x.sums[token * blocks + b], acc);
            }
        }
        return acc;
    }

    private long at(int group, int block) {
        return ((long) group * blocks + block) * groupBlockBytes;
    }

    /**
     * {@code out[(token + i) * rows + rowOffset + r] = row(group * 32 + r) . x[token + i]} for the group's 32 rows and
     * {@code tokens} tokens, 2 or 4: {@link #multiply(int, int, QuantizedActivations, int, float[], int)} with the nibbles
     * loaded and unpacked once for all the tokens, so only the products and sums repeat per token. Every token's sums
     * are formed in the same order as there, so a token gets the same bits in a batch as alone. The tokens are named
     * variables rather than an array of vectors, which C2 would allocate. The one-token kernel stays apart: with this
     * one's branches, a token alone cost 2-6% more.
     */
    private void multiplyTokens(int group, QuantizedActivations x, int token, int tokens, float[] out, int rows, int rowOffset) {
        short[] values = x.values;
        FloatVector accA0 = FloatVector.zero(FLOATS);
        FloatVector accA1 = FloatVector.zero(FLOATS);
        FloatVector accB0 = FloatVector.zero(FLOATS);
        FloatVector accB1 = FloatVector.zero(FLOATS);
        FloatVector accC0 = FloatVector.zero(FLOATS);
        FloatVector accC1 = FloatVector.zero(FLOATS);
        FloatVector accD0 = FloatVector.zero(FLOATS);
        FloatVector accD1 = FloatVector.zero(FLOATS);
        for (int b = 0; b < blocks; b++) {
            long block = at(group, b);
            int xA = (token * blocks + b) * BLOCK;
            int xB = ((token + 1) * blocks + b) * BLOCK;
            int xC = ((token + 2) * blocks + b) * BLOCK;
            int xD = ((token + 3) * blocks + b) * BLOCK;
            IntVector sumA0 = IntVector.zero(INTS);
            IntVector sumA1 = IntVector.zero(INTS);
            IntVector sumB0 = IntVector.zero(INTS);
            IntVector sumB1 = IntVector.zero(INTS);
            IntVector sumC0 = IntVector.zero(INTS);
            IntVector sumC1 = IntVector.zero(INTS);
            IntVector sumD0 = IntVector.zero(INTS);
            IntVector sumD1 = IntVector.zero(INTS);
            for (int j = 0; j < BLOCK / 2; j += 2) {
                ShortVector q0 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, block + (long) GROUP * j, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                ShortVector q1 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, block + (long) GROUP * (j + 1), LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                ShortVector low0 = q0.and((short) 0xF).sub((short) 8);
                ShortVector high0 = q0.lanewise(VectorOperators.LSHR, 4).sub((short) 8);
                ShortVector low1 = q1.and((short) 0xF).sub((short) 8);
                ShortVector high1 = q1.lanewise(VectorOperators.LSHR, 4).sub((short) 8);
                ShortVector productsA = low0.mul(values[xA + j]).add(high0.mul(values[xA + j + 16]))
                        .add(low1.mul(values[xA + j + 1])).add(high1.mul(values[xA + j + 17]));
                sumA0 = sumA0.add((IntVector) productsA.convertShape(VectorOperators.S2I, INTS, 0));
                sumA1 = sumA1.add((IntVector) productsA.convertShape(VectorOperators.S2I, INTS, 1));
                ShortVector productsB = low0.mul(values[xB + j]).add(high0.mul(values[xB + j + 16]))
                        .add(low1.mul(values[xB + j + 1])).add(high1.mul(values[xB + j + 17]));
                sumB0 = sumB0.add((IntVector) productsB.convertShape(VectorOperators.S2I, INTS, 0));
                sumB1 = sumB1.add((IntVector) productsB.convertShape(VectorOperators.S2I, INTS, 1));
                if (tokens == 4) {
                    ShortVector productsC = low0.mul(values[xC + j]).add(high0.mul(values[xC + j + 16]))
                            .add(low1.mul(values[xC + j + 1])).add(high1.mul(values[xC + j + 17]));
                    sumC0 = sumC0.add((IntVector) productsC.convertShape(VectorOperators.S2I, INTS, 0));
                    sumC1 = sumC1.add((IntVector) productsC.convertShape(VectorOperators.S2I, INTS, 1));
                    ShortVector productsD = low0.mul(values[xD + j]).add(high0.mul(values[xD + j + 16]))
                            .add(low1.mul(values[xD + j + 1])).add(high1.mul(values[xD + j + 17]));
                    sumD0 = sumD0.add((IntVector) productsD.convertShape(VectorOperators.S2I, INTS, 0));
                    sumD1 = sumD1.add((IntVector) productsD.convertShape(VectorOperators.S2I, INTS, 1));
                }
            }
            long scales = block + QUANT_BYTES;
            FloatVector d0 = FloatVector.fromMemorySegment(FLOATS, data, scales, LE);
            FloatVector d1 = FloatVector.fromMemorySegment(FLOATS, data, scales + 16 * Float.BYTES, LE);
            FloatVector scaleA = FloatVector.broadcast(FLOATS, x.scales[token * blocks + b]);
            accA0 = ((FloatVector) sumA0.convert(VectorOperators.I2F, 0)).mul(d0).fma(scaleA, accA0);
            accA1 = ((FloatVector) sumA1.convert(VectorOperators.I2F, 0)).mul(d1).fma(scaleA, accA1);
            FloatVector scaleB = FloatVector.broadcast(FLOATS, x.scales[(token + 1) * blocks + b]);
            accB0 = ((FloatVector) sumB0.convert(VectorOperators.I2F, 0)).mul(d0).fma(scaleB, accB0);
            accB1 = ((FloatVector) sumB1.convert(VectorOperators.I2F, 0)).mul(d1).fma(scaleB, accB1);
            if (tokens == 4) {
                FloatVector scaleC = FloatVector.broadcast(FLOATS, x.scales[(token + 2) * blocks + b]);
                accC0 = ((FloatVector) sumC0.convert(VectorOperators.I2F, 0)).mul(d0).fma(scaleC, accC0);
                accC1 = ((FloatVector) sumC1.convert(VectorOperators.I2F, 0)).mul(d1).fma(scaleC, accC1);
                FloatVector scaleD = FloatVector.broadcast(FLOATS, x.scales[(token + 3) * blocks + b]);
                accD0 = ((FloatVector) sumD0.convert(VectorOperators.I2F, 0)).mul(d0).fma(scaleD, accD0);
                accD1 = ((FloatVector) sumD1.convert(VectorOperators.I2F, 0)).mul(d1).fma(scaleD, accD1);
            }
            if (offsets) {
                FloatVector m0 = FloatVector.fromMemorySegment(FLOATS, data, scales + GROUP * Float.BYTES, LE);
                FloatVector m1 = FloatVector.fromMemorySegment(FLOATS, data, scales + (GROUP + 16) * Float.BYTES, LE);
                FloatVector sumA = FloatVector.broadcast(FLOATS, x.sums[token * blocks + b]);
                accA0 = m0.fma(sumA, accA0);
                accA1 = m1.fma(sumA, accA1);
                FloatVector sumB = FloatVector.broadcast(FLOATS, x.sums[(token + 1) * blocks + b]);
                accB0 = m0.fma(sumB, accB0);
                accB1 = m1.fma(sumB, accB1);
                if (tokens == 4) {
                    FloatVector sumC = FloatVector.broadcast(FLOATS, x.sums[(token + 2) * blocks + b]);
                    accC0 = m0.fma(sumC, accC0);
                    accC1 = m1.fma(sumC, accC1);
                    FloatVector sumD = FloatVector.broadcast(FLOATS, x.sums[(token + 3) * blocks + b]);
                    accD0 = m0.fma(sumD, accD0);
                    accD1 = m1.fma(sumD, accD1);
                }
            }
        }
        accA0.intoArray(out, token * rows + rowOffset);
        accA1.intoArray(out, token * rows + rowOffset + 16);
        accB0.intoArray(out, (token + 1) * rows + rowOffset);
        accB1.intoArray(out, (token + 1) * rows + rowOffset + 16);
        if (tokens == 4) {
            accC0.intoArray(out, (token + 2) * rows + rowOffset);
            accC1.intoArray(out, (token + 2) * rows + rowOffset + 16);
            accD0.intoArray(out, (token + 3) * rows + rowOffset);
            accD1.intoArray(out, (token + 3) * rows + rowOffset + 16);
        }
    }

    /**
     * {@code out[outOffset + r] = row(group * 32 + r) . x[token]} for the 32 rows of each of {@code groups} groups (1
     * or 2) from {@code group}. Per pair of quant bytes (four weights of each row) the products add up in 16 bits, then
     * widen into 32-bit sums; per block the sums become floats, scaled by the rows' {@code d} and the activations'
     * scale. Two groups share the activations' broadcasts, which a decode step otherwise repeats for every group
     * (SmolLM2 decoded 9-15% faster on a Xeon with AMX). The loads are written out here rather than in small methods
     * that return vectors: C2 may leave such a method out of line, and then allocates every vector it returns (it did,
     * for the float loads of Q4_1's offsets, and decoded at three quarters of the speed).
     */
    private void multiply(int group, int groups, QuantizedActivations x, int token, float[] out, int outOffset) {
        short[] values = x.values;
        FloatVector accA0 = FloatVector.zero(FLOATS);
        FloatVector accA1 = FloatVector.zero(FLOATS);
        FloatVector accB0 = FloatVector.zero(FLOATS);
        FloatVector accB1 = FloatVector.zero(FLOATS);
        for (int b = 0; b < blocks; b++) {
            long blockA = at(group, b);
            long blockB = at(group + groups - 1, b);
            int xb = (token * blocks + b) * BLOCK;
            IntVector sumA0 = IntVector.zero(INTS);
            IntVector sumA1 = IntVector.zero(INTS);
            IntVector sumB0 = IntVector.zero(INTS);
            IntVector sumB1 = IntVector.zero(INTS);
            for (int j = 0; j < BLOCK / 2; j += 2) {
                ShortVector x0 = ShortVector.broadcast(ROW_SHORTS, values[xb + j]);
                ShortVector x16 = ShortVector.broadcast(ROW_SHORTS, values[xb + j + 16]);
                ShortVector x1 = ShortVector.broadcast(ROW_SHORTS, values[xb + j + 1]);
                ShortVector x17 = ShortVector.broadcast(ROW_SHORTS, values[xb + j + 17]);
                ShortVector a0 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, blockA + (long) GROUP * j, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                ShortVector a1 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, blockA + (long) GROUP * (j + 1), LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                ShortVector productsA = a0.and((short) 0xF).sub((short) 8).mul(x0)
                        .add(a0.lanewise(VectorOperators.LSHR, 4).sub((short) 8).mul(x16))
                        .add(a1.and((short) 0xF).sub((short) 8).mul(x1))
                        .add(a1.lanewise(VectorOperators.LSHR, 4).sub((short) 8).mul(x17));
                sumA0 = sumA0.add((IntVector) productsA.convertShape(VectorOperators.S2I, INTS, 0));
                sumA1 = sumA1.add((IntVector) productsA.convertShape(VectorOperators.S2I, INTS, 1));
                if (groups == 2) {
                    ShortVector b0 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, blockB + (long) GROUP * j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                    ShortVector b1 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, blockB + (long) GROUP * (j + 1), LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                    ShortVector productsB = b0.and((short) 0xF).sub((short) 8).mul(x0)
                            .add(b0.lanewise(VectorOperators.LSHR, 4).sub((short) 8).mul(x16))
                            .add(b1.and((short) 0xF).sub((short) 8).mul(x1))
                            .add(b1.lanewise(VectorOperators.LSHR, 4).sub((short) 8).mul(x17));
                    sumB0 = sumB0.add((IntVector) productsB.convertShape(VectorOperators.S2I, INTS, 0));
                    sumB1 = sumB1.add((IntVector) productsB.convertShape(VectorOperators.S2I, INTS, 1));
                }
            }
            FloatVector scale = FloatVector.broadcast(FLOATS, x.scales[token * blocks + b]);
            long scalesA = blockA + QUANT_BYTES;
            long scalesB = blockB + QUANT_BYTES;
            accA0 = ((FloatVector) sumA0.convert(VectorOperators.I2F, 0)).mul(FloatVector.fromMemorySegment(FLOATS, data, scalesA, LE)).fma(scale, accA0);
            accA1 = ((FloatVector) sumA1.convert(VectorOperators.I2F, 0)).mul(FloatVector.fromMemorySegment(FLOATS, data, scalesA + 16 * Float.BYTES, LE)).fma(scale, accA1);
            accB0 = ((FloatVector) sumB0.convert(VectorOperators.I2F, 0)).mul(FloatVector.fromMemorySegment(FLOATS, data, scalesB, LE)).fma(scale, accB0);
            accB1 = ((FloatVector) sumB1.convert(VectorOperators.I2F, 0)).mul(FloatVector.fromMemorySegment(FLOATS, data, scalesB + 16 * Float.BYTES, LE)).fma(scale, accB1);
            if (offsets) {
                FloatVector sum = FloatVector.broadcast(FLOATS, x.sums[token * blocks + b]);
                accA0 = FloatVector.fromMemorySegment(FLOATS, data, scalesA + GROUP * Float.BYTES, LE).fma(sum, accA0);
                accA1 = FloatVector.fromMemorySegment(FLOATS, data, scalesA + (GROUP + 16) * Float.BYTES, LE).fma(sum, accA1);
                accB0 = FloatVector.fromMemorySegment(FLOATS, data, scalesB + GROUP * Float.BYTES, LE).fma(sum, accB0);
                accB1 = FloatVector.fromMemorySegment(FLOATS, data, scalesB + (GROUP + 16) * Float.BYTES, LE).fma(sum, accB1);
            }
        }
        accA0.intoArray(out, outOffset);
        accA1.intoArray(out, outOffset + 16);
        if (groups == 2) {
            accB0.intoArray(out, outOffset + GROUP);
            accB1.intoArray(out, outOffset + GROUP + 16);
        }
    }
}
