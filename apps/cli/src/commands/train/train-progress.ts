// How `pqm train` shows @pqm/model's `trainPrm` progress (its `onProgress` events): a redrawn bar on a
// terminal, a plain line now and then when stderr is a file or a pipe, nothing with --no-progress/--json.
import type { TrainProgressEvent } from "@pqm/model";
import cliProgress from "cli-progress";
import type { ProgressStyle, ProgressViewOptions } from "../../shared/progress-views.js";

/** One step's figures as the display shows them. */
function stepFigures(event: Extract<TrainProgressEvent, { type: "step" }>) {
  return {
    loss: event.record.loss.toFixed(4),
    lr: event.record.learningRate.toExponential(2),
    tps: String(Math.round(event.record.tokensPerSecond)),
  };
}

/**
 * Shows a training run: on a terminal a bar `train |███░░| 40/150 steps | loss 0.6931 | lr 5.00e-3 |
 * 1402 tok/s | eta 12s`; elsewhere a line every `lineIntervalMs` (10 s), one per validation and
 * checkpoint, and one at the end. Call `close` when the run is over, failed or not.
 */
/** Where the decoder's forward and backward run, from the start event. */
function decoderPassLine(event: Extract<TrainProgressEvent, { type: "start" }>): string {
  if (event.decoderPass === "onnxruntime")
    return event.lossInGraph
      ? "train: the whole step (decoder, value head, loss) in one ONNX Runtime run"
      : "train: the decoder's forward and backward on ONNX Runtime";
  const why = event.decoderPassNote === undefined ? "" : ` (${event.decoderPassNote})`;
  return `train: the decoder's forward and backward on TF.js${why}`;
}

export class TrainProgressView {
  /** Pass this as `trainPrm`'s `run.onProgress`. */
  readonly onProgress: (event: TrainProgressEvent) => void;
  private readonly stream: NodeJS.WriteStream;
  private readonly lineIntervalMs: number;
  private lastLineAt = 0;
  private bar: cliProgress.SingleBar | undefined;

  constructor(
    private readonly style: ProgressStyle,
    options: ProgressViewOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.lineIntervalMs = options.lineIntervalMs ?? 10_000;
    this.onProgress = (event) => {
      if (this.style === "bar") this.drawBar(event);
      else if (this.style === "lines") this.writeLine(event);
    };
  }

  /** Stops the bar (left on screen as it is). */
  close(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  private drawBar(event: TrainProgressEvent): void {
    if (event.type === "start") {
      this.stream.write(`${decoderPassLine(event)}\n`);
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format:
            "train |{bar}| {value}/{total} steps | loss {loss} | lr {lr} | {tps} tok/s | eta {eta_formatted}",
          hideCursor: false,
          clearOnComplete: false,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(event.totalSteps, event.step, { loss: "-", lr: "-", tps: "-" });
    } else if (event.type === "step") {
      this.bar?.update(event.step, stepFigures(event));
    } else if (event.type === "end") {
      this.close();
    }
  }

  private writeLine(event: TrainProgressEvent): void {
    const now = Date.now();
    switch (event.type) {
      case "start":
        this.lastLineAt = now;
        this.stream.write(
          `train: ${event.step === 0 ? "starting" : `resuming at step ${event.step}`}, ${event.totalSteps} steps\n` +
            `${decoderPassLine(event)}\n`,
        );
        return;
      case "step": {
        if (now - this.lastLineAt < this.lineIntervalMs && event.step < event.totalSteps) return;
        this.lastLineAt = now;
        const { loss, lr, tps } = stepFigures(event);
        this.stream.write(
          `train: step ${event.step}/${event.totalSteps}, loss ${loss}, lr ${lr}, ${tps} tok/s, ` +
            `${event.record.elapsedSeconds.toFixed(1)} s\n`,
        );
        return;
      }
      case "validation":
        this.stream.write(
          `train: ${event.final ? "final " : ""}validation at step ${event.step}: loss ${event.metrics.loss.toFixed(4)}, ` +
            `step AUROC ${event.metrics.auroc.toFixed(3)} over ${event.metrics.steps} steps\n`,
        );
        return;
      case "checkpoint":
        this.stream.write(`train: checkpoint ${event.folder}\n`);
        return;
      case "end":
        this.stream.write(`train: stopped at step ${event.step}/${event.totalSteps} (${event.stoppedBy})\n`);
        return;
    }
  }
}
