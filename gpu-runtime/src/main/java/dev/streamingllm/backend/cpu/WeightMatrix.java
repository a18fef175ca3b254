package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;

// TEMPORARY STUB (not committed): replaced by the kernels branch.
public class WeightMatrix {
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    final GGUFTensor t; final int rows, cols;
    WeightMatrix(GGUFTensor t) { this.t = t; rows = t.rows(); cols = t.cols(); }
    public static WeightMatrix of(GGUFTensor t) { return new WeightMatrix(t); }
    public int rows() { return rows; }
    public int cols() { return cols; }
    public void dequantizeRow(int row, float[] out, int off) {
        MemorySegment d = t.data();
        switch (t.type()) {
            case F32 -> { for (int i = 0; i < cols; i++) out[off + i] = d.get(F, ((long) row * cols + i) * 4); }
            case F16 -> { for (int i = 0; i < cols; i++) out[off + i] = Float.float16ToFloat(d.get(S, ((long) row * cols + i) * 2)); }
            case BF16 -> { for (int i = 0; i < cols; i++) out[off + i] = Float.intBitsToFloat(d.get(S, ((long) row * cols + i) * 2) << 16); }
            case Q8_0 -> { long base = (long) row * (cols / 32) * 34; for (int b = 0; b < cols / 32; b++) { float s = Float.float16ToFloat(d.get(S, base + b * 34L)); for (int i = 0; i < 32; i++) out[off + b * 32 + i] = s * d.get(ValueLayout.JAVA_BYTE, base + b * 34L + 2 + i); } }
            case Q4_0 -> { long base = (long) row * (cols / 32) * 18; for (int b = 0; b < cols / 32; b++) { float s = Float.float16ToFloat(d.get(S, base + b * 18L)); for (int i = 0; i < 16; i++) { int q = d.get(ValueLayout.JAVA_BYTE, base + b * 18L + 2 + i) & 0xff; out[off + b * 32 + i] = s * ((q & 15) - 8); out[off + b * 32 + i + 16] = s * ((q >> 4) - 8); } } }
            default -> throw new UnsupportedOperationException(t.type().toString());
        }
    }
    public float dot(int row, float[] x, int off) {
        float[] w = new float[cols]; dequantizeRow(row, w, 0);
        float s = 0; for (int i = 0; i < cols; i++) s += w[i] * x[off + i]; return s;
    }
    public void matmul(float[] x, float[] out, int batch) {
        IntStream.range(0, rows).parallel().forEach(r -> { for (int b = 0; b < batch; b++) out[b * rows + r] = dot(r, x, b * cols); });
    }
}
