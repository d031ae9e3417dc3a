import { createHash, createPublicKey } from 'node:crypto'

/** SHA-256 of the bytes (of all the parts, in order), as hex. */
export function sha256Hex(...parts: Uint8Array[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest('hex')
}

/** SHA-256 of a public key's DER (SPKI), hex pairs with colons: what an auditor compares on the phone. */
export function keyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)?.join(':') ?? ''
}
