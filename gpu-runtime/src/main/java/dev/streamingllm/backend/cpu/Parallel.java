package dev.streamingllm.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Parallel loops for the CPU kernels: {@code threads - 1} platform threads plus the calling thread.
 * Decoding one token calls about a hundred small matmuls, so a call must cost microseconds, not the
 * tens of microseconds of waking pooled threads: between calls the workers spin for a short while
 * ({@value #SPIN_NANOS} ns) before they park, and the caller spins the same way for their results.
 * Work is handed out in chunks from an atomic counter, so a thread slowed by another process on a
 * shared machine takes fewer chunks instead of holding everybody up. Chunks are guided: each takes a
 * share of what is left, so they shrink as the loop drains and the last one to finish is short.
 */
public final class Parallel {

    /** One slice {@code [start, end)} of a parallel loop. */
    @FunctionalInterface
    public interface Range {
        void run(int start, int end);
    }

    static final long SPIN_NANOS = 50_000;

    private static int threads = Runtime.getRuntime().availableProcessors();
    private static Pool pool;

    private Parallel() {
    }

    /** Threads that run a parallel loop, the caller included; by default the available processors. */
    public static synchronized int threads() {
        return threads;
    }

    /** Sets the thread count; the old workers finish their loop and exit, new ones start on first use. */
    public static synchronized void setThreads(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("thread count must be at least 1, was " + count);
        }
        if (count != threads) {
            threads = count;
            if (pool != null) {
                pool.shutdown();
                pool = null;
            }
        }
    }

    private static synchronized Pool pool() {
        if (pool == null) {
            pool = new Pool(threads);
        }
        return pool;
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into slices of at least {@code grain} indices,
     * returning when every slice is done. A call from inside a parallel loop runs inline; calls from
     * different threads take turns. The first exception thrown by a slice is rethrown here.
     */
    public static void forRange(int n, int grain, Range body) {
        if (n <= 0) {
            return;
        }
        Pool p = pool();
        if (p.workers.length == 0 || n <= grain || p.isInside()) {
            body.run(0, n);
        } else {
            p.run(n, grain, body);
        }
    }

    private static final class Pool {
        final Worker[] workers;
        final ReentrantLock lock = new ReentrantLock();
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger pending = new AtomicInteger();
        volatile int generation;
        volatile boolean shutdown;
        volatile boolean callerParked;
        volatile Thread caller;
        volatile Throwable failure;
        Range body;
        int n;
        int grain;

        Pool(int threads) {
            workers = new Worker[threads - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(this, i + 1);
                workers[i].start();
            }
        }

        boolean isInside() {
            return Thread.currentThread() instanceof Worker w && w.pool == this || lock.isHeldByCurrentThread();
        }

        void run(int n, int grain, Range body) {
            lock.lock();
            try {
                if (shutdown) {
                    body.run(0, n);
                    return;
                }
                this.body = body;
                this.n = n;
                this.grain = grain;
                next.set(0);
                pending.set(workers.length);
                failure = null;
                caller = Thread.currentThread();
                generation++; // publishes the fields above
                for (Worker w : workers) {
                    if (w.parked) {
                        LockSupport.unpark(w);
                    }
                }
                work();
                awaitWorkers();
                this.body = null;
                Throwable t = failure;
                if (t instanceof RuntimeException r) {
                    throw r;
                }
                if (t instanceof Error e) {
                    throw e;
                }
                if (t != null) {
                    throw new RuntimeException(t);
                }
            } finally {
                lock.unlock();
            }
        }

        /**
         * Takes chunks until none is left; every participating thread runs this. A chunk is half of
         * this thread's fair share of what is left, at least {@code grain}: the first chunks are big
         * enough to keep the counter cold, the last ones small enough that nobody waits long for them.
         */
        void work() {
            int share = 2 * (workers.length + 1);
            for (int start; (start = next.get()) < n; ) {
                int end = (int) Math.min(n, (long) start + Math.max(grain, (n - start) / share));
                if (!next.compareAndSet(start, end)) {
                    continue;
                }
                try {
                    body.run(start, end);
                } catch (Throwable t) {
                    if (failure == null) {
                        failure = t;
                    }
                }
            }
        }

        void awaitWorkers() {
            long start = System.nanoTime();
            for (int spins = 0; pending.get() != 0; spins++) {
                Thread.onSpinWait();
                if ((spins & 63) == 63 && System.nanoTime() - start > SPIN_NANOS) {
                    callerParked = true;
                    while (pending.get() != 0) {
                        LockSupport.park(this);
                    }
                    callerParked = false;
                }
            }
        }

        void done() {
            if (pending.decrementAndGet() == 0 && callerParked) {
                LockSupport.unpark(caller);
            }
        }

        void shutdown() {
            lock.lock();
            try {
                shutdown = true;
                generation++;
                for (Worker w : workers) {
                    LockSupport.unpark(w);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    private static final class Worker extends Thread {
        final Pool pool;
        volatile boolean parked;

        Worker(Pool pool, int index) {
            super("streamingllm-cpu-" + index);
            this.pool = pool;
            setDaemon(true);
        }

        @Override
        public void run() {
            int seen = 0;
            while (true) {
                seen = awaitGeneration(seen);
                if (pool.shutdown) {
                    return;
                }
                pool.work();
                pool.done();
            }
        }

        /** Spins briefly for the next loop, then parks until the caller unparks it. */
        private int awaitGeneration(int seen) {
            long start = System.nanoTime();
            int g;
            for (int spins = 0; (g = pool.generation) == seen; spins++) {
                Thread.onSpinWait();
                if ((spins & 63) == 63 && System.nanoTime() - start > SPIN_NANOS) {
                    parked = true;
                    while ((g = pool.generation) == seen) {
                        LockSupport.park(this);
                    }
                    parked = false;
                    return g;
                }
            }
            return g;
        }
    }
}
