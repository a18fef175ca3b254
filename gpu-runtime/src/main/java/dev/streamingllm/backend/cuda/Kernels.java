package dev.streamingllm.backend.cuda;

import static org.bytedeco.cuda.global.cudart.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
import static org.bytedeco.cuda.global.cudart.CUDA_SUCCESS;
import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;
import static org.bytedeco.cuda.global.cudart.cuModuleGetFunction;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;
import static org.bytedeco.cuda.global.cudart.cuModuleUnload;
import static org.bytedeco.cuda.global.cudart.cuFuncSetAttribute;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/** The compiled kernel module on the device and typed launches of its entry points. */
final class Kernels implements AutoCloseable {

    /** Threads per block of every kernel but {@code rmsnorm}'s. */
    static final int BLOCK = 128;

    private final CUmod_st module = new CUmod_st();
    private final Map<String, CUfunc_st> functions = new HashMap<>();

    Kernels(CudaDevice device) {
        byte[] cubin = Nvrtc.compileCubin(KernelSource.RESOURCE, KernelSource.source(), device.architecture());
        try (BytePointer image = new BytePointer(cubin)) {
            checkDriver(cuModuleLoadData(module, image), "cuModuleLoadData");
        }
        for (String name : KernelSource.kernelNames()) {
            CUfunc_st function = new CUfunc_st();
            checkDriver(cuModuleGetFunction(function, module, name), "cuModuleGetFunction(" + name + ")");
            functions.put(name, function);
        }
    }

    /** Lets {@code name} use more than the default 48 KB of dynamic shared memory. */
    void allowSharedMemory(String name, int bytes) {
        checkDriver(cuFuncSetAttribute(function(name), CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute(" + name + ")");
    }

    /** The most parameters a kernel of {@link KernelSource} takes. */
    static final int MAX_ARGUMENTS = 32;

    /**
     * One 8-byte slot per parameter and the array of their addresses that {@code cuLaunchKernel} reads, made once:
     * the driver copies the values before the launch returns, so every launch can reuse them, where building them in
     * fresh native memory cost about 5 us a launch and a decode step launches hundreds of kernels.
     */
    private final LongPointer[] slots = new LongPointer[MAX_ARGUMENTS];
    private final PointerPointer<Pointer> parameters = new PointerPointer<>(MAX_ARGUMENTS);

    {
        for (int i = 0; i < MAX_ARGUMENTS; i++) {
            slots[i] = new LongPointer(1);
            parameters.put(i, slots[i]);
        }
    }

    /**
     * Launches {@code name} on the default stream. Arguments: {@link Cuda.DevicePtr} (device pointers),
     * Integer, Long, Float, Double, in the kernel's parameter order. A 4-byte value sits in its slot's low bytes, where
     * the kernel reads it (little-endian).
     */
    synchronized void launch(String name, int gridX, int gridY, int block, int sharedBytes, Object... args) {
        if (args.length > MAX_ARGUMENTS) {
            throw new IllegalArgumentException(name + " is launched with " + args.length + " arguments, more than " + MAX_ARGUMENTS);
        }
        for (int i = 0; i < args.length; i++) {
            slots[i].put(0, bits(args[i], name, i));
        }
        checkDriver(cuLaunchKernel(function(name), gridX, gridY, 1, block, 1, 1, sharedBytes, null, parameters, null),
                "launch of " + name);
    }

    /** Launches {@code name} over {@code total} elements, one thread each: {@code name(a, b, total)}. */
    void elementwise(String name, Cuda.DevicePtr a, Cuda.DevicePtr b, int total) {
        launch(name, (total + BLOCK - 1) / BLOCK, 1, BLOCK, 0, a, b, total);
    }

    private static long bits(Object arg, String kernel, int index) {
        return switch (arg) {
            case Cuda.DevicePtr p -> p.address();
            case Integer v -> v & 0xFFFFFFFFL;
            case Long v -> v;
            case Float v -> Float.floatToRawIntBits(v) & 0xFFFFFFFFL;
            case Double v -> Double.doubleToRawLongBits(v);
            default -> throw new IllegalArgumentException("argument " + index + " of " + kernel + " has unsupported type "
                    + arg.getClass().getName());
        };
    }

    private CUfunc_st function(String name) {
        CUfunc_st f = functions.get(name);
        if (f == null) {
            throw new IllegalArgumentException("no kernel '" + name + "' in " + KernelSource.RESOURCE);
        }
        return f;
    }

    static void checkDriver(int status, String what) {
        if (status != CUDA_SUCCESS) {
            throw new CudaException(what + " failed: CUresult " + status);
        }
    }

    @Override
    public void close() {
        cuModuleUnload(module);
        parameters.close();
        for (LongPointer slot : slots) {
            slot.close();
        }
    }
}
