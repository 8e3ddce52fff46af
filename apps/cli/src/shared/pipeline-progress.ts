// How `pqm demo` and `pqm experiment` show @pqm/pipeline's progress events on stderr: one line per
// stage and per trained model, and a line every 50 training steps; on a terminal the training steps
// are a bar per model instead (the other lines are printed above the bars).
import type { PipelineEvent } from "@pqm/pipeline";
import cliProgress from "cli-progress";
import { type ProgressStyle, progressStyle } from "./progress-views.js";

/** Which command the lines are for: the demo prefixes each with its seed, an experiment has its own stage lines. */
export type PipelineProgressLabels =
  | { command: "demo" }
  | { command: "experiment"; experiment: string; trainSteps: number };

/** Training steps between two step lines when the steps are not drawn as bars. */
const STEP_LINE_EVERY = 50;

/** The text of an event (without the seed prefix), or null when the event has no line. */
export function pipelineEventLine(event: PipelineEvent, labels: PipelineProgressLabels): string | null {
  switch (event.type) {
    case "stage-start":
      if (labels.command === "demo") return `${event.stage} ...`;
      if (event.stage === "label") return `${labels.experiment}: labeling the training corpora ...`;
      if (event.stage === "train") {
        return `${labels.experiment}: training ${event.models ?? 0} models, ${labels.trainSteps} steps each ...`;
      }
      return null;
    case "stage-end":
      return labels.command === "demo" ? `${event.stage} done in ${event.seconds.toFixed(1)} s` : null;
    case "training-step":
      return event.step % STEP_LINE_EVERY === 0
        ? `  ${event.loss}: step ${event.step}, loss ${event.value.toFixed(3)}`
        : null;
    case "model-trained": {
      const auroc = event.validationAuroc === null ? "-" : event.validationAuroc.toFixed(3);
      return `  ${event.model}: ${event.steps} steps in ${event.seconds.toFixed(1)} s (${Math.round(event.tokensPerSecond)} tokens/s), validation AUROC ${auroc}`;
    }
    case "model-resumed":
      return `  ${event.model}: trained by an earlier run, read from ${event.file}`;
    default:
      return null;
  }
}

/** Shows a run's events on `stream`; pass `onProgress` to the pipeline and call `close` when it is over. */
export class PipelineProgressView {
  readonly onProgress: (event: PipelineEvent) => void;
  private readonly style: ProgressStyle;
  private multibar: cliProgress.MultiBar | undefined;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  constructor(
    private readonly labels: PipelineProgressLabels,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.style = progressStyle(true, stream);
    this.onProgress = (event) => this.show(event);
  }

  /** Stops the bars (left on screen as they are). */
  close(): void {
    this.multibar?.stop();
    this.multibar = undefined;
    this.bars.clear();
  }

  private show(event: PipelineEvent): void {
    if (this.style === "bar" && event.type === "training-step") {
      this.drawStep(event);
      return;
    }
    const line = pipelineEventLine(event, this.labels);
    if (line !== null) this.write(this.labels.command === "demo" ? `[seed ${event.seed}] ${line}` : line);
    // A stage's end is the end of its training: the bars stay on screen as they are.
    if (event.type === "stage-end") this.close();
  }

  private drawStep(event: Extract<PipelineEvent, { type: "training-step" }>): void {
    this.multibar ??= new cliProgress.MultiBar(
      {
        stream: this.stream,
        format: "{model} |{bar}| {value}/{total} steps | loss {loss}",
        hideCursor: false,
        clearOnComplete: false,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    const payload = { model: event.model, loss: event.value.toFixed(3) };
    const bar = this.bars.get(event.model);
    if (bar === undefined) {
      this.bars.set(event.model, this.multibar.create(event.totalSteps, event.step, payload));
    } else bar.update(event.step, payload);
  }

  private write(line: string): void {
    if (this.multibar?.isActive) this.multibar.log(`${line}\n`);
    else this.stream.write(`${line}\n`);
  }
}
