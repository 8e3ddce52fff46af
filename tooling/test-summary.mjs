#!/usr/bin/env node
// The last step of `pnpm test`: read the JSON results every package's vitest run wrote (see
// tooling/testing/vitest-config.js) and print what ran, what failed and why each group of tests was
// skipped, ending with one line that CI parses:
//
//   tests: 812 passed, 0 failed, 78 skipped
//
// A skipped test says why in its title or in the title of a suite around it, as `[skipped: why]`
// (tooling/testing/README.md). Exits 1 when a package's results file is missing, a test or a test
// file failed, a skipped test gives no reason, or `--turbo-exit` is not 0.
//
//   node tooling/test-summary.mjs --clean          delete the results files (before turbo runs)
//   node tooling/test-summary.mjs --turbo-exit=N   summarise; N is turbo's exit status

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { processResultsFile, resultsFile } from "./testing/vitest-config.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const skipPattern = /\[skipped: ([^\]]+)\]/;

/** Workspace folders from pnpm-workspace.yaml (entries `dir` or `dir/*`), in a stable order. */
function workspaceFolders() {
  const yaml = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const block = /^packages:\s*\n((?:[ \t]+-[^\n]*\n?)+)/m.exec(yaml);
  if (!block) throw new Error("pnpm-workspace.yaml: no `packages:` list");
  const folders = [];
  for (const line of block[1].split("\n")) {
    const entry = /^\s+-\s*["']?([^"'#\s]+)["']?/.exec(line)?.[1];
    if (!entry) continue;
    if (entry.endsWith("/*")) {
      const parent = join(root, entry.slice(0, -2));
      for (const dirent of readdirSync(parent, { withFileTypes: true }))
        if (dirent.isDirectory()) folders.push(join(parent, dirent.name));
    } else folders.push(join(root, entry));
  }
  return folders.sort();
}

/**
 * The vitest runs of the test command: every workspace package whose `test` script runs vitest (its
 * results file), and whose `test:process` script does (the process-level tests, a separate turbo task
 * whose inputs leave out the Node version, so turbo replays it from cache on the later Nodes of CI).
 * Each must leave its results file.
 */
function testedPackages() {
  const packages = [];
  for (const folder of workspaceFolders()) {
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
    } catch {
      continue; // not a package
    }
    const name = manifest.name ?? relative(root, folder);
    if (/\bvitest\b/.test(manifest.scripts?.test ?? ""))
      packages.push({ name, folder, results: resultsFile });
    if (/\bvitest\b/.test(manifest.scripts?.["test:process"] ?? ""))
      packages.push({ name: `${name} (test:process)`, folder, results: processResultsFile });
  }
  return packages;
}

// When the test command started (written by --clean): a results file older than this was replayed by
// turbo from its cache (same inputs as an earlier run), and the summary says so.
const startFile = join(root, "node_modules", ".cache", "pqm-test-start");

/** Why a skipped test was skipped: the innermost `[skipped: why]` of its title and its suites' titles. */
function skipReason(test) {
  for (const title of [test.title, ...[...test.ancestorTitles].reverse()]) {
    const match = skipPattern.exec(title);
    if (match) return match[1].trim();
  }
  if (test.status === "todo") return "todo: not written yet";
  return undefined;
}

function summarise(turboExit) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const missing = [];
  const failures = [];
  /** reason -> { count, packages: Map<name, count> } */
  const skipGroups = new Map();
  const unexplained = [];
  const replayed = [];
  let started = Number.NaN;
  try {
    started = Number(readFileSync(startFile, "utf8"));
  } catch {
    // no --clean before: nothing is called replayed
  }

  for (const pkg of testedPackages()) {
    const path = join(pkg.folder, pkg.results);
    let results;
    try {
      results = JSON.parse(readFileSync(path, "utf8"));
    } catch (error) {
      missing.push(
        `${pkg.name} (${relative(root, path)}: ${error.code === "ENOENT" ? "absent" : error.message})`,
      );
      continue;
    }
    if (typeof results.startTime === "number" && results.startTime < started) replayed.push(pkg.name);
    let failedHere = 0;
    for (const file of results.testResults ?? []) {
      const fileName = relative(root, file.name);
      let failedInFile = 0;
      for (const test of file.assertionResults ?? []) {
        if (test.status === "passed") passed++;
        else if (test.status === "failed") {
          failedInFile++;
          failures.push(`${fileName} > ${test.fullName}`);
        } else {
          skipped++;
          const reason = skipReason(test);
          if (reason === undefined) {
            unexplained.push(`${fileName} > ${test.fullName}`);
            continue;
          }
          const group = skipGroups.get(reason) ?? { count: 0, packages: new Map() };
          group.count++;
          group.packages.set(pkg.name, (group.packages.get(pkg.name) ?? 0) + 1);
          skipGroups.set(reason, group);
        }
      }
      // A file that failed with no failed test did not load (syntax error, failing import, a hook).
      if (file.status === "failed" && failedInFile === 0) {
        failedInFile = 1;
        failures.push(`${fileName} (the file failed: ${firstLine(file.message)})`);
      }
      failedHere += failedInFile;
    }
    // Errors outside any test (an unhandled rejection) fail the run without failing a test.
    if (results.success === false && failedHere === 0) {
      failedHere = 1;
      failures.push(`${pkg.name} (vitest reported an error outside the tests)`);
    }
    failed += failedHere;
  }

  const lines = [];
  for (const [reason, group] of [...skipGroups].sort((a, b) => b[1].count - a[1].count)) {
    const where = [...group.packages].map(([name, count]) => `${name} ${count}`).join(", ");
    lines.push(`skipped ${group.count}: ${reason} (${where})`);
  }
  if (unexplained.length > 0) {
    lines.push(
      `skipped ${unexplained.length}: no reason given; add "[skipped: why]" to the test's or its suite's title:`,
    );
    for (const name of unexplained) lines.push(`  ${name}`);
  }
  if (replayed.length > 0)
    lines.push(
      `replayed from turbo's cache (same inputs, run earlier; their tests are counted): ${replayed.join(", ")}`,
    );
  for (const name of failures) lines.push(`failed: ${name}`);
  for (const name of missing)
    lines.push(`no results from ${name}: its test task did not run or did not finish`);
  if (turboExit !== 0)
    lines.push(`turbo exited with ${turboExit}: a build, typecheck, lint or test task failed (see above)`);
  lines.push(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.stdout.write(`\n${lines.join("\n")}\n`);

  const ok = turboExit === 0 && missing.length === 0 && failed === 0 && unexplained.length === 0;
  return ok ? 0 : 1;
}

function firstLine(text) {
  return (text ?? "").trim().split("\n")[0] || "no message";
}

function main(argv) {
  if (argv.includes("--clean")) {
    for (const pkg of testedPackages()) rmSync(join(pkg.folder, pkg.results), { force: true });
    mkdirSync(dirname(startFile), { recursive: true });
    writeFileSync(startFile, String(Date.now()));
    return 0;
  }
  const exitArg = argv.find((arg) => arg.startsWith("--turbo-exit="));
  const turboExit = exitArg === undefined ? 0 : Number(exitArg.slice("--turbo-exit=".length));
  if (!Number.isInteger(turboExit)) {
    process.stderr.write(`test-summary: --turbo-exit wants an integer, got ${exitArg}\n`);
    return 2;
  }
  return summarise(turboExit);
}

process.exitCode = main(process.argv.slice(2));
