package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.gguf.GGUFTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * Q6_K with the Vector API. With 16 lanes (AVX-512), a decode step multiplies 32 rows at a time in a copy interleaved
 * for it ({@link InterleavedQ6_K}), against the activations rounded to 11 bits ({@link QuantizedActivations}). Row by
 * row, six bits have too many values for a one-register table, so the quants are assembled in int lanes (4 bits from
 * ql, 2 from qh), converted, and scaled by {@code d * scale}; lanes never straddle a scale: one scale covers 16
 * elements and a vector holds 8 or 16. With 8 lanes (AVX2) the quants are assembled in 16-bit lanes instead and
 * multiplied with the rounded activations, as Q4_0 and Q4_K do there. Batches go through float tiles, of the
 * interleaved copy where there is one ({@link GroupTiles}), else of the file's rows ({@link Gemm}).
 */
final class Q6_KVectorMatrix extends Q6_KMatrix {

    /** The rows interleaved in groups for a decode step's kernel, where {@link InterleavedRows#applies}; else null. */
    private final InterleavedRows.Lazy interleaved;

    Q6_KVectorMatrix(GGUFTensor tensor) {
        super(tensor);
        interleaved = InterleavedRows.applies(this) ? InterleavedQ6_K.lazy(this, this::interleave) : null;
    }

    /** Each super-block's quants unbiased (0..63), its sixteen scales and its {@code d}, in the file's element order. */
    private void interleave(InterleavedQ6_K groups) {
        byte[] quants = new byte[BLOCK];
        byte[] scales = new byte[BLOCK / 16];
        for (int row = 0; row < rows; row++) {
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = row * rowBytes + (long) b * BLOCK_BYTES;
                for (int e = 0; e < BLOCK; e++) {
                    quants[e] = (byte) quant(block + 64 * (e / 128), block + 128 + 32 * (e / 128), e % 32, e % 128 / 32);
                }
                MemorySegment.copy(data, ValueLayout.JAVA_BYTE, block + 192, scales, 0, scales.length);
                groups.put(row, b, quants, scales, f16(data, block + 208));
            }
        }
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    /**
     * As the plain kernel computes it, {@code (d * scale) * (q - 32)}, a stripe of four quarters at a time (for
     * {@link Gemm}'s tiles).
     */
    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64 * half;
                long qh = block + 128 + 32 * half;
                long scales = data.get(U64, block + 192 + 8 * half);
                int o = outOffset + b * BLOCK + 128 * half;
                for (int c = 0; c < 32; c += L) {
                    IntVector qa = VectorKernels.bytes(data, ql + c);
                    IntVector qb = VectorKernels.bytes(data, ql + 32 + c);
                    IntVector high = VectorKernels.bytes(data, qh + c);
                    int s = 8 * (c / 16);
                    FloatVector q0 = (FloatVector) qa.and(0xF).or(high.lanewise(VectorOperators.LSHL, 4).and(0x30)).sub(32).convert(VectorOperators.I2F, 0);
                    FloatVector q1 = (FloatVector) qb.and(0xF).or(high.lanewise(VectorOperators.LSHL, 2).and(0x30)).sub(32).convert(VectorOperators.I2F, 0);
                    FloatVector q2 = (FloatVector) qa.lanewise(VectorOperators.LSHR, 4).or(high.and(0x30)).sub(32).convert(VectorOperators.I2F, 0);
                    FloatVector q3 = (FloatVector) qb.lanewise(VectorOperators.LSHR, 4).or(high.lanewise(VectorOperators.LSHR, 2).and(0x30)).sub(32).convert(VectorOperators.I2F, 0);
                    q0.mul(d * (byte) (scales >>> s)).intoArray(out, o + c);
                    q1.mul(d * (byte) (scales >>> s + 16)).intoArray(out, o + 32 + c);
                    q2.mul(d * (byte) (scales >>> s + 32)).intoArray(out, o + 64 + c);
                    q3.mul(d * (byte) (scales >>> s + 48)).intoArray(out, o + 96 + c);
                }
            }
        }
    }

    @Override
    boolean quantizesActivations() {
        return L == 8 || interleaved != null;
    }

    @Override
    InterleavedRows.Lazy interleaved() {
        return interleaved;
    }

    /**
     * Row {@code row} against quantized activations, in integers. Per half and per 16 columns {@code c}, the
     * 16 bytes of ql at {@code c} and {@code 32 + c} and of qh at {@code c} are loaded once for the four
     * quarters {@code k} they hold; quarter {@code k} is activation block {@code 4 half + k}, and its 16
     * elements from {@code c} one sub-block (one scale). The sixteen factors {@code d * scale * x.scale} of a
     * super-block are computed in two vectors ahead of its sub-blocks: taken byte by byte from the mapped
     * segment beside each sub-block, they cost a third of the kernel's time.
     */
    @Override
    float dot(int row, QuantizedActivations x, int b) {
        long base = row * rowBytes;
        int first = b * (cols / QuantizedActivations.BLOCK);
        float[] factors = new float[16];
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        for (int kk = 0; kk < cols / BLOCK; kk++) {
            long block = base + (long) kk * BLOCK_BYTES;
            int xb0 = first + 8 * kk;
            FloatVector dx = FloatVector.fromArray(F, x.scales, xb0).mul(f16(data, block + 208));
            scales(block + 192).mul(dx.rearrange(LOW_PAIRS)).intoArray(factors, 0);
            scales(block + 200).mul(dx.rearrange(HIGH_PAIRS)).intoArray(factors, 8);
            for (int half = 0; half < 2; half++) {
                for (int c = 0; c < 32; c += 16) {
                    long ql = block + 64 * half + c;
                    ShortVector lowA = VectorKernels.halfBlock(data, ql);
                    ShortVector lowB = VectorKernels.halfBlock(data, ql + 32);
                    // The two high bits of quarter k at bits 4, 5: qh shifted left by 4, right by 2k.
                    ShortVector high = VectorKernels.halfBlock(data, block + 128 + 32 * half + c).lanewise(VectorOperators.LSHL, 4);
                    for (int k = 0; k < 4; k++) {
                        ShortVector low = (k & 1) == 0 ? lowA : lowB;
                        low = k < 2 ? low.and((short) 0xF) : low.lanewise(VectorOperators.LSHR, 4);
                        ShortVector q = low.or(high.lanewise(VectorOperators.LSHR, 2 * k).and((short) 0x30)).sub((short) 32);
                        int xb = xb0 + 4 * half + k;
                        FloatVector next = products(q, x, xb, c).fma(FloatVector.broadcast(F, factors[8 * half + 2 * k + c / 16]), acc);
                        acc = other;
                        other = next;
                    }
                }
            }
        }
        return sum(acc.add(other));
    }

    /** The 8 signed scales at {@code at} as floats. */
    private FloatVector scales(long at) {
        return (FloatVector) ByteVector.fromMemorySegment(VectorKernels.B, data, at, VectorKernels.LE).convertShape(VectorOperators.B2I, VectorKernels.I, 0)
                .convert(VectorOperators.I2F, 0);
    }

    /** Lanes 0, 0, 1, 1, .. 3, 3 and 4, 4, .. 7, 7: the activation block of each sub-block of 16, for the first and last eight. */
    private static final VectorShuffle<Float> LOW_PAIRS = VectorShuffle.fromOp(F, i -> i / 2);
    private static final VectorShuffle<Float> HIGH_PAIRS = VectorShuffle.fromOp(F, i -> 4 + i / 2);

    /**
     * Quants {@code q - 32} of one sub-block times the 16 activations of block {@code xb} from {@code c}, as 8
     * float lanes that sum to their dot product. A quant (at most 32 in size) times an 11-bit activation fills
     * a 16-bit lane (at most 32 x 1023), so pairs of lanes are added in 32 bits ({@link VectorKernels#pairSums}).
     */
    private static FloatVector products(ShortVector q, QuantizedActivations x, int xb, int c) {
        return VectorKernels.pairSums(q.mul(ShortVector.fromArray(VectorKernels.HALF_BLOCK, x.values, xb * QuantizedActivations.BLOCK + c)));
    }

    /**
     * One stripe of L columns per step: its ql and qh bytes loaded once for the four quarters they hold, each quarter
     * {@code k}'s quants assembled (the low or high nibbles of ql at {@code c} or {@code 32 + c}, bits {@code 2k, 2k + 1}
     * of qh moved to bits 4 and 5), scaled by {@code d * scale} and multiplied with its activations; a half's eight
     * scales are read as one long. The quarters are written out, each shift a constant, and without helper methods:
     * looped over {@code k}, C2 kept the loop and its selects and a weight cost 1.6 times as much; with a helper per
     * quarter, the inlining ran out of nodes ({@code NodeCountInliningCutoff}) and boxed the vectors. One accumulator:
     * two, added after the loop, left that add a virtual call that boxed both on every row.
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64 * half;
                long scales = data.get(U64, block + 192 + 8 * half);
                int xh = xOffset + b * BLOCK + 128 * half;
                for (int c = 0; c < 32; c += L) {
                    IntVector qa = VectorKernels.bytes(data, ql + c);
                    IntVector qb = VectorKernels.bytes(data, ql + 32 + c);
                    IntVector qh = VectorKernels.bytes(data, block + 128 + 32 * half + c);
                    int s = 8 * (c / 16);
                    FloatVector q0 = (FloatVector) qa.and(0xF).or(qh.lanewise(VectorOperators.LSHL, 4).and(0x30)).sub(32).convert(VectorOperators.I2F, 0);
                    FloatVector q1 = (FloatVector) qb.and(0xF).or(qh.lanewise(VectorOperators.LSHL, 2).and(0x30)).sub(32).convert(VectorOperators.I2F, 0);
                    FloatVector q2 = (FloatVector) qa.lanewise(VectorOperators.LSHR, 4).or(qh.and(0x30)).sub(32).convert(VectorOperators.I2F, 0);
                    FloatVector q3 = (FloatVector) qb.lanewise(VectorOperators.LSHR, 4).or(qh.lanewise(VectorOperators.LSHR, 2).and(0x30)).sub(32).convert(VectorOperators.I2F, 0);
                    acc = q0.mul(d * (byte) (scales >>> s)).fma(FloatVector.fromArray(F, x, xh + c), acc);
                    acc = q1.mul(d * (byte) (scales >>> s + 16)).fma(FloatVector.fromArray(F, x, xh + 32 + c), acc);
                    acc = q2.mul(d * (byte) (scales >>> s + 32)).fma(FloatVector.fromArray(F, x, xh + 64 + c), acc);
                    acc = q3.mul(d * (byte) (scales >>> s + 48)).fma(FloatVector.fromArray(F, x, xh + 96 + c), acc);
                }
            }
        }
        return sum(acc);
    }
}
