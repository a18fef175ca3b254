package dev.streamingllm.spring.autoconfigure;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Turns a missing or bad model file into one clear start-up message instead of a bean-creation stack. */
class InvalidModelFailureAnalyzer extends AbstractFailureAnalyzer<InvalidModelException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, InvalidModelException cause) {
        String description = cause.path() == null
                ? "StreamingLLM needs a model file, but streamingllm.model is not set."
                : "StreamingLLM cannot use the model file " + cause.path().toAbsolutePath() + ": " + cause.reason();
        return new FailureAnalysis(description,
                "Set streamingllm.model to the path of a GGUF model file (e.g. streamingllm.model=models/stories260K.gguf).",
                cause);
    }
}
