/**
 * Milliseconds on the machine's monotonic clock (`process.hrtime`, CLOCK_MONOTONIC on Linux), to
 * the nanosecond. Every process of a machine reads the same clock, so a stamp a rank takes can be
 * subtracted from the consumer's reading as it is: no offset to estimate, nothing the system
 * clock's adjustments can move.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
