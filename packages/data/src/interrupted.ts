/**
 * A long operation stopped because its caller's `AbortSignal` was aborted, after it had put its
 * finished work somewhere safe. Its `name` is `"AbortError"` (as the DOMException an aborted `fetch`
 * throws), its `cause` is the signal's reason, and `saved` says what was kept, so the caller can tell
 * the user what a rerun will resume from. The message is the reason's message followed by what was
 * kept: `This operation was aborted; kept 5 of 12 questions in runs/x/results.jsonl`.
 */
export class InterruptedError<Saved extends object = Record<string, unknown>> extends Error {
  /** What the operation had saved when it stopped (files, counts); see each operation's documentation. */
  readonly saved: Saved;
  /** The same as a phrase for people: `kept 5 of 12 questions in runs/x/results.jsonl`. */
  readonly kept: string;

  constructor(reason: unknown, kept: string, saved: Saved) {
    super(`${reasonText(reason)}; ${kept}`, { cause: reason });
    this.name = "AbortError";
    this.saved = saved;
    this.kept = kept;
  }
}

/** Whether `error` is an {@link InterruptedError} (also across copies of this package). */
export function isInterruptedError(error: unknown): error is InterruptedError {
  return (
    error instanceof InterruptedError ||
    (error instanceof Error &&
      error.name === "AbortError" &&
      typeof (error as { kept?: unknown }).kept === "string" &&
      typeof (error as { saved?: unknown }).saved === "object" &&
      (error as { saved?: unknown }).saved !== null)
  );
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error || (typeof reason === "object" && reason !== null && "message" in reason)) {
    const message = String((reason as { message: unknown }).message);
    if (message !== "") return message;
  }
  if (typeof reason === "string" && reason !== "") return reason;
  return "aborted";
}
