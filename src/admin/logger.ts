/**
 * Process logging: pino JSON lines (one object per event, for log pipelines), human-readable through
 * pino-pretty when stdout is a terminal, and one child logger per component so every line says which
 * stage wrote it.
 */
import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerSetup {
  level?: LogLevel;
  /** Pretty-print (default: when stdout is a TTY). */
  pretty?: boolean;
  /** Where JSON lines go (default stdout); tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(setup: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    level: setup.level ?? "info",
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials never reach a log line, whatever object a component logs.
    redact: { paths: ["password", "*.password", "auth.password", "*.auth.password"], censor: "[redacted]" },
  };
  const pretty = setup.pretty ?? (setup.destination === undefined && process.stdout.isTTY === true);
  if (pretty) {
    return pino({
      ...options,
      transport: {
        target: "pino-pretty",
        options: { colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid" },
      },
    });
  }
  return setup.destination ? pino(options, setup.destination) : pino(options);
}

/** The logger of one component: every line carries `component`. */
export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
