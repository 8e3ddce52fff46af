import { deriveSeed, mulberry32 } from "@pqm/core/reference";
import type { EncodedRow } from "../tokenizer/trajectory-encoder.js";
import type { PadSide, PrmBatch } from "./collate-rows.js";
import { collateRows } from "./collate-rows.js";
import { shuffled } from "./seeded-shuffle.js";

/** Rows up to `maxLength` tokens (and longer than the previous bucket's) go in batches of `batchSize`. */
export interface LengthBucket {
  /** Longest row of the bucket in tokens; `Infinity` for the last one. */
  maxLength: number;
  batchSize: number;
}

/** The reference's buckets (docs/method.md, section 8): up to 512 tokens 64 rows, up to 1024 24 rows, longer 8. */
export const REFERENCE_BUCKETS: readonly LengthBucket[] = Object.freeze([
  { maxLength: 512, batchSize: 64 },
  { maxLength: 1024, batchSize: 24 },
  { maxLength: Number.POSITIVE_INFINITY, batchSize: 8 },
]);

/** Options of {@link LengthBucketedBatcher}. */
export interface BatcherOptions {
  /** Id written at padded positions. */
  padTokenId: number;
  /** Default `"right"`. */
  padSide?: PadSide;
  /** Length buckets, by ascending `maxLength`; default {@link REFERENCE_BUCKETS}. */
  buckets?: readonly LengthBucket[];
  /** Also cap `rows x padded length` per batch (a row longer than this gets a batch of its own). */
  maxTokensPerBatch?: number;
  /** Seed of the shuffles (default 0, as the reference). */
  seed?: number;
  /** Shuffle rows within buckets and the order of batches, differently each epoch (default true). */
  shuffle?: boolean;
}

/**
 * Where an iteration stands: the next batch is number `position` of epoch `epoch`. JSON-serializable;
 * `fingerprint` ties it to the rows and options it was made with.
 */
export interface BatcherState {
  epoch: number;
  position: number;
  fingerprint: string;
}

/** One batch from {@link LengthBucketedBatcher.batches}, with the state to save to resume after it. */
export interface BatchStep {
  batch: PrmBatch;
  epoch: number;
  /** Index of this batch in its epoch. */
  position: number;
  /** The state after this batch (resuming from it yields the next batch). */
  next: BatcherState;
}

/**
 * Groups encoded rows into batches of similar length, as the reference does, padded with masks, tag
 * positions and labels. Each epoch uses every row exactly once; the plan of an epoch depends only on
 * the rows, the options and the epoch number, so an iteration resumes exactly from a saved state.
 */
export class LengthBucketedBatcher {
  readonly rows: readonly EncodedRow[];
  readonly buckets: readonly LengthBucket[];
  private readonly options: BatcherOptions;
  private readonly bucketOfRow: number[];
  /** Fingerprint of the rows and options, stored in every state. */
  readonly fingerprint: string;

  /** Throws on unsorted buckets, a non-positive batch size, or a row longer than every bucket. */
  constructor(rows: readonly EncodedRow[], options: BatcherOptions) {
    this.rows = rows;
    this.options = options;
    this.buckets = options.buckets ?? REFERENCE_BUCKETS;
    if (this.buckets.length === 0) throw new RangeError("at least one length bucket is needed");
    this.buckets.forEach((bucket, index) => {
      if (!Number.isInteger(bucket.batchSize) || bucket.batchSize < 1) {
        throw new RangeError(`bucket ${index}: batchSize ${bucket.batchSize} must be a positive integer`);
      }
      const previous = this.buckets[index - 1];
      if (previous !== undefined && !(bucket.maxLength > previous.maxLength)) {
        throw new RangeError(
          `bucket ${index}: maxLength ${bucket.maxLength} must exceed the previous bucket's`,
        );
      }
    });
    if (options.maxTokensPerBatch !== undefined && !(options.maxTokensPerBatch > 0)) {
      throw new RangeError(`maxTokensPerBatch ${options.maxTokensPerBatch} must be positive`);
    }
    this.bucketOfRow = rows.map((row, index) => {
      const bucket = this.buckets.findIndex((candidate) => row.inputIds.length <= candidate.maxLength);
      if (bucket < 0) {
        throw new RangeError(
          `row ${index} has ${row.inputIds.length} tokens, more than the last bucket's maxLength ` +
            `${this.buckets.at(-1)!.maxLength}; end the buckets with maxLength Infinity or set the encoder's maxLength`,
        );
      }
      return bucket;
    });
    this.fingerprint = fingerprintOf(rows, this.buckets, options);
  }

  /** The state at the start of training: epoch 0, batch 0. */
  initialState(): BatcherState {
    return { epoch: 0, position: 0, fingerprint: this.fingerprint };
  }

  /** Row indices (into `rows`) of each batch of an epoch, in the order they are served. */
  planEpoch(epoch: number): number[][] {
    const shuffle = this.options.shuffle ?? true;
    const seed = this.options.seed ?? 0;
    const batches: number[][] = [];
    this.buckets.forEach((bucket, bucketIndex) => {
      let members = this.rows
        .map((_, index) => index)
        .filter((index) => this.bucketOfRow[index] === bucketIndex);
      if (shuffle) members = shuffled(members, mulberry32(deriveSeed(seed, epoch, bucketIndex)));
      let current: number[] = [];
      let longest = 0;
      for (const index of members) {
        const length = this.rows[index]!.inputIds.length;
        const grownLongest = Math.max(longest, length);
        const overTokens =
          this.options.maxTokensPerBatch !== undefined &&
          (current.length + 1) * grownLongest > this.options.maxTokensPerBatch;
        if (current.length > 0 && (current.length >= bucket.batchSize || overTokens)) {
          batches.push(current);
          current = [];
          longest = 0;
        }
        current.push(index);
        longest = Math.max(longest, length);
      }
      if (current.length > 0) batches.push(current);
    });
    return shuffle ? shuffled(batches, mulberry32(deriveSeed(seed, epoch, -1))) : batches;
  }

  /** Pads the given rows (indices into `rows`) into a batch. */
  collate(indices: readonly number[]): PrmBatch {
    return collateRows(
      indices.map((index) => {
        const row = this.rows[index];
        if (row === undefined)
          throw new RangeError(`row index ${index} is outside 0..${this.rows.length - 1}`);
        return row;
      }),
      { padTokenId: this.options.padTokenId, padSide: this.options.padSide ?? "right" },
    );
  }

  /**
   * Serves batches from `from` (default the start) up to the end of epoch `untilEpoch - 1` (default: the
   * end of `from`'s epoch). Throws when `from` was made for other rows or options.
   */
  *batches(from: BatcherState = this.initialState(), untilEpoch?: number): Generator<BatchStep> {
    if (from.fingerprint !== this.fingerprint) {
      throw new Error(
        `the saved batcher state (fingerprint ${from.fingerprint}) was made for other rows or options ` +
          `(now ${this.fingerprint}); resume with the same data, encoder and batching options`,
      );
    }
    const lastEpoch = (untilEpoch ?? from.epoch + 1) - 1;
    let position = from.position;
    for (let epoch = from.epoch; epoch <= lastEpoch; epoch++) {
      const plan = this.planEpoch(epoch);
      if (position > plan.length)
        throw new RangeError(`position ${position} is past the ${plan.length} batches of epoch ${epoch}`);
      for (; position < plan.length; position++) {
        const atEnd = position + 1 === plan.length;
        yield {
          batch: this.collate(plan[position]!),
          epoch,
          position,
          next: {
            epoch: atEnd ? epoch + 1 : epoch,
            position: atEnd ? 0 : position + 1,
            fingerprint: this.fingerprint,
          },
        };
      }
      position = 0;
    }
  }
}

/** FNV-1a over the row lengths, sources and options: cheap, and changes when any of them does. */
function fingerprintOf(
  rows: readonly EncodedRow[],
  buckets: readonly LengthBucket[],
  options: BatcherOptions,
): string {
  let hash = 0x811c9dc5;
  const mix = (value: number) => {
    hash = Math.imul(hash ^ (value >>> 0), 0x01000193) >>> 0;
  };
  const settings = JSON.stringify({
    buckets: buckets.map((bucket) => [
      bucket.maxLength === Number.POSITIVE_INFINITY ? "inf" : bucket.maxLength,
      bucket.batchSize,
    ]),
    maxTokensPerBatch: options.maxTokensPerBatch ?? null,
    seed: options.seed ?? 0,
    shuffle: options.shuffle ?? true,
  });
  for (let index = 0; index < settings.length; index++) mix(settings.charCodeAt(index));
  mix(rows.length);
  for (const row of rows) {
    mix(row.sourceIndex);
    mix(row.inputIds.length);
    mix(row.tagPositions.length);
  }
  return `${rows.length}-${hash.toString(16).padStart(8, "0")}`;
}
