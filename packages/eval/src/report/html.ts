import { escapeHtml, htmlPage, htmlTable } from "./html-page.js";
import type { QuestionDetail } from "./question-details.js";
import { type EvaluationResults, formatPercent } from "./results.js";
import { buildReportTables } from "./tables.js";

/** An inline plot of the page. */
export interface HtmlPlot {
  title: string;
  svg: string;
}

/**
 * index.html: a self-contained page (no network, no framework): the summary tables and plots, then the
 * list of questions; clicking one (or opening `#q-<index>`) shows its candidates with their answers,
 * correctness and scores, each step colored from red (sigmoid(score) = 0) to green (1).
 */
export function renderHtmlReport(
  results: EvaluationResults,
  plots: readonly HtmlPlot[],
  questions: readonly QuestionDetail[],
): string {
  const tables = buildReportTables(results)
    .map(
      (table) => `<section class="table-block"><h2>${escapeHtml(table.title)}</h2>
${table.note ? `<p class="note">${escapeHtml(table.note)}</p>` : ""}
${htmlTable(table, `table-${table.id}`)}</section>`,
    )
    .join("\n");
  const plotBlocks = plots
    .map(
      (plot) =>
        `<figure class="plot"><figcaption>${escapeHtml(plot.title)}</figcaption>${stripXmlProlog(plot.svg)}</figure>`,
    )
    .join("\n");
  const questionRows = questions
    .map(
      (question) => `<tr class="question-row" data-question="${question.index}" tabindex="0">
<td>${question.index}</td><td>${escapeHtml(question.id)}</td><td class="question-text">${escapeHtml(truncate(question.text, 140))}</td>
<td>${question.gold === null ? "none" : escapeHtml(question.gold)}</td><td>${question.correctCandidates} / ${question.totalCandidates}</td>
<td class="${question.bestOfNCorrect ? "right" : "wrong"}">${question.bestOfNCorrect === null ? "-" : question.bestOfNCorrect ? "right" : "wrong"}</td></tr>`,
    )
    .join("\n");
  const inputs = results.inputs
    ? `<p class="inputs">Candidates <code>${escapeHtml(results.inputs.candidatesFile)}</code> (SHA-256 <code>${escapeHtml(results.inputs.candidatesSha256.slice(0, 16))}…</code>),
scores by <code>${escapeHtml(results.inputs.scorer)}</code>, ${results.inputs.questions} questions.</p>`
    : "";
  const overall = results.bestOfN
    ? `<p class="headline">${results.bestOfN.scoreLevel === "outcome" ? "Outcome-score" : "PRM"} best-of-${results.bestOfN.ns.at(-1)} accuracy: <strong id="headline-accuracy">${formatPercent(results.bestOfN.methods.bon.at(-1)?.mean)}%</strong></p>`
    : "";
  // The view data is JSON inside a script element; escaping "<" keeps "</script>" in a text from closing it.
  const solutionScore =
    results.bestOfN?.scoreLevel === "outcome" ? "the outcome score" : (results.bestOfN?.aggregation ?? null);
  const data = JSON.stringify({ questions, aggregation: solutionScore }).replace(/</g, "\\u003c");
  const body = `<header><h1>${escapeHtml(results.title)}</h1>
<p class="meta">Created ${escapeHtml(results.createdAt)} · ${escapeHtml(
    Object.entries(results.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(", "),
  )}</p>
${inputs}${overall}</header>
<main>
<div class="plots">${plotBlocks}</div>
${tables}
${
  questions.length > 0
    ? `<section id="questions"><h2>Questions</h2>
<p class="note">Click a question to see its candidates. Steps are colored by sigmoid(score):
<span class="legend"><span style="background:${stepColor(0.02)}">0</span><span style="background:${stepColor(0.25)}">0.25</span><span style="background:${stepColor(0.5)}">0.5</span><span style="background:${stepColor(0.75)}">0.75</span><span style="background:${stepColor(0.98)}">1</span></span>
Where the candidate file carries exact step labels (<code>process_labels</code>), each step also shows its
exact label and Q-value, and the first mistake is outlined.</p>
<div class="question-layout"><div class="question-list"><table id="question-table"><thead><tr><th>#</th><th>id</th><th>question</th><th>gold</th><th>correct candidates</th><th>PRM pick</th></tr></thead>
<tbody>${questionRows}</tbody></table></div>
<section id="question-view" aria-live="polite"><p class="note">No question selected.</p></section></div></section>`
    : ""
}
</main>
<script type="application/json" id="pqm-data">${data}</script>`;
  return htmlPage({ title: results.title, style: pageStyle, body, script: pageScript });
}

/** The color of a step with sigmoid(score) = p: hue 0 (red) to 120 (green). */
export function stepColor(probability: number): string {
  const clamped = Math.min(1, Math.max(0, probability));
  return `hsl(${Math.round(120 * clamped)}, 70%, 82%)`;
}

function truncate(text: string, length: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}

function stripXmlProlog(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, "");
}

// Over the base stylesheet of html-page.ts: a full-width page with a header band.
const pageStyle = `
body { max-width: none; margin: 0; padding: 0; background: #fafafa; }
header { padding: 16px 24px; background: #fff; border-bottom: 1px solid #ddd; }
h1 { margin: 0 0 4px; }
main { padding: 8px 24px 40px; }
.meta, .inputs { color: #555; font-size: 13px; margin: 4px 0; }
.headline { font-size: 15px; margin: 6px 0 0; }
table { margin: 0; }
#question-table td:nth-child(3) { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure.plot { margin: 8px 0; background: #fff; border: 1px solid #ddd; padding: 8px; }
figcaption { font-size: 13px; color: #555; }
.question-layout { display: flex; gap: 16px; align-items: flex-start; }
.question-list { max-height: 80vh; overflow: auto; flex: 0 0 44%; }
.question-row { cursor: pointer; } .question-row:hover, .question-row.selected { background: #e8f0fe; }
td.right { color: #17692b; } td.wrong { color: #a4161a; }
#question-view { flex: 1; min-width: 0; }
.question-text-full { white-space: pre-wrap; background: #fff; border: 1px solid #ddd; padding: 8px; }
.candidate { background: #fff; border: 1px solid #ccc; border-left: 6px solid #999; margin: 10px 0; padding: 6px 10px; }
.candidate.right { border-left-color: #2e9e4a; } .candidate.wrong { border-left-color: #c62828; }
.candidate-head { font-size: 13px; margin-bottom: 4px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; margin-left: 6px; background: #eee; }
.badge.right { background: #c8efd0; } .badge.wrong { background: #f7c9c9; } .badge.pick { background: #dfe6ff; }
ol.steps { margin: 0; padding-left: 28px; }
ol.steps li { white-space: pre-wrap; padding: 3px 6px; margin: 2px 0; border-radius: 3px; font-size: 13px; }
.step-truth { float: right; font-size: 12px; margin-left: 8px; } .step-truth.right { color: #17692b; } .step-truth.wrong { color: #a4161a; font-weight: bold; }
.step.first-mistake { outline: 2px solid #a4161a; }
.step-score { float: right; font-family: monospace; font-size: 12px; color: #333; margin-left: 8px; }
.legend span { display: inline-block; padding: 0 6px; margin: 0 1px; font-size: 12px; }
`;

// Plain JS, no framework: builds the per-question view from the embedded JSON with textContent only.
const pageScript = `
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("pqm-data").textContent);
  var byIndex = {};
  data.questions.forEach(function (q) { byIndex[q.index] = q; });
  function sigmoid(x) { return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)); }
  function color(p) { p = Math.min(1, Math.max(0, p)); return "hsl(" + Math.round(120 * p) + ", 70%, 82%)"; }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function show(index) {
    var q = byIndex[index];
    var view = document.getElementById("question-view");
    if (!q || !view) return;
    view.textContent = "";
    view.setAttribute("data-question", String(index));
    view.appendChild(el("h3", "", "Question " + q.index + " (" + q.id + ")"));
    view.appendChild(el("div", "question-text-full", q.text));
    view.appendChild(el("p", "note", "Gold answer: " + (q.gold === null ? "none" : q.gold) + " · " + q.correctCandidates + " of " +
      q.totalCandidates + " candidates correct · showing " + q.candidates.length + " · solution score = " + data.aggregation));
    q.candidates.forEach(function (c) {
      var card = el("div", "candidate " + (c.correct ? "right" : "wrong"));
      card.setAttribute("data-candidate", String(c.index));
      var head = el("div", "candidate-head");
      head.appendChild(el("strong", "", "Candidate " + c.index));
      head.appendChild(el("span", "badge " + (c.correct ? "right" : "wrong"), c.correct ? "correct" : "wrong"));
      head.appendChild(el("span", "badge", "answer: " + (c.answer === null ? "none" : c.answer)));
      head.appendChild(el("span", "badge", "score " + c.solutionScore.toFixed(3)));
      if (c.modelName) head.appendChild(el("span", "badge", c.modelName));
      c.chosenBy.forEach(function (m) { head.appendChild(el("span", "badge pick", "picked by " + m)); });
      if (c.stepLabels) {
        head.appendChild(el("span", "badge truth", c.firstMistake === null ? "exact: every step right" :
          "exact: first mistake at step " + (c.firstMistake + 1)));
      }
      card.appendChild(head);
      var list = el("ol", "steps");
      c.steps.forEach(function (step, s) {
        var score = c.stepScores[s];
        var item = el("li", "step");
        if (score !== undefined) {
          item.style.background = color(sigmoid(score));
          item.title = "score " + score + ", sigmoid " + sigmoid(score).toFixed(3);
          item.appendChild(el("span", "step-score", score.toFixed(2)));
        }
        if (c.stepLabels) {
          var right = c.stepLabels[s] >= 0.5;
          var truth = el("span", "step-truth " + (right ? "right" : "wrong"),
            (right ? "exact: right" : "exact: wrong") + (c.stepQValues ? ", Q " + c.stepQValues[s].toFixed(2) : ""));
          if (s === c.firstMistake) { item.classList.add("first-mistake"); truth.textContent += " (first mistake)"; }
          item.appendChild(truth);
        }
        item.appendChild(document.createTextNode(step));
        list.appendChild(item);
      });
      card.appendChild(list);
      view.appendChild(card);
    });
    var rows = document.querySelectorAll(".question-row");
    for (var r = 0; r < rows.length; r++) {
      rows[r].classList.toggle("selected", rows[r].getAttribute("data-question") === String(index));
    }
  }
  var rows = document.querySelectorAll(".question-row");
  for (var r = 0; r < rows.length; r++) {
    rows[r].addEventListener("click", function (event) {
      var index = event.currentTarget.getAttribute("data-question");
      show(index);
      if (history.replaceState) history.replaceState(null, "", "#q-" + index);
    });
    rows[r].addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.currentTarget.click();
    });
  }
  var match = /^#q-(\\d+)$/.exec(location.hash);
  if (match) show(match[1]);
})();
`;
