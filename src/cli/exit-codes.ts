/**
 * Process exit codes of the CLI, stable so scripts and orchestrators can tell a bad config (fix the
 * file) from a run-time failure (retry, page someone).
 */
export const EXIT_OK = 0;
/** Something failed while running (a port in use, a missing component). */
export const EXIT_FAILURE = 1;
/** The config is invalid; nothing was bound or served. */
export const EXIT_BAD_CONFIG = 2;
