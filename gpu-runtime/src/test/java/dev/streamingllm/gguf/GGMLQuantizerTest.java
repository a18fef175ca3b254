package dev.streamingllm.gguf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.testing.QuantizedModels;
import java.util.Map;
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
}
