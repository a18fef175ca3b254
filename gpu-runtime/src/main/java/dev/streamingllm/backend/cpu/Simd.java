package dev.streamingllm.backend.cpu;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the Vector API kernels run. They need the incubating module {@code jdk.incubator.vector},
 * which a JVM only has when started with {@code --add-modules jdk.incubator.vector}; without it the
 * plain-Java kernels run and one line says how to get the fast path. Classes that touch
 * {@code jdk.incubator.vector} are only ever loaded when {@link #ENABLED} is true.
 *
 * <p>The fast path also wants {@code -XX:PerMethodTrapLimit=}{@value #TRAP_LIMIT}. C2 guards each Vector API call it
 * inlines with type checks, and past HotSpot's default of 100 such checks in one compilation it stops adding them: the
 * rest of the kernel then calls the Vector API's Java fallbacks and allocates every vector. A Q4_K row kernel crosses
 * that limit in some JVMs and not in others, depending on the order the kernels warmed up in, and decoded at two
 * thirds of its speed where it did (BENCHMARKS.md). Without the flag one line says so.
 */
final class Simd {

    private static final Logger LOG = LoggerFactory.getLogger(Simd.class);

    /** The type checks C2 may add to one compilation that the Vector API kernels need. */
    static final long TRAP_LIMIT = 1000;

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
        trapLimitAdvice(trapLimit()).ifPresent(LOG::warn);
        return true;
    }

    /** This JVM's {@code PerMethodTrapLimit}, or empty where it has no such option (not HotSpot). */
    static Optional<Long> trapLimit() {
        try {
            String value = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).getVMOption("PerMethodTrapLimit").getValue();
            return Optional.of(Long.parseLong(value));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** What to tell a JVM whose trap limit is {@code limit}: nothing at {@value #TRAP_LIMIT} or above, or where unknown. */
    static Optional<String> trapLimitAdvice(Optional<Long> limit) {
        return limit.filter(l -> l < TRAP_LIMIT).map(l -> "CPU kernels: -XX:PerMethodTrapLimit is " + l
                + "; start the JVM with -XX:PerMethodTrapLimit=" + TRAP_LIMIT
                + " so that C2 compiles the larger Vector API kernels whole (Q4_K decode ran up to 1.6x faster with it)");
    }
}
