/**
 * A pooling server returned a number of step rows that differs from the number of steps of a
 * trajectory. Names the URL, the question and candidate, and both counts; the message says the
 * likely cause (a step whose text holds the step tag, or a server without `step_tag_id`).
 */
export class PoolingStepCountError extends Error {
  /** The URL that answered. */
  readonly url: string;
  /** The trajectory's question id. */
  readonly questionId: string;
  /** The candidate: the trajectory's `meta.candidate` when it is a number, else its index in the call. */
  readonly candidate: number;
  /** Steps of the trajectory. */
  readonly steps: number;
  /** Rows the server returned for it. */
  readonly rows: number;

  constructor(
    url: string,
    questionId: string,
    candidate: number,
    steps: number,
    rows: number,
    detail: string,
  ) {
    super(
      `${url}: question ${JSON.stringify(questionId)}, candidate ${candidate}: ` +
        `the server returned ${rows} step row${rows === 1 ? "" : "s"} for ${steps} step${steps === 1 ? "" : "s"}${detail}`,
    );
    this.name = "PoolingStepCountError";
    this.url = url;
    this.questionId = questionId;
    this.candidate = candidate;
    this.steps = steps;
    this.rows = rows;
  }
}

/** The served models could not be listed, or the endpoints serve different models. Names the URLs; never holds the key. */
export class ServedModelError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ServedModelError";
  }
}
