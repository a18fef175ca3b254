package dev.streamingllm.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemcpy;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import java.lang.foreign.MemorySegment;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/** Small helpers over the CUDA runtime: checked calls, device allocations, copies. */
final class Cuda {

    /** Host staging buffer size for uploads from memory-mapped files. */
    private static final long STAGING_BYTES = 64L << 20;

    private Cuda() {
    }

    /** A raw device address (JavaCPP passes a plain pointer's address through unchanged). */
    static final class DevicePtr extends Pointer {
        DevicePtr(long address) {
            this.address = address;
        }

        DevicePtr plus(long bytes) {
            return new DevicePtr(address + bytes);
        }
    }

    static void check(int status, String what) {
        if (status != cudaSuccess) {
            throw new CudaException(what + " failed: CUDA error " + status + " (" + cudaGetErrorString(status).getString() + ")");
        }
    }

    static DevicePtr malloc(long bytes, String what) {
        Pointer p = new Pointer();
        check(cudaMalloc(p, Math.max(bytes, 1)), "cudaMalloc of " + bytes + " bytes for " + what);
        return new DevicePtr(p.address());
    }

    static void free(DevicePtr p) {
        if (p != null && p.address() != 0) {
            cudaFree(p);
        }
    }

    /** Copies {@code source} (e.g. a tensor in a mapped GGUF file) to the device through a bounded staging buffer. */
    static void upload(DevicePtr destination, MemorySegment source) {
        long size = source.byteSize();
        try (BytePointer staging = new BytePointer(Math.min(size, STAGING_BYTES))) {
            MemorySegment stage = MemorySegment.ofAddress(staging.address()).reinterpret(staging.capacity());
            for (long done = 0; done < size; done += STAGING_BYTES) {
                long n = Math.min(STAGING_BYTES, size - done);
                stage.copyFrom(source.asSlice(done, n));
                check(cudaMemcpy(destination.plus(done), staging, n, cudaMemcpyHostToDevice), "upload");
            }
        }
    }

    static void upload(DevicePtr destination, float[] values, int offset, int count) {
        try (FloatPointer host = new FloatPointer(count)) {
            host.put(values, offset, count);
            check(cudaMemcpy(destination, host, (long) count * Float.BYTES, cudaMemcpyHostToDevice), "upload");
        }
    }

    static <P extends Pointer> void upload(DevicePtr destination, P host, long bytes) {
        check(cudaMemcpy(destination, host, bytes, cudaMemcpyHostToDevice), "upload");
    }

    static DevicePtr uploadNew(float[] values, String what) {
        DevicePtr p = malloc((long) values.length * Float.BYTES, what);
        upload(p, values, 0, values.length);
        return p;
    }

    static void download(float[] out, int offset, DevicePtr source, int count) {
        try (FloatPointer host = new FloatPointer(count)) {
            check(cudaMemcpy(host, source, (long) count * Float.BYTES, cudaMemcpyDeviceToHost), "download");
            host.get(out, offset, count);
        }
    }
}
