import { describe, expect, it } from "vitest";
import { parseExample, parseInstallLine, ReadmeError, specName } from "./readme.js";

const readme = (install: string, example = "```ts\nconsole.log(1);\n```") =>
  `# @pqm/x\n\nIntro.\n\n## Install\n\n${install}\n\n## Example\n\nText.\n\n${example}\n\n## Other\n\n\`\`\`ts\nother();\n\`\`\`\n`;

describe("parseInstallLine", () => {
  it("reads the first npm install line of the Install section, without prompt, comment or flags", () => {
    const line = parseInstallLine(
      readme(
        "```sh\n# comment line\n$ npm install --save @pqm/x @pqm/core@^0.2.0 'vega@6' # the plots\nnpm install later\n```",
      ),
    );
    expect(line).toEqual({
      line: "npm install --save @pqm/x @pqm/core@^0.2.0 'vega@6'",
      specs: ["@pqm/x", "@pqm/core@^0.2.0", "vega@6"],
      flags: ["--save"],
    });
  });

  it("accepts npm i and skips the value of flags that take one", () => {
    expect(
      parseInstallLine(readme("```sh\nnpm i -g --registry https://r.example @pqm/cli\n```")).specs,
    ).toEqual(["@pqm/cli"]);
  });

  it("stops at the end of the first command of a chained line", () => {
    expect(parseInstallLine(readme("```sh\nnpm install @pqm/x && npx pqm --help\n```")).specs).toEqual([
      "@pqm/x",
    ]);
  });

  it("skips pnpm and yarn lines and finds the npm one", () => {
    expect(parseInstallLine(readme("```sh\npnpm add @pqm/x\nnpm install @pqm/x zod\n```")).specs).toEqual([
      "@pqm/x",
      "zod",
    ]);
  });

  it("refuses an install line that sets environment variables", () => {
    expect(() => parseInstallLine(readme("```sh\nFOO=skip npm install @pqm/x\n```"))).toThrow(
      /sets FOO=skip: a published package must install without environment variables/,
    );
  });

  it("names what is missing", () => {
    expect(() => parseInstallLine("# x\n\n## Usage\n\ntext\n")).toThrow(
      new ReadmeError('no "## Install" section'),
    );
    expect(() => parseInstallLine(readme("```sh\npnpm add @pqm/x\n```"))).toThrow(
      '"## Install" section has no "npm install ..." line',
    );
    expect(() => parseInstallLine(readme("```sh\nnpm install\n```"))).toThrow("names no package");
  });

  it("does not read code blocks of later sections", () => {
    const text = "# x\n\n## Install\n\nSee below.\n\n## Usage\n\n```sh\nnpm install @pqm/x\n```\n";
    expect(() => parseInstallLine(text)).toThrow("has no");
  });
});

describe("parseExample", () => {
  it("takes the first ts or js block under the Example heading, whatever follows the word", () => {
    const text = readme("```sh\nnpm install @pqm/x\n```", "```sh\nls\n```\n\n```ts title\nconst a = 1;\n```");
    expect(parseExample(text)).toEqual({ heading: "Example", lang: "ts", code: "const a = 1;\n" });
    const titled = text.replace("## Example", "## Example: train a model");
    expect(parseExample(titled).heading).toBe("Example: train a model");
  });

  it("does not take a block from a later section, and says so", () => {
    const text = readme("```sh\nnpm install @pqm/x\n```", "No code here.");
    expect(() => parseExample(text)).toThrow('the "## Example" section has no ```ts or ```js code block');
    expect(() => parseExample("# x\n\n## Install\n")).toThrow('no "## Example" section');
  });

  it("keeps a heading inside a code block from ending the section", () => {
    const text = "# x\n\n## Example\n\n```md\n## not a heading\n```\n\n```js\nrun();\n```\n";
    expect(parseExample(text).code).toBe("run();\n");
  });
});

describe("specName", () => {
  it.each([
    ["zod", "zod"],
    ["zod@4", "zod"],
    ["@pqm/core", "@pqm/core"],
    ["@pqm/core@^0.2.0", "@pqm/core"],
    ["onnxruntime-node@1.30.0", "onnxruntime-node"],
    ["./local.tgz", undefined],
    ["https://example.org/x.tgz", undefined],
  ])("%s -> %s", (spec, name) => {
    expect(specName(spec)).toBe(name);
  });
});
