/**
 * The API reference of every publishable package: TypeDoc with typedoc-plugin-markdown, from the
 * sources of the package's export entries, written to `<package>/docs/api/` (README.md is its index).
 *
 *   tsx src/api.ts            regenerate every reference in place
 *   tsx src/api.ts --check    generate into a temp folder and fail when a committed reference differs
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Application, Converter, LogLevel, ReflectionKind } from "typedoc";
import {
  codeExportEntries,
  findWorkspaceRoot,
  publishablePackages,
  type WorkspacePackage,
} from "./workspace.js";

/** Where a package's reference lives, relative to the package folder. */
export const API_DIR = "docs/api";

const require = createRequire(import.meta.url);

interface EntryPoint {
  /** The import specifier users write: `@pqm/core`, `@pqm/core/reference`. */
  specifier: string;
  /** The source file behind it. */
  source: string;
}

/** The source file of each code export entry: `./dist/x.js` is built from `src/x.ts`. */
function entryPoints(pkg: WorkspacePackage): EntryPoint[] {
  const exportsField = pkg.manifest.exports as Record<string, unknown> | undefined;
  const found: EntryPoint[] = [];
  for (const entry of codeExportEntries(pkg.manifest)) {
    const target = importTarget(entry === "." && !exportsField ? pkg.manifest.main : exportsField?.[entry]);
    if (!target)
      throw new Error(`${pkg.relDir}/package.json: exports["${entry}"] has no import or default target`);
    const stem = target
      .replace(/^\.\//, "")
      .replace(/^dist\//, "src/")
      .replace(/\.(m?js|d\.m?ts)$/, "");
    const source = [".ts", ".mts", ".tsx"]
      .map((ext) => join(pkg.dir, stem + ext))
      .find((file) => existsSync(file));
    if (!source)
      throw new Error(
        `${pkg.relDir}: no source file for exports["${entry}"] (${target}; looked for ${stem}.ts)`,
      );
    found.push({ specifier: entry === "." ? pkg.name : `${pkg.name}/${entry.replace(/^\.\//, "")}`, source });
  }
  return found;
}

function importTarget(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const conditions = value as Record<string, unknown>;
    for (const key of ["import", "node", "default"]) {
      const target = importTarget(conditions[key]);
      if (target) return target;
    }
  }
  return undefined;
}

/** Runs TypeDoc for one package into `out`; returns the number of warnings it gave. */
async function generate(pkg: WorkspacePackage, out: string, quiet: boolean): Promise<number> {
  const entries = entryPoints(pkg);
  const app = await Application.bootstrapWithPlugins({
    name: pkg.name,
    entryPoints: entries.map((e) => e.source),
    tsconfig: join(pkg.dir, "tsconfig.json"),
    plugin: [require.resolve("typedoc-plugin-markdown")],
    out,
    readme: "none",
    // Source links would carry a git revision and change with every commit.
    disableSources: true,
    excludePrivate: true,
    excludeInternal: true,
    // Type errors are the typecheck task's business; this only documents.
    skipErrorChecking: true,
    logLevel: quiet ? LogLevel.Error : LogLevel.Warn,
    // typedoc-plugin-markdown
    outputFileStrategy: "modules",
    entryFileName: "README.md",
    hidePageHeader: true,
    excludeScopesInPaths: true,
    useCodeBlocks: true,
    parametersFormat: "table",
    // biome-ignore lint/suspicious/noExplicitAny: plugin options are not in TypeDoc's own option types.
  } as any);
  // Modules are named after their files relative to the entry points' common folder (index,
  // reference); name them by their import specifiers instead.
  const common = commonFolder(entries.map((e) => e.source));
  const byModuleName = new Map(
    entries.map((e) => [
      relative(common, e.source)
        .split("\\")
        .join("/")
        .replace(/\.(m?ts|tsx)$/, ""),
      e.specifier,
    ]),
  );
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    if (entries.length < 2) return;
    for (const child of context.project.children ?? []) {
      const specifier = byModuleName.get(child.name);
      if (child.kindOf(ReflectionKind.Module) && specifier) child.name = specifier;
    }
  });
  const project = await app.convert();
  if (!project || app.logger.hasErrors()) throw new Error(`${pkg.name}: TypeDoc failed (see above)`);
  await app.generateOutputs(project);
  if (app.logger.hasErrors()) throw new Error(`${pkg.name}: TypeDoc failed writing ${out}`);
  return app.logger.warningCount;
}

function commonFolder(files: readonly string[]): string {
  let folder = dirname(files[0]!);
  while (!files.every((file) => !relative(folder, file).startsWith(".."))) folder = dirname(folder);
  return folder;
}

/** Relative paths of every file under `dir`, sorted. */
function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split("\\").join("/"))
    .sort();
}

/** What differs between the committed reference and a fresh one: lines such as "changed: index.md". */
function compare(committed: string, fresh: string): string[] {
  const before = listFiles(committed);
  const after = listFiles(fresh);
  const differences: string[] = [];
  for (const file of after) {
    if (!before.includes(file)) differences.push(`missing: ${file}`);
    else if (readFileSync(join(committed, file), "utf8") !== readFileSync(join(fresh, file), "utf8"))
      differences.push(`changed: ${file}`);
  }
  for (const file of before) if (!after.includes(file)) differences.push(`not generated any more: ${file}`);
  return differences;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });
  const root = findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));
  const packages = (await publishablePackages(root)).filter((p) => codeExportEntries(p.manifest).length > 0);
  const stale: string[] = [];
  const failed: string[] = [];
  const temp = values.check ? mkdtempSync(join(tmpdir(), "pqm-api-")) : undefined;
  try {
    for (const pkg of packages) {
      const committed = join(pkg.dir, API_DIR);
      const out = temp ? join(temp, pkg.relDir) : committed;
      let warnings: number;
      try {
        warnings = await generate(pkg, out, values.check);
      } catch (error) {
        failed.push(`${pkg.name}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (temp) {
        const differences = compare(committed, out);
        if (differences.length > 0)
          stale.push(`${pkg.name} (${pkg.relDir}/${API_DIR}): ${differences.slice(0, 8).join(", ")}`);
      } else
        process.stdout.write(
          `api: ${pkg.name} -> ${pkg.relDir}/${API_DIR}${warnings > 0 ? ` (${warnings} TypeDoc warnings)` : ""}\n`,
        );
    }
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
  const names = packages.map((p) => p.name).join(", ");
  if (failed.length > 0) {
    process.stdout.write(`api: could not generate\n${failed.map((s) => `  ${s}`).join("\n")}\n`);
  }
  if (stale.length > 0) {
    process.stdout.write(
      `api: the committed API reference is stale; regenerate with \`npx -y pnpm@12.4.2 api\`\n${stale.map((s) => `  ${s}`).join("\n")}\n`,
    );
  }
  if (failed.length > 0 || stale.length > 0) return 1;
  process.stdout.write(`api: ${values.check ? "up to date" : "written"} for ${names}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`api: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
