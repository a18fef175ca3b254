package dev.streamingllm.cli;

import dev.streamingllm.backend.Backend;
import picocli.CommandLine.Option;

/** {@code --backend}, shared by the commands that may run on the GPU. */
final class BackendOption {

    @Option(names = "--backend", defaultValue = "cpu", converter = BackendConverter.class,
            description = "auto, cpu or cuda (default: ${DEFAULT-VALUE})")
    Backend backend;
}
