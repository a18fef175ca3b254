package dev.streamingllm.eval;

import dev.streamingllm.gguf.GGMLQuantizer;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Random-weight Llama models of well-known shapes, written as GGUF so that the same file can be
 * timed here and in llama.cpp. The weights are noise; only speed and memory are meaningful.
 */
public final class SyntheticModel {

    /** A model shape: the numbers that decide its cost. */
    public record Shape(int dim, int layers, int heads, int kvHeads, int ffnDim, int vocabularySize, int contextLength) {
    }

    public static final Map<String, Shape> SHAPES = new TreeMap<>(Map.of(
            "llama-134m", new Shape(768, 12, 12, 12, 2048, 32000, 4096),
            "tinyllama-1.1b", new Shape(2048, 22, 32, 4, 5632, 32000, 4096),
            "llama2-7b", new Shape(4096, 32, 32, 32, 11008, 32000, 4096)));

    private SyntheticModel() {
    }

    public static Shape shape(String name) {
        Shape shape = SHAPES.get(name);
        if (shape == null) {
            throw new IllegalArgumentException("unknown shape '" + name + "' (known: " + String.join(", ", SHAPES.keySet()) + ")");
        }
        return shape;
    }

    /** Writes a model of {@code shape} with weights of {@code type} (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 or Q5_1). */
    public static void write(Shape shape, GGMLType type, Path file, long seed) throws IOException {
        if (!Arrays.asList(GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1)
                .contains(type)) {
            throw new IllegalArgumentException("synthetic models can be written as F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 or Q5_1, not " + type);
        }
        int kvDim = shape.dim() / shape.heads() * shape.kvHeads();
        GGUFWriter writer = new GGUFWriter()
                .put("general.architecture", "llama")
                .put("general.name", "synthetic")
                .put("llama.context_length", shape.contextLength())
                .put("llama.embedding_length", shape.dim())
                .put("llama.block_count", shape.layers())
                .put("llama.feed_forward_length", shape.ffnDim())
                .put("llama.attention.head_count", shape.heads())
                .put("llama.attention.head_count_kv", shape.kvHeads())
                .put("llama.rope.dimension_count", shape.dim() / shape.heads())
                .put("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        vocabulary(writer, shape.vocabularySize());

        SplittableRandom random = new SplittableRandom(seed);
        writer.tensor("token_embd.weight", new long[] {shape.dim(), shape.vocabularySize()}, type, matrix(random.split(), shape.vocabularySize(), shape.dim(), type));
        for (int l = 0; l < shape.layers(); l++) {
            String p = "blk." + l + ".";
            writer.tensor(p + "attn_norm.weight", new long[] {shape.dim()}, GGMLType.F32, ones(shape.dim()));
            writer.tensor(p + "attn_q.weight", new long[] {shape.dim(), shape.dim()}, type, matrix(random.split(), shape.dim(), shape.dim(), type));
            writer.tensor(p + "attn_k.weight", new long[] {shape.dim(), kvDim}, type, matrix(random.split(), kvDim, shape.dim(), type));
            writer.tensor(p + "attn_v.weight", new long[] {shape.dim(), kvDim}, type, matrix(random.split(), kvDim, shape.dim(), type));
            writer.tensor(p + "attn_output.weight", new long[] {shape.dim(), shape.dim()}, type, matrix(random.split(), shape.dim(), shape.dim(), type));
            writer.tensor(p + "ffn_norm.weight", new long[] {shape.dim()}, GGMLType.F32, ones(shape.dim()));
            writer.tensor(p + "ffn_gate.weight", new long[] {shape.dim(), shape.ffnDim()}, type, matrix(random.split(), shape.ffnDim(), shape.dim(), type));
            writer.tensor(p + "ffn_up.weight", new long[] {shape.dim(), shape.ffnDim()}, type, matrix(random.split(), shape.ffnDim(), shape.dim(), type));
            writer.tensor(p + "ffn_down.weight", new long[] {shape.ffnDim(), shape.dim()}, type, matrix(random.split(), shape.dim(), shape.ffnDim(), type));
        }
        writer.tensor("output_norm.weight", new long[] {shape.dim()}, GGMLType.F32, ones(shape.dim()));
        writer.tensor("output.weight", new long[] {shape.dim(), shape.vocabularySize()}, type, matrix(random.split(), shape.vocabularySize(), shape.dim(), type));
        writer.write(file);
    }

    /** A SentencePiece vocabulary llama.cpp accepts: unk, BOS, EOS, the 256 byte tokens, then filler pieces. */
    private static void vocabulary(GGUFWriter writer, int size) {
        String[] tokens = new String[size];
        float[] scores = new float[size];
        int[] types = new int[size];
        tokens[0] = "<unk>";
        types[0] = 2;
        tokens[1] = "<s>";
        types[1] = 3;
        tokens[2] = "</s>";
        types[2] = 3;
        for (int b = 0; b < 256; b++) {
            tokens[3 + b] = String.format("<0x%02X>", b);
            types[3 + b] = 6;
        }
        for (int i = 259; i < size; i++) {
            tokens[i] = "\u2581t" + i;
            scores[i] = -i;
            types[i] = 1;
        }
        writer.put("tokenizer.ggml.model", "llama")
                .put("tokenizer.ggml.tokens", tokens)
                .put("tokenizer.ggml.scores", scores)
                .put("tokenizer.ggml.token_type", types)
                .put("tokenizer.ggml.bos_token_id", 1)
                .put("tokenizer.ggml.eos_token_id", 2)
                .put("tokenizer.ggml.unknown_token_id", 0);
    }

    private static GGUFWriter.TensorData ones(int size) {
        float[] values = new float[size];
        Arrays.fill(values, 1f);
        return out -> {
            ByteBuffer buffer = ByteBuffer.allocate(size * 4);
            GGMLQuantizer.encode(values, GGMLType.F32, buffer);
            out.write(buffer.array());
        };
    }

    /** Uniform noise in [-0.05, 0.05), encoded row by row. */
    private static GGUFWriter.TensorData matrix(SplittableRandom random, int rows, int cols, GGMLType type) {
        return out -> {
            float[] row = new float[cols];
            ByteBuffer buffer = ByteBuffer.allocate((int) type.byteSize(cols));
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < cols; i++) {
                    row[i] = (float) (random.nextDouble() - 0.5) * 0.1f;
                }
                buffer.clear();
                GGMLQuantizer.encode(row, type, buffer);
                out.write(buffer.array(), 0, buffer.position());
            }
        };
    }
}
