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
 * The cache layout: every element of every slot has its own place inside the layer, neighbouring slots' key elements
 * lie side by side, a value chunk's rows follow one another, and keys and values stored in their layouts come back out
 * of a cache's snapshot rows in element order.
 */
class CacheLayoutTest {

    @Test
    void everyElementOfEverySlotHasItsOwnPlaceInTheLayer() {
        for (int kvDim : new int[] {1, 3, 32, 64, 192}) {
            for (int slots : new int[] {1, 15, 16, 17, 53}) {
                BitSet taken = new BitSet();
                BitSet takenHalves = new BitSet();
                BitSet takenValues = new BitSet();
                for (int slot = 0; slot < slots; slot++) {
                    for (int i = 0; i < kvDim; i++) {
                        int index = CacheLayout.keyIndex(slots, slot, i);
                        int half = CacheLayout.halfKeyIndex(slots, slot, i);
                        assertThat(index).as("kvDim %d slot %d element %d", kvDim, slot, i).isBetween(0, (int) CacheLayout.keyLength(slots, kvDim) - 1);
                        assertThat(half).as("kvDim %d slot %d element %d as a half", kvDim, slot, i).isBetween(0, (int) CacheLayout.keyLength(slots, kvDim) - 1);
                        assertThat(taken.get(index)).as("kvDim %d slot %d element %d shares its place", kvDim, slot, i).isFalse();
                        assertThat(takenHalves.get(half)).as("kvDim %d slot %d element %d shares its half's place", kvDim, slot, i).isFalse();
                        taken.set(index);
                        takenHalves.set(half);
                        int value = CacheLayout.valueIndex(slots, slot, i);
                        assertThat(value).as("kvDim %d slot %d value element %d", kvDim, slot, i).isBetween(0, (int) CacheLayout.valueLength(slots, kvDim) - 1);
                        assertThat(takenValues.get(value)).as("kvDim %d slot %d value element %d shares its place", kvDim, slot, i).isFalse();
                        takenValues.set(value);
                    }
                }
            }
        }
    }

    @Test
    void aChunkOfAKeyTileAndAValueChunkAreEachOneRun() {
        int slots = 53;
        for (int slot = 16; slot < 31; slot++) {
            assertThat(CacheLayout.keyIndex(slots, slot + 1, 5)).isEqualTo(CacheLayout.keyIndex(slots, slot, 5) + 1);
            assertThat(CacheLayout.keyIndex(slots, slot, 6)).isEqualTo(CacheLayout.keyIndex(slots, slot, 5) + CacheLayout.TILE);
            assertThat(CacheLayout.halfKeyIndex(slots, slot + 1, 6)).isEqualTo(CacheLayout.halfKeyIndex(slots, slot, 6) + 2);
            assertThat(CacheLayout.halfKeyIndex(slots, slot, 7)).isEqualTo(CacheLayout.halfKeyIndex(slots, slot, 6) + 1);
            assertThat(CacheLayout.halfKeyIndex(slots, slot, 8)).isEqualTo(CacheLayout.halfKeyIndex(slots, slot, 6) + 2 * CacheLayout.TILE);
            assertThat(CacheLayout.keyScaleIndex(slots, slot + 1, 1)).isEqualTo(CacheLayout.keyScaleIndex(slots, slot, 1) + 1);
        }
        int tile = CacheLayout.TILE * CacheLayout.CHUNK;
        assertThat(CacheLayout.keyIndex(slots, 16, 0)).as("a chunk's second tile follows its first").isEqualTo(tile);
        assertThat(CacheLayout.keyIndex(slots, 0, 32)).as("the second chunk follows the first's last tile")
                .isEqualTo(CacheLayout.tiles(slots) * tile);
        for (int slot = 0; slot < slots - 1; slot++) {
            assertThat(CacheLayout.valueIndex(slots, slot + 1, 33)).isEqualTo(CacheLayout.valueIndex(slots, slot, 33) + CacheLayout.CHUNK);
            assertThat(CacheLayout.valueIndex(slots, slot, 33)).isEqualTo(CacheLayout.valueIndex(slots, slot, 32) + 1);
            assertThat(CacheLayout.valueScaleIndex(slots, slot, 1) * CacheLayout.CHUNK).isEqualTo(CacheLayout.valueIndex(slots, slot, 32));
        }
    }

    /** A snapshot row is a slot's elements in order, so keys in tiles and values in chunks come back as stored. */
    @Test
    void keysAndValuesLeaveInSnapshotRowsInElementOrder() throws IOException {
        Random random = new Random(3);
        int kvDim = 64;
        for (CacheType type : CacheType.values()) {
            SinkCache cache = new SinkCache(CacheConfig.dense(20).withType(type), 2, kvDim);
            float[][] keys = new float[21][];
            float[][] values = new float[21][];
            for (int slot = 0; slot < 21; slot++) {
                keys[slot] = new float[kvDim];
                values[slot] = new float[kvDim];
                for (int i = 0; i < kvDim; i++) {
                    keys[slot][i] = (float) random.nextGaussian();
                    values[slot][i] = (float) random.nextGaussian();
                }
                cache.store(1, slot, keys[slot], 0, values[slot], 0);
            }
            int[] slots = {17, 3, 20, 0};
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            KvRows.write(new DataOutputStream(bytes), cache, slots);
            ByteBuffer rows = ByteBuffer.wrap(bytes.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
            int rowBytes = (int) type.bytes(kvDim);
            rows.position(2 * slots.length * rowBytes); // layer 0's keys and values
            for (int r = 0; r < 2 * slots.length; r++) {
                int slot = slots[r % slots.length];
                float[] stored = r < slots.length ? keys[slot] : values[slot];
                ByteBuffer row = rows.slice(rows.position(), rowBytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < kvDim; i++) {
                    float read = switch (type) {
                        case F32 -> row.getFloat(4 * i);
                        case F16 -> Float.float16ToFloat(row.getShort(2 * i));
                        case Q8_0 -> row.get(i) * Float.float16ToFloat(row.getShort(kvDim + 2 * (i / CacheType.Q8_0_BLOCK)));
                    };
                    float tolerance = type == CacheType.F32 ? 0f : 0.02f * (1 + Math.abs(stored[i]));
                    assertThat(read).as("%s row %d (slot %d) element %d", type, r, slot, i).isCloseTo(stored[i], org.assertj.core.data.Offset.offset(tolerance));
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
