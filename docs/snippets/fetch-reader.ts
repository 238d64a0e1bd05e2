// The seed's browser consumer, unchanged: troupe's default wire format is fal's.
export async function readStream(): Promise<void> {
  // docs:start
  const response = await fetch("http://127.0.0.1:8000/stream", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt: "A sunset", steps: 20 }),
  });

  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();

  while (true) {
    const { done, value } = await reader.read();
    if (done) break;

    const text = decoder.decode(value);
    const events = text.split("\n\n");

    for (const event of events) {
      if (event.startsWith("data: ")) {
        const data = JSON.parse(event.slice(6));
        console.log(`Step ${data.step}: ${data.progress * 100}%`);
      }
    }
  }
  // docs:end
}
