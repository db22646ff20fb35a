/**
 * Errors of the xDS stage. Every error carries a stable `code` so callers (CLI, admin, tests) can branch
 * on it without parsing messages.
 */

export type XdsErrorCode =
  | "ERR_XDS_INVALID_RESOURCE"
  | "ERR_XDS_INCONSISTENT"
  | "ERR_XDS_UNKNOWN_TYPE"
  | "ERR_XDS_SERVER_STATE"
  /** A client went over a limit (see limits.ts); its stream ends with a status naming the limit. */
  | "ERR_XDS_LIMIT"
  /** A request's bytes are not a valid message; the stream ends with INVALID_ARGUMENT. */
  | "ERR_XDS_BAD_REQUEST"
  /** A client is not allowed what it asked for; the stream ends with PERMISSION_DENIED. */
  | "ERR_XDS_DENIED"
  /** The xDS TLS files cannot serve (unreadable, not PEM, key not the certificate's). */
  | "ERR_XDS_TLS";

export class XdsError extends Error {
  readonly code: XdsErrorCode;
  /** Resource the error is about, when there is one. */
  readonly typeUrl: string | undefined;
  readonly resourceName: string | undefined;
  /** Dotted path of the offending field inside the resource, e.g. `endpoints[0].load_balancing_weight`. */
  readonly field: string | undefined;

  constructor(
    code: XdsErrorCode,
    message: string,
    where: { typeUrl?: string; name?: string; field?: string } = {},
  ) {
    const prefix = where.name !== undefined ? `${where.name}${where.field ? `: ${where.field}` : ""}: ` : "";
    super(`${prefix}${message}`);
    this.name = "XdsError";
    this.code = code;
    this.typeUrl = where.typeUrl;
    this.resourceName = where.name;
    this.field = where.field;
  }
}

/** Shorthand for the error a resource type's validator throws: names the resource and the field. */
export function invalidResource(typeUrl: string, name: string, field: string, reason: string): XdsError {
  return new XdsError("ERR_XDS_INVALID_RESOURCE", reason, { typeUrl, name, field });
}
