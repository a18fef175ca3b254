package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;
import static dev.streamingllm.backend.cpu.VectorKernels.LE;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.FloatVector;

/** F32 with the Vector API: bound by memory bandwidth, so two accumulators are plenty. */
final class F32VectorMatrix extends F32Matrix {

    F32VectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * L <= cols; i += 2 * L) {
            acc0 = FloatVector.fromMemorySegment(F, data, base + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOffset + i), acc0);
            acc1 = FloatVector.fromMemorySegment(F, data, base + 4L * (i + L), LE).fma(FloatVector.fromArray(F, x, xOffset + i + L), acc1);
        }
        for (; i + L <= cols; i += L) {
            acc0 = FloatVector.fromMemorySegment(F, data, base + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOffset + i), acc0);
        }
        float sum = sum(acc0.add(acc1));
        for (; i < cols; i++) {
            sum += data.get(F32, base + 4L * i) * x[xOffset + i];
        }
        return sum;
    }

    @Override
    void dot4(int row, float[] x, int xOffset, float[] out, int outOffset) {
        long base = row * rowBytes;
        int x0 = xOffset, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int i = 0;
        for (; i + L <= cols; i += L) {
            FloatVector w = FloatVector.fromMemorySegment(F, data, base + 4L * i, LE);
            acc0 = w.fma(FloatVector.fromArray(F, x, x0 + i), acc0);
            acc1 = w.fma(FloatVector.fromArray(F, x, x1 + i), acc1);
            acc2 = w.fma(FloatVector.fromArray(F, x, x2 + i), acc2);
            acc3 = w.fma(FloatVector.fromArray(F, x, x3 + i), acc3);
        }
        float s0 = sum(acc0), s1 = sum(acc1);
        float s2 = sum(acc2), s3 = sum(acc3);
        for (; i < cols; i++) {
            float w = data.get(F32, base + 4L * i);
            s0 += w * x[x0 + i];
            s1 += w * x[x1 + i];
            s2 += w * x[x2 + i];
            s3 += w * x[x3 + i];
        }
        out[outOffset] = s0;
        out[outOffset + rows] = s1;
        out[outOffset + 2 * rows] = s2;
        out[outOffset + 3 * rows] = s3;
    }
}
