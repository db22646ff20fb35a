/**
 * The patterns of `xds.authorization`: a literal, or `*` standing for any run of characters (including
 * none, and including "/" and "."), so `spiffe://prod.example/ns/web/*` covers that namespace and
 * `web-*` a family of node ids. Literals are one Set lookup; globs are matched without a RegExp (client
 * text meets them, so no backtracking blow-up: at worst name length × pattern length steps).
 */

export class NamePatterns {
  private readonly literals = new Set<string>();
  private readonly globs: string[] = [];
  readonly matchesAll: boolean;

  constructor(patterns: readonly string[]) {
    let all = false;
    for (const p of patterns) {
      if (p === "*") all = true;
      else if (p.includes("*")) this.globs.push(p);
      else this.literals.add(p);
    }
    this.matchesAll = all;
  }

  matches(name: string): boolean {
    if (this.matchesAll || this.literals.has(name)) return true;
    for (const g of this.globs) if (globMatch(g, name)) return true;
    return false;
  }
}

/** `*` matches any run of characters; everything else matches itself. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== "*" && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}
