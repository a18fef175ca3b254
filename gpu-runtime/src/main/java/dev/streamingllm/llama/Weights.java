package dev.streamingllm.llama;

import dev.streamingllm.backend.cpu.CopyStore;
import dev.streamingllm.backend.cpu.WeightMatrix;
import dev.streamingllm.gguf.GGUFException;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.gguf.GGUFTensor;
import java.util.Optional;

/**
 * The decoder's weights, named as in the GGUF spec. Matrices stay in the memory-mapped file; only
 * the small norm and bias vectors are copied to the heap.
 */
public record Weights(
        WeightMatrix tokenEmbedding,
        Layer[] layers,
        float[] outputNorm,
        WeightMatrix output,
        float[] ropeFrequencyFactors) {

    /** One transformer block. Biases are null except for architectures that have them (qwen2's QKV). */
    public record Layer(
            float[] attnNorm,
            WeightMatrix attnQ, float[] attnQBias,
            WeightMatrix attnK, float[] attnKBias,
            WeightMatrix attnV, float[] attnVBias,
            WeightMatrix attnOutput,
            float[] ffnNorm,
            WeightMatrix ffnGate,
            WeightMatrix ffnUp,
            WeightMatrix ffnDown) {
    }

    /**
     * Makes now what the CPU kernels decode from besides the mapped file ({@link WeightMatrix#prepareForDecode}), in
     * {@code store}, rather than in the first decode step: the CPU backend calls it at load, a GPU backend never does.
     */
    public void prepareForDecode(CopyStore store) {
        for (Layer layer : layers) {
            for (WeightMatrix matrix : new WeightMatrix[] {layer.attnQ(), layer.attnK(), layer.attnV(), layer.attnOutput(),
                    layer.ffnGate(), layer.ffnUp(), layer.ffnDown()}) {
                matrix.prepareForDecode(store);
            }
        }
        output.prepareForDecode(store);
    }

    public static Weights load(GGUFFile gguf, ModelConfig config) {
        Layer[] layers = new Layer[config.layers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "blk." + i + ".";
            layers[i] = new Layer(
                    vector(gguf, p + "attn_norm.weight", config.dim()),
                    matrix(gguf, p + "attn_q.weight", config.qDim(), config.dim()),
                    optionalVector(gguf, p + "attn_q.bias", config.qDim()),
                    matrix(gguf, p + "attn_k.weight", config.kvDim(), config.dim()),
                    optionalVector(gguf, p + "attn_k.bias", config.kvDim()),
                    matrix(gguf, p + "attn_v.weight", config.kvDim(), config.dim()),
                    optionalVector(gguf, p + "attn_v.bias", config.kvDim()),
                    matrix(gguf, p + "attn_output.weight", config.dim(), config.qDim()),
                    vector(gguf, p + "ffn_norm.weight", config.dim()),
                    matrix(gguf, p + "ffn_gate.weight", config.ffnDim(), config.dim()),
                    matrix(gguf, p + "ffn_up.weight", config.ffnDim(), config.dim()),
                    matrix(gguf, p + "ffn_down.weight", config.dim(), config.ffnDim()));
        }
        // Tied embeddings: models without output.weight reuse the embedding matrix as the output head. Untied, the
        // embedding is only read a row per token.
        boolean tied = gguf.findTensor("output.weight").isEmpty();
        WeightMatrix embedding = matrix(gguf, "token_embd.weight", config.vocabularySize(), config.dim(), tied);
        WeightMatrix output = tied ? embedding : matrix(gguf, "output.weight", config.vocabularySize(), config.dim());
        return new Weights(embedding, layers, vector(gguf, "output_norm.weight", config.dim()), output,
                optionalVector(gguf, "rope_freqs.weight", config.ropeDim() / 2));
    }

    private static WeightMatrix matrix(GGUFFile gguf, String name, int rows, int cols) {
        return matrix(gguf, name, rows, cols, true);
    }

    private static WeightMatrix matrix(GGUFFile gguf, String name, int rows, int cols, boolean multiplied) {
        GGUFTensor tensor = gguf.tensor(name);
        if (tensor.shape().length != 2 || tensor.rows() != rows || tensor.cols() != cols) {
            throw new GGUFException(gguf.path(), "tensor '" + name + "' has shape " + java.util.Arrays.toString(tensor.shape())
                    + ", expected [" + cols + ", " + rows + "]");
        }
        if (!tensor.type().isComputable()) {
            throw new GGUFException(gguf.path(), "tensor '" + name + "' has type " + tensor.type()
                    + ", which this runtime cannot compute (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
        }
        return multiplied ? WeightMatrix.of(tensor) : WeightMatrix.rowsOnly(tensor);
    }

    private static float[] vector(GGUFFile gguf, String name, int size) {
        GGUFTensor tensor = gguf.tensor(name);
        if (tensor.elements() != size) {
            throw new GGUFException(gguf.path(), "tensor '" + name + "' has " + tensor.elements() + " elements, expected " + size);
        }
        float[] out = new float[size];
        WeightMatrix.of(new GGUFTensor(name, new long[] {size, 1}, tensor.type(), tensor.data())).dequantizeRow(0, out, 0);
        return out;
    }

    private static float[] optionalVector(GGUFFile gguf, String name, int size) {
        Optional<GGUFTensor> tensor = gguf.findTensor(name);
        return tensor.isPresent() ? vector(gguf, name, size) : null;
    }
}
