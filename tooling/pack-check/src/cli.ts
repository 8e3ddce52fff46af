/**
 * pack-check: every publishable package of the workspace, packed as npm would publish it and installed
 * into a fresh npm project outside the workspace, must install, run its README's example as written,
 * type-check in a strict TypeScript consumer, pass publint and "are the types wrong", and publish
 * (dry run) without warnings. See README.md beside this folder for what each step does.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  consumerEnv,
  describeEnd,
  isInside,
  type RunResult,
  run,
  runWithRetry,
  succeeded,
  tail,
  transientInstallFailure,
} from "./proc.js";
import { type Example, parseExample, parseInstallLine, ReadmeError, specName } from "./readme.js";
import {
  codeExportEntries,
  findWorkspaceRoot,
  type PackageJson,
  publishablePackages,
  readJson,
  referencedFiles,
  runtimeDependencies,
  type WorkspacePackage,
} from "./workspace.js";

const here = dirname(fileURLToPath(import.meta.url));

const MINUTE = 60_000;
const TIMEOUTS = {
  pack: 2 * MINUTE,
  lint: 2 * MINUTE,
  install: 5 * MINUTE,
  example: 3 * MINUTE,
  cli: 3 * MINUTE,
  typecheck: 3 * MINUTE,
  api: 3 * MINUTE,
};
/** The flags every consumer install runs with: the persistent cache first, no audit or funding chatter. */
const NPM_INSTALL_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund"];

interface Failure {
  step: string;
  message: string;
  output?: string;
}

interface Report {
  label: string;
  seconds: number;
  steps: string[];
  failures: Failure[];
  notes: string[];
}

interface Packed {
  pkg: WorkspacePackage;
  tarball: string;
  /** The packed package.json (workspace: ranges rewritten). */
  manifest: PackageJson;
}

class StepFailed extends Error {}

/** Collects the steps of one unit (a package, the type-check, the API reference) and times it. */
class Unit {
  readonly report: Report;
  private readonly started = performance.now();
  constructor(label: string) {
    this.report = { label, seconds: 0, steps: [], failures: [], notes: [] };
  }
  pass(step: string): void {
    this.report.steps.push(step);
  }
  note(text: string): void {
    this.report.notes.push(text);
  }
  /** Records a failed step; later steps that do not need it still run. */
  fail(step: string, message: string, output?: string): void {
    this.report.failures.push(output === undefined ? { step, message } : { step, message, output });
  }
  /** Records a failed step and stops this unit. */
  abort(step: string, message: string, output?: string): never {
    this.fail(step, message, output);
    throw new StepFailed(message);
  }
  /** Checks a command's result: passes the step, or records the failure with the output's tail. */
  expect(step: string, result: RunResult, ok = succeeded(result)): boolean {
    if (ok) this.pass(step);
    else this.fail(step, `${result.command} (in ${result.cwd}): ${describeEnd(result)}`, result.output);
    return ok;
  }
  finish(): Report {
    this.report.seconds = (performance.now() - this.started) / 1000;
    return this.report;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: "string", multiple: true },
      jobs: { type: "string", default: "2" },
      keep: { type: "boolean", default: false },
      "no-api": { type: "boolean", default: false },
      "no-types": { type: "boolean", default: false },
      "npm-cache": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: pack-check [--only <name>]... [--jobs N] [--keep] [--no-api] [--no-types] [--npm-cache <dir>]\n" +
        "Packs every publishable workspace package and checks it as an npm user would get it (see README.md).\n",
    );
    return 0;
  }
  const jobs = Math.max(1, Number.parseInt(values.jobs, 10) || 1);
  const started = performance.now();
  const root = findWorkspaceRoot(here);
  const packages = await publishablePackages(root);
  const only = values.only ?? [];
  for (const name of only)
    if (!packages.some((p) => p.name === name))
      throw new Error(
        `--only ${name}: not a publishable package (${packages.map((p) => p.name).join(", ")})`,
      );
  const selected = only.length > 0 ? packages.filter((p) => only.includes(p.name)) : packages;

  const temp = mkdtempSync(join(tmpdir(), "pqm-pack-check-"));
  guardTempFolder(temp, root);
  const env = consumerEnv(root);
  // A separate npm cache (e.g. an empty folder, to time a cold run); npm reads it from this variable.
  if (values["npm-cache"]) env.npm_config_cache = resolve(values["npm-cache"]);
  const tools = findTools(root);
  const line = (text: string) => process.stdout.write(`${text}\n`);
  line(`pack-check: ${selected.length} package(s), temp folder ${temp}, ${jobs} job(s)`);

  const reports: Report[] = [];
  try {
    // Pack every publishable package: consumers of one need the tarballs of its @pqm dependencies.
    const packUnit = new Unit("pack");
    const packed = new Map<string, Packed>();
    await pool(
      packages.map((pkg) => async () => {
        try {
          packed.set(pkg.name, await pack(pkg, tools, join(temp, "tarballs", shortName(pkg.name)), packUnit));
        } catch (error) {
          if (!(error instanceof StepFailed)) throw error;
        }
      }),
      jobs,
      () => {},
    );
    // turbo builds this package's dependencies before its test: every publishable package must be one.
    const ownManifest = readJson<PackageJson & { devDependencies?: Record<string, string> }>(
      join(here, "..", "package.json"),
    );
    const unlisted = packages.filter((p) => !ownManifest.devDependencies?.[p.name]);
    if (unlisted.length > 0)
      packUnit.fail(
        "devDependencies",
        `add ${unlisted.map((p) => `"${p.name}": "workspace:*"`).join(", ")} to tooling/pack-check/package.json ` +
          "devDependencies, so that turbo builds them before this check",
      );
    const packReport = packUnit.finish();
    if (packReport.failures.length > 0) {
      reports.push(packReport);
      printLine(packReport, line);
    }

    const tasks: { label: string; run: () => Promise<Report> }[] = [];
    for (const pkg of selected) {
      const own = packed.get(pkg.name);
      if (own) tasks.push({ label: pkg.name, run: () => checkPackage(own, packed, temp, env, tools) });
    }
    if (!values["no-types"] && packed.size > 0)
      tasks.push({
        label: TYPES_LABEL,
        run: () => typecheckConsumer([...packed.values()], temp, env, tools),
      });
    if (!values["no-api"]) tasks.push({ label: API_LABEL, run: () => checkApiReference(root, env, tools) });
    // Longest first (as the last run measured; unknown ones first of all), so that the jobs end together.
    const previous = readDurations();
    tasks.sort((a, b) => (previous[b.label] ?? Infinity) - (previous[a.label] ?? Infinity));

    await pool(
      tasks.map((task) => task.run),
      jobs,
      (report) => {
        reports.push(report);
        printLine(report, line);
      },
    );
    writeDurations(Object.fromEntries(reports.map((r) => [r.label, r.seconds])));
  } finally {
    if (values.keep) line(`pack-check: kept ${temp}`);
    else rmSync(temp, { recursive: true, force: true });
  }

  const failed = reports.filter((r) => r.failures.length > 0);
  for (const report of failed) {
    for (const failure of report.failures) {
      line("");
      line(`FAIL ${report.label}, step "${failure.step}": ${failure.message}`);
      if (failure.output !== undefined) line(indent(tail(failure.output, 30)));
    }
  }
  const passed = reports.length - failed.length;
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  line("");
  line(`pack-check: ${passed} passed, ${failed.length} failed (${seconds} s)`);
  return failed.length > 0 ? 1 : 0;
}

const TYPES_LABEL = "types (strict consumer)";
const API_LABEL = "api reference";
/** How long each unit took in the last run, to start the longest first (kept under node_modules, not committed). */
const DURATIONS_FILE = join(here, "..", "node_modules", ".cache", "pack-check-durations.json");

function readDurations(): Record<string, number> {
  try {
    return readJson<Record<string, number>>(DURATIONS_FILE);
  } catch {
    return {};
  }
}

function writeDurations(durations: Record<string, number>): void {
  try {
    mkdirSync(dirname(DURATIONS_FILE), { recursive: true });
    writeFileSync(
      DURATIONS_FILE,
      `${JSON.stringify({ ...readDurations(), ...roundValues(durations) }, null, 2)}\n`,
    );
  } catch {
    // Only an ordering hint.
  }
}

function roundValues(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Math.round(value * 10) / 10]));
}

function printLine(report: Report, line: (text: string) => void): void {
  const status = report.failures.length > 0 ? "FAIL" : "ok  ";
  const failedSteps = [...new Set(report.failures.map((f) => f.step))];
  const passed = report.steps.length > 0 ? `passed: ${report.steps.join(", ")}` : "";
  const detail =
    report.failures.length > 0 ? `FAILED: ${failedSteps.join(", ")}; ${passed}` : report.steps.join(", ");
  const notes = report.notes.length > 0 ? ` [${report.notes.join("; ")}]` : "";
  line(`${status} ${report.label.padEnd(22)} ${report.seconds.toFixed(1).padStart(6)} s  ${detail}${notes}`);
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

/** Runs `tasks` with at most `limit` at a time, reporting each result as it finishes. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number, done: (result: T) => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      done(await task());
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

/** The temp folder must not see the workspace's node_modules, nor any other: module resolution climbs folders. */
function guardTempFolder(temp: string, root: string): void {
  if (isInside(root, temp)) throw new Error(`the temp folder ${temp} lies inside the workspace ${root}`);
  for (let dir = dirname(temp); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "node_modules")))
      throw new Error(
        `${join(dir, "node_modules")} exists above the temp folder ${temp}: consumers would resolve from it`,
      );
    if (dirname(dir) === dir) break;
  }
}

interface Tools {
  /** tsx's command line script, run with this Node. */
  tsx: string;
  tsc: string;
  publint: string;
  attw: string;
  /** How to run pnpm: [file, ...leading args]. */
  pnpm: string[];
  /** The workspace's @types/node version. */
  typesNodeVersion: string;
}

function findTools(root: string): Tools {
  // This package's own devDependencies (pnpm links them into its node_modules).
  const modules = join(here, "..", "node_modules");
  const bin = (name: string, command: string) => {
    const manifest = readJson<{ bin?: string | Record<string, string> }>(join(modules, name, "package.json"));
    const target = typeof manifest.bin === "string" ? manifest.bin : manifest.bin?.[command];
    if (!target) throw new Error(`${name} has no "${command}" command`);
    return join(modules, name, target);
  };
  const execPath = process.env.npm_execpath;
  const rootManifest = readJson<{ packageManager?: string }>(join(root, "package.json"));
  const pnpmVersion = /^pnpm@([^+]+)/.exec(rootManifest.packageManager ?? "")?.[1] ?? "latest";
  return {
    tsx: bin("tsx", "tsx"),
    tsc: bin("typescript", "tsc"),
    publint: bin("publint", "publint"),
    attw: bin("@arethetypeswrong/cli", "attw"),
    pnpm:
      execPath && /pnpm/i.test(execPath) && existsSync(execPath)
        ? /\.(c?js|mjs)$/.test(execPath)
          ? [process.execPath, execPath]
          : [execPath]
        : ["npx", "-y", `pnpm@${pnpmVersion}`],
    typesNodeVersion: readJson<{ version: string }>(join(modules, "@types", "node", "package.json")).version,
  };
}

/** `pnpm pack` from the built dist, into `destination`; reads back the packed package.json. */
async function pack(pkg: WorkspacePackage, tools: Tools, destination: string, unit: Unit): Promise<Packed> {
  const missing = referencedFiles(pkg.manifest).filter((file) => !existsSync(join(pkg.dir, file)));
  if (missing.length > 0)
    unit.abort(
      `dist ${pkg.name}`,
      `${pkg.relDir}: ${missing.join(", ")} missing; build first (npx -y pnpm@12.4.2 build, i.e. turbo run build)`,
    );
  mkdirSync(destination, { recursive: true });
  const before = new Set(readdirSync(destination));
  const [file, ...lead] = tools.pnpm;
  const result = await run(file!, [...lead, "pack", "--pack-destination", destination], {
    cwd: pkg.dir,
    env: process.env,
    timeoutMs: TIMEOUTS.pack,
  });
  if (!succeeded(result))
    unit.abort(`pack ${pkg.name}`, `${result.command}: ${describeEnd(result)}`, result.output);
  const created = readdirSync(destination).filter((f) => !before.has(f) && f.endsWith(".tgz"));
  if (created.length !== 1)
    unit.abort(
      `pack ${pkg.name}`,
      `expected one new tarball in ${destination}, found ${created.length}`,
      result.output,
    );
  const tarball = join(destination, created[0]!);
  const read = await run("tar", ["-xzOf", tarball, "package/package.json"], {
    cwd: destination,
    env: process.env,
    timeoutMs: TIMEOUTS.pack,
  });
  if (!succeeded(read))
    unit.abort(`pack ${pkg.name}`, `cannot read package.json from ${tarball}`, read.output);
  const manifest = JSON.parse(read.output) as PackageJson;
  const leftovers = Object.entries(runtimeDependencies(manifest)).filter(([, range]) =>
    range.startsWith("workspace:"),
  );
  if (leftovers.length > 0)
    unit.fail(
      `pack ${pkg.name}`,
      `the packed package.json still has workspace ranges: ${leftovers.map(([n, r]) => `${n}@${r}`).join(", ")}`,
    );
  unit.pass(`pack ${pkg.name}`);
  return { pkg, tarball, manifest };
}

/** The tarballs npm would install for `names`: each with its @pqm dependencies, transitively. */
function closure(names: readonly string[], packed: Map<string, Packed>, unit: Unit, step: string): Packed[] {
  const found = new Map<string, Packed>();
  const visit = (name: string, from: string) => {
    if (found.has(name)) return;
    const entry = packed.get(name);
    if (!entry)
      unit.abort(step, `${from} needs ${name}, which is not a publishable (packed) workspace package`);
    found.set(name, entry);
    for (const dep of Object.keys(runtimeDependencies(entry.manifest)))
      if (dep.startsWith("@pqm/")) visit(dep, `${name}'s package.json`);
  };
  for (const name of names) visit(name, "the install");
  return [...found.values()];
}

/** The first @pqm package that `name` needs, directly or not, and that is not among `packed`. */
function missingWorkspaceDependency(
  name: string,
  packed: Map<string, Packed>,
  seen = new Set<string>(),
): string | undefined {
  if (seen.has(name)) return undefined;
  seen.add(name);
  const entry = packed.get(name);
  if (!entry) return name;
  for (const dep of Object.keys(runtimeDependencies(entry.manifest))) {
    if (!dep.startsWith("@pqm/")) continue;
    const missing = missingWorkspaceDependency(dep, packed, seen);
    if (missing) return missing;
  }
  return undefined;
}

function shortName(name: string): string {
  return name.replace(/^@/, "").replace(/\//g, "-");
}

function writeConsumerProject(dir: string, name: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name, version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
}

/** `npm install` in `dir`, tried twice when the first try timed out or hit a network error. */
async function npmInstall(dir: string, specs: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return runWithRetry(
    npmBin(),
    ["install", ...NPM_INSTALL_FLAGS, ...specs],
    { cwd: dir, env, timeoutMs: TIMEOUTS.install },
    transientInstallFailure,
  );
}

function npmBin(): string {
  return process.platform === "win32" ? "npm.cmd" : "npm";
}

/** Every step for one package: lint the tarball, publish it dry, install it as a user would and run its example. */
async function checkPackage(
  own: Packed,
  packed: Map<string, Packed>,
  temp: string,
  env: NodeJS.ProcessEnv,
  tools: Tools,
): Promise<Report> {
  const { pkg, tarball, manifest } = own;
  const unit = new Unit(pkg.name);
  try {
    const isCli = manifest.bin !== undefined && codeExportEntries(manifest).length === 0;
    const readmeFile = join(pkg.dir, "README.md");
    const readme = existsSync(readmeFile) ? readFileSync(readmeFile, "utf8") : "";
    if (!readme)
      unit.fail("readme", `${pkg.relDir}/README.md is missing or empty (npm shows it as the package page)`);

    // publint on the tarball; warnings fail like errors, suggestions are shown but pass.
    const lint = await run(process.execPath, [tools.publint, "run", tarball, "--strict"], {
      cwd: temp,
      env,
      timeoutMs: TIMEOUTS.lint,
    });
    unit.expect("publint", lint);

    // "Are the types wrong?" under the esm-only profile: the packages are ESM only, so the CommonJS
    // resolutions (node10, node16 from require) are out of scope; node16/nodenext ESM and bundler must pass.
    if (codeExportEntries(manifest).length > 0) {
      const attw = await run(
        process.execPath,
        [tools.attw, tarball, "--profile", "esm-only", "--format", "ascii"],
        {
          cwd: temp,
          env: { ...env, FORCE_COLOR: "0" },
          timeoutMs: TIMEOUTS.lint,
        },
      );
      unit.expect("attw", attw);
    } else unit.note("attw: no importable entry point");

    // npm publish --dry-run must be clean: npm warns about fields it would correct (bin, repository ...).
    // Its reminder that a real publish needs a login is about this machine, not the package.
    const publish = await run(npmBin(), ["publish", "--dry-run", tarball], {
      cwd: temp,
      env,
      timeoutMs: TIMEOUTS.lint,
    });
    const warnings = publish.output
      .split("\n")
      .filter((l) => /\bnpm (warn|error)\b/i.test(l) && !/requires you to be logged in/.test(l));
    if (succeeded(publish) && warnings.length === 0) unit.pass("publish --dry-run");
    else
      unit.fail(
        "publish --dry-run",
        `${publish.command}: ${warnings.length > 0 ? `${warnings.length} warning(s)` : describeEnd(publish)}`,
        warnings.length > 0 ? warnings.join("\n") : publish.output,
      );

    // The README's install line: the packages it names (@pqm ones from their tarballs) are what a user
    // installs. Without one, the package is installed alone so that the later steps still run.
    const pqmNames = [pkg.name];
    const extras: string[] = [];
    let installLine = "(no install line: the package alone)";
    try {
      if (!readme) throw new ReadmeError("");
      const install = parseInstallLine(readme);
      installLine = install.line;
      for (const spec of install.specs) {
        const name = specName(spec);
        if (name?.startsWith("@pqm/")) pqmNames.push(name);
        else extras.push(spec);
      }
      if (install.flags.length > 0) unit.note(`install flags ignored: ${install.flags.join(" ")}`);
      if (!install.specs.some((spec) => specName(spec) === pkg.name))
        unit.fail(
          "readme install line",
          `${pkg.relDir}/README.md: "${install.line}" does not install ${pkg.name}`,
        );
      else unit.pass("readme install line");
    } catch (error) {
      if (!(error instanceof ReadmeError)) throw error;
      if (readme) unit.fail("readme install line", `${pkg.relDir}/README.md: ${error.message}`);
    }
    const tarballs = closure(pqmNames, packed, unit, "install").map((p) => p.tarball);

    let example: Example | undefined;
    if (!isCli && readme) {
      try {
        example = parseExample(readme);
      } catch (error) {
        if (error instanceof ReadmeError)
          unit.fail("readme example", `${pkg.relDir}/README.md: ${error.message}`);
        else throw error;
      }
    }

    const project = join(temp, "consumers", shortName(pkg.name));
    writeConsumerProject(project, `consumer-${shortName(pkg.name)}`);
    const installed = await npmInstall(project, [...tarballs, ...extras], env);
    if (!unit.expect("npm install", installed)) {
      unit.note(`README install line: ${installLine}`);
      return unit.finish();
    }

    if (isCli) {
      for (const [name, target] of Object.entries(binEntries(manifest))) {
        const bin = join(project, "node_modules", ".bin", name);
        if (!existsSync(bin)) unit.abort(`bin ${name}`, `${bin} was not created (bin target ${target})`);
        const help = await run(bin, ["--help"], { cwd: project, env, timeoutMs: TIMEOUTS.cli });
        unit.expect(`${name} --help`, help);
        const ex = await run(bin, ["example"], { cwd: project, env, timeoutMs: TIMEOUTS.cli });
        unit.expect(`${name} example`, ex);
      }
    } else if (example) {
      writeFileSync(join(project, "example.mts"), example.code);
      const ran = await run(process.execPath, [tools.tsx, "example.mts"], {
        cwd: project,
        env,
        timeoutMs: TIMEOUTS.example,
      });
      if (unit.expect("example", ran)) unit.note(`example ${ran.seconds.toFixed(0)} s`);
      else unit.note(`example from "## ${example.heading}"`);
    }
  } catch (error) {
    if (!(error instanceof StepFailed))
      unit.fail("internal", error instanceof Error ? (error.stack ?? error.message) : String(error));
  }
  return unit.finish();
}

function binEntries(manifest: PackageJson): Record<string, string> {
  const { bin, name } = manifest;
  if (typeof bin === "string") return { [(name ?? "").replace(/^@[^/]+\//, "")]: bin };
  return bin ?? {};
}

/**
 * A strict TypeScript consumer (nodenext, skipLibCheck off) importing every export entry of every
 * package, with the packages each README's install line adds and the workspace's @types/node.
 */
async function typecheckConsumer(
  all: Packed[],
  temp: string,
  env: NodeJS.ProcessEnv,
  tools: Tools,
): Promise<Report> {
  const unit = new Unit(TYPES_LABEL);
  try {
    const extras = new Map<string, string>();
    for (const { pkg } of all) {
      try {
        const readmeFile = join(pkg.dir, "README.md");
        if (!existsSync(readmeFile)) continue;
        for (const spec of parseInstallLine(readFileSync(readmeFile, "utf8")).specs) {
          const name = specName(spec) ?? spec;
          if (!name.startsWith("@pqm/") && !extras.has(name)) extras.set(name, spec);
        }
      } catch (error) {
        if (!(error instanceof ReadmeError)) throw error;
      }
    }
    extras.set("@types/node", `@types/node@${tools.typesNodeVersion}`);
    const project = join(temp, "consumers", "types");
    writeConsumerProject(project, "consumer-types");
    // A package whose @pqm dependency could not be packed cannot be installed; leave it out, loudly.
    const packed = new Map(all.map((p) => [p.pkg.name, p]));
    const complete = all.filter(({ pkg }) => {
      const missing = missingWorkspaceDependency(pkg.name, packed);
      if (missing)
        unit.fail("npm install", `${pkg.name} left out: it needs ${missing}, which was not packed`);
      return missing === undefined;
    });
    const tarballs = complete.map((p) => p.tarball);
    const installed = await npmInstall(project, [...tarballs, ...extras.values()], env);
    if (!unit.expect("npm install", installed)) return unit.finish();

    const imports: string[] = [];
    const names: string[] = [];
    for (const { manifest } of complete) {
      for (const entry of codeExportEntries(manifest)) {
        const specifier = entry === "." ? manifest.name! : `${manifest.name}/${entry.replace(/^\.\//, "")}`;
        const local = `m${names.length}`;
        imports.push(`import * as ${local} from "${specifier}";`);
        names.push(local);
      }
    }
    writeFileSync(
      join(project, "consumer.ts"),
      `${imports.join("\n")}\n\nexport const entries = [${names.join(", ")}];\n`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      `${JSON.stringify(
        {
          compilerOptions: {
            strict: true,
            module: "nodenext",
            moduleResolution: "nodenext",
            target: "es2022",
            skipLibCheck: false,
            noEmit: true,
          },
          files: ["consumer.ts"],
        },
        null,
        2,
      )}\n`,
    );
    const tsc = await run(process.execPath, [tools.tsc, "-p", "tsconfig.json", "--pretty", "false"], {
      cwd: project,
      env,
      timeoutMs: TIMEOUTS.typecheck,
    });
    unit.note(`${names.length} entries; with ${[...extras.values()].join(" ")}`);
    unit.expect("tsc (strict, nodenext, skipLibCheck false)", tsc);
  } catch (error) {
    if (!(error instanceof StepFailed))
      unit.fail("internal", error instanceof Error ? (error.stack ?? error.message) : String(error));
  }
  return unit.finish();
}

/** The committed API references must equal what `api` generates from the sources now. */
async function checkApiReference(root: string, env: NodeJS.ProcessEnv, tools: Tools): Promise<Report> {
  const unit = new Unit(API_LABEL);
  const result = await run(process.execPath, [tools.tsx, join(here, "api.ts"), "--check"], {
    cwd: root,
    env,
    timeoutMs: TIMEOUTS.api,
  });
  if (unit.expect("up to date", result)) {
    const summary = /api: (.*)$/m.exec(result.output)?.[1];
    if (summary) unit.note(summary);
  }
  return unit.finish();
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`pack-check: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
