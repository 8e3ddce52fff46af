import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { glob } from "tinyglobby";
import { parse as parseYaml } from "yaml";

/** The fields of a package.json that the check reads. */
export interface PackageJson {
  name?: string;
  version?: string;
  private?: boolean;
  main?: string;
  types?: string;
  bin?: string | Record<string, string>;
  exports?: unknown;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface WorkspacePackage {
  name: string;
  version: string;
  /** Absolute folder. */
  dir: string;
  /** Folder relative to the workspace root, with forward slashes. */
  relDir: string;
  manifest: PackageJson;
}

/** The folder holding pnpm-workspace.yaml, from `start` upwards. */
export function findWorkspaceRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no pnpm-workspace.yaml in ${start} or any folder above it`);
    dir = parent;
  }
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/**
 * The packages that would be published: every package matched by pnpm-workspace.yaml's `packages`
 * globs whose package.json does not say `"private": true`, sorted so that a package comes after the
 * workspace packages it depends on.
 */
export async function publishablePackages(root: string): Promise<WorkspacePackage[]> {
  const config = parseYaml(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8")) as { packages?: unknown };
  const patterns = Array.isArray(config.packages) ? config.packages.map(String) : [];
  if (patterns.length === 0) throw new Error(`${join(root, "pnpm-workspace.yaml")}: no "packages" globs`);
  const include = patterns
    .filter((p) => !p.startsWith("!"))
    .map((p) => `${p.replace(/\/$/, "")}/package.json`);
  const ignore = [
    "**/node_modules/**",
    ...patterns.filter((p) => p.startsWith("!")).map((p) => `${p.slice(1).replace(/\/$/, "")}/package.json`),
  ];
  const files = await glob(include, { cwd: root, ignore, onlyFiles: true });
  const found: WorkspacePackage[] = [];
  for (const file of files.sort()) {
    const manifest = readJson<PackageJson>(join(root, file));
    if (manifest.private === true) continue;
    if (!manifest.name || !manifest.version)
      throw new Error(`${file}: a publishable package needs "name" and "version" (or "private": true)`);
    const relDir = dirname(file);
    found.push({ name: manifest.name, version: manifest.version, dir: join(root, relDir), relDir, manifest });
  }
  return topologicalOrder(found);
}

function topologicalOrder(packages: WorkspacePackage[]): WorkspacePackage[] {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const ordered: WorkspacePackage[] = [];
  const seen = new Set<string>();
  const visit = (pkg: WorkspacePackage) => {
    if (seen.has(pkg.name)) return;
    seen.add(pkg.name);
    for (const dep of Object.keys(runtimeDependencies(pkg.manifest))) {
      const inner = byName.get(dep);
      if (inner) visit(inner);
    }
    ordered.push(pkg);
  };
  for (const pkg of packages) visit(pkg);
  return ordered;
}

/**
 * What npm installs along with a package: dependencies, optional dependencies and the peer
 * dependencies not marked optional (npm 7 and later install those).
 */
export function runtimeDependencies(manifest: PackageJson): Record<string, string> {
  const peers = Object.fromEntries(
    Object.entries(manifest.peerDependencies ?? {}).filter(
      ([name]) => manifest.peerDependenciesMeta?.[name]?.optional !== true,
    ),
  );
  return { ...peers, ...manifest.optionalDependencies, ...manifest.dependencies };
}

/** A package's export subpaths that are code entry points (`"./package.json"` and other non-code files left out). */
export function codeExportEntries(manifest: PackageJson): string[] {
  const { exports } = manifest;
  if (exports === undefined) return manifest.main || manifest.types ? ["."] : [];
  if (typeof exports === "string" || Array.isArray(exports)) return ["."];
  if (typeof exports !== "object" || exports === null) return [];
  const keys = Object.keys(exports);
  if (!keys.every((key) => key.startsWith("."))) return ["."]; // conditions at the top level: one entry
  return keys.filter((key) => !/\.(json|css|wasm|node)$/.test(key));
}

/** Every file path that package.json points at (main, types, bin, every target in exports). */
export function referencedFiles(manifest: PackageJson): string[] {
  const files = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === "string") {
      if (value.startsWith("./") || !value.includes(":")) files.add(value.replace(/^\.\//, ""));
    } else if (Array.isArray(value)) value.forEach(add);
    else if (value && typeof value === "object") Object.values(value).forEach(add);
  };
  add(manifest.main);
  add(manifest.types);
  add(manifest.bin);
  add(manifest.exports);
  return [...files].filter((file) => !file.includes("*"));
}
