import { setMaxListeners } from "node:events";

/**
 * A signal of the run's own that follows the caller's: aborted with the caller's reason when the
 * caller's signal aborts. A run hands it to many concurrent calls at once (the annotation's rollouts,
 * the training workers), each of which listens, so it takes any number of listeners without Node's
 * leak warning; the caller's signal gets one listener, removed by `dispose`.
 */
export function followSignal(outer: AbortSignal | undefined): {
  signal: AbortSignal | undefined;
  dispose: () => void;
} {
  if (outer === undefined) return { signal: undefined, dispose: () => {} };
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onAbort = () => controller.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener("abort", onAbort, { once: true });
  return { signal: controller.signal, dispose: () => outer.removeEventListener("abort", onAbort) };
}
