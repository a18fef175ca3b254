package dev.streamingllm.cli;

import dev.streamingllm.cache.CacheType;
import java.util.Arrays;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** {@code --cache-type f32|f16|q8_0}, in either case. */
final class CacheTypeConverter implements ITypeConverter<CacheType> {

    @Override
    public CacheType convert(String value) {
        try {
            return CacheType.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException("cache type '" + value + "' is not one of "
                    + Arrays.stream(CacheType.values()).map(t -> t.name().toLowerCase(Locale.ROOT)).toList());
        }
    }
}
