/** An error meant for the person at the terminal: printed as one line, then the process exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** Exit codes of the `pqm` command. */
export const exitCodes = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;
