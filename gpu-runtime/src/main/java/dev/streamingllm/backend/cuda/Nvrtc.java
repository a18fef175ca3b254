package dev.streamingllm.backend.cuda;

import static org.bytedeco.cuda.global.nvrtc.NVRTC_SUCCESS;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCompileProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCreateProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcDestroyProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBIN;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBINSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetErrorString;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLog;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLogSize;

import java.util.List;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * Run-time compilation with NVRTC. Kernels are compiled straight to the device's machine code (CUBIN)
 * rather than PTX, so a driver older than the NVRTC library (a 13.0 driver with a 13.x NVRTC) loads
 * them without having to understand a newer PTX version.
 */
public final class Nvrtc {

    private Nvrtc() {
    }

    /** Loads the NVRTC JNI wrapper (and with it the CUDA runtime); throws if a library is missing. */
    public static void load() {
        Loader.load(org.bytedeco.cuda.global.nvrtc.class);
    }

    /** The compile options used for {@code architecture} (e.g. {@code sm_90}): exact float math, no fast-math. */
    public static List<String> options(String architecture) {
        return List.of("--gpu-architecture=" + architecture, "--std=c++17", "-default-device");
    }

    /** Compiles {@code source} for {@code architecture}; a compile error carries NVRTC's log. */
    public static byte[] compileCubin(String name, String source, String architecture) {
        load();
        _nvrtcProgram program = new _nvrtcProgram();
        check(nvrtcCreateProgram(program, new BytePointer(source), new BytePointer(name), 0, (PointerPointer<?>) null, null),
                "nvrtcCreateProgram");
        try {
            List<String> options = options(architecture);
            PointerPointer<BytePointer> argv = new PointerPointer<>(options.size());
            for (int i = 0; i < options.size(); i++) {
                argv.put(i, new BytePointer(options.get(i)));
            }
            int status = nvrtcCompileProgram(program, options.size(), argv);
            if (status != NVRTC_SUCCESS) {
                throw new CudaException("NVRTC could not compile " + name + " for " + architecture + " ("
                        + nvrtcGetErrorString(status).getString() + "):\n" + log(program));
            }
            SizeTPointer size = new SizeTPointer(1);
            check(nvrtcGetCUBINSize(program, size), "nvrtcGetCUBINSize");
            byte[] cubin = new byte[(int) size.get()];
            check(nvrtcGetCUBIN(program, cubin), "nvrtcGetCUBIN");
            return cubin;
        } finally {
            nvrtcDestroyProgram(program);
        }
    }

    private static String log(_nvrtcProgram program) {
        SizeTPointer size = new SizeTPointer(1);
        nvrtcGetProgramLogSize(program, size);
        byte[] log = new byte[(int) size.get()];
        nvrtcGetProgramLog(program, log);
        return new String(log, 0, Math.max(0, log.length - 1), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static void check(int status, String what) {
        if (status != NVRTC_SUCCESS) {
            throw new CudaException(what + " failed: " + nvrtcGetErrorString(status).getString());
        }
    }
}
