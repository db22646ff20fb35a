/**
 * Test helper: the response pump of src/xds/stream-writer.ts around a producer callback, so its
 * backpressure can be driven without an xDS stream.
 */
import { ResponsePump, type WritableCall } from "../../src/xds/stream-writer.js";

export class StreamWriter extends ResponsePump {
  constructor(
    call: WritableCall,
    private readonly producer: () => Buffer | undefined,
    private readonly onError: (err: unknown) => void,
  ) {
    super(call);
  }

  kick(): void {
    this.schedulePump();
  }

  close(): void {
    this.closePump();
  }

  protected produce(): Buffer | undefined {
    return this.producer();
  }

  protected onPumpError(err: unknown): void {
    this.onError(err);
  }
}
