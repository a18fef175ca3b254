package dev.streamingllm.cli;

import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullPolicy;
import dev.streamingllm.pull.PullProgress;
import java.nio.file.Path;
import picocli.CommandLine.ITypeConverter;

/** A MODEL argument: a file path, or a catalog name or URL, pulled into the cache on first use. */
final class ModelArgument implements ITypeConverter<Path> {

    @Override
    public Path convert(String value) {
        return ModelPuller.standard(PullProgress.forConsole()).resolve(value, PullPolicy.WHEN_MISSING);
    }
}
