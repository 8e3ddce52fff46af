import { InvalidArgumentError } from "commander";
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
