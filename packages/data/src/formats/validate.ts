import type { JsonValue } from "@pqm/core/reference";
import type { DataLocation } from "../errors.js";
import { ItemError } from "./read-options.js";

/** A parsed JSON object, as validation helpers see it. */
export type JsonObject = { [key: string]: JsonValue };

/** `"array"`, `"null"`, `"object"`... as used in messages. */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function at(location: DataLocation, field: string): DataLocation {
  return { ...location, field: location.field === undefined ? field : `${location.field}.${field}` };
}

/** The value as an object, or an {@link ItemError} (`wrong-type`) naming `location`. */
export function expectObject(value: unknown, location: DataLocation, what = "a JSON object"): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ItemError(location, "wrong-type", `expected ${what}, got ${describeType(value)}`);
  }
  return value as JsonObject;
}

/** `record[field]`, or an {@link ItemError} (`missing-field`) when absent. */
export function requireField(record: JsonObject, field: string, location: DataLocation): JsonValue {
  const value = record[field];
  if (value === undefined) throw new ItemError(at(location, field), "missing-field", "missing");
  return value;
}

/** `record[field]` as a string; throws `missing-field` or `wrong-type`. */
export function requireString(record: JsonObject, field: string, location: DataLocation): string {
  const value = requireField(record, field, location);
  if (typeof value !== "string") {
    throw new ItemError(at(location, field), "wrong-type", `expected a string, got ${describeType(value)}`);
  }
  return value;
}

/** `record[field]` as a finite number; throws `missing-field` or `wrong-type`. */
export function requireNumber(record: JsonObject, field: string, location: DataLocation): number {
  const value = requireField(record, field, location);
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ItemError(at(location, field), "wrong-type", `expected a number, got ${describeType(value)}`);
  }
  return value;
}

/** `record[field]` as an array; throws `missing-field` or `wrong-type`. */
export function requireArray(record: JsonObject, field: string, location: DataLocation): JsonValue[] {
  const value = requireField(record, field, location);
  if (!Array.isArray(value)) {
    throw new ItemError(at(location, field), "wrong-type", `expected an array, got ${describeType(value)}`);
  }
  return value;
}

/** `record[field]` as an array of strings; throws `missing-field` or `wrong-type` naming the element. */
export function requireStringArray(record: JsonObject, field: string, location: DataLocation): string[] {
  const values = requireArray(record, field, location);
  values.forEach((value, index) => {
    if (typeof value !== "string") {
      throw new ItemError(
        at(location, `${field}.${index}`),
        "wrong-type",
        `expected a string, got ${describeType(value)}`,
      );
    }
  });
  return values as string[];
}

/** Location of a nested field: `field` appended to `location.field` with a dot. */
export function fieldLocation(location: DataLocation, field: string): DataLocation {
  return at(location, field);
}
