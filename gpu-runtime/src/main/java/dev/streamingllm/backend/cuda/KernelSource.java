package dev.streamingllm.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The CUDA C source of every kernel (resource {@code kernels.cu}) and the names of its entry points. */
public final class KernelSource {

    /** The resource's name beside this class. */
    public static final String RESOURCE = "kernels.cu";

    private static final Pattern ENTRY = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(");

    private KernelSource() {
    }

    public static String source() {
        try (InputStream in = KernelSource.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + RESOURCE + " is missing beside " + KernelSource.class.getName());
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every {@code extern "C" __global__} function of the source, in order. */
    public static List<String> kernelNames() {
        Matcher m = ENTRY.matcher(source());
        List<String> names = new java.util.ArrayList<>();
        while (m.find()) {
            names.add(m.group(1));
        }
        return List.copyOf(names);
    }
}
