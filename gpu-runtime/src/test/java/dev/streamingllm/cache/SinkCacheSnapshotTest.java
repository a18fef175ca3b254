package dev.streamingllm.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.session.Session;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SinkCacheSnapshotTest extends SinkCacheFixture {

    @Test
    void aRestoredCacheContinuesTheStreamBitForBit() {
        Session original = new Session(model.decoder(), new CacheConfig(4, 20, 3));
        original.cache().pinFirst(6);
        int[] stream = tokens(57, 1);
        original.prefill(stream);
        byte[] snapshot = SinkCacheSnapshot.write(original.cache());

        SinkCache restored = SinkCacheSnapshot.read(snapshot, model.config().layers(), model.config().kvDim());
        // the token history of the cache: the pinned first six, then the last eighteen of the window
        int[] held = restored.tokens();
        assertThat(held).containsExactly(original.cache().tokens());
        assertThat(Arrays.copyOfRange(held, 0, 6)).containsExactly(Arrays.copyOfRange(stream, 0, 6));
        assertThat(Arrays.copyOfRange(held, 6, 24)).containsExactly(Arrays.copyOfRange(stream, 57 - 18, 57));
        Session continued = new Session(model.transformer(), restored, Session.DEFAULT_PREFILL_CHUNK);
        int[] next = tokens(30, 2);
        assertThat(continued.prefillAll(next)).containsExactly(original.prefillAll(next));
        assertThat(continued.cache().tokensSeen()).isEqualTo(87);
        assertThat(continued.cache().evicted()).isEqualTo(original.cache().evicted());
        // geometry, type + bookkeeping + token ids and keys/values of the occupied slots only + checksum
        assertThat(snapshot.length).isEqualTo(4 * 11 + 8 * 3 + 4 * 24 + 2 * 5 * 24 * 32 * 4 + 4);
    }

    @Test
    void rejectsCorruptTruncatedAndForeignSnapshots() {
        Session session = new Session(model.decoder(), CacheConfig.streaming(4, 12));
        session.prefill(tokens(20, 3));
        byte[] snapshot = SinkCacheSnapshot.write(session.cache());

        byte[] corrupt = snapshot.clone();
        corrupt[100] ^= 1;
        assertThatThrownBy(() -> SinkCacheSnapshot.read(corrupt, 5, 32)).hasMessageContaining("checksum mismatch");
        assertThatThrownBy(() -> SinkCacheSnapshot.read(new byte[2], 5, 32)).hasMessageContaining("truncated");
        assertThatThrownBy(() -> SinkCacheSnapshot.read(snapshot, 6, 32)).hasMessageContaining("snapshot is for 5 layers x 32");
    }
}
