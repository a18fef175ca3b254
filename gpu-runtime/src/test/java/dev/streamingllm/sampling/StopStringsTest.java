package dev.streamingllm.sampling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopStringsTest {

    @Test
    void holdsBackAPossibleStopStringAcrossPieces() {
        StopStrings stops = new StopStrings(List.of("</end>"));
        assertThat(stops.feed("Hello </")).isEqualTo("Hello ");
        assertThat(stops.feed("e")).isEmpty();
        assertThat(stops.feed("nd> world")).isEmpty();
        assertThat(stops.stopped()).isTrue();
        assertThat(stops.feed("more")).isEmpty();
    }

    @Test
    void releasesHeldTextWhenItTurnsOutNotToBeAStop() {
        StopStrings stops = new StopStrings(List.of("STOP"));
        assertThat(stops.feed("a ST")).isEqualTo("a ");
        assertThat(stops.feed("ART")).isEqualTo("START");
        assertThat(stops.feed("S")).isEmpty();
        assertThat(stops.flush()).isEqualTo("S");
        assertThat(stops.stopped()).isFalse();
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        StopStrings stops = new StopStrings(List.of("cd", "b"));
        assertThat(stops.feed("abcd")).isEqualTo("a");
    }

    @Test
    void withoutStopsEverythingPassesThrough() {
        StopStrings stops = new StopStrings(List.of());
        assertThat(stops.feed("x")).isEqualTo("x");
        assertThat(stops.flush()).isEmpty();
    }
}
