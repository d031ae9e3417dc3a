/**
 * The organisation's logo, drawn in the certificate header. It is kept next to the organisation
 * keys (`logo.png` or `logo.jpg`) and checked thoroughly when it is set: pdfkit decodes some PNGs
 * on a zlib callback, where a corrupt stream would throw out of reach of any caller, so a logo that
 * is stored has already been inflated and unfiltered here, and is known to embed.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { inflateSync } from 'node:zlib'
import { LetheError } from '../contract'
import { MAX_LOGO_BYTES } from '../contract/certificates'
import { writeFileDurably } from '../lib/files'

export type LogoMediaType = 'image/png' | 'image/jpeg'

export interface Logo {
  bytes: Buffer
  mediaType: LogoMediaType
}

const FILES: Record<LogoMediaType, string> = { 'image/png': 'logo.png', 'image/jpeg': 'logo.jpg' }
/** Far more than a header logo needs; a bound on what a small file may inflate to. */
const MAX_PIXELS = 4096 * 4096

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

const kilobytes = (bytes: number) => `${Math.ceil(bytes / 1000).toLocaleString('en')} KB`
const refuse = (message: string): never => {
  throw new LetheError('BAD_INPUT', message)
}

/** The stored logo, or null. */
export async function readLogo(folder: string): Promise<Logo | null> {
  for (const [mediaType, name] of Object.entries(FILES) as [LogoMediaType, string][]) {
    const file = path.join(folder, name)
    if (existsSync(file)) return { bytes: await readFile(file), mediaType }
  }
  return null
}

/** Checks, then stores the logo (replacing any other); null removes it. A refused logo changes nothing. */
export async function writeLogo(folder: string, logo: Logo | null): Promise<void> {
  if (logo) checkLogo(logo.bytes, logo.mediaType)
  await mkdir(folder, { recursive: true, mode: 0o700 })
  if (logo) await writeFileDurably(path.join(folder, FILES[logo.mediaType]), logo.bytes)
  for (const [mediaType, name] of Object.entries(FILES)) {
    if (mediaType !== logo?.mediaType) await rm(path.join(folder, name), { force: true })
  }
}

/** Refuses (BAD_INPUT, saying why) anything but a PNG or baseline/progressive JPEG within the limits. */
export function checkLogo(bytes: Buffer, mediaType: LogoMediaType): { width: number; height: number } {
  if (bytes.length === 0) refuse('The logo file is empty.')
  if (bytes.length > MAX_LOGO_BYTES)
    refuse(
      `The logo is ${kilobytes(bytes.length)}; it may be at most ${kilobytes(MAX_LOGO_BYTES)}. A header logo needs no more than about 600 pixels across.`,
    )
  const isPng = bytes.subarray(0, 8).equals(PNG_SIGNATURE)
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff
  if (!isPng && !isJpeg) refuse('The logo is not an image: give a PNG or JPEG file.')
  if (isPng !== (mediaType === 'image/png'))
    refuse(`The logo’s content is a ${isPng ? 'PNG' : 'JPEG'} image, not ${mediaType}.`)
  const size = isPng ? checkPng(bytes) : checkJpeg(bytes)
  if (size.width * size.height > MAX_PIXELS)
    refuse(`The logo is ${size.width}×${size.height} pixels; give one of at most 4096×4096.`)
  return size
}

function checkPng(bytes: Buffer): { width: number; height: number } {
  const corrupt = (why: string): never => refuse(`The PNG image is damaged (${why}).`)
  let at = 8
  let header: { width: number; height: number; depth: number; colour: number; interlace: number } | null =
    null
  let palette = false
  let ended = false
  const data: Buffer[] = []
  while (at < bytes.length && !ended) {
    if (at + 12 > bytes.length) corrupt('a chunk is cut short')
    const length = bytes.readUInt32BE(at)
    const type = bytes.toString('latin1', at + 4, at + 8)
    if (at + 12 + length > bytes.length) corrupt(`the ${type} chunk is cut short`)
    const body = bytes.subarray(at + 8, at + 8 + length)
    if (!header && type !== 'IHDR') corrupt('it does not start with IHDR')
    if (type === 'IHDR') {
      if (length !== 13) corrupt('IHDR has the wrong length')
      header = {
        width: body.readUInt32BE(0),
        height: body.readUInt32BE(4),
        depth: body[8] ?? 0,
        colour: body[9] ?? 0,
        interlace: body[12] ?? 0,
      }
      if (body[10] !== 0 || body[11] !== 0) corrupt('unknown compression or filter method')
    } else if (type === 'PLTE') palette = true
    else if (type === 'IDAT') data.push(body)
    else if (type === 'IEND') ended = true
    at += 12 + length
  }
  if (!header) return corrupt('no IHDR')
  if (!ended) corrupt('no IEND')
  if (data.length === 0) corrupt('no image data')
  const { width, height, depth, colour, interlace } = header
  const depths: Record<number, number[]> = {
    0: [1, 2, 4, 8, 16],
    2: [8, 16],
    3: [1, 2, 4, 8],
    4: [8, 16],
    6: [8, 16],
  }
  const channels: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }
  if (!depths[colour]?.includes(depth)) corrupt(`colour type ${colour} with bit depth ${depth}`)
  if (colour === 3 && !palette) corrupt('an indexed image without a palette')
  if (width === 0 || height === 0) corrupt('no pixels')
  if (interlace > 1) corrupt('unknown interlace method')
  if (width * height > MAX_PIXELS)
    refuse(`The logo is ${width}×${height} pixels; give one of at most 4096×4096.`)

  // The scanlines as the decoder will see them: each pass's rows, each row a filter byte and its bytes.
  const bitsPerPixel = depth * (channels[colour] ?? 1)
  const rowBytes = (w: number) => 1 + Math.ceil((w * bitsPerPixel) / 8)
  const passes: [number, number][] = []
  if (interlace === 0) passes.push([width, height])
  else {
    for (const [x0, y0, dx, dy] of [
      [0, 0, 8, 8],
      [4, 0, 8, 8],
      [0, 4, 4, 8],
      [2, 0, 4, 4],
      [0, 2, 2, 4],
      [1, 0, 2, 2],
      [0, 1, 1, 2],
    ] as const) {
      const w = Math.ceil((width - x0) / dx)
      const h = Math.ceil((height - y0) / dy)
      if (w > 0 && h > 0) passes.push([w, h])
    }
  }
  const expected = passes.reduce((sum, [w, h]) => sum + h * rowBytes(w), 0)
  let raw: Buffer
  try {
    raw = inflateSync(Buffer.concat(data), { maxOutputLength: expected + 1 })
  } catch {
    return corrupt('its compressed data does not inflate to the image’s size')
  }
  if (raw.length !== expected) corrupt('its data does not match its size')
  let row = 0
  for (const [w, h] of passes) {
    for (let y = 0; y < h; y++) {
      if ((raw[row] ?? 0) > 4) corrupt('an unknown row filter')
      row += rowBytes(w)
    }
  }
  return { width, height }
}

function checkJpeg(bytes: Buffer): { width: number; height: number } {
  let at = 2
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) break
    const marker = bytes[at + 1] ?? 0
    if (marker === 0xff) {
      at++ // fill byte
      continue
    }
    const length = bytes.readUInt16BE(at + 2)
    // SOF0–SOF2: baseline, extended and progressive Huffman JPEG, which PDF's DCTDecode reads.
    if (marker >= 0xc0 && marker <= 0xc2) {
      if (at + 10 > bytes.length) break
      const height = bytes.readUInt16BE(at + 5)
      const width = bytes.readUInt16BE(at + 7)
      const components = bytes[at + 9]
      if (width === 0 || height === 0) break
      if (components !== 1 && components !== 3)
        refuse('The JPEG is not greyscale or RGB (CMYK, perhaps): save it as an RGB JPEG or a PNG.')
      return { width, height }
    }
    if (
      (marker >= 0xc3 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) ||
      marker === 0xda
    )
      break // lossless or arithmetic coding, or scan data before any frame header
    at += 2 + length
  }
  return refuse(
    'The JPEG image is damaged or of a kind PDF cannot show: save it as a baseline JPEG or a PNG.',
  )
}
