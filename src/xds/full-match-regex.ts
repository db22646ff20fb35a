/**
 * Regular expressions that clients and operators send (CSDS `safe_regex` node matchers, the config
 * dump's `?name_regex=`), compiled for a full match like Envoy's RE2 `FullMatch`. JavaScript's engine
 * backtracks, so a pattern such as `(a+)+$` against a long node id can stall the event loop for
 * minutes: patterns RE2 would not accept either (backreferences, lookaround) and patterns whose
 * running time can explode (a quantified group that itself contains a quantifier, e.g. `(a+)+`,
 * `(a|a?)*`) are refused, as are patterns longer than 256 characters.
 */

export const MAX_PATTERN_LENGTH = 256;

export class RegexError extends Error {
  readonly code = "ERR_XDS_BAD_REGEX";
  constructor(message: string) {
    super(message);
    this.name = "RegexError";
  }
}

/** Compiles `pattern` to a RegExp that matches whole strings only; throws RegexError naming the problem. */
export function fullMatchRegex(pattern: string): RegExp {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new RegexError(`regex is ${pattern.length} characters long, more than ${MAX_PATTERN_LENGTH}`);
  }
  const problem = unsafeConstruct(pattern);
  if (problem) throw new RegexError(`regex ${JSON.stringify(pattern)}: ${problem}`);
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (e) {
    throw new RegexError(`regex ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

/**
 * A scan of the pattern's groups: for each group, whether it contains a quantifier or an alternation;
 * a quantifier right after such a group is nested repetition. Character classes and escapes are
 * skipped, so `[+*]` and `\+` are plain characters.
 */
function unsafeConstruct(p: string): string | undefined {
  const stack: Array<{ inner: boolean }> = [];
  let lastGroupRisky = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\") {
      const n = p[i + 1] ?? "";
      if (/[1-9k]/.test(n)) return "backreferences are not supported";
      i++;
      lastGroupRisky = false;
      continue;
    }
    if (c === "[") {
      // Skip the class, honouring escapes and a leading ']'.
      let j = i + 1;
      if (p[j] === "^") j++;
      if (p[j] === "]") j++;
      while (j < p.length && p[j] !== "]") j += p[j] === "\\" ? 2 : 1;
      i = j;
      lastGroupRisky = false;
      continue;
    }
    if (c === "(") {
      if (
        p.startsWith("(?=", i) ||
        p.startsWith("(?!", i) ||
        p.startsWith("(?<=", i) ||
        p.startsWith("(?<!", i)
      ) {
        return "lookaround is not supported";
      }
      stack.push({ inner: false });
      lastGroupRisky = false;
      continue;
    }
    if (c === ")") {
      const g = stack.pop();
      if (!g) return "unbalanced parenthesis";
      lastGroupRisky = g.inner;
      // A group containing repetition makes its enclosing group repetitive too.
      if (g.inner && stack.length > 0) (stack[stack.length - 1] as { inner: boolean }).inner = true;
      continue;
    }
    const quantifier =
      c === "*" || c === "+" || c === "?" || (c === "{" && /^\{\d+(,\d*)?\}/.test(p.slice(i)));
    if (quantifier) {
      const lazyOrPossessive = c === "?" && i > 0 && /[*+?}]/.test(p[i - 1] ?? "");
      if (!lazyOrPossessive) {
        if (lastGroupRisky && c !== "?")
          return "nested repetition (a repeated group that repeats inside) can take exponential time";
        if (stack.length > 0) (stack[stack.length - 1] as { inner: boolean }).inner = true;
      }
      if (c === "{") i = p.indexOf("}", i);
      lastGroupRisky = false;
      continue;
    }
    if (c === "|" && stack.length > 0) (stack[stack.length - 1] as { inner: boolean }).inner = true;
    lastGroupRisky = false;
  }
  if (stack.length > 0) return "unbalanced parenthesis";
  return undefined;
}
