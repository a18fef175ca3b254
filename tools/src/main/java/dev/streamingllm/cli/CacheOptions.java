package dev.streamingllm.cli;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.cache.CacheType;
import picocli.CommandLine.Option;

/** {@code --sinks}, {@code --window} and {@code --cache-type}, shared by the commands that run sessions. */
final class CacheOptions {

    @Option(names = "--sinks", defaultValue = "" + CacheConfig.DEFAULT_SINKS, description = "attention sinks (default: ${DEFAULT-VALUE})")
    int sinks;

    @Option(names = "--window", description = "rolling window (default: the model's context length, at most "
            + CacheSettings.MAX_DEFAULT_CAPACITY + ", minus the sinks, as the starter)")
    Integer window;

    @Option(names = "--cache-type", defaultValue = "f32", converter = CacheTypeConverter.class,
            description = "element type of the cached keys and values: f32, f16 (the starter's default) or q8_0 (default: ${DEFAULT-VALUE})")
    CacheType type;

    /** The cache these options ask for, evicting one token at a time; resolved against the model. */
    CacheSettings settings() {
        return new CacheSettings(sinks, window, 1, type);
    }
}
