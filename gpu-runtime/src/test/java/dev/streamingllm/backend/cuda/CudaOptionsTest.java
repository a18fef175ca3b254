package dev.streamingllm.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.gguf.GGMLType;
import org.junit.jupiter.api.Test;

class CudaOptionsTest {

    @Test
    void f16AndF32MatricesGoThroughCublasFromOneRowByDefault() {
        assertThat(CudaOptions.DEFAULT.f16GemmMinRows()).isEqualTo(1);
        assertThat(CudaOptions.DEFAULT.gemmMinRows()).isEqualTo(3);
    }

    @Test
    void f16AndF32MatricesTakeTheirOwnThresholdAndEveryOtherTypeTheOther() {
        CudaOptions options = new CudaOptions(0, 0, 16, 5, 2);
        assertThat(options.gemmMinRows(GGMLType.F16)).isEqualTo(2);
        assertThat(options.gemmMinRows(GGMLType.F32)).isEqualTo(2);
        for (GGMLType type : new GGMLType[] {GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0,
                GGMLType.Q5_1, GGMLType.Q4_K, GGMLType.Q6_K}) {
            assertThat(options.gemmMinRows(type)).as("%s", type).isEqualTo(5);
        }
    }

    @Test
    void aThresholdBelowOneRowIsRejectedByName() {
        assertThatThrownBy(() -> new CudaOptions(0, 0, 16, 0, 1)).hasMessageContaining("gemmMinRows must be >= 1, was 0");
        assertThatThrownBy(() -> new CudaOptions(0, 0, 16, 3, 0)).hasMessageContaining("f16GemmMinRows must be >= 1, was 0");
    }

    @Test
    void aCapacityLeftToTheModelKeepsTheThresholds() {
        CudaOptions options = new CudaOptions(0, 4, 16, 5, 2).forCapacity(64);
        assertThat(options).isEqualTo(new CudaOptions(64, 4, 16, 5, 2));
    }
}
