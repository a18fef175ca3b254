package dev.streamingllm.model;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.Decoder;
import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.backend.cpu.CopyStore;
import dev.streamingllm.backend.cuda.CudaOptions;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.gguf.GGUFTensor;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import dev.streamingllm.template.ChatTemplate;
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
    private final CacheConfig cacheConfig;
    private final Transformer transformer;
    private final Backends.Choice backend;
    private final Decoder decoder;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final String fingerprint;
    private final CopyStore repacked;

    private Model(GGUFFile gguf, Backend requested, CacheSettings cache, CudaOptions cudaOptions, Path repacked) {
        this.gguf = gguf;
        this.config = ModelConfig.from(gguf);
        this.cacheConfig = cache.resolve(config.contextLength());
        this.fingerprint = ModelFingerprint.of(gguf);
        this.repacked = Backends.copyStore(repacked, fingerprint);
        Weights weights = Weights.load(gguf, config);
        this.transformer = new Transformer(config, weights);
        this.backend = Backends.select(requested);
        this.decoder = Backends.decoder(backend, gguf, config, weights, transformer,
                (cudaOptions != null ? cudaOptions : CudaOptions.DEFAULT).forCapacity(cacheConfig.capacity()), this.repacked);
        this.tokenizer = Tokenizer.fromGGUF(gguf);
        this.chatTemplate = gguf.findString("tokenizer.chat_template")
                .map(source -> ChatTemplate.of("tokenizer.chat_template of " + gguf.path().getFileName(), source, bosText(), eosText()))
                .orElseGet(() -> chatTemplate(defaultTemplateName()));
    }

    /** A built-in template by name (chatml, llama2, llama3, zephyr), for files without one or to override it. */
    public ChatTemplate chatTemplate(String builtin) {
        return ChatTemplate.builtin(builtin, bosText(), eosText());
    }

    /** Guesses the built-in template from the vocabulary's special tokens; ChatML otherwise. */
    private String defaultTemplateName() {
        for (int id = 0; id < tokenizer.vocabularySize(); id++) {
            if (!tokenizer.isSpecial(id)) {
                continue;
            }
            switch (tokenizer.piece(id)) {
                case "<|start_header_id|>" -> {
                    return "llama3";
                }
                case "<|assistant|>" -> {
                    return "zephyr";
                }
                case "[INST]" -> {
                    return "llama2";
                }
                default -> {
                }
            }
        }
        return "chatml";
    }

    private String bosText() {
        return tokenizer.bos() >= 0 ? tokenizer.piece(tokenizer.bos()) : "";
    }

    private String eosText() {
        return tokenizer.eos() >= 0 ? tokenizer.piece(tokenizer.eos()) : "";
    }

    /** Opens and validates {@code file} for the CPU; a bad file raises one {@code GGUFException} naming it and the problem. */
    public static Model load(Path file) {
        return load(file, Backend.CPU, CacheSettings.DEFAULT);
    }

    /**
     * Opens {@code file} on {@code backend} ({@link Backends#select}) for sessions of {@code cache}, resolved
     * against the model's context length ({@link #cacheConfig()}); the CUDA backend's slots are that large.
     */
    public static Model load(Path file, Backend backend, CacheSettings cache) {
        return load(file, backend, cache, null);
    }

    /** As {@link #load(Path, Backend, CacheSettings)}, with the CUDA backend sized by {@code cudaOptions} (null: {@link CudaOptions#DEFAULT}). */
    public static Model load(Path file, Backend backend, CacheSettings cache, CudaOptions cudaOptions) {
        return load(file, backend, cache, cudaOptions, null);
    }

    /**
     * As {@link #load(Path, Backend, CacheSettings, CudaOptions)}, with the CPU backend's repacked matrices kept under
     * {@code repacked} (null: {@link Backends#copyStore}'s default).
     */
    public static Model load(Path file, Backend backend, CacheSettings cache, CudaOptions cudaOptions, Path repacked) {
        GGUFFile gguf = GGUFFile.open(file);
        try {
            return new Model(gguf, backend, cache, cudaOptions, repacked);
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }

    /** The cache the model was loaded for, resolved against its context length: what sessions get unless they ask otherwise. */
    public CacheConfig cacheConfig() {
        return cacheConfig;
    }

    /** The backend sessions run on, and why it was chosen. */
    public Backends.Choice backend() {
        return backend;
    }

    /** What sessions run through: the CPU transformer or the CUDA decoder. */
    public Decoder decoder() {
        return decoder;
    }

    public ModelConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The model's own chat template, or the built-in one its vocabulary suggests. */
    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    /** Identifies the weights a cache was computed with; see {@link ModelFingerprint}. */
    public String fingerprint() {
        return fingerprint;
    }

    /** Where the CPU backend keeps its repacked copies of this model's matrices ({@link CopyStore}). */
    public CopyStore repacked() {
        return repacked;
    }

    /** The CPU decoder, whatever the backend (perplexity and CPU benchmarks run on it). */
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
        decoder.close();
        gguf.close();
    }
}
