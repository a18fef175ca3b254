package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.pull.ModelCatalog;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Turns a missing, unpullable or bad model into one clear start-up message instead of a bean-creation stack. */
class InvalidModelFailureAnalyzer extends AbstractFailureAnalyzer<InvalidModelException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, InvalidModelException cause) {
        String description;
        if (cause.model() == null) {
            description = "StreamingLLM needs a model, but streamingllm.model is not set.";
        } else if (cause.path() != null) {
            description = "StreamingLLM cannot use the model file " + cause.path().toAbsolutePath() + ": " + cause.reason();
        } else {
            description = "StreamingLLM cannot use the model " + cause.model() + ": " + cause.reason();
        }
        return new FailureAnalysis(description,
                "Set streamingllm.model to a catalog name (e.g. streamingllm.model=" + ModelCatalog.DEFAULT_MODEL
                        + "), an http(s) URL of a GGUF file, or the path of a GGUF model file.",
                cause);
    }
}
