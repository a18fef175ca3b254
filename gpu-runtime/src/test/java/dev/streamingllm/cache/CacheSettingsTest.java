package dev.streamingllm.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CacheSettingsTest {

    @Test
    void anUnsetWindowFillsTheContextUpTo2048Tokens() {
        assertThat(CacheSettings.DEFAULT.resolve(8192)).isEqualTo(new CacheConfig(4, 2044, 1, CacheType.F32));
        assertThat(CacheSettings.DEFAULT.resolve(512)).isEqualTo(new CacheConfig(4, 508, 1, CacheType.F32));
        assertThat(new CacheSettings(8, null, 16, CacheType.F16).resolve(2048)).isEqualTo(new CacheConfig(8, 2040, 16, CacheType.F16));
    }

    @Test
    void aConfiguredWindowIsKeptWhateverTheContext() {
        CacheSettings settings = new CacheSettings(4, 4092, 1, CacheType.F32);
        assertThat(settings.resolve(512).capacity()).isEqualTo(4096);
        assertThat(CacheSettings.of(CacheConfig.dense(64)).resolve(8192)).isEqualTo(CacheConfig.dense(64));
    }

    @Test
    void sinksThatLeaveNoWindowAreTheCacheConfigsError() {
        assertThatThrownBy(() -> new CacheSettings(600, null, 1, CacheType.F32).resolve(512))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sinks (600) must be smaller than the cache capacity sinks + window (512): the window needs at least one token");
        assertThatThrownBy(() -> new CacheSettings(4, null, 1, null)).hasMessageContaining("cache type must be given");
    }

    @Test
    void withReplacesOnlyWhatIsGiven() {
        CacheConfig defaults = new CacheConfig(4, 124, 8, CacheType.F16);
        assertThat(defaults.with(null, 60)).isEqualTo(new CacheConfig(4, 60, 8, CacheType.F16));
        assertThat(defaults.with(2, null)).isEqualTo(new CacheConfig(2, 124, 8, CacheType.F16));
        assertThat(defaults.with(null, null)).isEqualTo(defaults);
    }
}
