/**
 * Responses framed once, written to every stream as they are. grpc-js frames each message it sends by
 * allocating a new buffer of 5 + length bytes and copying the message into it (its server call's
 * `serializeMessage`), so a fan-out of one 24 KB response to 1,000 streams copied 24 MB and left as much
 * garbage. Here the response encoder builds each response once inside a buffer that already holds the
 * gRPC frame header (`allocFramed`), and each stream's call hands that whole frame to HTTP/2 instead of
 * copying (`useFramedWrites`). A response shared by many streams is thus written without any copy of its
 * resource bytes, whatever its nonce.
 *
 * `useFramedWrites` replaces `serializeMessage` on the one call object it is given, and only when that
 * object looks as expected (grpc-js ≥ 1.10: a `serializeMessage(value)` method on the base server call
 * at the end of the interceptor chain); otherwise it changes nothing and grpc-js copies as before.
 * Buffers that were not made by `allocFramed` always take grpc-js's own path.
 */

const HEADER = 5;
/** message view → the frame it sits in (header + message), for the patched serializer. */
const frames = new WeakMap<Uint8Array, Buffer>();

/**
 * A buffer for a message of `length` bytes with its gRPC frame header already written (uncompressed
 * flag 0, big-endian length). Fill `message` and write it; the frame goes out without a copy.
 */
export function allocFramed(length: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER + length);
  frame[0] = 0;
  frame.writeUInt32BE(length, 1);
  const message = frame.subarray(HEADER);
  frames.set(message, frame);
  return message;
}

/** True when `message` was made by allocFramed (its frame will be written as is). */
export function isFramed(message: Uint8Array): boolean {
  return frames.has(message);
}

interface SerializingCall {
  serializeMessage(value: unknown): Buffer;
  nextCall?: unknown;
}

const patched = Symbol("dns-eds framed writes");

/**
 * Makes one server stream write pre-framed responses without grpc-js's copy. Returns false (and changes
 * nothing) when the call is not shaped as expected.
 */
export function useFramedWrites(stream: unknown): boolean {
  // ServerDuplexStreamImpl.call → interceptors' nextCall … → BaseServerInterceptingCall.
  let call = (stream as { call?: unknown }).call;
  for (let i = 0; i < 16 && call !== undefined && call !== null; i++) {
    const c = call as SerializingCall & { [patched]?: true };
    if (typeof c.serializeMessage === "function" && c.serializeMessage.length === 1) {
      if (c[patched]) return true;
      const own = c.serializeMessage.bind(c);
      c.serializeMessage = (value: unknown) => {
        const frame = value instanceof Uint8Array ? frames.get(value) : undefined;
        return frame ?? own(value);
      };
      c[patched] = true;
      return true;
    }
    call = c.nextCall;
  }
  return false;
}
