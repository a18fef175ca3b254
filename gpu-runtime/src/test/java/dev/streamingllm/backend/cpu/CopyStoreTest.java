package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.WeightMatrixTest.open;
import static dev.streamingllm.backend.cpu.WeightMatrixTest.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.gguf.GGUFFile;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Interleaved copies kept in files: made once, mapped again, made again when damaged, in memory when unwritable. */
class CopyStoreTest {

    static Stream<String> interleaved() {
        return WeightMatrixTest.interleaved();
    }

    private static final String TENSOR = "blk.0.attn_q.weight";

    @ParameterizedTest(name = "{0}")
    @MethodSource("interleaved")
    void aCopyIsWrittenOnceAndMappedByTheNextLoad(String model, @TempDir Path directory) throws IOException {
        try (GGUFFile gguf = open(model)) {
            float[] want = product(WeightMatrix.of(gguf.tensor(TENSOR), true), CopyStore.ANONYMOUS);
            float[] first = product(WeightMatrix.of(gguf.tensor(TENSOR), true), CopyStore.in(directory));
            Path file = onlyFile(directory);
            FileTime written = FileTime.fromMillis(1_000_000L);
            Files.setLastModifiedTime(file, written);

            float[] again = product(WeightMatrix.of(gguf.tensor(TENSOR), true), CopyStore.in(directory));

            assertThat(first).as("%s from a new file", model).containsExactly(want);
            assertThat(again).as("%s from the kept file", model).containsExactly(want);
            assertThat(Files.getLastModifiedTime(file)).as("the kept copy is mapped, not written again").isEqualTo(written);
            assertThat(onlyFile(directory)).isEqualTo(file);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("interleaved")
    void aCopyCutShortIsMadeAgain(String model, @TempDir Path directory) throws IOException {
        try (GGUFFile gguf = open(model)) {
            float[] want = product(WeightMatrix.of(gguf.tensor(TENSOR), true), CopyStore.ANONYMOUS);
            product(WeightMatrix.of(gguf.tensor(TENSOR), true), CopyStore.in(directory));
            Path file = onlyFile(directory);
            long size = Files.size(file);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.truncate(size / 2); // as a disk that filled up, or a copy from another layout
            }

            float[] again = product(WeightMatrix.of(gguf.tensor(TENSOR), true), CopyStore.in(directory));

            assertThat(again).as("%s after its copy was cut short", model).containsExactly(want);
            assertThat(Files.size(onlyFile(directory))).isEqualTo(size);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("interleaved")
    void aDirectoryThatCannotBeWrittenLeavesTheCopyInTheProcess(String model, @TempDir Path directory) throws IOException {
        Path notADirectory = Files.writeString(directory.resolve("a-file"), "in the way");
        try (GGUFFile gguf = open(model)) {
            float[] want = product(WeightMatrix.of(gguf.tensor(TENSOR), true), CopyStore.ANONYMOUS);

            float[] got = product(WeightMatrix.of(gguf.tensor(TENSOR), true), CopyStore.in(notADirectory.resolve("copies")));

            assertThat(got).as("%s with its copy in memory", model).containsExactly(want);
            assertThat(Files.readString(notADirectory)).isEqualTo("in the way");
        }
    }

    @Test
    void aNameThatIsNotAFileNameIsKeptUnderOneThatIs(@TempDir Path directory) throws IOException {
        CopyStore store = CopyStore.in(directory);
        MemorySegment first = store.segment("model/layer 0:weight", 64, segment -> segment.fill((byte) 7));
        MemorySegment again = store.segment("model/layer 0:weight", 64, segment -> segment.fill((byte) 9));

        assertThat(onlyFile(directory).getFileName()).hasToString("model_layer_0_weight");
        assertThat(first.get(ValueLayout.JAVA_BYTE, 63)).isEqualTo((byte) 7);
        assertThat(again.get(ValueLayout.JAVA_BYTE, 63)).as("mapped, not filled again").isEqualTo((byte) 7);
    }

    /** {@code m} prepared in {@code store} as the CPU backend prepares it, times a fixed token. */
    private static float[] product(WeightMatrix m, CopyStore store) {
        assumeTrue(m.interleaved() != null, "matrices are interleaved on 512-bit machines only");
        m.prepareForDecode(store);
        assertThat(m.interleaved().isBuilt()).isTrue();
        float[] out = new float[m.rows()];
        m.matmul(random(m.cols(), 3), out, 1);
        return out;
    }

    private static Path onlyFile(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            List<Path> all = files.toList();
            assertThat(all).as("files in %s", directory).hasSize(1);
            return all.getFirst();
        }
    }
}
