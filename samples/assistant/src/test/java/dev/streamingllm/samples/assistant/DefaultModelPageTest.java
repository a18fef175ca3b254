package dev.streamingllm.samples.assistant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.spring.autoconfigure.StreamingLlmWarmup;
import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The assistant as it ships: its own configuration, so the default model SmolLM2-135M-Instruct comes through the
 * runtime's pull code into the model cache (downloaded once per machine). The chat page, in headless Chromium,
 * answers a real question. Greedy decoding, so the answer is the same on every run.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = "streamingllm.chat.temperature=0")
class DefaultModelPageTest {

    @LocalServerPort
    int port;

    @RegisterExtension
    final HeadlessChromium chromium = new HeadlessChromium();

    private WebDriver driver() {
        return chromium.driver;
    }

    /** As shipped, the model is warmed up by a runner, which Spring Boot runs before it reports the application ready. */
    @Test
    void theModelIsWarmedUpBeforeTheApplicationIsReady(@Autowired StreamingLlmWarmup warmup, @Autowired ApplicationAvailability availability) {
        assertThat(availability.getReadinessState()).isEqualTo(ReadinessState.ACCEPTING_TRAFFIC);
        assertThat(warmup.report()).isNotNull();
        assertThat(warmup.report().rounds()).isPositive();
        assertThat(warmup.report().elapsed()).isGreaterThanOrEqualTo(warmup.report().lastRound());
    }

    @Test
    void thePageAnswersAQuestionOnTheDefaultModel() throws Exception {
        driver().get("http://localhost:" + port + "/");
        WebDriverWait wait = new WebDriverWait(driver(), Duration.ofSeconds(60));
        wait.until(d -> d.findElement(By.id("model")).getText().equals("SmolLM2-135M-Instruct.Q4_1"));

        driver().findElement(By.id("prompt")).sendKeys("What is the capital of France?");
        driver().findElement(By.id("send")).click();
        new WebDriverWait(driver(), Duration.ofSeconds(120))
                .withMessage(() -> "no finished reply; the page shows: " + driver().findElement(By.id("messages")).getText())
                .until(d -> !d.findElements(By.cssSelector(".message.assistant")).isEmpty() && d.findElement(By.id("send")).isEnabled());

        String reply = driver().findElements(By.cssSelector(".message.assistant")).getLast().getText();
        assertThat(reply).contains("Paris");
        assertThat(Files.size(chromium.screenshot("assistant.png"))).isGreaterThan(10_000);
    }
}
