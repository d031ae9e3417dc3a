/** A file's bytes as base64, for API methods that take uploads. */
export async function fileBase64(file: Blob): Promise<string> {
  return toBase64(new Uint8Array(await file.arrayBuffer()))
}

/** Base64 of some bytes, a chunk at a time (a whole-file spread overflows the call stack). */
function toBase64(bytes: Uint8Array): string {
  const CHUNK = 0x8000
  let binary = ''
  for (let at = 0; at < bytes.length; at += CHUNK) {
    binary += String.fromCharCode.apply(null, Array.from(bytes.subarray(at, at + CHUNK)))
  }
  return btoa(binary)
}
