package dev.streamingllm.sampling;

/**
 * xoshiro256** (Blackman and Vigna): a small, fast generator whose whole state is four longs, so a
 * session's sampler can be snapshotted and continued elsewhere. Seeded through SplitMix64.
 */
final class Xoshiro256 {

    private final long[] s = new long[4];

    Xoshiro256(long seed) {
        long x = seed;
        for (int i = 0; i < 4; i++) {
            x += 0x9e3779b97f4a7c15L;
            long z = x;
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            s[i] = z ^ (z >>> 31);
        }
    }

    long nextLong() {
        long result = Long.rotateLeft(s[1] * 5, 7) * 9;
        long t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = Long.rotateLeft(s[3], 45);
        return result;
    }

    /** Uniform in [0, 1). */
    double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    long[] state() {
        return s.clone();
    }

    void restore(long[] state) {
        System.arraycopy(state, 0, s, 0, 4);
    }
}
