package dev.streamingllm.backend.cuda;

import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Rope;
import dev.streamingllm.llama.Weights;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.DoublePointer;

/**
 * The model's weights in device memory, uploaded once: matrices in their GGML encoding (see
 * {@link DeviceMatrix}), norms and biases as floats, and RoPE's inverse frequencies. A pass looks its
 * token embeddings up on the host, so the embedding table is uploaded only where it is also the output
 * matrix (tied embeddings).
 */
final class DeviceWeights implements AutoCloseable {

    record Layer(Cuda.DevicePtr attnNorm, DeviceMatrix q, Cuda.DevicePtr qBias, DeviceMatrix k, Cuda.DevicePtr kBias,
                 DeviceMatrix v, Cuda.DevicePtr vBias, DeviceMatrix o, Cuda.DevicePtr ffnNorm,
                 DeviceMatrix gate, DeviceMatrix up, DeviceMatrix down) {
    }

    private final List<DeviceMatrix> matrices = new ArrayList<>();
    private final List<Cuda.DevicePtr> vectors = new ArrayList<>();
    private final Layer[] layers;
    private final Cuda.DevicePtr outputNorm;
    private final DeviceMatrix output;
    private final Cuda.DevicePtr inverseFrequency;

    DeviceWeights(GGUFFile gguf, ModelConfig config, Weights host) {
        this.layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "blk." + l + ".";
            Weights.Layer h = host.layers()[l];
            layers[l] = new Layer(vector(h.attnNorm(), p + "attn_norm"),
                    matrix(gguf, p + "attn_q.weight"), vector(h.attnQBias(), p + "attn_q.bias"),
                    matrix(gguf, p + "attn_k.weight"), vector(h.attnKBias(), p + "attn_k.bias"),
                    matrix(gguf, p + "attn_v.weight"), vector(h.attnVBias(), p + "attn_v.bias"),
                    matrix(gguf, p + "attn_output.weight"), vector(h.ffnNorm(), p + "ffn_norm"),
                    matrix(gguf, p + "ffn_gate.weight"), matrix(gguf, p + "ffn_up.weight"), matrix(gguf, p + "ffn_down.weight"));
        }
        this.outputNorm = vector(host.outputNorm(), "output_norm");
        this.output = matrix(gguf, gguf.findTensor("output.weight").isPresent() ? "output.weight" : "token_embd.weight");
        double[] inverse = Rope.inverseFrequencies(config, host.ropeFrequencyFactors());
        this.inverseFrequency = Cuda.malloc((long) inverse.length * Double.BYTES, "rope frequencies");
        vectors.add(inverseFrequency);
        try (DoublePointer values = new DoublePointer(inverse)) {
            Cuda.upload(inverseFrequency, values, (long) inverse.length * Double.BYTES);
        }
    }

    Layer layer(int l) {
        return layers[l];
    }

    Cuda.DevicePtr outputNorm() {
        return outputNorm;
    }

    DeviceMatrix output() {
        return output;
    }

    Cuda.DevicePtr inverseFrequency() {
        return inverseFrequency;
    }

    /** Device bytes of the matrices. */
    long bytes() {
        return matrices.stream().mapToLong(DeviceMatrix::bytes).sum();
    }

    /** Elements of the largest matrix the GEMM path must dequantize first; 0 if none. */
    long largestQuantized() {
        return matrices.stream().filter(DeviceMatrix::quantized).mapToLong(m -> (long) m.rows() * m.cols()).max().orElse(0);
    }

    private DeviceMatrix matrix(GGUFFile gguf, String name) {
        DeviceMatrix m = DeviceMatrix.upload(gguf.tensor(name));
        matrices.add(m);
        return m;
    }

    private Cuda.DevicePtr vector(float[] values, String what) {
        if (values == null) {
            return null;
        }
        Cuda.DevicePtr p = Cuda.uploadNew(values, what);
        vectors.add(p);
        return p;
    }

    @Override
    public void close() {
        matrices.forEach(DeviceMatrix::free);
        vectors.forEach(Cuda::free);
    }
}
