package dev.streamingllm.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.model.Model;
import dev.streamingllm.session.Session;
import dev.streamingllm.testing.Shared;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A cache of IEEE halves against one of floats on the same token stream, past the window's first evictions: every
 * logit within 2e-3 of its row's largest, at half the bytes; and a snapshot of a half cache restores it exactly.
 */
class HalfCacheTest {

    @ParameterizedTest
    @ValueSource(strings = {"stories260K.gguf", "tiny-gqa-f32.gguf", "tiny-gqa-q8_0.gguf"})
    void halvesGiveTheLogitsOfFloatsAtHalfTheBytes(String file) {
        try (Model model = Model.load(Shared.model(file))) {
            int vocab = model.config().vocabularySize();
            Random random = new Random(5);
            int[] tokens = IntStream.range(0, 160).map(i -> 3 + random.nextInt(vocab - 3)).toArray();
            CacheConfig floats = CacheConfig.streaming(4, 60);
            Session f32 = new Session(model.decoder(), floats, 16);
            Session f16 = new Session(model.decoder(), floats.withType(CacheType.F16), 16);
            float[] expected = f32.prefillAll(tokens);
            float[] actual = f16.prefillAll(tokens);
            double worst = 0;
            for (int row = 0; row < tokens.length; row++) {
                float largest = 0;
                for (int i = 0; i < vocab; i++) {
                    largest = Math.max(largest, Math.abs(expected[row * vocab + i]));
                }
                for (int i = 0; i < vocab; i++) {
                    worst = Math.max(worst, Math.abs(actual[row * vocab + i] - expected[row * vocab + i]) / largest);
                }
            }
            assertThat(worst).as("worst logit error relative to its row's largest").isLessThanOrEqualTo(2e-3).isPositive();
            assertThat(f16.cache().evicted()).isPositive();
            assertThat(f16.cache().bytes() * 2).isEqualTo(f32.cache().bytes());

            SinkCache restored = SinkCacheSnapshot.read(SinkCacheSnapshot.write(f16.cache()), model.config().layers(), model.config().kvDim());
            assertThat(restored.type()).isEqualTo(CacheType.F16);
            Session resumed = new Session(model.decoder(), restored, 16);
            int[] next = {tokens[3], tokens[7]};
            assertThat(resumed.prefillAll(next)).containsExactly(f16.prefillAll(next));
        }
    }

    /** Keys and values beyond the half range are stored as the largest finite half, never as infinities. */
    @Test
    void halvesSaturateAtTheLargestFiniteHalf() {
        SinkCache cache = new SinkCache(CacheConfig.streaming(1, 2).withType(CacheType.F16), 1, 3);
        cache.store(0, 0, new float[] {1e6f, -1e6f, 1.5f}, 0, new float[] {Float.POSITIVE_INFINITY, 70000f, -2f}, 0);
        assertThat(cache.halfKeys(0)).startsWith(Float.floatToFloat16(65504f), Float.floatToFloat16(-65504f), Float.floatToFloat16(1.5f));
        assertThat(cache.halfValues(0)).startsWith(Float.floatToFloat16(65504f), Float.floatToFloat16(65504f), Float.floatToFloat16(-2f));
    }
}
