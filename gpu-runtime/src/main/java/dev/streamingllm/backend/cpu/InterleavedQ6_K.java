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
 * A Q6_K matrix held in {@link InterleavedRows}: its 6-bit quants as nibbles and pairs of high bits, 32 rows to a
 * vector. Read row by row, the file's layout costs a decode step about 0.7 vector instructions a weight (each quant
 * assembled, converted to a float and scaled in lanes of its own row); here about half that, which is what the output
 * matrix of llama-quantize's Q4_0 and Q4_K_M files, a third of their decode step, is bound by.
 *
 * <p>Per group and super-block of 256 weights, sixteen sub-blocks of 16 weights {@code i}, each {@value #SUB_BYTES}
 * bytes: 8 nibble bytes per row (byte {@code p} of row {@code r} at {@code 32 p + r}, weight {@code p} in its low
 * nibble, {@code p + 8} in its high), then 4 bytes of high bits per row (byte {@code t} of row {@code r} at
 * {@code 256 + 32 t + r}, bits {@code 2u, 2u + 1} the high bits of weight {@code t + 4u}), then each row's sub-block
 * scale as a signed byte; after the sixteen, the rows' {@code d} as floats. A weight is {@code d * scale * (q - 32)}:
 * its product with an 11-bit activation fills a 16-bit lane ({@code 32 * 1023}), so each product widens to 32 bits
 * before it is added, and a sub-block's sum times its scale stays within 27 bits. The copy is as large as the
 * file's blocks plus a hundredth.
 */
final class InterleavedQ6_K extends InterleavedSuperBlocks {

    private static final int SUB = 16;
    private static final int NIBBLES = SUB / 2 * GROUP;
    private static final int HIGHS = SUB / 4 * GROUP;
    private static final int SUB_BYTES = NIBBLES + HIGHS + GROUP;
    private static final int D_AT = BLOCK / SUB * SUB_BYTES;
    private static final long BLOCK_BYTES = D_AT + GROUP * Float.BYTES;
    /** Activation blocks ({@link QuantizedActivations#BLOCK}) per super-block: each takes two sub-blocks. */
    private static final int X_BLOCKS = BLOCK / QuantizedActivations.BLOCK;

    /** The layout's version in the names of kept copies ({@link CopyStore}): a change of layout changes it. */
    private static final String LAYOUT = "q6_k-1";

    private InterleavedQ6_K(int cols, MemorySegment data) {
        super(cols, BLOCK_BYTES, SUB, data);
    }

    /** {@code matrix}'s copy, made by {@code fill} super-block by super-block ({@link #put}). */
    static InterleavedRows.Lazy lazy(WeightMatrix matrix, Consumer<InterleavedQ6_K> fill) {
        return InterleavedRows.Lazy.of(matrix, LAYOUT, BLOCK, BLOCK_BYTES, data -> new InterleavedQ6_K(matrix.cols, data), fill, TILED_FROM);
    }

    /**
     * Super-block {@code block} of row {@code row}: its 256 quants {@code q} (0..63, unbiased), its 16 sub-block
     * scales and its {@code d}.
     */
    void put(int row, int block, byte[] quants, byte[] scales, float d) {
        long to = at(row / GROUP, block);
        int r = row % GROUP;
        for (int s = 0; s < BLOCK / SUB; s++) {
            long sub = to + (long) s * SUB_BYTES;
            for (int p = 0; p < SUB / 2; p++) {
                int low = quants[SUB * s + p] & 0xF;
                int high = quants[SUB * s + p + SUB / 2] & 0xF;
                data.set(ValueLayout.JAVA_BYTE, sub + (long) GROUP * p + r, (byte) (low | high << 4));
            }
            for (int t = 0; t < SUB / 4; t++) {
                int bits = 0;
                for (int u = 0; u < 4; u++) {
                    bits |= (quants[SUB * s + t + 4 * u] >> 4 & 3) << 2 * u;
                }
                data.set(ValueLayout.JAVA_BYTE, sub + NIBBLES + (long) GROUP * t + r, (byte) bits);
            }
            data.set(ValueLayout.JAVA_BYTE, sub + NIBBLES + HIGHS + r, scales[s]);
        }
        data.set(FLOAT, to + D_AT + (long) Float.BYTES * r, d);
    }

    /** Weights {@code d * scale * (q - 32)}; per high-bit byte {@code t}, weights {@code t + 4u}. */
    @Override
    void decodeRows(long block, int subBlock, int r, float[] tile, int at) {
        long sub = block + (long) subBlock * SUB_BYTES;
        FloatVector factor = ((FloatVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + NIBBLES + HIGHS + r, LE).castShape(FLOATS, 0))
                .mul(FloatVector.fromMemorySegment(FLOATS, data, block + D_AT + (long) Float.BYTES * r, LE));
        for (int t = 0; t < SUB / 4; t++) {
            IntVector high = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + NIBBLES + (long) GROUP * t + r, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, INTS, 0);
            IntVector lowA = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + (long) GROUP * t + r, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, INTS, 0);
            IntVector lowB = (IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, sub + (long) GROUP * (t + 4) + r, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, INTS, 0);
            ((FloatVector) lowA.and(0xF).or(high.and(3).lanewise(VectorOperators.LSHL, 4)).sub(32).convert(VectorOperators.I2F, 0))
                    .mul(factor).intoArray(tile, at + t * GROUP);
            ((FloatVector) lowB.and(0xF).or(high.lanewise(VectorOperators.LSHL, 2).and(0x30)).sub(32).convert(VectorOperators.I2F, 0))
                    .mul(factor).intoArray(tile, at + (t + 4) * GROUP);
            ((FloatVector) lowA.lanewise(VectorOperators.LSHR, 4).or(high.and(0x30)).sub(32).convert(VectorOperators.I2F, 0))
                    .mul(factor).intoArray(tile, at + (t + 8) * GROUP);
            ((FloatVector) lowB.lanewise(VectorOperators.LSHR, 4).or(high.lanewise(VectorOperators.LSHR, 2).and(0x30)).sub(32)
                    .convert(VectorOperators.I2F, 0)).mul(factor).intoArray(tile, at + (t + 12) * GROUP);
        }
    }

    @Override
    public float row(int row, QuantizedActivations x, int token) {
        int r = row % GROUP;
        float acc = 0f;
        for (int b = 0; b < blocks; b++) {
            long block = at(row / GROUP, b);
            float part = 0f;
            for (int s = 0; s < BLOCK / SUB; s += 2) {
                int scaled = 0;
                for (int u = 0; u < 2; u++) {
                    long sub = block + (long) (s + u) * SUB_BYTES;
                    int xj = (token * blocks + b) * BLOCK + (s + u) * SUB;
                    int sum = 0;
                    for (int i = 0; i < SUB; i++) {
                        int nibbles = data.get(ValueLayout.JAVA_BYTE, sub + (long) GROUP * (i % 8) + r) & 0xFF;
                        int highs = data.get(ValueLayout.JAVA_BYTE, sub + NIBBLES + (long) GROUP * (i % 4) + r) & 0xFF;
                        int q = (nibbles >> 4 * (i / 8) & 0xF) | (highs >> 2 * (i / 4) & 3) << 4;
                        sum += (q - 32) * x.values[xj + i];
                    }
                    scaled += sum * data.get(ValueLayout.JAVA_BYTE, sub + NIBBLES + HIGHS + r);
                }
                part = Math.fma(scaled, x.scales[(token * blocks + b) * X_BLOCKS + s / 2], part);
            }
            acc = Math.fma(part, data.get(FLOAT, block + D_AT + (long) Float.BYTES * r), acc);
        }
        return acc;
    }

    /**
     * {@code out[outOffset + r] = row(group * 32 + r) . x[token]} for the group's 32 rows. Per sub-block and per
     * group of four high-bit bytes, three byte loads give four weights of every row; each product widens into the
     * 32-bit sums of rows 0-15 and 16-31; per sub-block the sums are multiplied by the rows' scales, per activation
     * block converted to floats and scaled, per super-block multiplied by the rows' {@code d}. The loads are written
     * out here rather than in small methods that return vectors, which C2 may leave out of line and box.
     */
    @Override
    void multiply(int group, QuantizedActivations x, int token, float[] out, int outOffset) {
        short[] values = x.values;
        FloatVector acc0 = FloatVector.zero(FLOATS);
        FloatVector acc1 = FloatVector.zero(FLOATS);
        for (int b = 0; b < blocks; b++) {
            long block = at(group, b);
            int xv = (token * blocks + b) * BLOCK;
            int xs = (token * blocks + b) * X_BLOCKS;
            FloatVector part0 = FloatVector.zero(FLOATS);
            FloatVector part1 = FloatVector.zero(FLOATS);
            for (int s = 0; s < BLOCK / SUB; s += 2) {
                IntVector scaled0 = IntVector.zero(INTS);
                IntVector scaled1 = IntVector.zero(INTS);
                for (int u = 0; u < 2; u++) {
                    long sub = block + (long) (s + u) * SUB_BYTES;
                    int xj = xv + (s + u) * SUB;
                    IntVector sum0 = IntVector.zero(INTS);
                    IntVector sum1 = IntVector.zero(INTS);
                    for (int t = 0; t < SUB / 4; t++) {
                        ShortVector high = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, sub + NIBBLES + (long) GROUP * t, LE)
                                .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                        ShortVector lowA = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, sub + (long) GROUP * t, LE)
                                .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                        ShortVector lowB = (ShortVector) ByteVector.fromMemorySegment(ROW_BYTES, data, sub + (long) GROUP * (t + 4), LE)
                                .convertShape(VectorOperators.ZERO_EXTEND_B2S, ROW_SHORTS, 0);
                        ShortVector p0 = lowA.and((short) 0xF).or(high.lanewise(VectorOperators.LSHL, 4).and((short) 0x30))
                                .sub((short) 32).mul(values[xj + t]);
                        sum0 = sum0.add((IntVector) p0.convertShape(VectorOperators.S2I, INTS, 0));
                        sum1 = sum1.add((IntVector) p0.convertShape(VectorOperators.S2I, INTS, 1));
                        ShortVector p1 = lowB.and((short) 0xF).or(high.lanewise(VectorOperators.LSHL, 2).and((short) 0x30))
                                .sub((short) 32).mul(values[xj + t + 4]);
                        sum0 = sum0.add((IntVector) p1.convertShape(VectorOperators.S2I, INTS, 0));
                        sum1 = sum1.add((IntVector) p1.convertShape(VectorOperators.S2I, INTS, 1));
                        ShortVector p2 = lowA.lanewise(VectorOperators.LSHR, 4).or(high.and((short) 0x30))
                                .sub((short) 32).mul(values[xj + t + 8]);
                        sum0 = sum0.add((IntVector) p2.convertShape(VectorOperators.S2I, INTS, 0));
                        sum1 = sum1.add((IntVector) p2.convertShape(VectorOperators.S2I, INTS, 1));
                        ShortVector p3 = lowB.lanewise(VectorOperators.LSHR, 4).or(high.lanewise(VectorOperators.LSHR, 2).and((short) 0x30))
                                .sub((short) 32).mul(values[xj + t + 12]);
                        sum0 = sum0.add((IntVector) p3.convertShape(VectorOperators.S2I, INTS, 0));
                        sum1 = sum1.add((IntVector) p3.convertShape(VectorOperators.S2I, INTS, 1));
                    }
                    long scales = sub + NIBBLES + HIGHS;
                    scaled0 = scaled0.add(sum0.mul((IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, scales, LE)
                            .convertShape(VectorOperators.B2I, INTS, 0)));
                    scaled1 = scaled1.add(sum1.mul((IntVector) ByteVector.fromMemorySegment(SCALE_BYTES, data, scales + 16, LE)
                            .convertShape(VectorOperators.B2I, INTS, 0)));
                }
                FloatVector scale = FloatVector.broadcast(FLOATS, x.scales[xs + s / 2]);
                part0 = ((FloatVector) scaled0.convert(VectorOperators.I2F, 0)).fma(scale, part0);
                part1 = ((FloatVector) scaled1.convert(VectorOperators.I2F, 0)).fma(scale, part1);
            }
            acc0 = part0.fma(FloatVector.fromMemorySegment(FLOATS, data, block + D_AT, LE), acc0);
            acc1 = part1.fma(FloatVector.fromMemorySegment(FLOATS, data, block + D_AT + 16 * Float.BYTES, LE), acc1);
        }
        acc0.intoArray(out, outOffset);
        acc1.intoArray(out, outOffset + 16);
    }
}
