/**
 * The PDF signature of a certificate of removal: an adbe.pkcs7.detached signature over the
 * whole file but its own /Contents, as Acrobat and poppler's `pdfsig` check it.
 */
import { createHash, verify, X509Certificate } from 'node:crypto'
import { pdfkitAddPlaceholder } from '@signpdf/placeholder-pdfkit'
import { SignPdf, Signer } from '@signpdf/signpdf'
import forge from 'node-forge'
import { commonName, type SigningIdentity } from './signing-identity'

export interface SignatureInfo {
  reason: string
  contactInfo: string
  name: string
  location: string
}

export interface SignatureInspection {
  /** Exactly one filled-in signature (a /ByteRange of numbers) is in the file. */
  present: boolean
  /** The byte range starts at 0, ends at the end of the file and leaves out only the <hex> signature. */
  coversWholeFile: boolean
  /** The signed messageDigest equals the digest of the byte range, and the signature over the signed
   * attributes verifies with the key of a certificate the signature carries. */
  digestMatches: boolean
  /** That certificate's CN: a name anyone can put in a certificate of their own. */
  signer: string | null
  /** SHA-256 of that certificate's DER (AB:CD:…, as `openssl x509 -fingerprint -sha256` prints it):
   * what identifies the signer. */
  signerFingerprint: string | null
  /** The signingTime signed attribute, ISO 8601. */
  signedAt: string | null
  /** /Reason of the signature dictionary. */
  reason: string | null
}

/** Adds the signature placeholder to a pdfkit document that is still open (call before doc.end()). */
export function addSignaturePlaceholder(doc: PDFKit.PDFDocument, info: SignatureInfo): void {
  // pdfkitAddPlaceholder ends the references it makes itself; ending them again here would leave
  // the document never finishing. Its pdfBuffer parameter is declared but unused.
  pdfkitAddPlaceholder({ pdf: doc, pdfBuffer: Buffer.alloc(0), appName: 'Lethe', ...info })
}

/** Signs a finished PDF (with its placeholder) with the identity: PKCS#7 detached over the byte range. */
export async function signPdf(pdf: Buffer, identity: SigningIdentity): Promise<Buffer> {
  return new SignPdf().sign(pdf, new IdentitySigner(identity))
}

/**
 * A PKCS#7 detached signature (DER) of `bytes` by the identity: @signpdf/signer-p12's
 * P12Signer, minus one forge bug: forge reads a UTF8String name as raw UTF-8 bytes and
 * UTF-8-encodes it again when it writes the signer's issuerAndSerialNumber, so an issuer like
 * "Čapek s.r.o." no longer matches the certificate and pdfsig reports "Unknown Validation
 * Failure" with no signer. Decoding the issuer first makes the two match.
 */
export function signDetached(bytes: Buffer, identity: SigningIdentity, signingTime = new Date()): Buffer {
  const cert = forge.pki.certificateFromPem(identity.certificatePem)
  for (const attribute of cert.issuer.attributes) {
    if ((attribute.valueTagClass as number) === forge.asn1.Type.UTF8 && typeof attribute.value === 'string') {
      attribute.value = forge.util.decodeUtf8(attribute.value)
    }
  }
  const p7 = forge.pkcs7.createSignedData()
  p7.content = forge.util.createBuffer(bytes.toString('binary'))
  p7.addCertificate(cert) // written from the certificate's original DER, not from the fields above
  p7.addSigner({
    key: forge.pki.privateKeyFromPem(identity.privateKeyPem),
    certificate: cert,
    digestAlgorithm: forge.pki.oids.sha256 ?? '',
    // In this order for EU (DSS) validation, as P12Signer does; messageDigest is filled in by sign().
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType ?? '', value: forge.pki.oids.data },
      { type: forge.pki.oids.signingTime ?? '', value: signingTime as unknown as string },
      { type: forge.pki.oids.messageDigest ?? '' },
    ],
  })
  p7.sign({ detached: true })
  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'binary')
}

class IdentitySigner extends Signer {
  constructor(private readonly identity: SigningIdentity) {
    super()
  }

  override async sign(pdf: Buffer, signingTime?: Date): Promise<Buffer> {
    return signDetached(pdf, this.identity, signingTime)
  }
}

const NO_SIGNATURE: SignatureInspection = {
  present: false,
  coversWholeFile: false,
  digestMatches: false,
  signer: null,
  signerFingerprint: null,
  signedAt: null,
  reason: null,
}

const DIGESTS: Record<string, string> = {
  [forge.pki.oids.sha1 ?? '']: 'sha1',
  [forge.pki.oids.sha256 ?? '']: 'sha256',
  [forge.pki.oids.sha384 ?? '']: 'sha384',
  [forge.pki.oids.sha512 ?? '']: 'sha512',
}

/** What `pdfsig` would check, done in Node: is there exactly one signature, does its digest match the
 * signed byte ranges, does the byte range cover the whole file but the signature, and which
 * certificate's key made it. */
export function inspectPdfSignature(pdf: Buffer): SignatureInspection {
  const text = pdf.toString('latin1') // one char per byte: string offsets are file offsets
  const ranges = [...text.matchAll(/\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/g)]
  const match = ranges[0]
  if (ranges.length !== 1 || !match) return NO_SIGNATURE
  const [a, b, c, d] = match.slice(1, 5).map(Number) as [number, number, number, number]
  const contents = text.slice(b + 1, c - 1)
  const result: SignatureInspection = {
    ...NO_SIGNATURE,
    present: true,
    coversWholeFile:
      a === 0 &&
      b < c &&
      c + d === pdf.length &&
      text[b] === '<' &&
      text[c - 1] === '>' &&
      /^[0-9a-fA-F]*$/.test(contents),
    reason: dictionaryString(text, match.index, 'Reason'),
  }
  try {
    const der = Buffer.from(contents, 'hex')
    const asn1 = forge.asn1.fromDer(der.subarray(0, derLength(der)).toString('binary'))
    const p7 = forge.pkcs7.messageFromAsn1(asn1) as forge.pkcs7.Captured<forge.pkcs7.PkcsSignedData>
    // forge captures the first SignerInfo's fields (raw bytes) while it parses.
    const capture = p7.rawCapture as {
      serial: string
      digestAlgorithm: string
      signature: string
      authenticatedAttributes?: forge.asn1.Asn1[]
    }
    const attributes = capture.authenticatedAttributes
    const time = attributeValue(attributes, forge.pki.oids.signingTime)
    if (time) {
      const date =
        time.type === forge.asn1.Type.UTCTIME
          ? forge.asn1.utcTimeToDate(time.value as string)
          : forge.asn1.generalizedTimeToDate(time.value as string)
      result.signedAt = date.toISOString()
    }
    // Certificates the signature carries with the serial number its signer names; any of them may
    // be a look-alike (same name, same serial), so the signer is the one whose key verifies.
    const serial = hexNumber(forge.util.bytesToHex(capture.serial))
    const candidates = embeddedCertificates(asn1).filter((cert) => hexNumber(cert.serialNumber) === serial)
    const algorithm = DIGESTS[forge.asn1.derToOid(capture.digestAlgorithm)]
    const signed = attributeValue(attributes, forge.pki.oids.messageDigest)?.value
    const first = candidates[0]
    if (first) Object.assign(result, identify(first))
    if (!algorithm || typeof signed !== 'string' || !attributes || !first) return result
    const actual = createHash(algorithm)
      .update(pdf.subarray(a, a + b))
      .update(pdf.subarray(c, c + d))
      .digest()
    if (!actual.equals(Buffer.from(signed, 'binary'))) return result
    // The signature is over the signed attributes DER-encoded as a SET, not as their [0] tag.
    const set = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SET, true, attributes)
    const signedBytes = Buffer.from(forge.asn1.toDer(set).getBytes(), 'binary')
    const signature = Buffer.from(capture.signature, 'binary')
    const signer = candidates.find((cert) => verify(algorithm, signedBytes, cert.publicKey, signature))
    if (signer) Object.assign(result, identify(signer), { digestMatches: true })
  } catch {
    // Not a PKCS#7 SignedData forge can read: present, but nothing verified.
  }
  return result
}

/** The certificates field of a PKCS#7 SignedData, each from its own DER (forge re-encodes what it
 * read byte for byte, bit strings included, so the hash of that DER identifies the certificate). */
function embeddedCertificates(contentInfo: forge.asn1.Asn1): X509Certificate[] {
  const signedData = ((contentInfo.value as forge.asn1.Asn1[])[1]?.value as forge.asn1.Asn1[])[0]
  const field = (signedData?.value as forge.asn1.Asn1[]).find(
    (child) => child.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && child.type === 0,
  )
  return ((field?.value ?? []) as forge.asn1.Asn1[]).map(
    (cert) => new X509Certificate(Buffer.from(forge.asn1.toDer(cert).getBytes(), 'binary')),
  )
}

function identify(cert: X509Certificate) {
  const parsed = forge.pki.certificateFromAsn1(forge.asn1.fromDer(cert.raw.toString('binary')))
  return { signer: commonName(parsed) ?? null, signerFingerprint: cert.fingerprint256 }
}

/** A serial number as hex digits without leading zeros, in one case: forge and Node write it differently. */
const hexNumber = (hex: string) => hex.replace(/^0+/, '').toUpperCase()

/** Total length of the DER element at the start of `der`; the /Contents hex is zero-padded after it. */
function derLength(der: Buffer): number {
  const first = der[1] ?? 0
  if (first < 0x80) return 2 + first
  const size = first & 0x7f
  return 2 + size + der.subarray(2, 2 + size).reduce((sum, byte) => sum * 256 + byte, 0)
}

function attributeValue(attributes: forge.asn1.Asn1[] | undefined, oid: string | undefined) {
  for (const attribute of attributes ?? []) {
    const [type, values] = attribute.value as forge.asn1.Asn1[]
    if (type && values && forge.asn1.derToOid(type.value as string) === oid) {
      return (values.value as forge.asn1.Asn1[])[0]
    }
  }
  return undefined
}

/** A string entry (/Key (literal) or /Key <hex>) of the dictionary object around `at`. */
function dictionaryString(text: string, at: number, key: string): string | null {
  const start = text.lastIndexOf(' obj', at)
  const end = text.indexOf('endobj', at)
  const found = new RegExp(`/${key}\\s*([(<])`).exec(text.slice(start, end < 0 ? undefined : end))
  if (start < 0 || !found) return null
  let i = start + found.index + found[0].length
  const bytes: number[] = []
  if (found[1] === '<') {
    const hex = text.slice(i, text.indexOf('>', i)).replace(/\s/g, '')
    bytes.push(...Buffer.from(hex, 'hex'))
  } else {
    const escapes: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, f: 12 }
    for (let depth = 1; i < text.length; i++) {
      const ch = text[i] as string
      if (ch === '\\') {
        const next = text[++i] ?? ''
        const octal = /^[0-7]{1,3}/.exec(text.slice(i, i + 3))?.[0]
        if (octal) {
          bytes.push(parseInt(octal, 8) & 0xff)
          i += octal.length - 1
        } else if (next === '\r' || next === '\n') {
          if (next === '\r' && text[i + 1] === '\n') i++ // line continuation
        } else bytes.push(escapes[next] ?? next.charCodeAt(0))
        continue
      }
      if (ch === '(') depth++
      if (ch === ')' && --depth === 0) break
      bytes.push(ch.charCodeAt(0))
    }
  }
  const raw = Buffer.from(bytes)
  if (raw[0] === 0xfe && raw[1] === 0xff) {
    return Buffer.from(raw.subarray(2, raw.length - (raw.length % 2)))
      .swap16()
      .toString('utf16le')
  }
  return raw.toString('latin1') // PDFDocEncoding, close enough for a reason line
}
