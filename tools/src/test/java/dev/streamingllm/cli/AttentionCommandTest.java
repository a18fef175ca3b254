package dev.streamingllm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.testing.Shared;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/streamingllm attention}: the CSV, the heat map and the per-layer table. */
class AttentionCommandTest {

    @TempDir
    Path out;

    @Test
    void writesTheCsvAndHeatMapAndPrintsOneRowPerLayer() throws IOException {
        Path model = Shared.model("stories260K.gguf");
        int layers;
        try (GGUFFile gguf = GGUFFile.open(model)) {
            layers = ModelConfig.from(gguf).layers();
        }
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            exit = StreamingLlmCli.commandLine().execute("attention", model.toString(), Shared.root().resolve("text/stories-a.txt").toString(),
                    "--tokens", "80", "--keys", "16", "--out", out.toString());
        } finally {
            System.setOut(stdout);
        }
        assertThat(exit).isZero();

        List<String> csv = Files.readAllLines(out.resolve("attention.csv"));
        assertThat(csv).hasSize(1 + layers * 16);
        assertThat(csv.getFirst()).isEqualTo("layer,key,share");
        assertThat(csv.get(1)).startsWith("0,0,");
        assertThat(csv.getLast()).startsWith((layers - 1) + ",15,");

        BufferedImage png = ImageIO.read(out.resolve("attention.png").toFile());
        assertThat(png).isNotNull();
        assertThat(png.getWidth()).isEqualTo(1100);

        List<String> table = captured.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(table).hasSize(1 + layers + 1);
        assertThat(table.getFirst()).contains("token 0", "most recent");
        assertThat(table.getLast()).startsWith("mean");
    }
}
