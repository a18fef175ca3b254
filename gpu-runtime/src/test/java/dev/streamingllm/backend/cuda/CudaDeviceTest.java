package dev.streamingllm.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** The probe's reason on a machine without a device, whatever touched the CUDA classes before it. */
class CudaDeviceTest {

    /**
     * A class whose native libraries failed to load stays unusable for the JVM's life, and later loads of it say only
     * that its class failed to initialize: the probe must name the missing library by itself, also after something
     * else (here NVRTC, as the kernel compilation test loads it) failed to load the classes.
     */
    @Test
    void theReasonNamesTheMissingLibraryEvenAfterAnotherLoadFailed() {
        String reason = CudaDevice.probe().reason();
        String missing = "the CUDA libraries could not be loaded \\(.*(libcuda\\.so\\.1|libcudart\\.so\\.13|libnvrtc\\.so\\.13|libcublas\\.so\\.13).*\\)";
        assumeTrue(reason.matches(missing), "no CUDA library is missing here: " + reason);
        try {
            Nvrtc.load();
        } catch (Throwable expected) {
            // the classes' static initializers have now failed once
        }
        assertThat(CudaDevice.find().reason()).isEqualTo(reason);
    }
}
