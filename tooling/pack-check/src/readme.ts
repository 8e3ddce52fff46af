import { Lexer, type Token, type Tokens } from "marked";

/** A README that lacks what the check needs, or states it in a form the check cannot run. */
export class ReadmeError extends Error {
  override name = "ReadmeError";
}

/** The packages named by a README's install line. */
export interface InstallLine {
  /** The line as written (prompt and comment removed). */
  line: string;
  /** Package specs in the order written: `name`, `name@range`, `@scope/name@range`. */
  specs: string[];
  /** Flags on the line (`-g`, `--save-dev` ...), reported but not passed on. */
  flags: string[];
}

/** The runnable example of a README. */
export interface Example {
  heading: string;
  lang: string;
  code: string;
}

const INSTALL_HEADING = /^install(ation|ing)?\b/i;
const EXAMPLE_HEADING = /^examples?\b/i;
const CODE_LANGS = new Set(["ts", "typescript", "mts", "js", "javascript", "mjs"]);
/** npm flags that take the next word as their value (the rest are switches or `--flag=value`). */
const FLAGS_WITH_VALUE = new Set([
  "--registry",
  "--prefix",
  "--tag",
  "--cache",
  "--userconfig",
  "--workspace",
  "-w",
  "--omit",
  "--include",
  "--install-strategy",
  "--save-prefix",
]);

/** The top-level tokens of the `## <heading>` section whose text matches, up to the next heading of depth <= 2. */
function section(markdown: string, heading: RegExp): { title: string; tokens: Token[] } | undefined {
  const tokens = Lexer.lex(markdown);
  const start = tokens.findIndex(
    (token) => token.type === "heading" && token.depth === 2 && heading.test(token.text),
  );
  if (start < 0) return undefined;
  const body: Token[] = [];
  for (const token of tokens.slice(start + 1)) {
    if (token.type === "heading" && token.depth <= 2) break;
    body.push(token);
  }
  return { title: (tokens[start] as Tokens.Heading).text, tokens: body };
}

/** Every fenced or indented code block among `tokens`, depth first (lists and quotes included). */
function codeBlocks(tokens: readonly Token[]): Tokens.Code[] {
  const found: Tokens.Code[] = [];
  const visit = (list: readonly Token[]) => {
    for (const token of list) {
      if (token.type === "code") found.push(token as Tokens.Code);
      else if (token.type === "list") for (const item of (token as Tokens.List).items) visit(item.tokens);
      else if ("tokens" in token && Array.isArray(token.tokens)) visit(token.tokens);
    }
  };
  visit(tokens);
  return found;
}

/**
 * The first `npm install ...` line of the README's `## Install` section (in any code block of it).
 * A line that sets environment variables (`FOO=1 npm install x`) is refused: a published package must
 * install with none.
 */
export function parseInstallLine(markdown: string): InstallLine {
  const install = section(markdown, INSTALL_HEADING);
  if (!install) throw new ReadmeError('no "## Install" section');
  for (const block of codeBlocks(install.tokens)) {
    for (const raw of block.text.split("\n")) {
      const line = stripComment(raw.replace(/^\s*\$\s+/, "")).trim();
      const match = /^((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)npm\s+(?:install|i|add|in)(?=\s|$)(.*)$/.exec(line);
      if (!match) continue;
      const envPart = match[1]!.trim();
      if (envPart)
        throw new ReadmeError(
          `install line "${line}" sets ${envPart}: a published package must install without environment variables`,
        );
      const command = match[2]!.split(/&&|\|\||;|\|/)[0]!;
      const words = command
        .split(/\s+/)
        .filter((word) => word.length > 0)
        .map(unquote);
      const specs: string[] = [];
      const flags: string[] = [];
      for (let i = 0; i < words.length; i++) {
        const word = words[i]!;
        if (word.startsWith("-")) {
          flags.push(word);
          if (FLAGS_WITH_VALUE.has(word) && i + 1 < words.length) flags.push(words[++i]!);
        } else specs.push(word);
      }
      if (specs.length === 0) throw new ReadmeError(`install line "${line}" names no package`);
      return { line, specs, flags };
    }
  }
  throw new ReadmeError(`the "## ${install.title}" section has no "npm install ..." line in a code block`);
}

/** The first ```ts / ```js code block of the README's `## Example` section. */
export function parseExample(markdown: string): Example {
  const example = section(markdown, EXAMPLE_HEADING);
  if (!example) throw new ReadmeError('no "## Example" section');
  for (const block of codeBlocks(example.tokens)) {
    const lang = (block.lang ?? "").trim().split(/\s+/)[0]!.toLowerCase();
    if (CODE_LANGS.has(lang)) return { heading: example.title, lang, code: `${block.text}\n` };
  }
  throw new ReadmeError(`the "## ${example.title}" section has no \`\`\`ts or \`\`\`js code block`);
}

/** The package name of an npm install spec (`@scope/name@1.2` gives `@scope/name`), or undefined for URLs, paths and aliases. */
export function specName(spec: string): string | undefined {
  const match = /^((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:@.*)?$/i.exec(spec);
  return match ? match[1] : undefined;
}

function stripComment(line: string): string {
  const hash = line.search(/(^|\s)#/);
  return hash < 0 ? line : line.slice(0, hash);
}

function unquote(word: string): string {
  return /^(['"]).*\1$/.test(word) ? word.slice(1, -1) : word;
}
