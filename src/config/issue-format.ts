/**
 * Turns zod issues into ConfigProblems worded as `expected X, got Y`. zod's own messages name the
 * expected type but not the value found; operators need both.
 */
import type { z } from "zod";
import { type ConfigProblem, formatPath } from "./config-error.js";

/** A value as it would be written in YAML, shortened so one line stays readable. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === "object") return "a mapping";
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function issuesToProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...issue.path];
    const got = describeValue(issue.input);
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys)
          problems.push({ path: formatPath([...path, key]), message: "unknown key" });
        break;
      case "invalid_type":
        problems.push({
          path: formatPath(path),
          message: `${wordExpected(issue.message, issue.expected)}, got ${got}`,
        });
        break;
      case "invalid_value":
        problems.push({
          path: formatPath(path),
          message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}, got ${got}`,
        });
        break;
      case "custom":
        // Custom checks word their own message, often with the value quoted inside it.
        problems.push({ path: formatPath(path), message: issue.message });
        break;
      case "too_small":
      case "too_big":
        problems.push({
          path: formatPath(path),
          message: Array.isArray(issue.input) ? issue.message : `${issue.message}, got ${got}`,
        });
        break;
      default:
        problems.push({ path: formatPath(path), message: `${issue.message}, got ${got}` });
    }
  }
  return problems;
}

/** Keeps our own "expected ..." wording; replaces zod's default "Invalid input: expected x, received y". */
function wordExpected(message: string, expected: string): string {
  return message.startsWith("expected") ? message : `expected ${expected}`;
}
