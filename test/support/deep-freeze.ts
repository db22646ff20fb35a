/** Test helper: freezes a message and everything under it, as the assignment builder does with what it makes. */
export function deepFreeze<T>(m: T): T {
  if (m === null || typeof m !== "object" || ArrayBuffer.isView(m)) return m;
  for (const v of Object.values(m)) deepFreeze(v);
  return Object.freeze(m);
}
