import { type Command, InvalidArgumentError } from "commander";
import { CliError } from "./cli-error.js";

/** Parses a numeric option value; commander turns the error into a usage message. */
export function parseNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError(`'${value}' is not a number`);
  return parsed;
}

/** Parses a positive whole-number option value. */
export function parsePositiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError(`'${value}' is not a positive integer`);
  return parsed;
}

/** Parses a comma-separated list of positive integers (`1,8,16`). */
export function parseIntegerList(value: string): number[] {
  return value.split(",").map((part) => parsePositiveInteger(part.trim()));
}

/** Returns `value` when it is one of `allowed`, else a usage error naming the option and the choices. */
export function parseChoice<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((choice) => choice === value);
  if (!found) throw new CliError(`${option} '${value}' is not one of ${allowed.join(", ")}`, 2);
  return found;
}

/**
 * What `--backend` accepts in the commands that run TF.js through @pqm/model's `selectBackend`
 * (train, score, eval, search, demo, experiment, export): wasm and cpu always; webgpu with the
 * optional `webgpu` and `@tensorflow/tfjs-backend-webgpu` packages and a Vulkan driver;
 * tensorflow(-gpu) with tfjs-node(-gpu). (Kept here, not beside the backend code, so that
 * registering the commands loads no TF.js.)
 */
export const TFJS_BACKEND_CHOICES = ["wasm", "cpu", "webgpu", "tensorflow", "tensorflow-gpu"] as const;
/** One of {@link TFJS_BACKEND_CHOICES}. */
export type TfjsBackendChoice = (typeof TFJS_BACKEND_CHOICES)[number];
/** The help text of those commands' `--backend`. */
export const BACKEND_OPTION_HELP = `TF.js backend: ${TFJS_BACKEND_CHOICES.join(", ")} (default: the fastest installed)`;

/** Parses `--backend`: one of {@link TFJS_BACKEND_CHOICES}, or undefined when not given. */
export function parseBackendOption(value: string | undefined): TfjsBackendChoice | undefined {
  return value === undefined ? undefined : parseChoice("--backend", value, TFJS_BACKEND_CHOICES);
}

/**
 * A commander `preAction` hook for commands whose TF.js work happens inside the checkpoint scorers
 * (eval, search): their `--backend` reaches @pqm/model's `selectBackend` as `PQM_BACKEND`, which it
 * reads when no backend is passed. Usage: `.option("--backend <name>", BACKEND_OPTION_HELP)
 * .hook("preAction", backendOptionToEnvironment)`.
 */
export function backendOptionToEnvironment(command: Command): void {
  const backend = parseBackendOption(command.opts<{ backend?: string }>().backend);
  if (backend !== undefined) process.env.PQM_BACKEND = backend;
}
