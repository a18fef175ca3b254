package dev.streamingllm.samples.assistant;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionInfo;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The chat page in Debian's headless Chromium: send messages, watch the reply stream in and the cache panel
 * follow the server's session, and keep a screenshot in target/.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf",
        // greedy: the same replies every run
        "streamingllm.chat.temperature=0",
        // a small window, so that two turns already slide it
        "streamingllm.cache.window=124"})
class ChatPageBrowserTest {

    @LocalServerPort
    int port;

    @Autowired
    ChatSessions sessions;

    @RegisterExtension
    final HeadlessChromium chromium = new HeadlessChromium();

    private WebDriver driver() {
        return chromium.driver;
    }

    @Test
    void chatStreamsTokensAndTheCachePanelFollowsTheSession() throws Exception {
        driver().get("http://localhost:" + port + "/");
        WebDriverWait wait = new WebDriverWait(driver(), Duration.ofSeconds(60));
        wait.until(d -> text("model").equals("stories260K"));
        String conversation = text("conversation-id");
        assertThat(conversation).startsWith("chat-");
        recordRequests();

        // count the reply's text changes, one per streamed piece: records, not callbacks, which come once per task
        // however many pieces one network read brought
        js("window.__updates = 0; new MutationObserver(records => window.__updates += records.length)"
                + ".observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true});");
        send("Once upon a time there was a little girl.");
        String reply = driver().findElements(By.cssSelector(".message.assistant")).getLast().getText();
        assertThat(reply).isNotBlank();
        String statusLine = text("status");
        Matcher usage = Pattern.compile("(\\d+) prompt tokens prefilled, (\\d+) generated").matcher(statusLine);
        assertThat(usage.find()).as("status line: " + statusLine).isTrue();
        int generated = Integer.parseInt(usage.group(2));
        assertThat(((Number) js("return window.__updates;")).intValue()).as("tokens arrived one by one").isGreaterThan(generated / 2);

        SessionInfo first = sessions.info(conversation).orElseThrow();
        wait.until(d -> number("tokens-seen") == first.tokensSeen());
        assertThat(text("sinks")).isEqualTo("4");
        assertThat(text("window")).isEqualTo("124");
        assertThat(text("tps")).matches("[0-9.]+");

        send("What did she find?");
        assertThat(driver().findElements(By.cssSelector(".message.assistant"))).hasSize(2);
        SessionInfo second = sessions.info(conversation).orElseThrow();
        assertThat(second.tokensSeen()).isGreaterThan(first.tokensSeen());
        wait.until(d -> number("tokens-seen") == second.tokensSeen() && number("evicted") == second.evicted());
        String fill = driver().findElement(By.id("window-fill")).getCssValue("width");
        assertThat(Double.parseDouble(fill.replace("px", ""))).isPositive();
        if (second.evicted() > 0) {
            assertThat(text("window-range")).contains("sliding");
        }

        assertThat(Files.size(chromium.screenshot("chat-page.png"))).isGreaterThan(10_000);
    }

    /** Sends a message and waits for its reply to finish (the reply may finish before a poll sees it start). */
    private void send(String message) {
        int before = driver().findElements(By.cssSelector(".message.user")).size();
        driver().findElement(By.id("prompt")).sendKeys(message);
        driver().findElement(By.id("send")).click();
        new WebDriverWait(driver(), Duration.ofSeconds(60))
                .withMessage(() -> "the reply to '" + message + "' did not finish; the page shows: " + text("messages")
                        + " | status: " + text("status") + " | busy: " + busy()
                        + "\nthe page's requests not ended, and its completions: " + js("return JSON.stringify(window.__requests"
                                + ".filter(r => !r.state.endsWith('ended') || r.url.includes('completions')));")
                        + "\nthe server's session: " + sessions.info(text("conversation-id")) + "\nthreads:\n" + serverThreads())
                .until(d -> d.findElements(By.cssSelector(".message.user")).size() > before && !busy());
    }

    /**
     * Wraps the page's {@code fetch} so that each request records its status, whether its body ended, and the last
     * characters it received: for a reply that never finishes, whether the server ended the stream and the page did not
     * see it, or the stream, or a session refresh, never ended.
     */
    private void recordRequests() {
        js("""
                window.__requests = [];
                const fetchFromNetwork = window.fetch;
                window.fetch = async (...args) => {
                  const entry = { url: String(args[0]), state: 'sent', tail: '' };
                  window.__requests.push(entry);
                  const response = await fetchFromNetwork(...args);
                  entry.state = 'status ' + response.status;
                  const reader = response.clone().body.getReader();
                  const decoder = new TextDecoder();
                  (async () => {
                    for (;;) {
                      const { value, done } = await reader.read();
                      if (done) { entry.state += ', ended'; return; }
                      entry.tail = (entry.tail + decoder.decode(value, { stream: true })).slice(-400);
                    }
                  })();
                  return response;
                };""");
    }

    /**
     * Every thread of this JVM, virtual turn threads included, written to target/ for a reply that never finishes:
     * where the scheduler, the turns and the event loops were.
     */
    private static String serverThreads() {
        try {
            Path dump = Path.of("target", "chat-page-threads-" + System.nanoTime() + ".txt").toAbsolutePath();
            ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                    .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.TEXT_PLAIN);
            return Files.readString(dump);
        } catch (IOException e) {
            return "(no thread dump: " + e + ")";
        }
    }

    private boolean busy() {
        return !driver().findElement(By.id("send")).isEnabled();
    }

    private String text(String id) {
        return driver().findElement(By.id(id)).getText();
    }

    private long number(String id) {
        String text = text(id).replace(",", "");
        return text.matches("[0-9]+") ? Long.parseLong(text) : -1;
    }

    private Object js(String script) {
        return ((JavascriptExecutor) driver()).executeScript(script);
    }
}
