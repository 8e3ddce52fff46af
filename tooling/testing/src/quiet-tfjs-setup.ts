// Run before every test file of every package (`setupFiles` in vitest-config.js). It keeps TF.js's
// console messages, above all the cpu backend's "Hi, looks like you are running TensorFlow.js in
// Node.js" banner, out of the test output, as the pqm CLI keeps them off the user's screen: it turns
// on TF.js's `PROD` flag, which in tfjs-core 4.22 only silences those messages (`IS_TEST` would too,
// but it also runs a memory-leak check around every kernel). Packages that do not depend on tfjs-core
// are left alone, so their tests do not load it.
import { createRequire } from "node:module";
import { join } from "node:path";

function packageUsesTfjs(): boolean {
  try {
    createRequire(join(process.cwd(), "package.json")).resolve("@tensorflow/tfjs-core");
    return true;
  } catch {
    return false;
  }
}

if (packageUsesTfjs()) {
  // The flags live on TF.js's one engine per thread (a global), whichever copy of the module set them.
  const tf = await import("@tensorflow/tfjs-core");
  tf.env().set("PROD", true);
}
