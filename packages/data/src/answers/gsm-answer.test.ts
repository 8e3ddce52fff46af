import { describe, expect, it } from "vitest";
import { extractAnswer } from "./extract-answer.js";
import { extractReferenceGsmNumber, parseGsmNumber, saysUnanswerable } from "./gsm-answer.js";
import { isEquivalent } from "./is-equivalent.js";

// [response, extracted answer, reason]
const GSM_EXTRACTIONS: ReadonlyArray<readonly [string, string | null, string]> = [
  ["She makes 9 * 2 = $18 every day.\n#### 18", "18", "#### marker"],
  ["So the loss is -1,234.50 dollars.", "-1234.5", "sign, thousands comma and decimals"],
  ["The total is $1,234.", "1234", "dollar sign, comma and trailing period"],
  ["Janet sells 16 - 3 - 4 = 9 eggs", "9", "subtraction is not a sign"],
  ["The temperature fell to -5 degrees.", "-5", "negative number"],
  ["It grew by 25%.", "25", "percent sign"],
  [
    "The answer is: 42\nCheck: 6 * 7 = 42, and 43 is wrong.",
    "42",
    "'The answer is:' preferred over the last number",
  ],
  ["The answer is 3.50 dollars per 2 days", "3.5", "first number after the marker"],
  ["Final Answer: 12", "12", "'Final Answer:' marker"],
  [
    "So she has \\boxed{1,000} stickers left, 5 more than before",
    "1000",
    "boxed answer preferred over the last number",
  ],
  ["We don't know how many red cars there are.\n#### None", "None", "#### None"],
  ["The answer is: None", "None", "'The answer is: None'"],
  [
    "The number of other-inch heels is not given, so the average cannot be determined.",
    "None",
    "cannot be determined",
  ],
  [
    "There is not enough information to find how many yellow cars there are.",
    "None",
    "not enough information",
  ],
  [
    "With 75 cars in total we still have insufficient information.",
    "None",
    "insufficient information after the last number",
  ],
  ["The problem does not provide the price of the 3 apples.", "None", "does not provide"],
  ["We can't determine it: the price is unknown.", "None", "can't determine"],
  [
    "Let r be the red cars, which cannot be determined directly. Then 5r = 75, so r = 15.",
    "15",
    "phrase before the last number",
  ],
  ["No numbers here.", null, "no answer"],
  ["The answer is 0.5", "0.5", "decimal"],
  ["The answer is .5", "0.5", "leading-dot decimal"],
  ["The ratio is 10/40 = 1/4", "0.25", "fraction as one number"],
  ["We are unaware of the cost of apple pie.", "None", "unaware of"],
];

describe("extractAnswer (gsm)", () => {
  it.each(GSM_EXTRACTIONS)("%j -> %s (%s)", (response, expected) => {
    expect(extractAnswer(response, "gsm")).toBe(expected);
  });
});

// [prediction, gold, expected default verdict, expected compat verdict, reason]
const GSM_PAIRS: ReadonlyArray<readonly [string, string | null, boolean, boolean, string]> = [
  ["The answer is: 18", "18", true, true, "plain match"],
  ["The answer is: 18.00", "18", true, true, "decimal zeros"],
  ["The answer is: -5", "-5", true, false, "reference reads no minus sign"],
  ["The answer is: 5", "-5", false, false, "sign matters"],
  ["She owes $-3.", "-3", true, false, "negative money"],
  ["The answer is: 1,234", "1234", true, false, "reference reads 234 from 1,234"],
  ["It costs 1,234 dollars.\n#### 1,234", "Q: ...\n#### 1,234", true, false, "GSM8K-style gold with commas"],
  ["The answer is 17", "18", false, false, "different number"],
  ["The answer is 18.5", "18", false, false, "decimal off"],
  ["The answer cannot be determined.", null, true, false, "None gold: says unanswerable"],
  ["The answer is: None", "None", true, false, "None gold: explicit None"],
  ["There is not enough information.", "None", true, false, "None gold: not enough information"],
  ["The answer is: 20", "None", false, false, "None gold: a number is wrong"],
  ["The answer is: None", "20", false, false, "number gold: None is wrong"],
  ["", "20", false, false, "empty response"],
  ["The total is 4 + 5 = 9.", "9", true, true, "last number"],
  ["The answer is 0.25", "1/4", true, true, "decimal against a fraction gold"],
  ["The answer is 1/4", "0.25", true, false, "fraction prediction; reference reads 4"],
];

describe("isEquivalent (gsm) with and without compat: 'reference'", () => {
  it.each(GSM_PAIRS)("%j vs %j -> %s / compat %s (%s)", (prediction, gold, expected, expectedCompat) => {
    expect(isEquivalent(prediction, gold, "gsm")).toBe(expected);
    expect(isEquivalent(prediction, gold, "gsm", { compat: "reference" })).toBe(expectedCompat);
  });
  it("treats a null prediction as wrong", () => {
    expect(isEquivalent(null, "18", "gsm")).toBe(false);
    expect(isEquivalent(null, null, "gsm")).toBe(false);
  });
});

describe("GSM helpers", () => {
  it("parses numbers with signs, commas, $ and %", () => {
    expect(parseGsmNumber("-1,234.50")).toBe(-1234.5);
    expect(parseGsmNumber("$18.")).toBe(18);
    expect(parseGsmNumber("25%")).toBe(25);
    expect(parseGsmNumber("1,23")).toBeNull();
    expect(parseGsmNumber("twelve")).toBeNull();
  });
  it("reads numbers the reference way", () => {
    expect(extractReferenceGsmNumber("a loss of -1,234.50")).toBe(234.5);
    expect(extractReferenceGsmNumber("none")).toBeNull();
  });
  it("does not take affirmative sentences as unanswerable", () => {
    expect(saysUnanswerable("The price can be determined from the total.")).toBe(false);
    expect(saysUnanswerable("We have enough information to solve it.")).toBe(false);
    expect(saysUnanswerable("The answer is 5, as the data given shows.")).toBe(false);
    expect(saysUnanswerable("It is impossible to tell without the price.")).toBe(true);
  });
});
