// Shared pieces of the file-reader fuzz tests (`*.fuzz.test.ts` in the packages): run counts, seeds,
// mutations of valid files (bytes and JSON structure), and the tally each test records for the fuzz
// script. Imported as `@pqm/testing/fuzz` so that a fuzz test loads neither TF.js nor the Hub stand-in.
import { appendFileSync } from "node:fs";
import fc from "fast-check";

/** `PQM_FUZZ=full` (the fuzz script) runs the full counts; anything else the lighter CI share. */
export const fuzzFull: boolean = process.env.PQM_FUZZ === "full";

/** The number of runs of one reader's property: `ci` in the test suite, `full` under `PQM_FUZZ=full`. */
export function fuzzRuns(ci: number, full: number): number {
  const override = Number(process.env.PQM_FUZZ_RUNS);
  if (Number.isInteger(override) && override > 0) return override;
  return fuzzFull ? full : ci;
}

/** A fixed seed per reader, shifted by `PQM_FUZZ_SEED` when set (so a run is always reproducible). */
export function fuzzSeed(base: number): number {
  const shift = Number(process.env.PQM_FUZZ_SEED ?? 0);
  return (base + (Number.isInteger(shift) ? shift : 0)) | 0;
}

/** The longest a single reader call may take before the property fails as a hang (ms). */
export const FUZZ_TIMEOUT_MS = 5_000;

/** `fc.assert` parameters of one reader: seeded, its run count, a per-run timeout, no shrinking noise. */
export function fuzzParameters<Ts = unknown>(seed: number, runs: number): fc.Parameters<Ts> {
  return { seed: fuzzSeed(seed), numRuns: runs, timeout: FUZZ_TIMEOUT_MS, endOnFailure: false };
}

/** What the inputs of one reader led to: accepted, or rejected with the project's error (by kind). */
export class FuzzTally {
  readonly reader: string;
  accepted = 0;
  rejected: Record<string, number> = {};
  private readonly started = process.hrtime.bigint();

  constructor(reader: string) {
    this.reader = reader;
  }

  private last = performance.now();

  /** Counts an input the reader accepted; throws when the run since the previous one took too long. */
  accept(): void {
    this.accepted += 1;
    this.checkTime();
  }

  /** Counts an input rejected with the project's error, by kind; throws on a run that took too long. */
  reject(kind: string): void {
    this.rejected[kind] = (this.rejected[kind] ?? 0) + 1;
    this.checkTime();
  }

  // fast-check's own timeout cannot fire while a reader computes synchronously (a parser looping on
  // a corrupt count): the time of each run is checked here instead, after the fact.
  private checkTime(): void {
    const now = performance.now();
    const elapsed = now - this.last;
    this.last = now;
    if (elapsed > FUZZ_TIMEOUT_MS) {
      throw new Error(
        `${this.reader}: one input took ${Math.round(elapsed)} ms (more than ${FUZZ_TIMEOUT_MS} ms)`,
      );
    }
  }

  get runs(): number {
    return this.accepted + Object.values(this.rejected).reduce((sum, count) => sum + count, 0);
  }

  /**
   * Appends `{reader, runs, accepted, rejected, seconds}` as one JSON line to the file named by
   * `PQM_FUZZ_RESULTS`, when set (the fuzz script collects these); does nothing otherwise.
   */
  record(): void {
    const file = process.env.PQM_FUZZ_RESULTS;
    if (!file) return;
    const seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    const line = {
      reader: this.reader,
      runs: this.runs,
      accepted: this.accepted,
      rejected: this.rejected,
      seconds: Math.round(seconds * 100) / 100,
      mode: fuzzFull ? "full" : "ci",
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }
}

/** Text that readers trip over: tags, headers, signs, JSON punctuation, odd numbers, BOM, control and non-BMP characters. */
export const nastyTexts: readonly string[] = [
  "\uFEFF",
  "\u0000",
  "ки",
  " ки",
  "Step 1:",
  "\nStep 2: x ки",
  "Step 99999999999999999999:",
  " +",
  " -",
  "+",
  "-",
  "\\ud800",
  "\ud800",
  "\udc00x",
  "😀",
  "\u202e",
  "e\u0301",
  "\r",
  "\n",
  "\r\n",
  '"',
  "\\",
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  "null",
  "NaN",
  "Infinity",
  "-Infinity",
  "1e400",
  "-1e400",
  "9007199254740993",
  "1e-400",
  "-0",
  "0x10",
  "true",
  "[]",
  "{}",
  '""',
  "\t",
  "####",
  "#### 1,234",
  "None",
  "__proto__",
  '"__proto__":{}',
  "&",
  "*a",
  "<<: *a",
  "---",
  "%YAML 1.2",
  "!!binary",
  " ",
];

/** Odd numeric literals put in place of a number of a valid file. */
export const nastyNumbers: readonly string[] = [
  "NaN",
  "Infinity",
  "-Infinity",
  "1e309",
  "-1e309",
  "1e400",
  "1e-400",
  "9007199254740993",
  "18446744073709551616",
  "-1",
  "-0",
  "0.5",
  "2",
  "1.0000000000000002",
  "4294967296",
  "2147483648",
  "1e21",
  "00",
  "0x1",
  ".5",
  "+1",
  "",
];

/** One change to the bytes of a file; positions are fractions of its length (0..1). */
export type ByteMutation =
  | { op: "flip"; at: number; byte: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: number[] }
  | { op: "delete"; at: number; length: number }
  | { op: "duplicate"; at: number; length: number }
  | { op: "text"; at: number; text: string }
  | { op: "number"; which: number; literal: string }
  | { op: "bom" }
  | { op: "crlf" }
  | { op: "empty" };

const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/** Byte-level mutations: flips, cuts, insertions (random and nasty), deletions, odd numbers, BOM, CRLF. */
export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("flip" as const), at: fraction, byte: fc.nat(255) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), at: fraction }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("insert" as const),
      at: fraction,
      bytes: fc.array(fc.oneof(fc.nat(255), fc.constantFrom(0x00, 0x0a, 0x0d, 0x22, 0x5c, 0xc3, 0xff)), {
        minLength: 1,
        maxLength: 8,
      }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("delete" as const),
      at: fraction,
      length: fc.integer({ min: 1, max: 40 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("duplicate" as const),
      at: fraction,
      length: fc.integer({ min: 1, max: 200 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("text" as const),
      at: fraction,
      text: fc.oneof(fc.constantFrom(...nastyTexts), fc.string({ unit: "binary", maxLength: 6 })),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("number" as const),
      which: fc.nat(40),
      literal: fc.constantFrom(...nastyNumbers),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: "bom" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "crlf" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "empty" as const }) },
);

const NUMBER_PATTERN = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Applies byte mutations in order to a copy of `bytes`. */
export function applyByteMutations(bytes: Uint8Array, mutations: readonly ByteMutation[]): Buffer {
  let current = Buffer.from(bytes);
  for (const mutation of mutations) {
    const position = (at: number) => Math.min(current.length, Math.floor(at * (current.length + 1)));
    switch (mutation.op) {
      case "flip": {
        if (current.length === 0) break;
        const index = Math.min(current.length - 1, Math.floor(mutation.at * current.length));
        current[index] = mutation.byte;
        break;
      }
      case "truncate":
        current = current.subarray(0, position(mutation.at));
        break;
      case "insert": {
        const at = position(mutation.at);
        current = Buffer.concat([current.subarray(0, at), Buffer.from(mutation.bytes), current.subarray(at)]);
        break;
      }
      case "delete": {
        const at = position(mutation.at);
        current = Buffer.concat([current.subarray(0, at), current.subarray(at + mutation.length)]);
        break;
      }
      case "duplicate": {
        const at = position(mutation.at);
        const piece = current.subarray(at, at + mutation.length);
        current = Buffer.concat([current.subarray(0, at), piece, piece, current.subarray(at + piece.length)]);
        break;
      }
      case "text": {
        const at = position(mutation.at);
        current = Buffer.concat([
          current.subarray(0, at),
          Buffer.from(mutation.text, "utf8"),
          current.subarray(at),
        ]);
        break;
      }
      case "number": {
        const text = current.toString("latin1");
        const matches = [...text.matchAll(NUMBER_PATTERN)];
        if (matches.length === 0) break;
        const match = matches[mutation.which % matches.length]!;
        const start = match.index;
        current = Buffer.concat([
          current.subarray(0, start),
          Buffer.from(mutation.literal, "latin1"),
          current.subarray(start + match[0].length),
        ]);
        break;
      }
      case "bom":
        current = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), current]);
        break;
      case "crlf":
        current = Buffer.from(current.toString("latin1").replaceAll("\n", "\r\n"), "latin1");
        break;
      case "empty":
        current = Buffer.alloc(0);
        break;
    }
  }
  return current;
}

/** A JSON value as the fuzz tests build them. */
export type FuzzJson = null | boolean | number | string | FuzzJson[] | { [key: string]: FuzzJson };

/** Values put in place of a field: wrong types, empty containers, out-of-range and huge numbers, tags. */
export const oddJsonValue: fc.Arbitrary<FuzzJson> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom<FuzzJson>(
      null,
      true,
      false,
      0,
      -1,
      1,
      2,
      0.5,
      -0.5,
      1.5,
      3,
      1e308,
      -1e308,
      2 ** 53 + 2,
      "",
      " ",
      "ки",
      "Step 1: x ки",
      "+",
      "-",
      "None",
      "NaN",
      [],
      {},
      [[]],
      [null],
      ["ки"],
      [0, 1],
      [true, false],
      { text: "x" },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<FuzzJson> },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
);

/** One change to the structure of parsed JSON: `target` picks the node (modulo the node count). */
export type JsonMutation =
  | { op: "delete"; target: number }
  | { op: "set"; target: number; value: FuzzJson }
  | { op: "push"; target: number; value: FuzzJson | "copy" }
  | { op: "pop"; target: number }
  | { op: "stringify"; target: number }
  | { op: "edit"; target: number; at: number; text: string }
  | { op: "rename"; target: number; at: number; text: string };

/** Structural mutations: delete, replace or rename a field, add or drop an array element, change a type, edit a string. */
export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), target: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant("set" as const), target: fc.nat(), value: oddJsonValue }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("push" as const),
      target: fc.nat(),
      value: fc.oneof(fc.constant("copy" as const), oddJsonValue),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("pop" as const), target: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("stringify" as const), target: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("edit" as const),
      target: fc.nat(),
      at: fraction,
      text: fc.constantFrom(...nastyTexts),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("rename" as const),
      target: fc.nat(),
      at: fraction,
      text: fc.constantFrom(...nastyTexts),
    }),
  },
);

type Slot = { parent: FuzzJson[] | { [key: string]: FuzzJson }; key: string | number };

function slots(value: FuzzJson, out: Slot[] = []): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((child, index) => {
      out.push({ parent: value, key: index });
      slots(child, out);
    });
  } else if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) {
      out.push({ parent: value, key });
      slots(value[key]!, out);
    }
  }
  return out;
}

function read(slot: Slot): FuzzJson {
  return Array.isArray(slot.parent) ? slot.parent[slot.key as number]! : slot.parent[slot.key as string]!;
}

function write(slot: Slot, value: FuzzJson): void {
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  else slot.parent[slot.key as string] = value;
}

/** Applies structural mutations in order to a deep copy of `value` (a file's records, usually). */
export function applyJsonMutations(value: FuzzJson, mutations: readonly JsonMutation[]): FuzzJson {
  const root = structuredClone(value);
  for (const mutation of mutations) {
    const all = slots(root);
    if (all.length === 0) continue;
    const slot = all[mutation.target % all.length]!;
    const current = read(slot);
    switch (mutation.op) {
      case "delete":
        if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
        else delete slot.parent[slot.key as string];
        break;
      case "set":
        write(slot, structuredClone(mutation.value));
        break;
      case "push":
        if (Array.isArray(current)) {
          const copy = current.length > 0 ? structuredClone(current[current.length - 1]!) : null;
          current.push(mutation.value === "copy" ? copy : structuredClone(mutation.value));
        } else write(slot, structuredClone(mutation.value === "copy" ? current : mutation.value));
        break;
      case "pop":
        if (Array.isArray(current)) current.pop();
        else write(slot, []);
        break;
      case "stringify":
        write(slot, typeof current === "string" ? Number(current) || null : JSON.stringify(current));
        break;
      case "rename":
        if (!Array.isArray(slot.parent)) {
          const key = slot.key as string;
          const at = Math.floor(mutation.at * (key.length + 1));
          delete slot.parent[key];
          slot.parent[key.slice(0, at) + mutation.text + key.slice(at)] = current;
        }
        break;
      case "edit":
        if (typeof current === "string") {
          const at = Math.floor(mutation.at * (current.length + 1));
          write(slot, current.slice(0, at) + mutation.text + current.slice(at));
        } else write(slot, mutation.text);
        break;
    }
  }
  return root;
}

/** A valid file's records, then up to `maxJson` structural and `maxBytes` byte mutations. */
export interface MutatedFile<T> {
  records: T;
  json: JsonMutation[];
  bytes: ByteMutation[];
}

/** Valid records (from `records`) with up to two structural and three byte mutations; often none. */
export function mutatedFile<T extends FuzzJson>(records: fc.Arbitrary<T>): fc.Arbitrary<MutatedFile<T>> {
  return fc.record({
    records,
    json: fc.oneof(
      { weight: 2, arbitrary: fc.constant<JsonMutation[]>([]) },
      { weight: 3, arbitrary: fc.array(jsonMutation, { minLength: 1, maxLength: 2 }) },
    ),
    bytes: fc.oneof(
      { weight: 2, arbitrary: fc.constant<ByteMutation[]>([]) },
      { weight: 3, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) },
    ),
  });
}

/** The bytes of a mutated file: structural mutations on the records, `render`, then byte mutations. */
export function renderMutatedFile<T extends FuzzJson>(
  input: MutatedFile<T>,
  render: (records: FuzzJson) => string | Uint8Array,
): Buffer {
  const records = applyJsonMutations(input.records, input.json);
  const rendered = render(records);
  const bytes = typeof rendered === "string" ? Buffer.from(rendered, "utf8") : rendered;
  return applyByteMutations(bytes, input.bytes);
}

/** JSONL: one record per line (the records must be an array). */
export function renderJsonl(records: FuzzJson): string {
  return Array.isArray(records) ? `${records.map((record) => JSON.stringify(record)).join("\n")}\n` : "";
}
