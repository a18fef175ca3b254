package dev.streamingllm.testing;

import dev.streamingllm.gguf.GGMLQuantizer;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.gguf.GGUFTensor;
import dev.streamingllm.gguf.GGUFWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Test models that ../shared has no file of: tiny-gqa quantized from its F32 file by the runtime's own
 * {@link GGMLQuantizer} and {@link GGUFWriter}, laid out as {@code llama-quantize --pure} lays out its
 * output (every 2-D weight in the one type, token_embd and output included; the metadata in the source's
 * order with {@code general.file_type} moved last behind {@code general.quantization_version}; tensors
 * sorted by layer, then name). The files are written once per test JVM into a temporary folder; none is
 * committed.
 */
public final class QuantizedModels {

    /** The types written here, by the suffix of their file name ({@code tiny-gqa-q4_1}). */
    public static final List<GGMLType> TYPES = List.of(GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1);

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");
    private static final Map<GGMLType, Path> WRITTEN = new ConcurrentHashMap<>();
    private static Path folder;

    private QuantizedModels() {
    }

    /** {@code tiny-gqa-<type>} in lower case, as the files of ../shared are named. */
    public static String name(GGMLType type) {
        return "tiny-gqa-" + type.name().toLowerCase();
    }

    /**
     * The file of model {@code name} without {@code .gguf}: one of ../shared/models, or tiny-gqa in one
     * of {@link #TYPES}, written on first use.
     */
    public static Path model(String name) {
        for (GGMLType type : TYPES) {
            if (name.equals(name(type))) {
                return tinyGqa(type);
            }
        }
        return Shared.model(name + ".gguf");
    }

    /** tiny-gqa-f32 quantized to {@code type}, written on first use. */
    public static Path tinyGqa(GGMLType type) {
        return WRITTEN.computeIfAbsent(type, t -> {
            Path file = folder().resolve(name(t) + ".gguf");
            quantize(Shared.model("tiny-gqa-f32.gguf"), t, file);
            file.toFile().deleteOnExit();
            return file;
        });
    }

    private static synchronized Path folder() {
        if (folder == null) {
            try {
                folder = Files.createTempDirectory("streamingllm-quantized-");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            folder.toFile().deleteOnExit();
        }
        return folder;
    }

    /** Writes {@code source} (an F32 model) with every 2-D F32 tensor encoded as {@code type}, as {@code llama-quantize --pure} does. */
    public static void quantize(Path source, GGMLType type, Path target) {
        try (GGUFFile in = GGUFFile.open(source)) {
            GGUFWriter writer = new GGUFWriter();
            in.metadata().forEach((key, value) -> {
                if (!key.equals("general.file_type")) {
                    writer.put(key, writable(key, value));
                }
            });
            writer.put("general.quantization_version", 2).put("general.file_type", fileType(type));
            List<GGUFTensor> tensors = new ArrayList<>(in.tensors().values());
            tensors.sort(Comparator.comparingInt((GGUFTensor t) -> layer(t.name())).thenComparing(GGUFTensor::name));
            for (GGUFTensor tensor : tensors) {
                boolean quantized = tensor.shape().length >= 2 && tensor.type() == GGMLType.F32;
                GGMLType written = quantized ? type : tensor.type();
                writer.tensor(tensor.name(), tensor.shape(), written, out -> {
                    if (!quantized) {
                        out.write(tensor.data().toArray(ValueLayout.JAVA_BYTE));
                        return;
                    }
                    int cols = tensor.cols();
                    float[] row = new float[cols];
                    ByteBuffer buffer = ByteBuffer.allocate((int) type.byteSize(cols));
                    for (int r = 0; r < tensor.rows(); r++) {
                        MemorySegment.copy(tensor.data(), F32, (long) r * cols * Float.BYTES, row, 0, cols);
                        buffer.clear();
                        GGMLQuantizer.encode(row, type, buffer);
                        out.write(buffer.array(), 0, buffer.position());
                    }
                });
            }
            writer.write(target);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The SHA-256 of a file, in hex. */
    public static String sha256(Path file) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** llama.cpp's llama_ftype of a file whose weights are all {@code type} (LLAMA_FTYPE_MOSTLY_*). */
    private static int fileType(GGMLType type) {
        return switch (type) {
            case Q4_1 -> 3;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            default -> throw new IllegalArgumentException("no file type for " + type + " here");
        };
    }

    /** llama.cpp's order of tensors in a quantized file: the layer ({@code blk.N.}, -1 for none) first. */
    private static int layer(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** A metadata value as GGUFWriter takes it: the reader's uint32 (a long) back to an int, in the same type. */
    private static Object writable(String key, Object value) {
        return switch (value) {
            case Long l when l >= 0 && l <= 0xFFFF_FFFFL -> (int) (long) l;
            case String s -> s;
            case Float f -> f;
            case String[] strings -> strings;
            case float[] floats -> floats;
            case int[] ints -> ints;
            default -> throw new IllegalArgumentException("metadata key '" + key + "': cannot write " + value.getClass().getSimpleName());
        };
    }
}
