package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The prompt tokens a step may carry while others decode, from the costs of the steps recorded before. */
class PrefillBudgetTest {

    private static final long MS = 1_000_000;

    @Test
    void aDecodeOnlyStepIsMeasuredFirstThenAStepTakesTheMostUntilAPromptTokensCostIsKnown() {
        PrefillBudget budget = new PrefillBudget();
        assertThat(budget.tokens(8, 1, 1)).as("nothing measured").isZero();
        budget.record(0, 1, 40 * MS);
        assertThat(budget.tokens(8, 1, 1)).as("decode cost known, prompt cost not yet").isEqualTo(8);
    }

    @Test
    void expensivePromptTokensAreFewerSoTheStepStaysWithinTheStall() {
        PrefillBudget budget = new PrefillBudget();
        budget.record(0, 1, 40 * MS);
        // 8 prompt tokens made the step 200 ms: 20 ms each, so 80 ms more than decoding (a stall of 3) buys 4.
        budget.record(8, 1, 200 * MS);
        assertThat(budget.tokens(8, 1, 1)).isEqualTo(4);
        long step = 40 * MS + 4 * 20 * MS;
        assertThat((double) step / (40 * MS)).isLessThanOrEqualTo(PrefillBudget.STALL);
    }

    @Test
    void cheapPromptTokensAreCappedAtTheMostAndCostlyOnesNeverStopThePrompt() {
        PrefillBudget cheap = new PrefillBudget();
        cheap.record(0, 1, 40 * MS);
        cheap.record(8, 1, 48 * MS);
        assertThat(cheap.tokens(8, 1, 1)).isEqualTo(8);

        PrefillBudget costly = new PrefillBudget();
        costly.record(0, 1, 10 * MS);
        costly.record(4, 1, 2000 * MS);
        assertThat(costly.tokens(8, 1, 1)).isEqualTo(1);
    }

    @Test
    void theBudgetFollowsCostsAsTheyChange() {
        PrefillBudget budget = new PrefillBudget();
        budget.record(0, 1, 40 * MS);
        budget.record(8, 1, 200 * MS);
        assertThat(budget.tokens(8, 1, 1)).isEqualTo(4);
        // The prompt's tokens get cheaper (another machine load, a shorter window): the budget grows back.
        for (int i = 0; i < 20; i++) {
            if (budget.tokens(8, 1, 1) == 0) {
                budget.record(0, 1, 40 * MS);
            }
            budget.record(2, 1, 44 * MS);
        }
        assertThat(budget.tokens(8, 1, 1)).isEqualTo(8);
    }

    /**
     * The decode-only steps before a long prompt ran while its tokenizer ran beside the decoder, at three times their
     * cost. Kept, that cost would let the prompt's steps run at twice the stall: the decode cost is measured again after
     * {@link PrefillBudget#REMEASURE} prompt steps, the least of the last measurements counts, and the prompt steps
     * already taken are read again against it.
     */
    @Test
    void aDecodeCostMeasuredInABusyMomentIsMeasuredAgainWhileThePromptRuns() {
        PrefillBudget budget = new PrefillBudget();
        for (int i = 0; i < 3; i++) {
            budget.record(0, 1, 60 * MS);
        }
        // a prompt token costs 10 ms: 4 of them beside a 20 ms decode row take 60 ms, which looks free against 60 ms
        budget.record(4, 1, 60 * MS);
        assertThat(budget.tokens(64, 1, 1)).as("prompt tokens look free").isEqualTo(64);
        for (int i = 1; i < PrefillBudget.REMEASURE; i++) {
            budget.record(4, 1, 60 * MS);
        }
        assertThat(budget.tokens(64, 1, 1)).as("measure the decode cost again").isZero();
        budget.record(0, 1, 20 * MS);
        assertThat(budget.tokens(64, 1, 1)).as("at once: 2 × 20 ms of prompt tokens at 10 ms").isEqualTo(4);
    }

    /** One step slowed far beyond the others (a compilation) leaves the prompt's budget as it was. */
    @Test
    void oneSlowStepDoesNotStarveThePrompt() {
        PrefillBudget budget = new PrefillBudget();
        budget.record(0, 1, 20 * MS);
        for (int i = 0; i < 4; i++) {
            budget.record(4, 1, 60 * MS);
        }
        assertThat(budget.tokens(64, 1, 1)).isEqualTo(4);
        budget.record(4, 1, 1_000 * MS);
        assertThat(budget.tokens(64, 1, 1)).isEqualTo(4);
    }

    /**
     * Rows that joined since the decode cost was measured are not taken for the prompt's cost: once the decoding rows
     * have grown past the drift, a decode-only step measures them, and the budget is the one for that many rows.
     */
    @Test
    void decodingRowsThatJoinedAreMeasuredRatherThanChargedToThePrompt() {
        PrefillBudget budget = new PrefillBudget();
        // four rows decode at 40 ms each; 8 prompt tokens add 160 ms, 20 ms each
        budget.record(0, 4, 4 * 40 * MS);
        budget.record(8, 4, 4 * 40 * MS + 8 * 20 * MS);
        assertThat(budget.tokens(64, 4, 1)).as("2 × 160 ms of prompt tokens at 20 ms").isEqualTo(16);
        assertThat(budget.tokens(64, 5, 1)).as("within the drift: 2 × 200 ms").isEqualTo(20);

        // sixteen rows decode now: charged to the prompt, their cost would leave it a token or two per step
        assertThat(budget.tokens(64, 16, 1)).as("rows far from those measured: measure first").isZero();
        budget.record(0, 16, 16 * 40 * MS);
        assertThat(budget.tokens(64, 16, 1)).as("2 × 640 ms of prompt tokens at 20 ms").isEqualTo(64);
        budget.record(8, 16, 16 * 40 * MS + 8 * 20 * MS);
        assertThat(budget.tokens(64, 16, 1)).isEqualTo(64);
        assertThat(budget.tokens(64, 4, 1)).as("rows far from those measured again: measure first").isZero();
    }

    /**
     * With more prompts waiting than rows decoding, each waiting one is granted what one stream may stall: fifteen new
     * conversations behind one stream go in a few steps, not one after another; as many prompts as rows keep to the stall.
     */
    @Test
    void promptsWaitingBeyondTheDecodingRowsEachGetTheStallOfOne() {
        PrefillBudget budget = new PrefillBudget();
        budget.record(0, 1, 40 * MS);
        budget.record(8, 1, 200 * MS);
        assertThat(budget.tokens(64, 1, 1)).as("one prompt beside one stream: 2 × 40 ms at 20 ms").isEqualTo(4);
        assertThat(budget.tokens(64, 1, 15)).as("fifteen prompts: fifteen times that").isEqualTo(60);
        assertThat(budget.tokens(8, 1, 15)).as("within fifteen times the most").isEqualTo(60);

        PrefillBudget cheap = new PrefillBudget();
        cheap.record(0, 4, 4 * 40 * MS);
        cheap.record(8, 4, 4 * 40 * MS + 8 * MS);
        assertThat(cheap.tokens(8, 4, 2)).as("fewer prompts than rows: the most").isEqualTo(8);
        assertThat(cheap.tokens(8, 4, 12)).as("three times as many: three times the most").isEqualTo(24);
    }

    /**
     * A step's prompt tokens go evenly to the waiting prompts; one that needs less leaves the rest to the others, and
     * tokens too few for all go to the oldest, so no prompt waits forever behind later ones.
     */
    @Test
    void aStepsPromptTokensAreSharedEvenlyAndAShortPromptTakesOnlyWhatItNeeds() {
        assertThat(PrefillBudget.split(8, new int[] {600, 5})).as("a long and a short prompt").containsExactly(4, 4);
        assertThat(PrefillBudget.split(16, new int[] {600, 5})).as("the short one's rest goes to the long one").containsExactly(11, 5);
        assertThat(PrefillBudget.split(64, new int[] {600, 600, 600})).containsExactly(21, 21, 22);
        assertThat(PrefillBudget.split(2, new int[] {600, 7, 9})).as("fewer tokens than prompts: a token each, oldest first")
                .containsExactly(1, 1, 0);
        assertThat(PrefillBudget.split(5, new int[] {600, 2, 3, 1})).as("even shares while every prompt can have one")
                .containsExactly(2, 1, 1, 1);
        assertThat(PrefillBudget.split(100, new int[] {3, 4})).as("more than they need").containsExactly(3, 4);
    }
}
