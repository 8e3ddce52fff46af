import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFixtureReport } from "./report-fixture.test-helper.js";
import type { EvaluationResults } from "./results.js";
import { formatAccuracyCell } from "./tables.js";

const chromiumPath = "/usr/bin/chromium";
const chromiumPresent = existsSync(chromiumPath);
const skipReason = chromiumPresent
  ? ""
  : ` [skipped: ${chromiumPath} not found; apt-get install -y chromium]`;

describe.skipIf(!chromiumPresent)(`index.html in headless Chromium${skipReason}`, () => {
  let server: ReturnType<typeof createServer>;
  let baseUrl = "";
  let results: EvaluationResults;
  let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>>;

  beforeAll(async () => {
    const fixture = await writeFixtureReport();
    results = fixture.results;
    const root = fixture.reportDir;
    const types: Record<string, string> = {
      ".html": "text/html",
      ".svg": "image/svg+xml",
      ".png": "image/png",
      ".json": "application/json",
    };
    // A real loopback server for the folder, as a user would serve it.
    server = createServer(async (request, response) => {
      const path = normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)).replace(
        /^\/+/,
        "",
      );
      try {
        const body = await readFile(join(root, path || "index.html"));
        response.writeHead(200, {
          "content-type": types[extname(path || "index.html")] ?? "application/octet-stream",
        });
        response.end(body);
      } catch {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A fresh profile folder per run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), "pqm-eval-chromium-")), {
      executablePath: chromiumPath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it("loads without console errors or outside requests, shows the numbers of results.json, opens a question", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    const outside: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("request", (request) => {
      if (!request.url().startsWith(baseUrl)) outside.push(request.url());
    });
    await page.goto(`${baseUrl}/index.html`, { waitUntil: "load" });
    expect(await page.title()).toBe("Fixture evaluation");

    // The best-of-n table: one row per method, cells equal to results.json's numbers.
    const rows = await page.$$eval("#table-best-of-n tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("th, td")].map((cell) => cell.textContent ?? "")),
    );
    expect(rows).toHaveLength(6);
    expect(rows[0]!.slice(1)).toEqual(results.bestOfN!.methods.bon.map(formatAccuracyCell));
    expect(rows[3]!.slice(1)).toEqual(results.bestOfN!.methods.majority.map(formatAccuracyCell));
    expect(await page.locator("figure.plot svg").count()).toBe(2);

    // Clicking a question opens its view with its candidates.
    expect(await page.locator("#question-view .candidate").count()).toBe(0);
    await page.click('.question-row[data-question="3"]');
    await page.waitForSelector('#question-view[data-question="3"] .candidate');
    const verdicts = results.verdicts!.questions[3]!;
    expect(await page.locator("#question-view .candidate").count()).toBe(verdicts.length);
    const heading = await page.textContent("#question-view h3");
    expect(heading).toContain("Question 3 (q3)");
    // Text from the data stays text: the question's "<b>" is not turned into markup.
    expect(await page.locator("#question-view b").count()).toBe(0);
    const firstCard = page.locator('#question-view .candidate[data-candidate="0"]');
    expect(await firstCard.locator(".badge").first().textContent()).toBe(
      verdicts[0]!.correct ? "correct" : "wrong",
    );
    expect(await firstCard.textContent()).toContain(`answer: ${verdicts[0]!.answer}`);
    // Steps are colored: the background is set from the score.
    const background = await firstCard
      .locator("li.step")
      .first()
      .evaluate((li) => (li as unknown as { style: { background: string } }).style.background);
    expect(background).toMatch(/^rgb\(\d+, \d+, \d+\)/);
    expect(page.url()).toContain("#q-3");

    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
    await page.close();
  });
});
