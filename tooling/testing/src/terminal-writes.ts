// Finds the places where a library would write to the terminal itself. The pqm libraries never
// print: progress and warnings reach the caller through callbacks, and the CLI owns stdout, stderr
// and the progress bars. The check reads the syntax tree, so comments and strings that mention
// `console` or `process.stderr` do not count.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

/** One place in a source file that writes to the terminal. */
export interface TerminalWrite {
  /** The file, as given. */
  file: string;
  /** 1-based line. */
  line: number;
  /** What was found: `console.warn`, `process.stderr`, `import "cli-progress"`... */
  what: string;
}

/** Modules that draw on the terminal themselves. */
const terminalModules = new Set(["cli-progress"]);

/** The terminal writes in one TypeScript source text. */
export function findTerminalWrites(source: string, file: string): TerminalWrite[] {
  const tree = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: TerminalWrite[] = [];
  const report = (node: ts.Node, what: string): void => {
    const { line } = tree.getLineAndCharacterOfPosition(node.getStart(tree));
    found.push({ file, line: line + 1, what });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && node.text === "console" && isValueReference(node)) {
      const parent = node.parent;
      report(
        node,
        ts.isPropertyAccessExpression(parent) && parent.expression === node
          ? `console.${parent.name.text}`
          : "console",
      );
    } else if (ts.isPropertyAccessExpression(node) && isProcessStream(node.expression, node.name.text)) {
      report(node, `process.${node.name.text}`);
    } else if (
      ts.isElementAccessExpression(node) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      isProcessStream(node.expression, node.argumentExpression.text)
    ) {
      report(node, `process.${node.argumentExpression.text}`);
    } else if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      terminalModules.has(node.moduleSpecifier.text)
    ) {
      report(node, `import "${node.moduleSpecifier.text}"`);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require")) &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteralLike(node.arguments[0]) &&
      terminalModules.has(node.arguments[0].text)
    ) {
      report(node, `import("${node.arguments[0].text}")`);
    }
    ts.forEachChild(node, visit);
  };
  visit(tree);
  return found;
}

/** `console` as a value, not as a property name (`x.console`) or a declared name of its own. */
function isValueReference(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false;
  if (ts.isPropertyAssignment(parent) && parent.name === node) return false;
  if (ts.isPropertySignature(parent) || ts.isPropertyDeclaration(parent) || ts.isMethodDeclaration(parent))
    return parent.name !== node;
  return true;
}

/** `process.stdout` / `process.stderr`, also through `globalThis.process`. */
function isProcessStream(expression: ts.Expression, name: string): boolean {
  if (name !== "stdout" && name !== "stderr") return false;
  if (ts.isIdentifier(expression)) return expression.text === "process";
  return (
    ts.isPropertyAccessExpression(expression) &&
    expression.name.text === "process" &&
    ts.isIdentifier(expression.expression) &&
    expression.expression.text === "globalThis"
  );
}

/**
 * Every terminal write in the non-test `.ts` files under `packages/<name>/src` of the repository at
 * `root` (test files, `*.test.ts`, may print). Paths in the result are relative to `root`.
 */
export function findLibraryTerminalWrites(root: string): TerminalWrite[] {
  const packagesDir = join(root, "packages");
  const found: TerminalWrite[] = [];
  for (const entry of readdirSync(packagesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const srcDir = join(packagesDir, entry.name, "src");
    let files: string[];
    try {
      files = readdirSync(srcDir, { recursive: true, encoding: "utf8" });
    } catch {
      continue;
    }
    for (const name of files.sort()) {
      if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
      const path = join(srcDir, name);
      found.push(...findTerminalWrites(readFileSync(path, "utf8"), relative(root, path)));
    }
  }
  return found;
}
