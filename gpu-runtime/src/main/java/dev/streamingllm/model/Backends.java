package dev.streamingllm.model;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.Decoder;
import dev.streamingllm.backend.cpu.CopyStore;
import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.backend.cuda.CudaDecoder;
import dev.streamingllm.backend.cuda.CudaDevice;
import dev.streamingllm.backend.cuda.CudaOptions;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import dev.streamingllm.pull.ModelPuller;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resolves a requested {@link Backend} to the one that will run, probing the CUDA device once per JVM, and builds
 * that backend's {@link Decoder}.
 */
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

    /**
     * The decoder of {@code choice}: {@code cpu} itself on the CPU, with its repacked matrices made or mapped in
     * {@code repacked}, else a {@link CudaDecoder} that uploads {@code weights} to the chosen device and sizes its cache
     * slots by {@code cudaOptions}.
     */
    static Decoder decoder(Choice choice, GGUFFile gguf, ModelConfig config, Weights weights, Transformer cpu,
            CudaOptions cudaOptions, CopyStore repacked) {
        return switch (choice.backend()) {
            case CUDA -> new CudaDecoder(gguf, config, weights, choice.device().orElseThrow(), cudaOptions);
            case CPU, AUTO -> {
                weights.prepareForDecode(repacked);
                yield cpu;
            }
        };
    }

    /**
     * Where the CPU backend keeps its repacked copies of the matrices of the model of {@code fingerprint}
     * ({@link CopyStore}): a directory named by the fingerprint under {@code root}, else under
     * {@code -Dstreamingllm.repacked}, else {@code $STREAMINGLLM_HOME/repacked}, else
     * {@code ~/.cache/streamingllm/repacked}; {@code -Dstreamingllm.repacked=none} keeps them in the process's memory.
     */
    public static CopyStore copyStore(Path root, String fingerprint) {
        if (root != null) {
            return CopyStore.in(root.resolve(fingerprint));
        }
        String configured = System.getProperty("streamingllm.repacked", "");
        if (configured.equals("none")) {
            return CopyStore.ANONYMOUS;
        }
        Path base = !configured.isBlank() ? Path.of(configured) : ModelPuller.home().resolve("repacked");
        return CopyStore.in(base.resolve(fingerprint));
    }
}
