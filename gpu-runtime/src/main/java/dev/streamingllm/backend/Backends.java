package dev.streamingllm.backend;

import dev.streamingllm.backend.cuda.CudaDevice;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Resolves a requested {@link Backend} to the one that will run, probing the CUDA device once per JVM. */
public final class Backends {

    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);

    /** The backend that runs, the device when it is CUDA, and why the CPU was chosen when it was. */
    public record Choice(Backend backend, Optional<CudaDevice> device, String reason) {
    }

    private Backends() {
    }

    /**
     * {@code cpu} is the CPU; {@code cuda} is the CUDA device or an {@link IllegalStateException} saying
     * why there is none; {@code auto} is CUDA when usable, else the CPU with one log line saying why.
     */
    public static Choice select(Backend requested) {
        return switch (requested) {
            case CPU -> new Choice(Backend.CPU, Optional.empty(), "requested");
            case CUDA -> {
                CudaDevice.Probe probe = CudaDevice.probe();
                if (probe.device().isEmpty()) {
                    throw new IllegalStateException("backend 'cuda' was requested but CUDA is not usable: " + probe.reason());
                }
                yield new Choice(Backend.CUDA, probe.device(), "requested");
            }
            case AUTO -> {
                CudaDevice.Probe probe = CudaDevice.probe();
                if (probe.device().isPresent()) {
                    yield new Choice(Backend.CUDA, probe.device(), "auto: " + probe.device().get());
                }
                LOG.info("backend auto: running on the CPU because {}", probe.reason());
                yield new Choice(Backend.CPU, Optional.empty(), probe.reason());
            }
        };
    }
}
