package dev.streamingllm.backend.cpu;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the Vector API kernels run. They need the incubating module {@code jdk.incubator.vector},
 * which a JVM only has when started with {@code --add-modules jdk.incubator.vector}; without it the
 * plain-Java kernels run and one line says how to get the fast path. Classes that touch
 * {@code jdk.incubator.vector} are only ever loaded when {@link #ENABLED} is true.
 */
final class Simd {

    private static final Logger LOG = LoggerFactory.getLogger(Simd.class);

    /** The module is present and not switched off with {@code -Dstreamingllm.simd=false}. */
    static final boolean ENABLED = decide();

    private Simd() {
    }

    private static boolean decide() {
        if (!Boolean.parseBoolean(System.getProperty("streamingllm.simd", "true"))) {
            LOG.info("CPU kernels: plain Java (-Dstreamingllm.simd=false)");
            return false;
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            LOG.warn("CPU kernels: plain Java, several times slower; start the JVM with --add-modules jdk.incubator.vector for the Vector API fast path");
            return false;
        }
        if (!VectorKernels.supported()) {
            LOG.warn("CPU kernels: plain Java; the Vector API kernels need 256- or 512-bit vectors, this machine prefers "
                    + VectorKernels.F.vectorBitSize());
            return false;
        }
        return true;
    }
}
