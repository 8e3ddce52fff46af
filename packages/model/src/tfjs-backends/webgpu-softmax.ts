import * as tf from "@tensorflow/tfjs-core";

// tfjs-backend-webgpu 4.22's Softmax starts each row's running maximum at -3.402823e+38, two float32
// steps above the most negative finite float32 (-3.4028234663852886e+38). A row whose every logit
// is that most negative number (a query whose keys are all masked, as the decoder's attention mask
// writes them: left padding, or a sliding window over padding) then gets max = -3.402823e+38, every
// exp(logit - max) underflows to 0, and the row becomes 0 / 0 = NaN instead of a uniform average;
// the NaN then reaches real positions through the next layer's values (0 · NaN). The replacement
// below is the same shader, one dispatch per row block, with the running maximum started at the
// row's own first logit.

interface WebGpuProgram {
  variableNames: string[];
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  shaderKey: string;
  getUserCode(): string;
}

interface WebGpuBackendLike {
  runWebGPUProgram(program: WebGpuProgram, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo;
}

function softmaxProgram(rows: number, cols: number): WebGpuProgram {
  const blockSize = cols >= 4096 ? 256 : 64;
  return {
    variableNames: ["logits"],
    outputShape: [rows, cols],
    dispatchLayout: { x: [0, 1] },
    dispatch: [rows, 1, 1],
    workgroupSize: [blockSize, 1, 1],
    shaderKey: "pqm-softmax",
    getUserCode: () => `
    var<workgroup> buf : array<f32, ${blockSize}>;
    var<workgroup> rowMaxShared : f32;
    var<workgroup> rowSumShared : f32;
    const blockSize = ${blockSize};
    fn main(index : i32) {
      let row = index / blockSize;
      let tid = i32(localId.x);
      let cols = uniforms.outShape[1];

      var threadMax = getLogits(row, 0);
      for (var col = tid; col < cols; col += blockSize) {
        threadMax = max(threadMax, getLogits(row, col));
      }
      if (tid < cols) {
        buf[tid] = threadMax;
      }
      workgroupBarrier();

      var reduceSize = min(cols, blockSize);
      for (var currSize = reduceSize >> 1; currSize > 0; currSize = reduceSize >> 1) {
        reduceSize = currSize + (reduceSize & 1);
        if (tid < currSize) {
          buf[tid] = max(buf[tid], buf[tid + reduceSize]);
        }
        workgroupBarrier();
      }

      if (tid == 0) {
        rowMaxShared = buf[0];
      }
      workgroupBarrier();

      var threadSum = 0.0;
      for (var col = tid; col < cols; col += blockSize) {
        threadSum += exp(getLogits(row, col) - rowMaxShared);
      }
      buf[tid] = threadSum;
      workgroupBarrier();

      for (var currSize = blockSize >> 1; currSize > 0; currSize = currSize >> 1) {
        if (tid < currSize) {
          buf[tid] = buf[tid] + buf[tid + currSize];
        }
        workgroupBarrier();
      }

      if (tid == 0) {
        rowSumShared = buf[0];
      }
      workgroupBarrier();

      for (var col = tid; col < cols; col += blockSize) {
        setOutputAtCoords(row, col, exp(getLogits(row, col) - rowMaxShared) / rowSumShared);
      }
    }
    `,
  };
}

function softmax(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const logits = args.inputs.logits as tf.TensorInfo;
  const backend = args.backend as WebGpuBackendLike;
  const rank = logits.shape.length;
  const dim = (args.attrs?.dim as number | undefined) ?? -1;
  if (dim !== -1 && dim !== rank - 1)
    throw new Error(`Softmax over axis ${dim} of a rank-${rank} tensor: only the last axis`);
  const cols = logits.shape[rank - 1] as number;
  const rows = tf.util.sizeFromShape(logits.shape) / cols;
  // WebGPU buffers are flat and row-major, so a reshape is a new view of the same data.
  const view: tf.TensorInfo = { dataId: logits.dataId, shape: [rows, cols], dtype: logits.dtype };
  const result = backend.runWebGPUProgram(softmaxProgram(rows, cols), [view], logits.dtype);
  return { dataId: result.dataId, shape: [...logits.shape], dtype: result.dtype };
}

let installed = false;

/**
 * Registers the corrected Softmax (see above) as the webgpu backend's, once, after
 * `@tensorflow/tfjs-backend-webgpu` has registered its kernels. Does nothing when it has not.
 */
export function installWebGpuSoftmax(): void {
  if (installed || tf.getKernel("Softmax", "webgpu") === undefined) return;
  tf.unregisterKernel("Softmax", "webgpu");
  tf.registerKernel({ kernelName: "Softmax", backendName: "webgpu", kernelFunc: softmax as tf.KernelFunc });
  installed = true;
}
