/** Server-Sent Events read from a response body (the WHATWG event stream format: fields, blank-line dispatch, comments). */

export interface ServerEvent {
  event: string;
  data: string;
  id?: string;
  /** The reconnection delay the server asked for (ms). */
  retry?: number;
}

export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event: { event?: string; data: string[]; id?: string; retry?: number } = { data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (event.data.length > 0 || event.retry !== undefined) {
            yield { event: event.event ?? "message", data: event.data.join("\n"), ...(event.id !== undefined && { id: event.id }), ...(event.retry !== undefined && { retry: event.retry }) };
          }
          event = { data: [] };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.event = value;
        else if (field === "data") event.data.push(value);
        else if (field === "id") event.id = value;
        else if (field === "retry" && /^\d+$/.test(value)) event.retry = Number(value);
      }
    }
  } finally {
    reader.releaseLock();
  }
}
