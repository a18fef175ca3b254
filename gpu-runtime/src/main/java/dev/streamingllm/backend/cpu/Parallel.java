package dev.streamingllm.backend.cpu;

// TEMPORARY STUB: replaced by the kernels branch.
public final class Parallel {
    private static int threads = Runtime.getRuntime().availableProcessors();
    public static void setThreads(int n) { threads = n; }
    public static int threads() { return threads; }
}
