package dev.streamingllm.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaDriverGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceCount;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceProperties;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaRuntimeGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.javacpp.Loader;

/**
 * The CUDA device the backend runs on (device 0), found by {@link #probe()}.
 *
 * @param driverVersion  the CUDA version the driver supports, as 1000 * major + 10 * minor
 * @param runtimeVersion the version of the loaded CUDA runtime library, same encoding
 */
public record CudaDevice(int index, String name, int major, int minor, long totalMemory, int multiprocessors,
                         int driverVersion, int runtimeVersion) {

    /** The CUDA major version the bundled JNI wrappers (org.bytedeco:cuda 13.1) link against. */
    public static final int REQUIRED_CUDA_MAJOR = 13;

    /** The outcome of looking for a usable device: the device, or why there is none. */
    public record Probe(Optional<CudaDevice> device, String reason) {
    }

    private static volatile Probe probe;

    /** NVRTC's name for the device's architecture, e.g. {@code sm_90}. */
    public String architecture() {
        return "sm_" + major + minor;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (%s, %d MiB, driver CUDA %s, runtime %s)", name, architecture(),
                totalMemory >> 20, version(driverVersion), version(runtimeVersion));
    }

    static String version(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }

    /** What the backend takes from the machine, the driver's library first: the JNI wrappers load against these. */
    private static final List<String> MACHINE_LIBRARIES = List.of("libcuda.so.1", "libcudart.so.13", "libnvrtc.so.13", "libcublas.so.13");

    /** Looks for device 0 once per JVM: native libraries, driver, CUDA major version, device count. */
    public static Probe probe() {
        Probe p = probe;
        if (p == null) {
            synchronized (CudaDevice.class) {
                if (probe == null) {
                    probe = find();
                }
                p = probe;
            }
        }
        return p;
    }

    /** {@link #probe}'s search, run again. */
    static Probe find() {
        String platform = Loader.getPlatform();
        if (!platform.equals("linux-x86_64")) {
            return none("the CUDA JNI wrappers are bundled for linux-x86_64 only, this is " + platform);
        }
        try {
            Loader.load(org.bytedeco.cuda.global.cudart.class);
        } catch (Throwable e) {
            // UnsatisfiedLinkError (no libcuda.so.1 = no driver, no libcudart.so.13 = no CUDA 13 runtime) or a loader
            // failure wrapping it, whose message names the missing library only the first time the class is loaded.
            return none("the CUDA libraries could not be loaded (" + missingLibrary().orElseGet(() -> rootMessage(e)) + ")");
        }
        int[] driver = new int[1];
        int[] runtime = new int[1];
        cudaDriverGetVersion(driver);
        cudaRuntimeGetVersion(runtime);
        if (driver[0] == 0) {
            return none("no NVIDIA driver is installed");
        }
        if (driver[0] / 1000 < REQUIRED_CUDA_MAJOR) {
            return none("the NVIDIA driver supports CUDA " + version(driver[0]) + " but this backend needs CUDA "
                    + REQUIRED_CUDA_MAJOR + " (driver 580 or newer)");
        }
        int[] count = new int[1];
        int status = cudaGetDeviceCount(count);
        if (status != cudaSuccess) {
            return none("cudaGetDeviceCount failed: " + cudaGetErrorString(status).getString());
        }
        if (count[0] == 0) {
            return none("the driver reports no CUDA device");
        }
        cudaDeviceProp props = new cudaDeviceProp();
        status = cudaGetDeviceProperties(props, 0);
        if (status != cudaSuccess) {
            return none("cudaGetDeviceProperties failed: " + cudaGetErrorString(status).getString());
        }
        CudaDevice device = new CudaDevice(0, props.name().getString(), props.major(), props.minor(), props.totalGlobalMem(),
                props.multiProcessorCount(), driver[0], runtime[0]);
        return new Probe(Optional.of(device), "found " + device);
    }

    /**
     * The first library the backend needs ({@link #MACHINE_LIBRARIES}) that cannot be opened, on the loader's search
     * path or in the toolkit's folder, looked for by itself: once a class's native libraries failed to load, later loads
     * of that class only say that its initializer failed, no longer what is missing.
     */
    private static Optional<String> missingLibrary() {
        for (String library : MACHINE_LIBRARIES) {
            if (!opens(library) && !opens("/usr/local/cuda/lib64/" + library)) {
                return Optional.of(library + " cannot be opened");
            }
        }
        return Optional.empty();
    }

    private static boolean opens(String library) {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(library, arena);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static Probe none(String reason) {
        return new Probe(Optional.empty(), reason);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
