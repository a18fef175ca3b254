package dev.streamingllm.cli;

import dev.streamingllm.backend.Backend;
import picocli.CommandLine.ITypeConverter;

/** {@code --backend auto|cpu|cuda}, with the runtime's own error for other names. */
final class BackendConverter implements ITypeConverter<Backend> {

    @Override
    public Backend convert(String value) {
        return Backend.parse(value);
    }
}
