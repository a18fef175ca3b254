package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** {@link Ops} with the Vector API; tails shorter than a vector run in plain Java. */
final class VectorOps extends Ops {

    @Override
    public void rmsnorm(float[] out, int outOffset, float[] x, int xOffset, float[] weight, float eps, int size) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= size; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOffset + i);
            acc = v.fma(v, acc);
        }
        float ss = sum(acc);
        for (; i < size; i++) {
            ss += x[xOffset + i] * x[xOffset + i];
        }
        float inv = (float) (1.0 / Math.sqrt(ss / size + eps));
        i = 0;
        for (; i + L <= size; i += L) {
            FloatVector.fromArray(F, x, xOffset + i).mul(inv).mul(FloatVector.fromArray(F, weight, i)).intoArray(out, outOffset + i);
        }
        for (; i < size; i++) {
            out[outOffset + i] = weight[i] * (x[xOffset + i] * inv);
        }
    }

    @Override
    public void softmax(float[] x, int offset, int size) {
        FloatVector maxes = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + L <= size; i += L) {
            maxes = maxes.max(FloatVector.fromArray(F, x, offset + i));
        }
        float max = maxes.reduceLanes(VectorOperators.MAX);
        for (; i < size; i++) {
            max = Math.max(max, x[offset + i]);
        }
        FloatVector sums = FloatVector.zero(F);
        i = 0;
        for (; i + L <= size; i += L) {
            FloatVector e = FloatVector.fromArray(F, x, offset + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(x, offset + i);
            sums = sums.add(e);
        }
        float sum = sum(sums);
        for (; i < size; i++) {
            x[offset + i] = (float) Math.exp(x[offset + i] - max);
            sum += x[offset + i];
        }
        float inv = 1f / sum;
        i = 0;
        for (; i + L <= size; i += L) {
            FloatVector.fromArray(F, x, offset + i).mul(inv).intoArray(x, offset + i);
        }
        for (; i < size; i++) {
            x[offset + i] *= inv;
        }
    }

    @Override
    public void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int size) {
        int i = 0;
        for (; i + L <= size; i += L) {
            FloatVector.fromArray(F, x, xOffset + i).fma(FloatVector.broadcast(F, a), FloatVector.fromArray(F, y, yOffset + i)).intoArray(y, yOffset + i);
        }
        for (; i < size; i++) {
            y[yOffset + i] += a * x[xOffset + i];
        }
    }

    @Override
    public float dot(float[] a, int aOffset, float[] b, int bOffset, int size) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * L <= size; i += 2 * L) {
            acc0 = FloatVector.fromArray(F, a, aOffset + i).fma(FloatVector.fromArray(F, b, bOffset + i), acc0);
            acc1 = FloatVector.fromArray(F, a, aOffset + i + L).fma(FloatVector.fromArray(F, b, bOffset + i + L), acc1);
        }
        for (; i + L <= size; i += L) {
            acc0 = FloatVector.fromArray(F, a, aOffset + i).fma(FloatVector.fromArray(F, b, bOffset + i), acc0);
        }
        float sum = sum(acc0.add(acc1));
        for (; i < size; i++) {
            sum += a[aOffset + i] * b[bOffset + i];
        }
        return sum;
    }

    @Override
    public void siluMul(float[] gate, int gateOffset, float[] up, int upOffset, int size) {
        int i = 0;
        for (; i + L <= size; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, gateOffset + i);
            FloatVector silu = g.div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            silu.mul(FloatVector.fromArray(F, up, upOffset + i)).intoArray(gate, gateOffset + i);
        }
        for (; i < size; i++) {
            float g = gate[gateOffset + i];
            gate[gateOffset + i] = g / (1f + (float) Math.exp(-g)) * up[upOffset + i];
        }
    }
}
