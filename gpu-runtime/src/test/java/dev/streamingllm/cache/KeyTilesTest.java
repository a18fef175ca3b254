package dev.streamingllm.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The key layout: every element of every slot has its own place inside the layer, neighbouring slots' elements lie
 * side by side, and keys stored in tiles come back out of a cache's snapshot rows in element order.
 */
class KeyTilesTest {

    @Test
    void everyElementOfEverySlotHasItsOwnPlaceInTheLayer() {
        for (int kvDim : new int[] {1, 3, 32, 64, 192}) {
            for (int slots : new int[] {1, 15, 16, 17, 53}) {
                BitSet taken = new BitSet();
                BitSet takenHalves = new BitSet();
                for (int slot = 0; slot < slots; slot++) {
                    for (int i = 0; i < kvDim; i++) {
                        int index = KeyTiles.index(kvDim, slot, i);
                        int half = KeyTiles.halfIndex(kvDim, slot, i);
                        assertThat(index).as("kvDim %d slot %d element %d", kvDim, slot, i).isBetween(0, KeyTiles.length(slots, kvDim) - 1);
                        assertThat(half).as("kvDim %d slot %d element %d as a half", kvDim, slot, i).isBetween(0, KeyTiles.length(slots, kvDim) - 1);
                        assertThat(taken.get(index)).as("kvDim %d slot %d element %d shares its place", kvDim, slot, i).isFalse();
                        assertThat(takenHalves.get(half)).as("kvDim %d slot %d element %d shares its half's place", kvDim, slot, i).isFalse();
                        taken.set(index);
                        takenHalves.set(half);
                    }
                }
            }
        }
    }

    @Test
    void neighbouringSlotsOfATileLieSideBySide() {
        int kvDim = 64;
        for (int slot = 16; slot < 31; slot++) {
            assertThat(KeyTiles.index(kvDim, slot + 1, 5)).isEqualTo(KeyTiles.index(kvDim, slot, 5) + 1);
            assertThat(KeyTiles.halfIndex(kvDim, slot + 1, 6)).isEqualTo(KeyTiles.halfIndex(kvDim, slot, 6) + 2);
            assertThat(KeyTiles.halfIndex(kvDim, slot, 7)).isEqualTo(KeyTiles.halfIndex(kvDim, slot, 6) + 1);
            assertThat(KeyTiles.scaleIndex(kvDim, slot + 1, 1)).isEqualTo(KeyTiles.scaleIndex(kvDim, slot, 1) + 1);
        }
        assertThat(KeyTiles.index(kvDim, 16, 0)).isEqualTo(16 * kvDim);
    }

    /** A snapshot row is a slot's elements in order, so the keys stored in tiles come back as stored. */
    @Test
    void keysStoredInTilesLeaveInSnapshotRowsInElementOrder() throws IOException {
        Random random = new Random(3);
        int kvDim = 64;
        for (CacheType type : CacheType.values()) {
            SinkCache cache = new SinkCache(CacheConfig.dense(20).withType(type), 2, kvDim);
            float[][] keys = new float[21][];
            for (int slot = 0; slot < 21; slot++) {
                keys[slot] = new float[kvDim];
                for (int i = 0; i < kvDim; i++) {
                    keys[slot][i] = (float) random.nextGaussian();
                }
                cache.store(1, slot, keys[slot], 0, new float[kvDim], 0);
            }
            int[] slots = {17, 3, 20, 0};
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            KvRows.write(new DataOutputStream(bytes), cache, slots);
            ByteBuffer rows = ByteBuffer.wrap(bytes.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
            int rowBytes = (int) type.bytes(kvDim);
            rows.position(2 * slots.length * rowBytes); // layer 0's keys and values
            for (int slot : slots) {
                ByteBuffer row = rows.slice(rows.position(), rowBytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < kvDim; i++) {
                    float stored = switch (type) {
                        case F32 -> row.getFloat(4 * i);
                        case F16 -> Float.float16ToFloat(row.getShort(2 * i));
                        case Q8_0 -> row.get(i) * Float.float16ToFloat(row.getShort(kvDim + 2 * (i / CacheType.Q8_0_BLOCK)));
                    };
                    float tolerance = type == CacheType.F32 ? 0f : 0.02f * (1 + Math.abs(keys[slot][i]));
                    assertThat(stored).as("%s slot %d element %d", type, slot, i).isCloseTo(keys[slot][i], org.assertj.core.data.Offset.offset(tolerance));
                }
                rows.position(rows.position() + rowBytes);
            }

            SinkCache copy = new SinkCache(CacheConfig.dense(20).withType(type), 2, kvDim);
            KvRows.read(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())), copy, slots);
            ByteArrayOutputStream again = new ByteArrayOutputStream();
            KvRows.write(new DataOutputStream(again), copy, slots);
            assertThat(again.toByteArray()).as("%s rows read back into another cache", type).isEqualTo(bytes.toByteArray());
        }
    }
}
