package dev.streamingllm.backend.cuda;

/** A failed CUDA, NVRTC or cuBLAS call, naming the call and the library's error. */
public final class CudaException extends RuntimeException {

    public CudaException(String message) {
        super(message);
    }
}
