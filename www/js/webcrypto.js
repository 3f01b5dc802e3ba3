// The independent second opinion on the accept key: the browser's own SHA-1 (WebCrypto),
// sharing no code with switchyard-core.

/** The GUID every endpoint appends to the key (RFC 6455 §1.3). */
export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** base64(SHA-1(key + GUID)), computed by `crypto.subtle`. */
export async function webCryptoAccept(key) {
  if (!globalThis.crypto?.subtle) {
    throw new Error('WebCrypto is unavailable here: open the page over https or from 127.0.0.1/localhost');
  }
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}
