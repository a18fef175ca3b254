package dev.streamingllm.spring.routing;

import java.time.Instant;

/**
 * One lifetime of the registry's data. A registry that lost its data (Redis restarted empty, or failed over to a
 * replica that had not seen the latest writes) begins a new epoch with a larger number. Until {@code graceUntil} the
 * conversations it does not know are not taken by anyone, so that their owners, which still hold them in memory, can
 * re-assert their leases first; fencing tokens of a new epoch are larger than any of the epochs before.
 *
 * @param number     1 for the registry's first lifetime, one more for each loss noticed since
 * @param graceUntil the end of the grace period after a loss; {@link Instant#EPOCH} for the first lifetime
 * @param id         random, chosen by the client that began it: an epoch begun anew by a client that never saw the lost
 *                   one may repeat its number, never its id
 */
public record Epoch(long number, Instant graceUntil, String id) {

    /** The first lifetime, without a grace period: nothing was lost before it. */
    public static final Epoch FIRST = new Epoch(1, Instant.EPOCH, "first");

    /** Whether owners may still be re-asserting conversations the registry lost at {@code now}. */
    public boolean inGrace(Instant now) {
        return now.isBefore(graceUntil);
    }

    /** The lowest fencing token a lease of this epoch may get: above every token of the epochs before. */
    long fenceFloor() {
        return (number - 1) << 32;
    }

    /** The stored value, {@code "<number> <grace end in epoch milliseconds> <id>"}. */
    String value() {
        return number + " " + graceUntil.toEpochMilli() + " " + id;
    }

    static Epoch parse(String value) {
        String[] parts = value.trim().split(" ");
        if (parts.length != 3) {
            throw new IllegalStateException("the registry's epoch has a malformed value '" + value + "'");
        }
        return new Epoch(Long.parseLong(parts[0]), Instant.ofEpochMilli(Long.parseLong(parts[1])), parts[2]);
    }
}
