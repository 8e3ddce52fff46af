import { escapeHtml, htmlPage, stepColor } from "@pqm/eval/report";
import type { TreeView, TreeViewNode } from "@pqm/search";

// Over the base stylesheet of eval's report pages.
const style = `
body { max-width: none; margin: 2em; }
ul.tree, ul.tree ul { list-style: none; padding-left: 1.4em; margin: 0; border-left: 1px solid #ccc; }
ul.tree > li { margin-left: 0; }
.node { display: inline-block; margin: 2px 0; padding: 1px 6px; border-radius: 4px; border: 1px solid transparent; }
.node.chosen { border: 2px solid #000; font-weight: 600; }
.node.pruned { opacity: 0.55; }
.node.lookahead { font-style: italic; opacity: 0.7; }
.meta { color: #555; font-size: 12px; margin-left: 0.4em; }
.mistake { color: #b00; font-weight: 700; margin-left: 0.4em; }
.legend span { display: inline-block; padding: 1px 6px; margin-right: 6px; border-radius: 4px; }
`;

function nodeLine(node: TreeViewNode): string {
  const classes = [
    "node",
    node.chosen ? "chosen" : "",
    node.pruned ? "pruned" : "",
    node.lookahead ? "lookahead" : "",
  ]
    .filter((c) => c !== "")
    .join(" ");
  const color = node.q === null ? "#eee" : stepColor(node.q);
  const meta = [
    node.q === null ? "unscored" : `Q ${node.q.toFixed(3)}`,
    node.exactQ === undefined ? "" : `exact Q ${node.exactQ.toFixed(3)}`,
    node.exactLabel === undefined ? "" : node.exactLabel === 1 ? "right" : "wrong",
    node.visits === undefined ? "" : `visits ${node.visits}`,
    node.prior === undefined ? "" : `prior ${node.prior.toFixed(2)}`,
    `${node.tokens} tokens`,
    node.pruned ? "pruned" : "",
    node.lookahead ? "lookahead" : "",
    node.terminal ? `answer ${node.finalAnswer ?? "none"}` : "",
  ].filter((part) => part !== "");
  return (
    `<span class="${classes}" style="background:${color}">${escapeHtml(node.text)}</span>` +
    `<span class="meta">${escapeHtml(meta.join(" · "))}</span>` +
    (node.firstMistake ? `<span class="mistake">first mistake (step ${node.depth})</span>` : "")
  );
}

/**
 * One question's search tree as a self-contained HTML page: each step colored by its score read
 * as a Q-value (red 0 to green 1, eval's step colors), the chosen path outlined, pruned and
 * lookahead steps faded, and on arith the exact Q-value and label of every step and the step of
 * the chosen path's exact first mistake.
 */
export function renderTreeHtml(view: TreeView, title: string): string {
  const children = new Map<number, TreeViewNode[]>();
  for (const node of view.nodes) {
    if (node.parent === null) continue;
    children.set(node.parent, [...(children.get(node.parent) ?? []), node]);
  }
  const render = (id: number): string => {
    const kids = children.get(id) ?? [];
    if (kids.length === 0) return "";
    return `<ul>${kids.map((kid) => `<li>${nodeLine(kid)}${render(kid.id)}</li>`).join("")}</ul>`;
  };
  const verdict = view.correct === null ? "" : view.correct ? " (right)" : " (wrong)";
  const mistake =
    view.firstMistake === null
      ? ""
      : `<p>The chosen path's exact first mistake is at step ${view.firstMistake}.</p>`;
  const body = `<h1>${escapeHtml(title)}</h1>
<p><b>${escapeHtml(view.questionId)}</b>: ${escapeHtml(view.question)}</p>
<p>Gold answer: ${escapeHtml(view.gold ?? "none")}; chosen answer: ${escapeHtml(view.answer ?? "none")}${verdict}.</p>
${mistake}
<p class="legend">Steps colored by the PRM's score read as a Q-value: <span style="background:${stepColor(0)}">0</span><span style="background:${stepColor(0.5)}">0.5</span><span style="background:${stepColor(1)}">1</span> outlined: the chosen path.</p>
<ul class="tree"><li><span class="node">question</span>${render(0)}</li></ul>`;
  return htmlPage({ title, style, body });
}
