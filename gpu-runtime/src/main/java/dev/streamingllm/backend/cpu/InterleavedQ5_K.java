package dev.streamingllm.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * A Q5_K matrix held in {@link InterleavedRows}: its 5-bit quants as nibbles and a plane of fifth bits, 32 rows to a
 * vector. A weight {@code d * scale * q - dmin * min} is taken as {@code d * scale * (q - 16)} plus
 * {@code 16 * d * scale - dmin * min}: the quant becomes signed, the product of two of them with 11-bit activations
 * fits a 16-bit lane ({@code 2 * 16 * 1023}), and pairs widen to 32 bits; the offset multiplies the activations' block
 * sum once per sub-block. The fifth bit is stored inverted, {@code 1 - (q >> 4)}, so that {@code q - 16} is the nibble
 * less that bit times 16.
 *
 * <p>Per group and super-block of 256 weights, eight sub-blocks of 32 weights {@code i}, each {@value #SUB_BYTES}
 * bytes: 16 nibble bytes per row (byte {@code j} of row {@code r} at {@code 32 j + r}, weight {@code j} in its low
 * nibble, {@code j + 16} in its high), then 4 bytes of inverted fifth bits per row (byte {@code t} of row {@code r} at
 * {@code 512 + 32 t + r}, bit {@code u} that of weight {@code t + 4u}), then each row's 6-bit scale and 6-bit minimum
 * as bytes; after the eight, the rows' {@code d} and {@code -dmin} as floats. The copy is 1.05 times the file's blocks.
 */
final class InterleavedQ5_K extends InterleavedSuperBlocks {

    private static final int SUB = 32;
    private static final int NIBBLES = SUB / 2 * GROUP;
    private static final int BITS = SUB / 8 * GROUP;
    private static final int SCALES_AT = NIBBLES + BITS;
    private static final int MINS_AT = SCALES_AT + GROUP;
    private static final int SUB_BYTES = MINS_AT + GROUP;
    private static final int D_AT = BLOCK / SUB * SUB_BYTES;
    private static final int DMIN_AT = D_AT + GROUP * Float.BYTES;
    private static final long BLOCK_BYTES = DMIN_AT + GROUP * Float.BYTES;

    /** The layout's version in the names of kept copies ({@link CopyStore}): a change of layout changes it. */
    private static final String LAYOUT = "q5_k-1";

    private InterleavedQ5_K(int cols, MemorySegment data) {
        super(cols, BLOCK_BYTES, SUB, data);
    }

    /** {@code matrix}'s copy, made by {@code fill} super-block by super-block ({@link #put}). */
    static InterleavedRows.Lazy lazy(WeightMatrix matrix, Consumer<InterleavedQ5_K> fill) {
        return InterleavedRows.Lazy.of(matrix, LAYOUT, BLOCK, BLOCK_BYTES, data -> new InterleavedQ5_K(matrix.cols, data), fill, TILED_FROM);
    }

    /**
     * Super-block {@code block} of row {@code row}: its 256 quants {@code q} (0..31), its 8 sub-blocks' scales and
     * minimums (0..63), its {@code d} and {@code dmin}.
     */
    void put(int row, int block, byte[] quants, byte[] scales, byte[] mins, float d, float dmin) {
        long to = at(row / GROUP, block);
        int r = row % GROUP;
        for (int s = 0; s < BLOCK / SUB; s++) {
            long sub = to + (long) s * SUB_BYTES;
            for (int j = 0; j < SUB / 2; j++) {
                int low = quants[SUB * s + j] & 0xF;
                int high = quants[SUB * s + j + SUB / 2] & 0xF;
                data.set(ValueLayout.JAVA_BYTE, sub + (long) GROUP * j + r, (byte) (low | high << 4));
            }
            for (int t = 0; t < SUB / 8; t++) {
                int bits = 0;
                for (int u = 0; u < 8; u++) {
                    bits |= (1 - (quants[SUB * s + t + 4 * u] >> 4 & 1)) << u;
                }
                data.set(ValueLayout.JAVA_BYTE, sub + NIBBLES + (long) GROUP * t + r, (byte) bits);
            }
            data.set(ValueLayout.JAVA_BYTE, sub + SCALES_AT + r, scales[s]);
            data.set(ValueLayout.JAVA_BYTE, sub + MINS_AT + r, mins[s]);
        }
        data.set(FLOAT, to + D_AT + (long) Float.BYTES * r, d);
        data.set(FLOAT, to + DMIN_AT + (long) Float.BYTES * r, -dmin);
    }

    /** Weights {@code d * scale * q - dmin * min}; per nibble byte {@code j}, weights {@code j} and {@code j + 16}. */
    @Override
    void decodeRows(long block, int subBlock, int r, float[] tile, int at) {
        long sub = block + (long) subBlock * SUB_BYTES;
        FloatVector scale = ((FloatVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + SCALES_AT + r, LE).castShape(FLOATS, 0))
                .mul(FloatVector.fromMemorySegment(FLOATS, data, block + D_AT + (long) Float.BYTES * r, LE));
        FloatVector min = ((FloatVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + MINS_AT + r, LE).castShape(FLOATS, 0))
                .mul(FloatVector.fromMemorySegment(FLOATS, data, block + DMIN_AT + (long) Float.BYTES * r, LE));
        for (int j = 0; j < SUB / 2; j++) {
            IntVector nibbles = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + (long) GROUP * j + r, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, INTS, 0);
            // the fifth bits of weights j and j + 16, inverted
            IntVector bits = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + NIBBLES + (long) GROUP * (j % 4) + r, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, INTS, 0).lanewise(VectorOperators.LSHR, j / 4).lanewise(VectorOperators.NOT);
            ((FloatVector) nibbles.and(0xF).or(bits.and(1).lanewise(VectorOperators.LSHL, 4)).convert(VectorOperators.I2F, 0))
                    .fma(scale, min).intoArray(tile, at + j * GROUP);
            ((FloatVector) nibbles.lanewise(VectorOperators.LSHR, 4).or(bits.lanewise(VectorOperators.LSHR, 4).and(1).lanewise(VectorOperators.LSHL, 4))
                    .convert(VectorOperators.I2F, 0)).fma(scale, min).intoArray(tile, at + (j + 16) * GROUP);
        }
    }

    @Override
    public float row(int row, QuantizedActivations x, int token) {
        int r = row % GROUP;
        float acc = 0f;
        for (int b = 0; b < blocks; b++) {
            long block = at(row / GROUP, b);
            float partD = 0f;
            float partM = 0f;
            for (int s = 0; s < BLOCK / SUB; s++) {
                long sub = block + (long) s * SUB_BYTES;
                int xb = (token * blocks + b) * (BLOCK / SUB) + s;
                int sum = 0;
                for (int i = 0; i < SUB; i++) {
                    int nibbles = data.get(ValueLayout.JAVA_BYTE, sub + (long) GROUP * (i % 16) + r) & 0xFF;
                    int bits = data.get(ValueLayout.JAVA_BYTE, sub + NIBBLES + (long) GROUP * (i % 4) + r) & 0xFF;
                    int q = (nibbles >> 4 * (i / 16) & 0xF) - (bits >> i / 4 & 1) * 16;
                    sum += q * x.values[xb * SUB + i];
                }
                int scale = data.get(ValueLayout.JAVA_BYTE, sub + SCALES_AT + r);
                int min = data.get(ValueLayout.JAVA_BYTE, sub + MINS_AT + r);
                partD = Math.fma(sum * scale, x.scales[xb], partD);
                partD = Math.fma(scale, 16 * x.sums[xb], partD);
                partM = Math.fma(min, x.sums[xb], partM);
            }
            acc = Math.fma(partD, data.get(FLOAT, block + D_AT + (long) Float.BYTES * r), acc);
            acc = Math.fma(partM, data.get(FLOAT, block + DMIN_AT + (long) Float.BYTES * r), acc);
        }
        return acc;
    }

    /**
     * {@code out[outOffset + r] = row(group * 32 + r) . x[token]} for the group's 32 rows. Per sub-block and per fifth-bit
     * byte {@code t}, four nibble loads give eight weights of every row, {@code t + 4u}; each weight's product with its
     * activation is added in 16 bits to that of the weight 16 on, sharing its nibble byte, and the pair widens into the
     * 32-bit sums of rows 0-15 and 16-31. Per sub-block the sums are multiplied by the rows' scales and converted to
     * floats, the offsets' and minimums' terms added against the activations' block sum; per super-block they are
     * multiplied by the rows' {@code d} and {@code -dmin}. The loads are written out rather than in small methods that
     * return vectors, which C2 may leave out of line and box.
     */
    @Override
    void multiply(int group, QuantizedActivations x, int token, float[] out, int outOffset) {
        short[] values = x.values;
        FloatVector acc0 = FloatVector.zero(FLOATS);
        FloatVector acc1 = FloatVector.zero(FLOATS);
        for (int b = 0; b < blocks; b++) {
            long block = at(group, b);
            FloatVector partD0 = FloatVector.zero(FLOATS);
            FloatVector partD1 = FloatVector.zero(FLOATS);
            FloatVector partM0 = FloatVector.zero(FLOATS);
            FloatVector partM1 = FloatVector.zero(FLOATS);
            for (int s = 0; s < BLOCK / SUB; s++) {
                long sub = block + (long) s * SUB_BYTES;
                int xb = (token * blocks + b) * (BLOCK / SUB) + s;
                int xj = xb * SUB;
                IntVector sum0 = IntVector.zero(INTS);
                IntVector sum1 = IntVector.zero(INTS);
                for (int t = 0; t < SUB / 8; t++) {
                    ShortVector bits = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, sub + NIBBLES + (long) GROUP * t, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                    ShortVector n0 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, sub + (long) GROUP * t, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                    ShortVector p0 = n0.and((short) 0xF).sub(bits.lanewise(VectorOperators.LSHL, 4).and((short) 0x10)).mul(values[xj + t])
                            .add(n0.lanewise(VectorOperators.LSHR, 4).sub(bits.and((short) 0x10)).mul(values[xj + t + 16]));
                    sum0 = sum0.add((IntVector) p0.convertShape(VectorOperators.S2I, INTS, 0));
                    sum1 = sum1.add((IntVector) p0.convertShape(VectorOperators.S2I, INTS, 1));
                    ShortVector n1 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, sub + (long) GROUP * (t + 4), LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                    ShortVector p1 = n1.and((short) 0xF).sub(bits.lanewise(VectorOperators.LSHL, 3).and((short) 0x10)).mul(values[xj + t + 4])
                            .add(n1.lanewise(VectorOperators.LSHR, 4).sub(bits.lanewise(VectorOperators.LSHR, 1).and((short) 0x10)).mul(values[xj + t + 20]));
                    sum0 = sum0.add((IntVector) p1.convertShape(VectorOperators.S2I, INTS, 0));
                    sum1 = sum1.add((IntVector) p1.convertShape(VectorOperators.S2I, INTS, 1));
                    ShortVector n2 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, sub + (long) GROUP * (t + 8), LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                    ShortVector p2 = n2.and((short) 0xF).sub(bits.lanewise(VectorOperators.LSHL, 2).and((short) 0x10)).mul(values[xj + t + 8])
                            .add(n2.lanewise(VectorOperators.LSHR, 4).sub(bits.lanewise(VectorOperators.LSHR, 2).and((short) 0x10)).mul(values[xj + t + 24]));
                    sum0 = sum0.add((IntVector) p2.convertShape(VectorOperators.S2I, INTS, 0));
                    sum1 = sum1.add((IntVector) p2.convertShape(VectorOperators.S2I, INTS, 1));
                    ShortVector n3 = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, sub + (long) GROUP * (t + 12), LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                    ShortVector p3 = n3.and((short) 0xF).sub(bits.lanewise(VectorOperators.LSHL, 1).and((short) 0x10)).mul(values[xj + t + 12])
                            .add(n3.lanewise(VectorOperators.LSHR, 4).sub(bits.lanewise(VectorOperators.LSHR, 3).and((short) 0x10)).mul(values[xj + t + 28]));
                    sum0 = sum0.add((IntVector) p3.convertShape(VectorOperators.S2I, INTS, 0));
                    sum1 = sum1.add((IntVector) p3.convertShape(VectorOperators.S2I, INTS, 1));
                }
                IntVector scale0 = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + SCALES_AT, LE).convertShape(VectorOperators.B2I, INTS, 0);
                IntVector scale1 = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + SCALES_AT + 16, LE).convertShape(VectorOperators.B2I, INTS, 0);
                IntVector min0 = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + MINS_AT, LE).convertShape(VectorOperators.B2I, INTS, 0);
                IntVector min1 = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + MINS_AT + 16, LE).convertShape(VectorOperators.B2I, INTS, 0);
                FloatVector xScale = FloatVector.broadcast(FLOATS, x.scales[xb]);
                FloatVector xSum = FloatVector.broadcast(FLOATS, x.sums[xb]);
                FloatVector xOffset = FloatVector.broadcast(FLOATS, 16 * x.sums[xb]);
                partD0 = ((FloatVector) sum0.mul(scale0).convert(VectorOperators.I2F, 0)).fma(xScale, partD0);
                partD1 = ((FloatVector) sum1.mul(scale1).convert(VectorOperators.I2F, 0)).fma(xScale, partD1);
                partD0 = ((FloatVector) scale0.convert(VectorOperators.I2F, 0)).fma(xOffset, partD0);
                partD1 = ((FloatVector) scale1.convert(VectorOperators.I2F, 0)).fma(xOffset, partD1);
                partM0 = ((FloatVector) min0.convert(VectorOperators.I2F, 0)).fma(xSum, partM0);
                partM1 = ((FloatVector) min1.convert(VectorOperators.I2F, 0)).fma(xSum, partM1);
            }
            acc0 = partD0.fma(FloatVector.fromMemorySegment(FLOATS, data, block + D_AT, LE), acc0);
            acc1 = partD1.fma(FloatVector.fromMemorySegment(FLOATS, data, block + D_AT + 16 * Float.BYTES, LE), acc1);
            acc0 = partM0.fma(FloatVector.fromMemorySegment(FLOATS, data, block + DMIN_AT, LE), acc0);
            acc1 = partM1.fma(FloatVector.fromMemorySegment(FLOATS, data, block + DMIN_AT + 16 * Float.BYTES, LE), acc1);
        }
        acc0.intoArray(out, outOffset);
        acc1.intoArray(out, outOffset + 16);
    }
}
