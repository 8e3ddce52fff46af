// Hand-written: no maintained npm package converts F16/BF16 buffers to float32, and both are a
// few lines of bit manipulation.

const conversionBuffer = new ArrayBuffer(4);
const conversionFloat = new Float32Array(conversionBuffer);
const conversionBits = new Uint32Array(conversionBuffer);

/** IEEE 754 half precision bits (as stored in a little-endian F16 tensor) to a float32 value. */
export function float16BitsToFloat32(bits: number): number {
  const sign = (bits & 0x8000) << 16;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) {
    // Zero or subnormal: value = mantissa * 2^-24, exact in float32.
    const magnitude = mantissa * 2 ** -24;
    return sign === 0 ? magnitude : -magnitude;
  }
  if (exponent === 0x1f) {
    conversionBits[0] = sign | 0x7f800000 | (mantissa << 13);
    return conversionFloat[0] as number;
  }
  conversionBits[0] = sign | ((exponent + 112) << 23) | (mantissa << 13);
  return conversionFloat[0] as number;
}

/** bfloat16 bits to float32: bfloat16 is the top half of a float32, so this is a shift. */
export function bfloat16BitsToFloat32(bits: number): number {
  conversionBits[0] = (bits & 0xffff) << 16;
  return conversionFloat[0] as number;
}

/** Decodes `count` little-endian F16 values starting at `byteOffset` of `bytes` into float32. */
export function decodeFloat16(bytes: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let index = 0; index < count; index++) {
    const at = byteOffset + 2 * index;
    out[index] = float16BitsToFloat32((bytes[at] as number) | ((bytes[at + 1] as number) << 8));
  }
  return out;
}

/** Decodes `count` little-endian BF16 values starting at `byteOffset` of `bytes` into float32. */
export function decodeBfloat16(bytes: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const outBits = new Uint32Array(out.buffer);
  for (let index = 0; index < count; index++) {
    const at = byteOffset + 2 * index;
    outBits[index] = ((bytes[at] as number) | ((bytes[at + 1] as number) << 8)) << 16;
  }
  return out;
}
