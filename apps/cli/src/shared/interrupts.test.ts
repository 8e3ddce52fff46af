import { describe, expect, it } from "vitest";
import { InterruptReason, interruptExitCode, resumeCommand, shellWord } from "./interrupts.js";

describe("the resume command an interrupted command prints", () => {
  it("repeats the words typed, quoting those the shell would split", () => {
    expect(resumeCommand(["data", "download"], ["hf://datasets/a/b/c d.json"])).toBe(
      "pqm data download 'hf://datasets/a/b/c d.json'",
    );
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
    expect(shellWord("runs/x=1,2")).toBe("runs/x=1,2");
  });

  it("leaves out the dropped options (with their value, in both forms) and adds the ensured ones", () => {
    const edits = {
      dropWithValue: ["--resume"],
      drop: ["--overwrite"],
      ensure: [["--out", "runs/a"]] as const,
    };
    expect(
      resumeCommand(
        ["train"],
        ["--overwrite", "--resume", "runs/a/checkpoint-000002", "--steps", "9"],
        edits,
      ),
    ).toBe("pqm train --steps 9 --out runs/a");
    expect(resumeCommand(["train"], ["--resume=runs/a/checkpoint-000002", "--out=runs/b"], edits)).toBe(
      "pqm train --out=runs/b",
    );
  });
});

describe("signals", () => {
  it("exit with 130 after SIGINT and 143 after SIGTERM, and abort with a reason naming the signal", () => {
    expect(interruptExitCode("SIGINT")).toBe(130);
    expect(interruptExitCode("SIGTERM")).toBe(143);
    expect(new InterruptReason("SIGTERM")).toMatchObject({
      message: "interrupted by SIGTERM",
      signal: "SIGTERM",
    });
  });
});
