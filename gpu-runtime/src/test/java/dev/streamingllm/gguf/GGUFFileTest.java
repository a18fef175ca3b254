package dev.streamingllm.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.testing.Shared;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GGUFFileTest {

    @TempDir
    Path tmp;

    @Test
    void readsMetadataAndTensorsOfARealModel() {
        try (GGUFFile gguf = GGUFFile.open(Shared.model("stories260K.gguf"))) {
            assertThat(gguf.version()).isIn(2, 3);
            assertThat(gguf.getString("general.architecture")).isEqualTo("llama");
            assertThat(gguf.getInt("llama.embedding_length")).isEqualTo(64);
            assertThat(gguf.getInt("llama.block_count")).isEqualTo(5);
            assertThat(gguf.getStringArray("tokenizer.ggml.tokens")).hasSize(512);
            GGUFTensor embeddings = gguf.tensor("token_embd.weight");
            assertThat(embeddings.type()).isEqualTo(GGMLType.F32);
            assertThat(embeddings.cols()).isEqualTo(64);
            assertThat(embeddings.rows()).isEqualTo(512);
            assertThat(embeddings.data().byteSize()).isEqualTo(512L * 64 * 4);
            long parameters = gguf.tensors().values().stream().mapToLong(GGUFTensor::elements).sum();
            assertThat(parameters).isEqualTo(292_800L);
        }
    }

    @Test
    void readsEveryQuantizedVariant() throws IOException {
        try (var files = Files.list(Shared.root().resolve("models"))) {
            for (Path file : files.filter(p -> p.toString().endsWith(".gguf")).toList()) {
                try (GGUFFile gguf = GGUFFile.open(file)) {
                    assertThat(gguf.tensors()).as(file.toString()).isNotEmpty();
                }
            }
        }
    }

    @Test
    void rejectsWrongMagic() throws IOException {
        Path file = write(bytes -> bytes.putInt(0, 0x12345678));
        assertThatThrownBy(() -> GGUFFile.open(file))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("not a GGUF file");
    }

    @Test
    void rejectsUnsupportedVersion() throws IOException {
        Path file = write(bytes -> bytes.putInt(4, 7));
        assertThatThrownBy(() -> GGUFFile.open(file))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining("unsupported GGUF version 7");
    }

    @Test
    void rejectsAbsurdTensorCount() throws IOException {
        Path file = write(bytes -> bytes.putLong(8, 1L << 40));
        assertThatThrownBy(() -> GGUFFile.open(file))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining("absurd tensor count");
    }

    @Test
    void rejectsAbsurdMetadataCount() throws IOException {
        Path file = write(bytes -> bytes.putLong(16, -1L));
        assertThatThrownBy(() -> GGUFFile.open(file))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining("absurd metadata count");
    }

    @Test
    void rejectsTruncatedHeader() throws IOException {
        byte[] original = Files.readAllBytes(Shared.model("stories260K.gguf"));
        Path file = tmp.resolve("truncated-header.gguf");
        Files.write(file, Arrays.copyOf(original, 3000));
        assertThatThrownBy(() -> GGUFFile.open(file))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining("truncated");
    }

    @Test
    void rejectsTruncatedTensorData() throws IOException {
        byte[] original = Files.readAllBytes(Shared.model("stories260K.gguf"));
        Path file = tmp.resolve("truncated-data.gguf");
        Files.write(file, Arrays.copyOf(original, original.length - 1000));
        assertThatThrownBy(() -> GGUFFile.open(file))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining("tensor '")
                .hasMessageContaining("truncated");
    }

    @Test
    void rejectsUnknownTensorTypeAndAbsurdDimensions() throws IOException {
        byte[] original = Files.readAllBytes(Shared.model("stories260K.gguf"));
        int at = indexOf(original, "token_embd.weight".getBytes());
        // name, then n_dims (u32), two u64 dims, then the type id (u32)
        int dims = at + "token_embd.weight".length();
        int typeOffset = dims + 4 + 16;

        byte[] unknownType = original.clone();
        ByteBuffer.wrap(unknownType).order(ByteOrder.LITTLE_ENDIAN).putInt(typeOffset, 99);
        Path file = tmp.resolve("unknown-type.gguf");
        Files.write(file, unknownType);
        assertThatThrownBy(() -> GGUFFile.open(file))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining("tensor 'token_embd.weight'")
                .hasMessageContaining("unknown tensor type id 99");

        byte[] hugeDim = original.clone();
        ByteBuffer.wrap(hugeDim).order(ByteOrder.LITTLE_ENDIAN).putLong(dims + 4, 1L << 50);
        Path huge = tmp.resolve("huge-dim.gguf");
        Files.write(huge, hugeDim);
        assertThatThrownBy(() -> GGUFFile.open(huge))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining("tensor 'token_embd.weight'")
                .hasMessageContaining("absurd dimension");
    }

    @Test
    void reportsMissingAndMistypedMetadata() {
        try (GGUFFile gguf = GGUFFile.open(Shared.model("stories260K.gguf"))) {
            assertThatThrownBy(() -> gguf.getInt("no.such.key")).isInstanceOf(GGUFException.class)
                    .hasMessageContaining("missing metadata key 'no.such.key'");
            assertThatThrownBy(() -> gguf.getInt("general.architecture")).isInstanceOf(GGUFException.class)
                    .hasMessageContaining("'general.architecture' should be an integer");
            assertThatThrownBy(() -> gguf.tensor("nope.weight")).isInstanceOf(GGUFException.class)
                    .hasMessageContaining("missing tensor 'nope.weight'");
        }
    }

    @Test
    void reportsAMissingFile() {
        Path missing = tmp.resolve("missing.gguf");
        assertThatThrownBy(() -> GGUFFile.open(missing)).isInstanceOf(GGUFException.class)
                .hasMessageContaining(missing.toString());
    }

    private Path write(java.util.function.Consumer<ByteBuffer> damage) throws IOException {
        byte[] bytes = Files.readAllBytes(Shared.model("stories260K.gguf"));
        damage.accept(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
        Path file = tmp.resolve("damaged.gguf");
        Files.write(file, bytes);
        return file;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
