package dev.streamingllm.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CudaOptionsTest {

    @Test
    void f16AndF32MatricesGoThroughCublasFromOneRowByDefault() {
        assertThat(CudaOptions.DEFAULT.f16GemmMinRows()).isEqualTo(1);
        assertThat(CudaOptions.DEFAULT.gemmMinRows()).isEqualTo(3);
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
