package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * What the Vector API kernels share: the float species ({@code SPECIES_PREFERRED}, 512 bits with
 * AVX-512, 256 with AVX2; {@code -Dstreamingllm.simd.bits=256} forces the narrower one for tests),
 * narrower species with the same lane count for reading bytes and halves, and 16-entry lookup
 * tables. Only loaded when {@link Simd#ENABLED}.
 */
final class VectorKernels {

    static final VectorSpecies<Float> F = species();
    /** Float lanes: 16 or 8. */
    static final int L = F.length();
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    /** L bytes, to widen into L int lanes. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    /** L halves, to widen into L int lanes. */
    static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(16 * L));
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** 16 bytes, and half a block of 32 (16 weights or activations) as 16-bit lanes: the integer kernels (8 lanes only). */
    static final VectorSpecies<Byte> BYTES_16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> HALF_BLOCK = ShortVector.SPECIES_256;

    /** 0, 1, .. 15 in one vector (16 lanes) or two (8 lanes): turned into a block's 16 nibble values by one FMA. */
    static final FloatVector IOTA_LO = FloatVector.fromArray(F, iota(), 0);
    static final FloatVector IOTA_HI = FloatVector.fromArray(F, iota(), L == 16 ? 0 : 8);

    private VectorKernels() {
    }

    /** Lane i takes lane i + k (mod L): folding a vector onto itself halves the lanes left to add. */
    static final VectorShuffle<Float> FOLD_8 = fold(8);
    static final VectorShuffle<Float> FOLD_4 = fold(4);
    static final VectorShuffle<Float> FOLD_2 = fold(2);
    static final VectorShuffle<Float> FOLD_1 = fold(1);
    /** The upper half of the lanes: where a vector folded once keeps a second vector's sum apart from the first's. */
    static final VectorMask<Float> UPPER_HALF = VectorMask.fromLong(F, L == 16 ? 0xFF00L : 0xF0L);

    /**
     * IEEE halves as floats. The Vector API has no half-float conversion: move exponent and mantissa into float
     * position, rebias the exponent with one multiply by 2^112 (which also normalizes subnormal halves), then put
     * back the sign and make exponent 31 float infinity or NaN.
     */
    static FloatVector halves(ShortVector half) {
        IntVector bits = (IntVector) half.convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
        IntVector magnitude = bits.and(0x7FFF).lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        IntVector special = magnitude.lanewise(VectorOperators.OR, 0x7F800000, bits.and(0x7C00).compare(VectorOperators.EQ, 0x7C00));
        return special.or(bits.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** The halves in the low 16 bits of each int lane, as floats ({@link #oddHalves} on them moved up). */
    static FloatVector evenHalves(IntVector pairs) {
        return oddHalves(pairs.lanewise(VectorOperators.LSHL, 16));
    }

    /**
     * The finite halves in the high 16 bits of each int lane, as floats: exponent and mantissa shifted into float
     * position (the low bits masked off, so no lane is widened) and rebiased by one multiply by 2^112, which also
     * normalizes subnormals, then the sign put back. Exponent 31 is not made infinity or NaN, as {@link #halves}
     * does: the KV cache, which this reads, saturates at the largest half when it stores.
     */
    static FloatVector oddHalves(IntVector pairs) {
        IntVector magnitude = pairs.lanewise(VectorOperators.LSHR, 3).and(0x0FFFE000).reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        return magnitude.or(pairs.and(0x80000000)).reinterpretAsFloats();
    }

    /**
     * The sum of the lanes, added in a fixed tree: {@code reduceLanes(ADD)} leaves the order open and C2
     * reorders it, so the same input gave other bits before and after JIT compilation, and a session
     * restored in a fresh process did not continue bit for bit. Lanewise adds of folded vectors are the
     * same arithmetic in every JIT tier, and cost log2(L) steps instead of L lane extractions.
     */
    static float sum(FloatVector v) {
        if (L == 16) {
            v = v.add(v.rearrange(FOLD_8));
        }
        v = v.add(v.rearrange(FOLD_4));
        v = v.add(v.rearrange(FOLD_2));
        v = v.add(v.rearrange(FOLD_1));
        return v.lane(0);
    }

    /**
     * {@code e^x} in every lane, from multiply-adds only. {@code lanewise(EXP)} runs a short-vector math library once
     * C2 compiles the caller and {@code Math.exp} per lane before, and the two differ in the last bit for about one
     * input in 200: softmax and SwiGLU gave other bits before and after JIT compilation. Cephes' {@code expf}:
     * {@code x = n ln 2 + r} with {@code |r| <= ln 2 / 2}, a degree-7 polynomial for {@code e^r}, times {@code 2^n} as
     * two powers of two built in the exponent bits (each stays normal down to the subnormal results). Above 88.72
     * (where floats end) it gives infinity, and NaN stays NaN.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector clamped = x.max(-104f).min(88.72283f);
        // n = round(x / ln 2): adding 1.5 * 2^23 rounds to an integer in the low mantissa bits
        FloatVector n = clamped.fma(1.44269504088896341f, 0x1.8p23f).sub(0x1.8p23f);
        FloatVector r = n.fma(FloatVector.broadcast(F, 2.12194440e-4f), n.fma(FloatVector.broadcast(F, -0.693359375f), clamped));
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
        p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        IntVector whole = (IntVector) n.convert(VectorOperators.F2I, 0);
        IntVector half = whole.lanewise(VectorOperators.ASHR, 1);
        FloatVector e = y.mul(powerOfTwo(half)).mul(powerOfTwo(whole.sub(half)));
        return e.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, 88.72283f));
    }

    /** {@code 2^k} for {@code -126 <= k <= 127}: {@code k + 127} in the exponent bits. */
    private static FloatVector powerOfTwo(IntVector k) {
        return k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    }

    /** Elements per block of the quantized types whose float kernels read block sums ({@link #blockSums}). */
    static final int SUM_BLOCK = 32;

    /** The sum of {@code x[offset .. offset + 32)}: its vectors added in order, then {@link #sum}. */
    static float blockSum(float[] x, int offset) {
        FloatVector v = FloatVector.fromArray(F, x, offset);
        for (int c = L; c < SUM_BLOCK; c += L) {
            v = v.add(FloatVector.fromArray(F, x, offset + c));
        }
        return sum(v);
    }

    /**
     * {@link #blockSum} of each block of 32 in each of the {@code batch} rows of {@code x}, once per matmul: a kernel
     * that adds a block's offset times its activation sum ({@link Q4_1VectorMatrix#dot}) reads it there for every
     * weight row. One array per token, indexed from zero: an index with an offset cost the kernel a tenth.
     */
    static float[][] blockSums(float[] x, int batch, int cols) {
        float[][] sums = new float[batch][cols / SUM_BLOCK];
        for (int t = 0; t < batch; t++) {
            for (int b = 0; b < sums[t].length; b++) {
                sums[t][b] = blockSum(x, t * cols + b * SUM_BLOCK);
            }
        }
        return sums;
    }

    /** Lane {@code i} from {@code i + L / 2}: the first step of {@link #sum}. */
    static final VectorShuffle<Float> HALF = L == 16 ? FOLD_8 : FOLD_4;
    /** Lane {@code i} from {@code i + L / 4}: its second step. */
    private static final VectorShuffle<Float> QUARTER = L == 16 ? FOLD_4 : FOLD_2;
    /** Lane {@code i} from {@code i - L / 4}: the second step with its sums a quarter higher. */
    private static final VectorShuffle<Float> UNFOLD_QUARTER = VectorShuffle.fromOp(F, i -> (i + L - L / 4) % L);
    /** The second quarter of each half. */
    private static final VectorMask<Float> SECOND_QUARTERS = VectorMask.fromLong(F, L == 16 ? 0xF0F0L : 0xCCL);

    /**
     * {@link #sum} of each of the {@code count} vectors stored at {@code lanes[k * L]}, into {@code sums[k]}, four in
     * one fold: folded by halves, the first and third vectors' lanes sit in the lower half and the second and fourth's
     * in the upper; folded by quarters, the third and fourth move up a quarter, into lanes the first two leave unused.
     * Each sum is added in {@link #sum}'s order (addition commutes, so lane {@code i + k} added to lane {@code i} is
     * the same sum as the other way round). A kernel with several accumulators stores them and sums them here: summed
     * one by one at its end, their folds ran out of C2's node budget, and the sums left as calls boxed their vectors.
     * {@code count} is a multiple of four.
     */
    static void sums(float[] lanes, int count, float[] sums) {
        for (int k = 0; k < count; k += 4) {
            FloatVector a = FloatVector.fromArray(F, lanes, k * L);
            FloatVector b = FloatVector.fromArray(F, lanes, (k + 1) * L);
            FloatVector c = FloatVector.fromArray(F, lanes, (k + 2) * L);
            FloatVector d = FloatVector.fromArray(F, lanes, (k + 3) * L);
            FloatVector halves = a.add(a.rearrange(HALF)).blend(b.add(b.rearrange(HALF)), UPPER_HALF);
            FloatVector others = c.add(c.rearrange(HALF)).blend(d.add(d.rearrange(HALF)), UPPER_HALF);
            FloatVector all = halves.add(halves.rearrange(QUARTER)).blend(others.add(others.rearrange(UNFOLD_QUARTER)), SECOND_QUARTERS);
            if (L == 16) {
                all = all.add(all.rearrange(FOLD_2));
            }
            all = all.add(all.rearrange(FOLD_1));
            sums[k] = all.lane(0);
            sums[k + 1] = all.lane(L / 2);
            sums[k + 2] = all.lane(L / 4);
            sums[k + 3] = all.lane(3 * L / 4);
        }
    }

    private static VectorShuffle<Float> fold(int k) {
        return VectorShuffle.fromOp(F, i -> (i + k) % L);
    }

    private static VectorSpecies<Float> species() {
        int bits = Integer.getInteger("streamingllm.simd.bits", 0);
        return bits == 0 ? FloatVector.SPECIES_PREFERRED : VectorSpecies.of(float.class, VectorShape.forBitSize(bits));
    }

    /** Whether the kernels can use this machine's vectors: they need 8 or 16 float lanes. */
    static boolean supported() {
        return L == 8 || L == 16;
    }

    private static float[] iota() {
        float[] values = new float[16];
        for (int i = 0; i < 16; i++) {
            values[i] = i;
        }
        return values;
    }

    static WeightMatrix matrix(GGUFTensor tensor) {
        return switch (tensor.type()) {
            case F32 -> new F32VectorMatrix(tensor);
            case F16 -> new F16VectorMatrix(tensor);
            case BF16 -> new BF16VectorMatrix(tensor);
            case Q8_0 -> new Q8_0VectorMatrix(tensor);
            case Q4_0 -> new Q4_0VectorMatrix(tensor);
            case Q4_1 -> new Q4_1VectorMatrix(tensor);
            case Q5_0 -> new Q5_0VectorMatrix(tensor);
            case Q5_1 -> new Q5_1VectorMatrix(tensor);
            case Q4_K -> new Q4_KVectorMatrix(tensor);
            case Q5_K -> new Q5_KVectorMatrix(tensor);
            case Q6_K -> new Q6_KVectorMatrix(tensor);
            default -> throw new AssertionError(tensor.type());
        };
    }

    /**
     * The 16-entry table {@code value(q) = scale * q + offset} as the bits of one vector (16 lanes,
     * {@code part} ignored) or of its lower or upper half (8 lanes, {@code part} 0 or 1).
     */
    static IntVector table(float scale, float offset, int part) {
        return (part == 0 ? IOTA_LO : IOTA_HI).fma(scale, offset).reinterpretAsInts();
    }

    /** {@code table[index & 15]} per lane, the table in {@code lo} (16 lanes) or {@code lo, hi} (8 lanes). */
    static FloatVector lookup(IntVector index, IntVector lo, IntVector hi) {
        // selectFrom wraps indexes into the table, so only the low 4 bits count.
        return (L == 16 ? index.selectFrom(lo) : index.selectFrom(lo, hi)).reinterpretAsFloats();
    }

    /**
     * The lanes {@code i} whose bit {@code shift + i} of {@code qh} is set: Q5_0's and Q5_1's fifth
     * bits, one per element of a block, for the L elements from {@code shift}.
     */
    static VectorMask<Float> fifthBits(int qh, int shift) {
        return VectorMask.fromLong(F, (qh >>> shift) & LANE_BITS);
    }

    /** {@code L} ones in the low bits. */
    private static final long LANE_BITS = (1L << L) - 1;

    /** 16 unsigned bytes at {@code offset} as 16-bit lanes. */
    static ShortVector halfBlock(MemorySegment data, long offset) {
        return (ShortVector) ByteVector.fromMemorySegment(BYTES_16, data, offset, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, HALF_BLOCK, 0);
    }

    /**
     * Signed 4-bit weights {@code low} (elements 0..15 of a block of 32) and {@code high} (16..31) times
     * activation block {@code xb}, in integers: a 16-bit lane adds two products (at most 8 x 1023 each),
     * and one multiply by 0x10001 (the high half becomes low + high) and a shift sum each pair of lanes
     * into 32 bits. The result is 8 float lanes that sum to the block's dot product.
     */
    static FloatVector products(ShortVector low, ShortVector high, QuantizedActivations x, int xb) {
        int v = xb * QuantizedActivations.BLOCK;
        ShortVector products = low.mul(ShortVector.fromArray(HALF_BLOCK, x.values, v))
                .add(high.mul(ShortVector.fromArray(HALF_BLOCK, x.values, v + 16)));
        IntVector pairs = products.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16);
        return (FloatVector) pairs.convert(VectorOperators.I2F, 0);
    }

    /**
     * The 16-bit lanes of {@code products} added in pairs, as 8 float lanes with the same sum: each 32-bit lane
     * is split into its two signed halves by shifts, and those are added in 32 bits, for pairs that can
     * exceed 16 bits (Q4_K's unsigned nibbles, Q6_K's 6-bit quants), where {@link #products} adds in 16.
     */
    static FloatVector pairSums(ShortVector products) {
        IntVector lanes = products.reinterpretAsInts();
        IntVector pairs = lanes.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(lanes.lanewise(VectorOperators.ASHR, 16));
        return (FloatVector) pairs.convert(VectorOperators.I2F, 0);
    }

    /** The low nibbles of {@link #bytes} as floats: a 4-bit block's first half of quants (Q4_1, Q4_K). */
    static FloatVector lowNibbles(IntVector bytes) {
        return (FloatVector) bytes.and(0xF).convert(VectorOperators.I2F, 0);
    }

    /** The high nibbles of {@link #bytes} as floats: the block's second half of quants. */
    static FloatVector highNibbles(IntVector bytes) {
        return (FloatVector) bytes.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0);
    }

    /** L unsigned bytes at {@code offset} as int lanes. */
    static IntVector bytes(MemorySegment data, long offset) {
        return (IntVector) ByteVector.fromMemorySegment(B, data, offset, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }
}
