package dev.streamingllm.backend;

import java.util.Arrays;
import java.util.Locale;

/** Where the decoder runs: {@code auto} picks CUDA when a usable device is present, else the CPU. */
public enum Backend {
    AUTO, CPU, CUDA;

    /** Parses {@code auto}, {@code cpu} or {@code cuda} (any case); anything else is a clear error. */
    public static Backend parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown backend '" + name + "' (expected one of "
                    + Arrays.stream(values()).map(b -> b.name().toLowerCase(Locale.ROOT)).toList() + ")");
        }
    }
}
