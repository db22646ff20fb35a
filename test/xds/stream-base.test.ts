import { describe, expect, it } from "vitest";
import { addPending, deletePending, newTypeStateBase, pendingNames } from "../../src/xds/stream-base.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";

describe("pending names of a type state", () => {
  it("hold one name in the state and several in order, and are none once the last is taken", () => {
    const st = newTypeStateBase(TYPE_URLS.endpoint);
    expect([...pendingNames(st)]).toEqual([]);
    addPending(st, "a");
    addPending(st, "a");
    expect(st.pending).toBe("a");
    expect([...pendingNames(st)]).toEqual(["a"]);
    addPending(st, "b");
    addPending(st, "c");
    addPending(st, "a");
    expect([...pendingNames(st)]).toEqual(["a", "b", "c"]);
    deletePending(st, "a");
    deletePending(st, "x");
    expect([...pendingNames(st)]).toEqual(["b", "c"]);
    deletePending(st, "c");
    deletePending(st, "b");
    // Empty is always undefined: what isDirty and the in-step check read.
    expect(st.pending).toBeUndefined();
    addPending(st, "d");
    deletePending(st, "e");
    expect(st.pending).toBe("d");
    deletePending(st, "d");
    expect(st.pending).toBeUndefined();
  });
});
