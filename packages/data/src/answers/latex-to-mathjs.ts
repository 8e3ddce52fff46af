// A translator from the common subset of answer LaTeX to mathjs expression syntax. Hand-written
// because mathjs reads no LaTeX and the LaTeX parsers on npm either pull in a large engine or do
// not handle the answer-specific spellings (`\frac12`, implicit products like `2\sqrt{3}x`).

/** Thrown when a LaTeX answer uses something outside the supported subset. */
export class LatexTranslationError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "LatexTranslationError";
  }
}

/** A translated expression: mathjs source and the variable names it uses (all start with `v_`). */
export interface MathjsExpression {
  source: string;
  variables: string[];
}

// Deeper nesting than this is not an answer anyone writes; refusing it bounds the work and stack.
const MAX_NESTING = 40;

const FUNCTIONS: Readonly<Record<string, string>> = {
  sin: "sin",
  cos: "cos",
  tan: "tan",
  cot: "cot",
  sec: "sec",
  csc: "csc",
  arcsin: "asin",
  arccos: "acos",
  arctan: "atan",
  sinh: "sinh",
  cosh: "cosh",
  tanh: "tanh",
  ln: "log",
  // Contest problems write \log for base 10 unless they give a base.
  log: "log10",
  exp: "exp",
};

const GREEK_VARIABLES = new Set([
  "alpha",
  "beta",
  "gamma",
  "delta",
  "epsilon",
  "theta",
  "lambda",
  "mu",
  "phi",
  "varphi",
  "psi",
  "omega",
  "sigma",
  "tau",
  "rho",
]);

// Commands that only affect spacing or decoration and translate to nothing.
const IGNORED_COMMANDS = new Set([
  "left",
  "right",
  "displaystyle",
  "circ",
  "degree",
  "%",
  ",",
  "!",
  ";",
  ":",
  " ",
]);

/** Name of the guarded binomial function that the evaluator must provide in its scope. */
export const GUARDED_BINOMIAL = "binomialGuarded";

/**
 * Translates a normalised LaTeX expression (see `normalizeMathAnswer`) to mathjs syntax: `\frac`,
 * `\sqrt` and `\sqrt[n]`, `^`, `\cdot`/`\times`/`\div`, `\pi`, `e`, `i`, `\infty`, implicit
 * multiplication (`2x`, `3\sqrt{2}`, `xy`), trigonometric functions and logarithms, `\binom`,
 * `|x|`, `\lfloor`/`\lceil`, `!`, Greek letters and subscripted single-letter variables (`a_1`).
 * Every letter is its own variable, named `v_<letter>`. Throws `LatexTranslationError` for
 * anything else: commas, relations, text, sets, matrices, unknown commands, nesting deeper than 40.
 */
export function latexToMathjs(latex: string): MathjsExpression {
  const translator = new Translator(latex);
  const source = translator.sequence(null);
  if (source.trim() === "") throw new LatexTranslationError("empty expression");
  return { source, variables: [...translator.variables].sort() };
}

class Translator {
  readonly variables = new Set<string>();
  private position = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  /** Translates until `stop` (not consumed) or the end of the text when `stop` is null. */
  sequence(stop: string | null): string {
    this.depth++;
    if (this.depth > MAX_NESTING) throw new LatexTranslationError("nesting too deep");
    let output = "";
    let afterFactor = false;
    const text = this.text;
    while (this.position < text.length) {
      const char = text[this.position] ?? "";
      if (char === " ") {
        this.position++;
        continue;
      }
      if (stop !== null && text.startsWith(stop, this.position)) {
        this.depth--;
        return output;
      }
      if (char === "+" || char === "-" || char === "*" || char === "/") {
        output += char;
        this.position++;
        afterFactor = false;
        continue;
      }
      if (char === "^") {
        if (!afterFactor) throw new LatexTranslationError("'^' without a base");
        this.position++;
        output += `^(${this.argument()})`;
        continue;
      }
      if (char === "!") {
        if (!afterFactor) throw new LatexTranslationError("'!' without an operand");
        output += "!";
        this.position++;
        continue;
      }
      if (char === "\\") {
        const operator = this.tryOperatorCommand();
        if (operator !== null) {
          if (operator !== "") {
            output += operator;
            afterFactor = false;
          }
          continue;
        }
      }
      const factor = this.factor();
      if (afterFactor) output += "*";
      output += factor;
      afterFactor = true;
    }
    if (stop !== null) throw new LatexTranslationError(`missing '${stop}'`);
    this.depth--;
    return output;
  }

  /** Consumes `\cdot`-like operators (returns their mathjs form) or ignorable commands (""). */
  private tryOperatorCommand(): string | null {
    const name = this.peekCommand();
    if (name === null) return null;
    if (name === "cdot" || name === "times" || name === "ast") {
      this.position += name.length + 1;
      return "*";
    }
    if (name === "div") {
      this.position += name.length + 1;
      return "/";
    }
    if (IGNORED_COMMANDS.has(name)) {
      this.position += name.length + 1;
      return "";
    }
    return null;
  }

  private peekCommand(): string | null {
    if (this.text[this.position] !== "\\") return null;
    const match = /^[a-zA-Z]+|^[^a-zA-Z]/.exec(this.text.slice(this.position + 1, this.position + 40));
    return match === null ? null : match[0];
  }

  /** One factor: a number, a variable, a bracketed group, or a command that yields a value. */
  private factor(): string {
    const text = this.text;
    const char = text[this.position] ?? "";
    if (/[0-9.]/.test(char)) {
      const match = /^(?:\d+(?:\.\d*)?|\.\d+)/.exec(text.slice(this.position, this.position + 400));
      if (match === null) throw new LatexTranslationError(`bad number at ${this.position}`);
      this.position += match[0].length;
      return match[0].endsWith(".") ? match[0].slice(0, -1) : match[0];
    }
    if (/[a-zA-Z]/.test(char)) {
      this.position++;
      return this.variable(char);
    }
    if (char === "(" || char === "[" || char === "{") {
      this.position++;
      const inner = this.sequence(char === "(" ? ")" : char === "[" ? "]" : "}");
      this.position++;
      return `(${inner})`;
    }
    if (char === "|") {
      this.position++;
      const inner = this.sequence("|");
      this.position++;
      return `abs(${inner})`;
    }
    if (char === "\\") return this.commandFactor();
    throw new LatexTranslationError(`unsupported character '${char}'`);
  }

  private variable(letter: string): string {
    let name = letter;
    if (this.text[this.position] === "_") {
      this.position++;
      const subscript = /^\{([a-zA-Z0-9]+)\}|^([a-zA-Z0-9])/.exec(
        this.text.slice(this.position, this.position + 40),
      );
      if (subscript === null) throw new LatexTranslationError("unsupported subscript");
      this.position += subscript[0].length;
      name = `${letter}_${subscript[1] ?? subscript[2]}`;
    } else if (letter === "e") return "e";
    else if (letter === "i") return "i";
    const variable = `v_${name}`;
    this.variables.add(variable);
    return variable;
  }

  private commandFactor(): string {
    const name = this.peekCommand();
    if (name === null) throw new LatexTranslationError("dangling backslash");
    this.position += name.length + 1;
    if (name === "frac") {
      const numerator = this.argument();
      const denominator = this.argument();
      return `((${numerator})/(${denominator}))`;
    }
    if (name === "sqrt") {
      let index: string | null = null;
      if (this.text[this.position] === "[") {
        this.position++;
        index = this.sequence("]");
        this.position++;
      }
      const radicand = this.argument();
      return index === null ? `sqrt(${radicand})` : `nthRoot(${radicand}, ${index})`;
    }
    if (name === "binom") {
      const n = this.argument();
      const k = this.argument();
      return `${GUARDED_BINOMIAL}(${n}, ${k})`;
    }
    if (name === "pi") return "pi";
    if (name === "infty") return "Infinity";
    if (name === "lfloor" || name === "lceil") {
      const inner = this.sequence(name === "lfloor" ? "\\rfloor" : "\\rceil");
      this.position += name.length + 1;
      return `${name === "lfloor" ? "floor" : "ceil"}(${inner})`;
    }
    if (GREEK_VARIABLES.has(name)) {
      const variable = `v_${name}`;
      this.variables.add(variable);
      return variable;
    }
    const mathjsFunction = FUNCTIONS[name];
    if (mathjsFunction !== undefined) {
      let power: string | null = null;
      if (this.text[this.position] === "^") {
        this.position++;
        power = this.argument();
      }
      const operand = this.functionOperand();
      return power === null ? `${mathjsFunction}(${operand})` : `${mathjsFunction}(${operand})^(${power})`;
    }
    throw new LatexTranslationError(`unsupported command '\\${name}'`);
  }

  /**
   * A LaTeX argument: a `{...}` group, or one token. Digit runs are read whole (`x^10` is x^10,
   * as people mean it, not LaTeX's x^1 0); a leading sign is allowed (`x^-1`).
   */
  private argument(): string {
    while (this.text[this.position] === " ") this.position++;
    const char = this.text[this.position];
    if (char === undefined) throw new LatexTranslationError("missing argument");
    if (char === "{") {
      this.position++;
      const inner = this.sequence("}");
      this.position++;
      return inner;
    }
    if (char === "-" || char === "+") {
      this.position++;
      return `${char}${this.factor()}`;
    }
    return this.factor();
  }

  /** The operand of `\sin x`, `\ln 2x`: a bracketed group, or the run of factors that follows. */
  private functionOperand(): string {
    while (this.text[this.position] === " ") this.position++;
    const char = this.text[this.position] ?? "";
    if (char === "(" || char === "{" || char === "[") return this.factor();
    let operand = "";
    while (this.position < this.text.length) {
      const next = this.text[this.position] ?? "";
      const isFactorStart = /[0-9a-zA-Z.]/.test(next) || (next === "\\" && this.isValueCommand());
      if (!isFactorStart) break;
      operand += (operand === "" ? "" : "*") + this.factor();
    }
    if (operand === "") throw new LatexTranslationError("function without an operand");
    return operand;
  }

  private isValueCommand(): boolean {
    const name = this.peekCommand();
    return (
      name === "pi" || name === "frac" || name === "sqrt" || (name !== null && GREEK_VARIABLES.has(name))
    );
  }
}
