package dev.streamingllm.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.session.Session;
import org.junit.jupiter.api.Test;

class SinkCacheDeltaTest extends SinkCacheFixture {

    private static SinkCache read(byte[] snapshot) {
        return SinkCacheSnapshot.read(snapshot, model.config().layers(), model.config().kvDim());
    }

    @Test
    void aBaseAndItsDeltasRestoreTheCacheBitForBit() {
        for (CacheConfig config : new CacheConfig[] {new CacheConfig(4, 28, 1), new CacheConfig(4, 28, 1, CacheType.F16),
                new CacheConfig(4, 28, 5, CacheType.F16), new CacheConfig(0, 28, 1)}) {
            Session original = new Session(model.decoder(), config, 8);
            original.cache().pinFirst(6);
            // chunks from a single token to more than the whole window: the sinks fill, the ring wraps and evicts
            int[] chunks = {2, 3, 9, 20, 1, 1, 45, 7, 30, 13, 1, 64};
            original.prefill(tokens(chunks[0], 0));
            byte[] base = SinkCacheSnapshot.write(original.cache());
            SinkCache restored = read(base);
            for (int i = 1; i < chunks.length; i++) {
                long before = original.cache().tokensSeen();
                original.prefill(tokens(chunks[i], i));
                byte[] delta = SinkCacheDelta.write(original.cache(), before);
                SinkCacheDelta.apply(delta, restored);
                assertThat(SinkCacheSnapshot.write(restored)).as("%s after chunk %d", config, i)
                        .isEqualTo(SinkCacheSnapshot.write(original.cache()));
            }
            assertThat(original.cache().evicted()).isPositive();
            // the restored cache continues the stream exactly
            Session continued = new Session(model.decoder(), restored, 8);
            int[] next = tokens(17, 99);
            assertThat(continued.prefillAll(next)).containsExactly(original.prefillAll(next));
        }
    }

    @Test
    void aDeltaSinceNothingNewHoldsNoEntries() {
        Session session = new Session(model.decoder(), CacheConfig.streaming(4, 12));
        session.prefill(tokens(30, 1));
        SinkCache restored = read(SinkCacheSnapshot.write(session.cache()));
        byte[] delta = SinkCacheDelta.write(session.cache(), session.cache().tokensSeen());
        SinkCacheDelta.apply(delta, restored);
        assertThat(SinkCacheSnapshot.write(restored)).isEqualTo(SinkCacheSnapshot.write(session.cache()));
        // header, bookkeeping, no entries, checksum
        assertThat(delta.length).isEqualTo(4 * 7 + 8 + 4 * 4 + 8 * 3 + 4 + 4);
    }

    @Test
    void refusesADeltaOfAnotherBaseOrGeometryAndCorruptOnes() {
        Session session = new Session(model.decoder(), CacheConfig.streaming(4, 12));
        session.prefill(tokens(10, 1));
        byte[] base = SinkCacheSnapshot.write(session.cache());
        session.prefill(tokens(5, 2));
        byte[] first = SinkCacheDelta.write(session.cache(), 10);
        session.prefill(tokens(5, 3));
        byte[] second = SinkCacheDelta.write(session.cache(), 15);

        SinkCache restored = read(base);
        byte[] unchanged = SinkCacheSnapshot.write(restored);
        assertThatThrownBy(() -> SinkCacheDelta.apply(second, restored)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cache delta continues a cache that had seen 15 tokens; this one has seen 10");
        assertThat(SinkCacheSnapshot.write(restored)).isEqualTo(unchanged);
        byte[] corrupt = first.clone();
        corrupt[60] ^= 1;
        assertThatThrownBy(() -> SinkCacheDelta.apply(corrupt, restored)).hasMessageContaining("checksum mismatch");
        assertThatThrownBy(() -> SinkCacheDelta.apply(new byte[3], restored)).hasMessageContaining("truncated");
        assertThatThrownBy(() -> SinkCacheDelta.apply(base, restored)).hasMessage("not a sink cache delta");
        SinkCache other = new SinkCache(CacheConfig.streaming(4, 13), model.config().layers(), model.config().kvDim());
        assertThatThrownBy(() -> SinkCacheDelta.apply(first, other)).hasMessageContaining("cache delta is for sinks 4, window 12");
        assertThatThrownBy(() -> SinkCacheDelta.write(session.cache(), 21)).hasMessageContaining("has no delta since 21 tokens");
        SinkCacheDelta.apply(first, restored);
        SinkCacheDelta.apply(second, restored);
        assertThat(SinkCacheSnapshot.write(restored)).isEqualTo(SinkCacheSnapshot.write(session.cache()));
    }

    @Test
    void aTwentyTokenTurnOnAFullCacheWritesAboutOnePercentOfAFullSnapshot() {
        for (CacheType type : CacheType.values()) {
            Session session = new Session(model.decoder(), new CacheConfig(4, 2044, 1, type));
            session.prefill(tokens(2100, 5));
            long before = session.cache().tokensSeen();
            session.prefill(tokens(20, 6));
            byte[] full = SinkCacheSnapshot.write(session.cache());
            byte[] delta = SinkCacheDelta.write(session.cache(), before);
            // rows per entry: keys and values of 5 layers x 32 values
            long row = 2L * 5 * type.bytes(32);
            assertThat(full.length).isEqualTo(4 * 11 + 8 * 3 + 4 * 2048 + 2048 * row + 4);
            assertThat(delta.length).isEqualTo(4 * 7 + 8 + 4 * 4 + 8 * 3 + 4 + 20 * (8 + row) + 4);
            assertThat((double) delta.length / full.length).as("%s: %d of %d bytes", type, delta.length, full.length).isLessThan(0.011);
        }
    }
}
