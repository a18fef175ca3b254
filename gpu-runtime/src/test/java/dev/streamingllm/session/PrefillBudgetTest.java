package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The prompt tokens a step may carry while others decode, from the costs of the steps recorded before. */
class PrefillBudgetTest {

    private static final long MS = 1_000_000;

    @Test
    void withoutMeasuredCostsAStepTakesTheMost() {
        PrefillBudget budget = new PrefillBudget();
        assertThat(budget.tokens(8)).isEqualTo(8);
        budget.record(0, 40 * MS);
        assertThat(budget.tokens(8)).as("decode cost known, prompt cost not yet").isEqualTo(8);
    }

    @Test
    void expensivePromptTokensAreFewerSoTheStepStaysWithinTheStall() {
        PrefillBudget budget = new PrefillBudget();
        budget.record(0, 40 * MS);
        // 8 prompt tokens made the step 200 ms: 20 ms each, so 80 ms more than decoding (a stall of 3) buys 4.
        budget.record(8, 200 * MS);
        assertThat(budget.tokens(8)).isEqualTo(4);
        long step = 40 * MS + 4 * 20 * MS;
        assertThat((double) step / (40 * MS)).isLessThanOrEqualTo(PrefillBudget.STALL);
    }

    @Test
    void cheapPromptTokensAreCappedAtTheMostAndCostlyOnesNeverStopThePrompt() {
        PrefillBudget cheap = new PrefillBudget();
        cheap.record(0, 40 * MS);
        cheap.record(8, 48 * MS);
        assertThat(cheap.tokens(8)).isEqualTo(8);

        PrefillBudget costly = new PrefillBudget();
        costly.record(0, 10 * MS);
        costly.record(4, 2000 * MS);
        assertThat(costly.tokens(8)).isEqualTo(1);
    }

    @Test
    void theBudgetFollowsCostsAsTheyChange() {
        PrefillBudget budget = new PrefillBudget();
        budget.record(0, 40 * MS);
        budget.record(8, 200 * MS);
        assertThat(budget.tokens(8)).isEqualTo(4);
        // The prompt's tokens get cheaper (another machine load, a shorter window): the budget grows back.
        for (int i = 0; i < 20; i++) {
            budget.record(2, 44 * MS);
        }
        assertThat(budget.tokens(8)).isEqualTo(8);
    }
}
