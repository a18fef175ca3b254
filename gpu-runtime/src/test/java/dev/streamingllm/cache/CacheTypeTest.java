package dev.streamingllm.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.model.Model;
import dev.streamingllm.session.Session;
import dev.streamingllm.testing.ReferenceLogits;
import dev.streamingllm.testing.Shared;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Caches of IEEE halves and of Q8_0 blocks against one of floats on the same token stream, past the window's first
 * evictions: every logit within a bound of its row's largest, at the type's bytes; and a snapshot of each restores it
 * exactly. Halves stay within 2e-3, as the serving issue asks. Q8_0 keeps about 8 bits of each block's largest value
 * (a step of 1/127 of it), and these random-weight models' keys spread wide within a block: 2.5e-2 to 4.2e-2 here.
 */
class CacheTypeTest {

    @ParameterizedTest
    @CsvSource({
        "stories260K.gguf, F16, 2e-3", "tiny-gqa-f32.gguf, F16, 2e-3", "tiny-gqa-q8_0.gguf, F16, 2e-3",
        "stories260K.gguf, Q8_0, 6e-2", "tiny-gqa-f32.gguf, Q8_0, 4e-2", "tiny-gqa-q8_0.gguf, Q8_0, 4e-2"})
    void aNarrowerCacheGivesTheLogitsOfFloatsAtItsBytes(String file, CacheType type, double bound) {
        try (Model model = Model.load(Shared.model(file))) {
            int vocab = model.config().vocabularySize();
            Random random = new Random(5);
            int[] tokens = IntStream.range(0, 160).map(i -> 3 + random.nextInt(vocab - 3)).toArray();
            CacheConfig floats = CacheConfig.streaming(4, 60);
            Session f32 = new Session(model.decoder(), floats, 16);
            Session narrow = new Session(model.decoder(), floats.withType(type), 16);
            float[] expected = f32.prefillAll(tokens);
            float[] actual = narrow.prefillAll(tokens);
            double worst = ReferenceLogits.worstRowError(expected, actual, vocab);
            assertThat(worst).as("worst logit error relative to its row's largest").isLessThanOrEqualTo(bound).isPositive();
            assertThat(narrow.cache().evicted()).isPositive();
            int slots = narrow.cache().slots();
            int kvDim = model.config().kvDim();
            long values = (long) model.config().layers() * (CacheLayout.keyLength(slots, kvDim) + CacheLayout.valueLength(slots, kvDim));
            assertThat(values).isGreaterThanOrEqualTo(2L * model.config().layers() * slots * kvDim);
            assertThat(narrow.cache().bytes()).isEqualTo(type == CacheType.F16 ? 2 * values : values + values / 16);

            SinkCache restored = SinkCacheSnapshot.read(SinkCacheSnapshot.write(narrow.cache()), model.config().layers(), model.config().kvDim());
            assertThat(restored.type()).isEqualTo(type);
            Session resumed = new Session(model.decoder(), restored, 16);
            int[] next = {tokens[3], tokens[7]};
            assertThat(resumed.prefillAll(next)).containsExactly(narrow.prefillAll(next));
        }
    }

    /** Keys and values beyond the half range are stored as the largest finite half, never as infinities. */
    @Test
    void halvesSaturateAtTheLargestFiniteHalf() {
        SinkCache cache = new SinkCache(CacheConfig.streaming(1, 2).withType(CacheType.F16), 1, 3);
        cache.store(0, 0, new float[] {1e6f, -1e6f, 1.5f}, 0, new float[] {Float.POSITIVE_INFINITY, 70000f, -2f}, 0);
        short[] keys = cache.halfKeys(0);
        assertThat(new short[] {keys[CacheLayout.halfKeyIndex(cache.stride(), 0, 0)], keys[CacheLayout.halfKeyIndex(cache.stride(), 0, 1)], keys[CacheLayout.halfKeyIndex(cache.stride(), 0, 2)]})
                .containsExactly(Float.floatToFloat16(65504f), Float.floatToFloat16(-65504f), Float.floatToFloat16(1.5f));
        short[] values = cache.halfValues(0);
        int slots = cache.stride();
        assertThat(new short[] {values[CacheLayout.valueIndex(slots, 0, 0)], values[CacheLayout.valueIndex(slots, 0, 1)],
                values[CacheLayout.valueIndex(slots, 0, 2)]})
                .containsExactly(Float.floatToFloat16(65504f), Float.floatToFloat16(65504f), Float.floatToFloat16(-2f));
    }

    /**
     * A Q8_0 row is ggml's blocks: per 32 values a half scale of the largest magnitude over 127 and each value's
     * rounded quotient; an infinite value saturates as in a half cache, so its block keeps a finite scale.
     */
    @Test
    void q8_0RowsAreGgmlBlocks() {
        SinkCache cache = new SinkCache(CacheConfig.streaming(1, 2).withType(CacheType.Q8_0), 1, 64);
        float[] key = new float[64];
        float[] value = new float[64];
        for (int i = 0; i < 64; i++) {
            key[i] = (i - 20) * 0.25f;
            value[i] = i == 40 ? Float.NEGATIVE_INFINITY : 1f;
        }
        cache.store(0, 1, key, 0, value, 0);
        float d0 = 20 * 0.25f / 127;
        float d1 = 43 * 0.25f / 127;
        assertThat(cache.keyScales(0)[CacheLayout.keyScaleIndex(cache.stride(), 1, 0)]).isEqualTo(Float.floatToFloat16(d0));
        assertThat(cache.keyScales(0)[CacheLayout.keyScaleIndex(cache.stride(), 1, 1)]).isEqualTo(Float.floatToFloat16(d1));
        assertThat(cache.quantKeys(0)[CacheLayout.keyIndex(cache.stride(), 1, 0)]).isEqualTo((byte) -127);
        assertThat(cache.quantKeys(0)[CacheLayout.keyIndex(cache.stride(), 1, 31)]).isEqualTo((byte) Math.round(11 * 0.25f / d0)).isEqualTo((byte) 70);
        assertThat(cache.quantKeys(0)[CacheLayout.keyIndex(cache.stride(), 1, 20)]).isZero();
        assertThat(cache.quantKeys(0)[CacheLayout.keyIndex(cache.stride(), 1, 63)]).isEqualTo((byte) 127);
        int slots = cache.stride();
        assertThat(Float.float16ToFloat(cache.valueScales(0)[CacheLayout.valueScaleIndex(slots, 1, 1)]))
                .isEqualTo(Float.float16ToFloat(Float.floatToFloat16(65504f / 127)));
        assertThat(cache.quantValues(0)[CacheLayout.valueIndex(slots, 1, 40)]).isEqualTo((byte) -127);
        assertThat(cache.quantValues(0)[CacheLayout.valueIndex(slots, 1, 0)]).isEqualTo((byte) 127);
        assertThat(cache.quantValues(0)[CacheLayout.valueIndex(slots, 1, 41)]).isZero();
    }

    /** A model whose key rows are not whole blocks is refused a Q8_0 cache, with the reason and the alternative. */
    @Test
    void q8_0NeedsWholeBlocks() {
        assertThatThrownBy(() -> new SinkCache(CacheConfig.streaming(1, 2).withType(CacheType.Q8_0), 1, 48))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("48 key values per token are not whole blocks").hasMessageContaining("f16");
    }
}
