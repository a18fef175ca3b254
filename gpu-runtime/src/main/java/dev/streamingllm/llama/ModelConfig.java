package dev.streamingllm.llama;

import dev.streamingllm.gguf.GGUFException;
import dev.streamingllm.gguf.GGUFFile;
import java.util.Set;

/**
 * The decoder's hyper-parameters, read from GGUF metadata under the architecture's prefix
 * ({@code llama.*}, {@code qwen2.*}).
 *
 * @param ropeNeox   whether RoPE rotates the pairs (i, i + d/2) (NEOX, qwen2) instead of (2i, 2i + 1) (llama)
 * @param ropeScale  linear position scaling factor (1 = none)
 */
public record ModelConfig(
        String architecture,
        int dim,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int ropeDim,
        int ffnDim,
        int vocabularySize,
        int contextLength,
        float rmsEps,
        float ropeBase,
        float ropeScale,
        boolean ropeNeox) {

    public static final Set<String> SUPPORTED_ARCHITECTURES = Set.of("llama", "qwen2");

    public static ModelConfig from(GGUFFile gguf) {
        String arch = gguf.getString("general.architecture");
        if (!SUPPORTED_ARCHITECTURES.contains(arch)) {
            throw new GGUFException(gguf.path(), "unsupported architecture '" + arch + "' (supported: llama, qwen2)");
        }
        int dim = gguf.getInt(arch + ".embedding_length");
        int heads = gguf.getInt(arch + ".attention.head_count");
        int kvHeads = gguf.getInt(arch + ".attention.head_count_kv", heads);
        int headDim = gguf.getInt(arch + ".attention.key_length", dim / heads);
        int vocab = gguf.findTensor("token_embd.weight").orElseThrow(
                () -> new GGUFException(gguf.path(), "missing tensor 'token_embd.weight'")).rows();
        String scaling = gguf.findString(arch + ".rope.scaling.type").orElse("none");
        float ropeScale = switch (scaling) {
            case "none" -> 1f;
            case "linear" -> gguf.getFloat(arch + ".rope.scaling.factor", 1f);
            default -> throw new GGUFException(gguf.path(),
                    "unsupported rope scaling '" + scaling + "' in '" + arch + ".rope.scaling.type' (supported: none, linear)");
        };
        ModelConfig config = new ModelConfig(
                arch,
                dim,
                gguf.getInt(arch + ".block_count"),
                heads,
                kvHeads,
                headDim,
                gguf.getInt(arch + ".rope.dimension_count", headDim),
                gguf.getInt(arch + ".feed_forward_length"),
                vocab,
                gguf.getInt(arch + ".context_length"),
                gguf.getFloat(arch + ".attention.layer_norm_rms_epsilon"),
                gguf.getFloat(arch + ".rope.freq_base", 10000f),
                ropeScale,
                arch.equals("qwen2"));
        config.validate(gguf);
        return config;
    }

    private void validate(GGUFFile gguf) {
        if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || ffnDim <= 0) {
            throw new GGUFException(gguf.path(), "non-positive model dimension in " + this);
        }
        if (heads % kvHeads != 0) {
            throw new GGUFException(gguf.path(), "head_count " + heads + " is not a multiple of head_count_kv " + kvHeads);
        }
        if (ropeDim > headDim || ropeDim % 2 != 0) {
            throw new GGUFException(gguf.path(), "rope.dimension_count " + ropeDim + " must be even and at most the head size " + headDim);
        }
    }

    /** Width of the query projection: heads x headDim. */
    public int qDim() {
        return heads * headDim;
    }

    /** Width of the key and value projections: kvHeads x headDim (smaller than dim with grouped-query attention). */
    public int kvDim() {
        return kvHeads * headDim;
    }
}
