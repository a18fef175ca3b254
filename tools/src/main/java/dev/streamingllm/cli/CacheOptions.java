package dev.streamingllm.cli;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.cache.CacheType;
import picocli.CommandLine.Option;

/** {@code --sinks} and {@code --window}, shared by the commands that run sessions, with the starter's defaults. */
final class CacheOptions {

    @Option(names = "--sinks", defaultValue = "" + CacheConfig.DEFAULT_SINKS, description = "attention sinks (default: ${DEFAULT-VALUE})")
    int sinks;

    @Option(names = "--window", description = "rolling window (default: the model's context length, at most "
            + CacheSettings.MAX_DEFAULT_CAPACITY + ", minus the sinks, as the starter)")
    Integer window;

    /** The cache these options ask for, in 32-bit floats, evicting one token at a time; resolved against the model. */
    CacheSettings settings() {
        return new CacheSettings(sinks, window, 1, CacheType.F32);
    }
}
