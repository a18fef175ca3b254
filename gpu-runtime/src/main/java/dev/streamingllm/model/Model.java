package dev.streamingllm.model;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.gguf.GGUFTensor;
import dev.streamingllm.session.Session;
import dev.streamingllm.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * A loaded model file: its configuration, weights (mapped, not copied) and decoder. Thread-safe:
 * any number of sessions may run on one model.
 */
public final class Model implements AutoCloseable {

    private final GGUFFile gguf;
    private final ModelConfig config;
    private final Transformer transformer;
    private final Tokenizer tokenizer;

    private Model(GGUFFile gguf) {
        this.gguf = gguf;
        this.config = ModelConfig.from(gguf);
        this.transformer = new Transformer(config, Weights.load(gguf, config));
        this.tokenizer = Tokenizer.fromGGUF(gguf);
    }

    /** Opens and validates {@code file}; a bad file raises one {@code GGUFException} naming it and the problem. */
    public static Model load(Path file) {
        GGUFFile gguf = GGUFFile.open(file);
        try {
            return new Model(gguf);
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }

    public Session newSession(CacheConfig cache) {
        return new Session(transformer, cache);
    }

    public ModelConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Transformer transformer() {
        return transformer;
    }

    public GGUFFile gguf() {
        return gguf;
    }

    public Path path() {
        return gguf.path();
    }

    public long parameterCount() {
        return gguf.tensors().values().stream().mapToLong(GGUFTensor::elements).sum();
    }

    /** Tensor count per element type, for {@code info}. */
    public Map<GGMLType, Integer> tensorTypes() {
        Map<GGMLType, Integer> types = new TreeMap<>();
        gguf.tensors().values().forEach(t -> types.merge(t.type(), 1, Integer::sum));
        return types;
    }

    @Override
    public void close() {
        gguf.close();
    }
}
