package dev.streamingllm.gguf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.backend.cpu.WeightMatrix;
import dev.streamingllm.testing.QuantizedModels;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class GGMLQuantizerTest {

    /**
     * SHA-256 of {@code llama-quantize --pure ../shared/models/tiny-gqa-f32.gguf OUT.gguf TYPE} (llama.cpp
     * build 4748, c392e5094): the whole file, which {@link QuantizedModels} writes again from the same
     * source with this project's quantizer and writer.
     */
    static final Map<GGMLType, String> LLAMA_QUANTIZE = Map.of(
            GGMLType.Q4_1, "6c5088412664785fa3496593dc66740b95e7bb43c5632a710aeeb18e05bf92cd",
            GGMLType.Q5_0, "ef034f970e14f21a91b026a7865a954df33942b10338ebc712014132775cefb2",
            GGMLType.Q5_1, "fbe2c9cf0e580e64e906a02c1ea744412cd550403f884ab6fcf4f6cbbb780fa3");

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"Q4_1", "Q5_0", "Q5_1"})
    void tinyGqaQuantizesByteForByteAsLlamaQuantizeDoes(GGMLType type) {
        assertThat(QuantizedModels.sha256(QuantizedModels.tinyGqa(type))).as("%s file", type).isEqualTo(LLAMA_QUANTIZE.get(type));
    }

    /**
     * Every value decodes to within half a step of itself (plus the f16 rounding of the scale and
     * minimum), for a row with the awkward blocks: all equal, all zero, one sign only, one outlier.
     */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"})
    void decodedValuesStayWithinHalfAStep(GGMLType type) {
        Random random = new Random(7);
        int cols = 32 * 6;
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = (float) random.nextGaussian();
        }
        java.util.Arrays.fill(x, 0, 32, 0.3f);
        java.util.Arrays.fill(x, 32, 64, 0f);
        for (int i = 64; i < 96; i++) {
            x[i] = -Math.abs(x[i]) - 1;
        }
        x[100] = 40f;
        ByteBuffer buffer = ByteBuffer.allocate((int) type.byteSize(cols));
        GGMLQuantizer.encode(x, type, buffer);
        assertThat(buffer.position()).isEqualTo(buffer.capacity());
        GGUFTensor tensor = new GGUFTensor("w", new long[] {cols, 1}, type, MemorySegment.ofArray(buffer.array()));
        float[] decoded = new float[cols];
        WeightMatrix.of(tensor).dequantizeRow(0, decoded, 0);
        for (int b = 0; b < cols / 32; b++) {
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            float amax = 0;
            for (int i = b * 32; i < b * 32 + 32; i++) {
                min = Math.min(min, x[i]);
                max = Math.max(max, x[i]);
                amax = Math.max(amax, Math.abs(x[i]));
            }
            double bound = switch (type) {
                case Q4_1 -> (max - min) / 15 / 2;
                case Q5_1 -> (max - min) / 31 / 2;
                // Q4_0 and Q5_0 reach 8 and 16 steps on the side of the largest magnitude but 7 and 15 on the other: a whole step there.
                case Q4_0 -> amax / 8;
                case Q5_0 -> amax / 16;
                default -> amax / 127 / 2;
            };
            bound += 0x1p-10 * (Math.abs(min) + Math.abs(max)) + 1e-7; // the scale and minimum rounded to f16
            for (int i = b * 32; i < b * 32 + 32; i++) {
                assertThat((double) Math.abs(decoded[i] - x[i])).as("%s block %d value %d: %s decoded as %s", type, b, i, x[i], decoded[i])
                        .isLessThanOrEqualTo(bound);
            }
        }
    }
}
