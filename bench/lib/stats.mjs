// Percentiles for benchmark series (nearest rank on a sorted copy).
export function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
export const median = (xs) => pct(xs, 50);
export const ratio = (a, b) => +(a / b).toFixed(2);
