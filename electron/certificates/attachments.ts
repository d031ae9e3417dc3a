/**
 * Reads the files embedded in a certificate PDF (as pdfkit writes them: one Filespec per
 * file, pointing at an EmbeddedFile stream with a direct /Length), so the verifier can check
 * the manifest without trusting anything else in the document.
 */
import { createHash } from 'node:crypto'
import { inflateSync } from 'node:zlib'
import { LetheError } from '../contract'

export function extractAttachments(pdf: Buffer): Map<string, Buffer> {
  const text = pdf.toString('latin1')
  const files = new Map<string, Buffer>()
  for (const spec of text.matchAll(
    /\/Type \/Filespec[\s\S]*?\/F \(([^)]*)\)[\s\S]*?\/EF <<\s*\/F (\d+) 0 R/g,
  )) {
    const [, name, ref] = spec as unknown as [string, string, string]
    files.set(name, embeddedFile(pdf, text, Number(ref), name))
  }
  return files
}

function embeddedFile(pdf: Buffer, text: string, ref: number, name: string): Buffer {
  const header = new RegExp(`(^|\\n)${ref} 0 obj\\s*<<`).exec(text)
  if (!header)
    throw new LetheError('BAD_INPUT', `The attachment ${name} points at object ${ref}, which is missing.`)
  // The stream keyword after the dictionary (not the "stream" in a media type such as octet-stream).
  const keyword = />>\s*stream(\r\n|\n)/g
  keyword.lastIndex = header.index
  const found = keyword.exec(text)
  if (!found) throw new LetheError('BAD_INPUT', `The attachment ${name} has no data stream.`)
  const dict = text.slice(header.index, found.index)
  const length = /\/Length (\d+)/.exec(dict)?.[1]
  if (!length) throw new LetheError('BAD_INPUT', `The attachment ${name} has no direct length.`)
  const start = found.index + found[0].length
  const raw = pdf.subarray(start, start + Number(length))
  let content: Buffer
  try {
    content = dict.includes('/FlateDecode') ? inflateSync(raw) : Buffer.from(raw)
  } catch {
    throw new LetheError(
      'BAD_INPUT',
      `The attachment ${name} is damaged: its compressed data does not inflate.`,
    )
  }
  const checksum = /\/CheckSum \(([0-9a-f]{32})\)/.exec(dict)?.[1]
  if (checksum && createHash('md5').update(content).digest('hex') !== checksum) {
    throw new LetheError('BAD_INPUT', `The attachment ${name} does not match its recorded checksum.`)
  }
  return content
}
