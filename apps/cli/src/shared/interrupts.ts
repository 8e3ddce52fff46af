// Ctrl-C (SIGINT) and SIGTERM in the commands that run long: `pqm train`, `score`, `search`,
// `annotate`, `data download`, `demo` and `experiment`. Each hands `interrupts.signal` to its library
// call; the first signal aborts it (the unit in flight is finished or abandoned, what is done is kept),
// a second one ends the process at once. The command then prints what it kept and the command that
// resumes, and exits 130 (SIGINT) or 143 (SIGTERM), as shells report a process those signals ended.
import { setMaxListeners } from "node:events";
import type { RunMismatchError } from "@pqm/pipeline";
import { CliError } from "./cli-error.js";

/** The signals the long commands handle. */
export type InterruptSignal = "SIGINT" | "SIGTERM";

/** The exit code after a signal: 130 for SIGINT, 143 for SIGTERM (128 + the signal's number). */
export function interruptExitCode(signal: InterruptSignal): number {
  return signal === "SIGTERM" ? 143 : 130;
}

/** The reason an interrupted command's signal is aborted with: `interrupted by SIGINT`. */
export class InterruptReason extends Error {
  readonly signal: InterruptSignal;

  constructor(signal: InterruptSignal) {
    super(`interrupted by ${signal}`);
    this.name = "InterruptReason";
    this.signal = signal;
  }
}

/** What the lines printed on a signal say, in the command's own words. */
export interface InterruptWording {
  /** What the first signal lets finish: `finishing the step in flight and saving a checkpoint`. */
  finishing: string;
  /** What a second signal loses: `the step in flight is lost, earlier checkpoints are kept`. */
  lost: string;
  /**
   * Until `start()` is called a signal ends the process at once, saying this happened `before ...`
   * (`before training started`): there is nothing to keep yet. Without it, the work counts as
   * started from the beginning.
   */
  before?: string;
}

/**
 * Listens for SIGINT and SIGTERM while a command works. The first aborts `signal` with an
 * {@link InterruptReason} (and says so on stderr); a second ends the process at once with the exit
 * code of the first. Call `close()` when the work is over, however it ended.
 */
export class Interrupts {
  private readonly controller = new AbortController();
  /** The first signal received, if any. */
  received: InterruptSignal | undefined;
  private started: boolean;
  private readonly handler = (signal: NodeJS.Signals) => this.onSignal(signal as InterruptSignal);

  constructor(private readonly wording: InterruptWording) {
    this.started = wording.before === undefined;
    // Every request or worker in flight may listen on it: hundreds at once are expected.
    setMaxListeners(0, this.controller.signal);
    process.on("SIGINT", this.handler);
    process.on("SIGTERM", this.handler);
  }

  /** Aborted by the first signal. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The work has begun: from now on a signal stops it gracefully instead of ending the process. */
  start(): void {
    this.started = true;
  }

  /** The exit code of the signal received (130 when none was). */
  get exitCode(): number {
    return interruptExitCode(this.received ?? "SIGINT");
  }

  /** Stops listening. */
  close(): void {
    process.off("SIGINT", this.handler);
    process.off("SIGTERM", this.handler);
  }

  /**
   * The error that ends an interrupted command: `interrupted by SIGTERM<after>: <kept>; resume with:
   * <command>` with the signal's exit code. `after` is put as is (` after step 57`).
   */
  error(kept: string, resume: string | null, after = ""): CliError {
    const signal = this.received ?? "SIGINT";
    const tail = resume === null ? "" : `; resume with: ${resume}`;
    return new CliError(`interrupted by ${signal}${after}: ${kept}${tail}`, interruptExitCode(signal));
  }

  private onSignal(signal: InterruptSignal): void {
    if (!this.started) {
      process.stderr.write(`pqm: ${signal} ${this.wording.before}: nothing to keep\n`);
      process.exit(interruptExitCode(signal));
    }
    if (this.received !== undefined) {
      process.stderr.write(`pqm: ${signal} again: stopping at once; ${this.wording.lost}\n`);
      process.exit(interruptExitCode(this.received));
    }
    this.received = signal;
    process.stderr.write(`\npqm: ${signal}: ${this.wording.finishing} (send it again to stop at once)\n`);
    this.controller.abort(new InterruptReason(signal));
  }
}

/** Runs `work` with {@link Interrupts} listening, and stops listening when it settles. */
export async function withInterrupts<T>(
  wording: InterruptWording,
  work: (interrupts: Interrupts) => Promise<T>,
): Promise<T> {
  const interrupts = new Interrupts(wording);
  try {
    return await work(interrupts);
  } finally {
    interrupts.close();
  }
}

/** A word for the shell: as is when plain, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** How {@link resumeCommand} rewrites the words typed. */
export interface ResumeEdits {
  /** Options to leave out, with their value (`--resume`). */
  dropWithValue?: readonly string[];
  /** Switches to leave out (`--overwrite`). */
  drop?: readonly string[];
  /** Options to add when absent, with their value (`--out`, the folder the run used). */
  ensure?: ReadonlyArray<readonly [string, string]>;
}

/**
 * The command that resumes an interrupted run: `pqm`, the command's words (`["train"]`, `["data",
 * "download"]`), then `argv` (the words typed after them) less the dropped options, plus the options
 * to ensure, each word quoted for the shell.
 */
export function resumeCommand(
  command: readonly string[],
  argv: readonly string[],
  edits: ResumeEdits = {},
): string {
  const kept: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index] as string;
    const flag = word.split("=", 1)[0] as string;
    if (edits.dropWithValue?.includes(flag)) {
      if (!word.includes("=")) index++;
      continue;
    }
    if (edits.drop?.includes(word)) continue;
    kept.push(word);
  }
  for (const [flag, value] of edits.ensure ?? []) {
    if (!kept.some((word) => word === flag || word.startsWith(`${flag}=`))) kept.push(flag, value);
  }
  return ["pqm", ...command, ...kept].map(shellWord).join(" ");
}

/** The words typed after `pqm <command...>` (`words` of them): what {@link resumeCommand} takes as `argv`. */
export function typedArguments(words: number): string[] {
  return process.argv.slice(2 + words);
}

// `pqm demo` and `pqm experiment`: @pqm/pipeline stops the annotation between rows and abandons the
// models in training; finished annotation rows and trained models stay in the results folder, and the
// same command resumes from them.
/**
 * Runs a pipeline call with SIGINT/SIGTERM handled. An interrupt ends the command with exit 130/143,
 * naming what was kept and the command that resumes (`command`: the words after `pqm`, the results
 * folder added when it was the default); a results folder holding another run is refused, naming
 * `--overwrite`.
 */
export async function withPipelineInterrupts<T>(
  command: readonly string[],
  out: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const interrupts = new Interrupts({
    finishing: `stopping: models in training are abandoned, finished work stays in ${out}`,
    lost: `finished work stays in ${out}`,
  });
  try {
    return await work(interrupts.signal);
  } catch (error) {
    const { isInterruptedError } = await import("@pqm/data");
    if (interrupts.received !== undefined) {
      throw interrupts.error(
        isInterruptedError(error) ? error.kept : `finished work stays in ${out}`,
        resumeCommand(command, typedArguments(command.length), {
          drop: ["--overwrite"],
          ensure: [["--out", out]],
        }),
      );
    }
    if (error instanceof Error && error.name === "RunMismatchError") {
      throw new CliError(
        `${(error as RunMismatchError).message}; start over there with --overwrite, or choose another --out`,
      );
    }
    throw error;
  } finally {
    interrupts.close();
  }
}
