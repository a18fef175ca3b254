package dev.streamingllm.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SimdTest {

    @Test
    void readsTheTrapLimitThisJvmWasStartedWith() {
        long expected = ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(arg -> arg.startsWith("-XX:PerMethodTrapLimit="))
                .map(arg -> Long.parseLong(arg.substring(arg.indexOf('=') + 1)))
                .reduce((first, last) -> last)
                .orElse(100L); // HotSpot's default
        assertThat(Simd.trapLimit()).contains(expected);
    }

    @Test
    void theDefaultTrapLimitGetsAdviceNamingTheFlag() {
        assertThat(Simd.trapLimitAdvice(Optional.of(100L))).hasValueSatisfying(advice -> assertThat(advice)
                .contains("PerMethodTrapLimit is 100").contains("-XX:PerMethodTrapLimit=" + Simd.TRAP_LIMIT));
    }

    @Test
    void enoughTrapsOrAnUnknownLimitGetNoAdvice() {
        assertThat(Simd.trapLimitAdvice(Optional.of(Simd.TRAP_LIMIT))).isEmpty();
        assertThat(Simd.trapLimitAdvice(Optional.of(5000L))).isEmpty();
        assertThat(Simd.trapLimitAdvice(Optional.empty())).isEmpty();
    }
}
