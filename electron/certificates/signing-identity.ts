/**
 * The RSA identity that signs certificate PDFs: a self-signed X.509 certificate made on first
 * use, or an organisation's own PKCS#12 imported from its PKI. RSA only, because @signpdf's
 * P12Signer signs with node-forge, which knows no other key type.
 */
import { X509Certificate, randomBytes } from 'node:crypto'
import forge from 'node-forge'
import { LetheError } from '../contract'

export interface SigningIdentity {
  certificatePem: string
  privateKeyPem: string
}

const VALIDITY_YEARS = 10

/** RSA-2048, self-signed; subject and issuer CN = O = the organisation; valid 10 years from `now`. */
export function createSigningIdentity(organisation: string, now: Date = new Date()): SigningIdentity {
  const name = organisation.trim()
  if (!name) throw new LetheError('BAD_INPUT', 'The organisation name for the signing certificate is empty.')
  // forge hands this to Node's native generator when it can: well under a second.
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 })
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  const serial = randomBytes(16)
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40 // positive and exactly 16 bytes long
  cert.serialNumber = serial.toString('hex')
  cert.validity.notBefore = new Date(now.getTime())
  const notAfter = new Date(now.getTime())
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS)
  cert.validity.notAfter = notAfter
  // By default forge writes a JS string byte by byte as a PrintableString; as a UTF8String
  // (forge encodes it) names like "Čapek" survive. @types/node-forge mistypes the tag as a Class.
  const utf8 = { value: name, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class }
  const subject = [
    { name: 'commonName', ...utf8 },
    { name: 'organizationName', ...utf8 },
  ]
  cert.setSubject(subject)
  cert.setIssuer(subject)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true, nonRepudiation: true },
    { name: 'extKeyUsage', emailProtection: true },
    { name: 'subjectKeyIdentifier' },
  ])
  cert.sign(keys.privateKey, forge.md.sha256.create())
  return {
    certificatePem: forge.pki.certificateToPem(cert),
    privateKeyPem: forge.pki.privateKeyToPem(keys.privateKey),
  }
}

/** DER PKCS#12 (AES-256 key and certificate bags, SHA-1 HMAC), friendlyName = the certificate's CN. */
export function toPkcs12(identity: SigningIdentity, passphrase: string): Buffer {
  const cert = forge.pki.certificateFromPem(identity.certificatePem)
  const key = forge.pki.privateKeyFromPem(identity.privateKeyPem)
  const friendlyName = commonName(cert) ?? 'Lethe'
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, [cert], passphrase, {
    algorithm: 'aes256',
    friendlyName,
    generateLocalKeyId: true,
  })
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary')
}

/** Reads an organisation's own PKCS#12: its RSA key and the certificate that matches it. */
export function fromPkcs12(p12: Buffer, passphrase: string): SigningIdentity {
  let parsed: forge.pkcs12.Pkcs12Pfx
  try {
    parsed = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(p12.toString('binary')), false, passphrase)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new LetheError(
      'BAD_INPUT',
      /password|mac|decrypt/i.test(reason)
        ? 'The PKCS#12 file could not be opened: wrong passphrase.'
        : `The file is not a PKCS#12 (.p12/.pfx) bundle forge can read: ${reason}`,
    )
  }
  const bags = (type: string) => parsed.getBags({ bagType: type })[type] ?? []
  const keys = [...bags(forge.pki.oids.pkcs8ShroudedKeyBag ?? ''), ...bags(forge.pki.oids.keyBag ?? '')]
  const certs = bags(forge.pki.oids.certBag ?? '')
  if (keys.length === 0) throw new LetheError('BAD_INPUT', 'The PKCS#12 file holds no private key.')
  // forge leaves `key` (and `cert`) null for anything that is not RSA.
  const key = keys.find((bag) => bag.key)?.key as forge.pki.rsa.PrivateKey | undefined
  if (!key) {
    throw new LetheError(
      'BAD_INPUT',
      'The PKCS#12 private key is not an RSA key; PDF signing needs an RSA key (2048 bits or more).',
    )
  }
  if (key.n.bitLength() < 2048) {
    throw new LetheError(
      'BAD_INPUT',
      `The PKCS#12 RSA key has ${key.n.bitLength()} bits; 2048 or more are needed.`,
    )
  }
  const cert = certs
    .map((bag) => bag.cert)
    .find((c) => {
      const pub = c?.publicKey as forge.pki.rsa.PublicKey | undefined
      return pub?.n !== undefined && pub.n.equals(key.n) && pub.e.equals(key.e)
    })
  if (!cert) {
    throw new LetheError(
      'BAD_INPUT',
      'The PKCS#12 file holds no RSA certificate that matches its private key.',
    )
  }
  return { certificatePem: forge.pki.certificateToPem(cert), privateKeyPem: forge.pki.privateKeyToPem(key) }
}

/** SHA-256 of the DER certificate as `openssl x509 -fingerprint -sha256` prints it: AB:CD:… */
export function fingerprint(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256
}

/** The subject CN, decoded. */
export function commonName(cert: forge.pki.Certificate): string | undefined {
  const value = cert.subject.getField('CN')?.value as unknown
  if (typeof value !== 'string') return undefined
  try {
    return forge.util.decodeUtf8(value) // forge hands back UTF8String values as raw bytes
  } catch {
    return value
  }
}
