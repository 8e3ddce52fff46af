// Plain-number reading for normalised MATH answers. Hand-written because it must recognise
// LaTeX spellings (`\frac{3}{4}`, mixed numbers `2\frac{1}{2}`, `1.5\times10^{3}`) that no number
// parsing library knows, and because this is the fast path that runs before any symbolic work.

const INTEGER_OR_DECIMAL = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const E_NOTATION = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)[eE][-+]?\d+$/;
const TIMES_TEN_POWER = /^([-+]?(?:\d+(?:\.\d*)?|\.\d+))(?:\\times|\\cdot|\*)10\^\{?([-+]?\d+)\}?$/;
const BARE_TEN_POWER = /^([-+]?)10\^\{?([-+]?\d+)\}?$/;
const LATEX_FRACTION = /^([-+]?)\\frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}$/;
const SLASH_FRACTION = /^([-+]?\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/;
const MIXED_NUMBER = /^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$/;

// Exponents past this are left to the symbolic path, which reports them as not comparable.
const MAX_DECIMAL_EXPONENT = 300;

/**
 * Reads a normalised answer that is a plain number: an integer or decimal, e-notation (`1.5e3`),
 * `a\times10^{n}`, `10^{n}`, a fraction of two numbers (`\frac{3}{4}`, `-3/4`), or a mixed number
 * (`2\frac{1}{2}` = 2.5). Thousands commas must already be gone (see `normalizeMathAnswer`).
 * Returns null for anything else, including values that overflow a double.
 */
export function parseNumberLiteral(text: string): number | null {
  const value = readLiteral(text);
  return value !== null && Number.isFinite(value) ? value : null;
}

function readLiteral(text: string): number | null {
  if (INTEGER_OR_DECIMAL.test(text) || E_NOTATION.test(text)) return Number(text);
  const timesTen = TIMES_TEN_POWER.exec(text);
  if (timesTen !== null) return scaleByPowerOfTen(timesTen[1] ?? "", Number(timesTen[2]));
  const bareTen = BARE_TEN_POWER.exec(text);
  if (bareTen !== null) return scaleByPowerOfTen(`${bareTen[1]}1`, Number(bareTen[2]));
  const latexFraction = LATEX_FRACTION.exec(text);
  if (latexFraction !== null) {
    return (latexFraction[1] === "-" ? -1 : 1) * (Number(latexFraction[2]) / Number(latexFraction[3]));
  }
  const slashFraction = SLASH_FRACTION.exec(text);
  if (slashFraction !== null) return Number(slashFraction[1]) / Number(slashFraction[2]);
  const mixed = MIXED_NUMBER.exec(text);
  if (mixed !== null) {
    const magnitude = Number(mixed[2]) + Number(mixed[3]) / Number(mixed[4]);
    return mixed[1] === "-" ? -magnitude : magnitude;
  }
  return null;
}

// Goes through the decimal text so that `6.72\times10^{-5}` is the same double as `0.0000672`.
function scaleByPowerOfTen(mantissa: string, exponent: number): number | null {
  if (Math.abs(exponent) > MAX_DECIMAL_EXPONENT) return null;
  return Number(`${mantissa}e${exponent}`);
}

/**
 * True when a normalised answer contains a written decimal (`0.33`, `1.5e3`): such answers may be
 * rounded, so they are compared with the relative tolerance; exact forms are compared exactly.
 */
export function hasWrittenDecimal(text: string): boolean {
  return /\d\.\d|(?:^|[^\d])\.\d/.test(text);
}

/**
 * Whether two numbers are equal within `relativeTolerance` of the larger magnitude (with an
 * absolute floor of 1e-12 so that zero compares equal to tiny rounding residue). Non-finite values
 * are never close, not even to themselves.
 */
export function numbersClose(a: number, b: number, relativeTolerance: number): boolean {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  if (a === b) return true;
  return Math.abs(a - b) <= Math.max(relativeTolerance * Math.max(Math.abs(a), Math.abs(b)), 1e-12);
}
