import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration } from "../src/text.js";
import { barRows, ticks } from "../src/timeline.js";

test("bars come from the synced columns; an end of 0 is a running bar", () => {
  const bars = barRows({ tasks: ["a", "b"], names: ["A", "B"], agents: ["ag_1", ""], statuses: ["completed", "planning"],
    starts: [10, 20], ends: [15, 0], lanes: [0, 1], rows: [0, 0], released: [false, false] });
  assert.deepEqual(bars.map((b) => [b.task, b.name, b.lane, b.end]), [["a", "A", 0, 15], ["b", "B", 1, 0]]);
});

test("ticks are round times, no closer than the gap asked for", () => {
  assert.deepEqual(ticks(1_000, 61_000, 600), [10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  const many = ticks(0, 3_600_000, 900);
  assert.ok(many.length <= 10 && many.length >= 4, String(many.length));
  assert.ok(many.every((t) => t % 300_000 === 0));
});

test("durations read as a person reads them", () => {
  assert.deepEqual([840, 12_400, 185_000, 7_620_000].map(formatDuration), ["840 ms", "12.4 s", "3m 05s", "2h 07m"]);
});
