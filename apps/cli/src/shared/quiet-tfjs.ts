import * as tf from "@tensorflow/tfjs-core";

/**
 * Keeps TF.js's own console messages off the user's screen, above all the cpu backend's "Hi, looks
 * like you are running TensorFlow.js in Node.js" banner, written on its first tensor. It turns on
 * TF.js's `PROD` flag, which in tfjs-core 4.22 only silences those messages (its `IS_TEST` flag
 * would too, but also turns on a memory-leak check around every kernel). `PQM_DEBUG` set keeps them.
 *
 * The flag belongs to the TF.js engine of the current thread: call this before the first tensor, in
 * the main thread and at the start of every worker thread that runs TF.js. Only the CLI calls it; the
 * libraries leave TF.js's flags to the application.
 */
export function quietTfjs(): void {
  if (process.env.PQM_DEBUG) return;
  tf.env().set("PROD", true);
}
