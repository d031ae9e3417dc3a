/**
 * The certificate of removal as a PDF a person wants to read: what was removed, from which model,
 * how, what was measured, what is not covered, and how anyone can check it. The signed manifest,
 * its Ed25519 signature and the organisation's public key and certificate travel inside the file
 * as attachments, and the whole file is signed last (adbe.pkcs7.detached), so the PDF signature
 * covers them too.
 *
 * PDF/A-3b (pdfkit's `subset`), PDF 1.7, tagged: PDF/A-3 allows arbitrary attachments, associated
 * with the document through /AF with an /AFRelationship, as ZUGFeRD does. pdfsig and qpdf accept the
 * result; no PDF/A validator (veraPDF) has checked it. pdfkit leaves three gaps that this file
 * closes: its XMP copies the info strings without XML escaping and has no ModifyDate (see
 * `xmpInfo`, which replaces pdfkit's private `_addInfo`), and the signature widget the placeholder
 * adds has no print flag (see `printableWidgets`). Everything but the signature (its /Contents and
 * /M) is deterministic: the dates come from the manifest, and pdfkit derives /ID and the font subset
 * tags from them and the font.
 */
import path from 'node:path'
import PDFDocument from 'pdfkit'
import QRCode from 'qrcode'
import { strengthOf, strengthSentence } from '../contract/guarantee'
import type { CertificateManifest, SetScores } from './manifest'
import type { Logo } from './logo'
import type { PublicIdentity } from './organisation'
import { addSignaturePlaceholder, signPdf } from './pdf-signature'
import type { SigningIdentity } from './signing-identity'

export interface CertificatePdfInput {
  manifest: CertificateManifest
  /** The canonical bytes that were signed. */
  manifestBytes: Buffer
  /** Detached Ed25519 signature over manifestBytes (64 bytes). */
  manifestSignature: Buffer
  /** SHA-256 of manifestBytes, hex. */
  manifestSha256: string
  organisation: PublicIdentity
  /** The identity that signs the PDF. */
  signing: SigningIdentity
  /** Folder with DejaVuSans.ttf, DejaVuSans-Bold.ttf and DejaVuSansMono.ttf. */
  fontsDir: string
  /** The organisation's logo for the header, already checked (see logo.ts). */
  logo?: Logo | null
}

/** Names of the attached files, as `pdfdetach -saveall` writes them. */
export const CERTIFICATE_ATTACHMENTS = {
  manifest: 'manifest.json',
  signature: 'manifest.sig',
  manifestKey: 'organisation-manifest-key.pem',
  certificate: 'organisation-certificate.pem',
} as const

/** The certificate as a signed PDF: one or two A4 pages a person wants to read, the manifest attached. */
export async function renderCertificatePdf(input: CertificatePdfInput): Promise<Buffer> {
  return signPdf(await unsignedPdf(input), input.signing)
}

/** What a preview is drawn from: the certificate's input without anything that signs. */
export type PreviewPdfInput = Omit<CertificatePdfInput, 'signing' | 'manifestSignature'>

/** The same pages before signing, marked on every page as a preview: no signature of either kind. */
export function renderPreviewPdf(input: PreviewPdfInput): Promise<Buffer> {
  return unsignedPdf(input)
}

// Layout, in points. A4 is 595.28 × 841.89.
const MARGIN = 50
const BAND = 96
const FOOTER = 16
const ACCENT = '#16324f'
const INK = '#1f2933'
const MUTED = '#5f6b7a'
const RULE = '#cfd8e3'
const TINT = '#eef2f7'
const FORGET_BAR = ACCENT
const TEST_BAR = '#8eaac8'
const SANS = 'Sans'
const BOLD = 'Sans-Bold'
/** Between the rows of a table: tight enough that a certificate listing its deployed files fits on two pages. */
const ROW_GAP = 4
/** For hashes a reader compares character by character. */
const MONO = 'Mono'

type Doc = PDFKit.PDFDocument
type Struct = PDFKit.PDFStructureElement
type Relationship = 'Data' | 'Supplement'
// @types/pdfkit lacks `relationship`, which pdfkit writes as the file specification's /AFRelationship.
type AttachmentOptions = PDFKit.Mixins.PDFAttachmentOptions & { relationship: Relationship }

/** Without `manifestSignature`, the pages are a preview: marked so, with no signature field. */
function unsignedPdf(input: PreviewPdfInput & { manifestSignature?: Buffer }): Promise<Buffer> {
  const preview = input.manifestSignature === undefined
  const { manifest } = input
  const issued = new Date(manifest.issuedAt)
  const info = {
    Title: `Certificate of removal ${manifest.certificateId}`,
    Author: input.organisation.name,
    Subject: `Removal of ${manifest.records.count} records for request ${manifest.request.id}`,
    Keywords: [
      'certificate of removal',
      'right to be forgotten',
      'machine unlearning',
      manifest.request.id,
      manifest.certificateId,
    ].join(', '),
    Creator: 'Lethe',
    Producer: 'PDFKit',
    CreationDate: issued,
    ModDate: issued,
  }
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    pdfVersion: '1.7',
    subset: 'PDF/A-3b',
    tagged: true,
    lang: 'en-GB',
    displayTitle: true,
    bufferPages: true,
    // The default would be Helvetica, one of the standard 14 fonts, which PDF/A forbids unembedded.
    font: path.join(input.fontsDir, 'DejaVuSans.ttf'),
    info,
  })
  const chunks: Buffer[] = []
  doc.on('data', (chunk: Buffer) => chunks.push(chunk))
  const finished = new Promise<Buffer>((done, fail) => {
    doc.on('end', () => done(Buffer.concat(chunks)))
    doc.on('error', fail)
  })
  ;(doc as Doc & { _addInfo(): void })._addInfo = () => doc.appendXML(xmpInfo(info))
  doc.registerFont(SANS, path.join(input.fontsDir, 'DejaVuSans.ttf'))
  doc.registerFont(BOLD, path.join(input.fontsDir, 'DejaVuSans-Bold.ttf'))
  doc.registerFont(MONO, path.join(input.fontsDir, 'DejaVuSansMono.ttf'))

  const root = doc.struct('Document')
  doc.addStructure(root)
  const page = new Page(doc, root)
  header(page, input)
  statement(page, input)
  method(page, manifest)
  verification(page, manifest)
  scope(page, manifest)
  record(page, manifest)
  howToVerify(page, input)
  closing(page, input.organisation.name)
  root.end()
  footers(doc, manifest, input.organisation.name)
  if (preview) {
    previewMarks(doc)
    attach(doc, input, issued)
    doc.end()
    return finished
  }

  attach(doc, input, issued)
  doc.switchToPage(0) // the (invisible) signature widget sits on the first page
  doc.font(SANS) // the signature form's default appearance names the current font
  printableWidgets(doc, () =>
    addSignaturePlaceholder(doc, {
      reason: `Certificate of removal ${manifest.certificateId}`,
      contactInfo: input.organisation.name,
      name: input.organisation.name,
      location: input.organisation.name,
    }),
  )
  doc.end()
  return finished
}

/** Drawing on the pages, in order, with the structure tags a screen reader follows. */
class Page {
  readonly left = MARGIN
  readonly width: number
  readonly bottom: number

  constructor(
    readonly doc: Doc,
    readonly root: Struct,
  ) {
    this.width = doc.page.width - 2 * MARGIN
    this.bottom = doc.page.height - MARGIN - FOOTER
  }

  get y() {
    return this.doc.y
  }

  set y(value: number) {
    this.doc.y = value
  }

  /** Starts a new page unless `height` more points fit on this one. */
  ensure(height: number) {
    if (this.y + height <= this.bottom) return
    this.doc.addPage()
    this.y = MARGIN
  }

  /** Tagged content: `draw` runs at once, inside a structure element of type `tag`. */
  tag(tag: string, draw: () => void, options: PDFKit.Mixins.StructureElementOptions = {}) {
    this.root.add(this.doc.struct(tag, options, draw))
  }

  /** Decoration (bands, rules, backgrounds): drawn, but not read out. */
  artifact(draw: () => void) {
    this.doc.markContent('Artifact')
    draw()
    this.doc.endMarkedContent()
  }

  style(font: string, size: number, color = INK) {
    this.doc.font(font).fontSize(size).fillColor(color)
    return this
  }

  height(text: string, width: number, lineGap = 2) {
    return this.doc.heightOfString(text, { width, lineGap })
  }

  /** A section heading, on a new page unless `keep` more points fit under it. */
  heading(text: string, keep = 70) {
    this.ensure(keep)
    this.y += 10
    const y = this.y
    this.tag('H2', () => this.style(BOLD, 12.5, ACCENT).doc.text(text, this.left, y, { width: this.width }))
    const rule = this.y + 2
    this.artifact(() =>
      this.doc
        .moveTo(this.left, rule)
        .lineTo(this.left + this.width, rule)
        .lineWidth(0.6)
        .strokeColor(ACCENT)
        .stroke(),
    )
    this.y = rule + 7
  }

  paragraph(text: string, size = 10, color = INK, after = 6) {
    this.style(SANS, size, color)
    this.ensure(this.height(text, this.width))
    const y = this.y
    this.tag('P', () =>
      this.style(SANS, size, color).doc.text(text, this.left, y, { width: this.width, lineGap: 2 }),
    )
    this.y += after
  }

  bullets(items: string[], size = 10) {
    const indent = 14
    const list = this.doc.struct('L')
    this.root.add(list)
    for (const item of items) {
      this.style(SANS, size)
      const h = this.height(item, this.width - indent)
      this.ensure(h)
      const y = this.y
      list.add(
        this.doc.struct('LI', {}, [
          this.doc.struct('Lbl', {}, () => this.style(SANS, size, ACCENT).doc.text('•', this.left + 3, y)),
          this.doc.struct('LBody', {}, () =>
            this.style(SANS, size).doc.text(item, this.left + indent, y, {
              width: this.width - indent,
              lineGap: 2,
            }),
          ),
        ]),
      )
      this.y = y + h + 3
    }
    list.end()
    this.y += 3
  }

  /** A two-column table: a muted label, a value, and small print under the value (hashes, keys). */
  keyValues(rows: Row[], width = this.width, labelWidth = 128) {
    const valueWidth = width - labelWidth
    const measured = rows.map((row) => {
      this.style(BOLD, 8.5)
      const label = this.height(row.label, labelWidth - 8)
      this.style(SANS, row.size ?? 9.5)
      const value = row.value ? this.height(row.value, valueWidth, 1.5) : 0
      this.style(row.mono ? MONO : SANS, row.detailSize ?? 7.5)
      const detail = row.detail ? this.height(row.detail, valueWidth, 1.5) : 0
      return { ...row, at: value, h: Math.max(label, value + detail) + ROW_GAP }
    })
    this.ensure(measured.reduce((sum, row) => sum + row.h, 0))
    let y = this.y
    const table = this.doc.struct('Table')
    this.root.add(table)
    for (const row of measured) {
      const top = y
      table.add(
        this.doc.struct('TR', {}, [
          this.doc.struct('TH', {}, () =>
            this.style(BOLD, 8.5, MUTED).doc.text(row.label, this.left, top + 1, { width: labelWidth - 8 }),
          ),
          this.doc.struct('TD', {}, () => {
            const x = this.left + labelWidth
            if (row.value)
              this.style(SANS, row.size ?? 9.5).doc.text(row.value, x, top, {
                width: valueWidth,
                lineGap: 1.5,
              })
            if (row.detail)
              this.style(row.mono ? MONO : SANS, row.detailSize ?? 7.5).doc.text(
                row.detail,
                x,
                top + row.at + (row.value ? 1 : 1.5),
                {
                  width: valueWidth,
                  lineGap: 1.5,
                },
              )
          }),
        ]),
      )
      y += row.h
    }
    table.end()
    this.y = y + 2
  }
}

interface Row {
  label: string
  value: string
  /** Small print under the value. */
  detail?: string
  size?: number
  detailSize?: number
  /** The small print in a monospace font (a hash printed whole). */
  mono?: boolean
}

function header(page: Page, { manifest, organisation, logo }: PreviewPdfInput) {
  const { doc } = page
  const right = 190
  page.artifact(() => doc.rect(0, 0, doc.page.width, BAND).fill(ACCENT))
  // The logo sits on a white tile, so that a dark logo on a transparent background still shows.
  let left = MARGIN
  if (logo) {
    const tile = 64
    const top = (BAND - tile) / 2
    page.artifact(() => doc.roundedRect(MARGIN, top, tile, tile, 6).fill('#ffffff'))
    page.tag(
      'Figure',
      () => {
        doc.image(logo.bytes, MARGIN + 6, top + 6, {
          fit: [tile - 12, tile - 12],
          align: 'center',
          valign: 'center',
        })
      },
      { alt: `Logo of ${organisation.name}` },
    )
    left = MARGIN + tile + 14
  }
  const textWidth = MARGIN + page.width - right - 10 - left
  page.tag('P', () =>
    page.style(SANS, 11, '#c8d6e5').doc.text(organisation.name, left, 26, {
      width: textWidth,
      lineBreak: false,
      ellipsis: true,
    }),
  )
  // The title shrinks rather than running under the certificate number when a logo takes room.
  page.style(BOLD, 24, '#ffffff')
  const titleSize = Math.min(
    24,
    (24 * (MARGIN + page.width - left - 110)) / doc.widthOfString('Certificate of removal'),
  )
  page.tag('H1', () =>
    page
      .style(BOLD, titleSize, '#ffffff')
      .doc.text('Certificate of removal', left, 43 + (24 - titleSize) / 2, { lineBreak: false }),
  )
  // In the band, where it takes no room from the pages.
  if (manifest.supersedes) {
    const supersedes = `This certificate supersedes ${manifest.supersedes}.`
    page.tag('P', () =>
      page.style(SANS, 9, '#ffffff').doc.text(supersedes, left, 76, { width: textWidth, lineBreak: false }),
    )
  }
  const x = MARGIN + page.width - right
  const issued = longDate(manifest.issuedAt)
  for (const [label, value, y, actual] of [
    ['CERTIFICATE', manifest.certificateId, 27, `Certificate ${manifest.certificateId}`],
    ['ISSUED', issued, 57, `Issued ${issued}`],
  ] as const) {
    page.tag(
      'P',
      () => {
        page.style(SANS, 8, '#c8d6e5').doc.text(label, x, y, { width: right, align: 'right' })
        page.style(BOLD, 10.5, '#ffffff').doc.text(value, x, y + 11, { width: right, align: 'right' })
      },
      { actual },
    )
  }
  page.y = BAND + 18
}

function statement(page: Page, { manifest, organisation }: PreviewPdfInput) {
  const { doc } = page
  const { request, records, model } = manifest
  const text =
    `On ${longDate(request.completed)}, ${organisation.name} removed the influence of ` +
    `${plural(records.count, 'training record')} of the data subject of request ${request.id} ` +
    `(${basisLabel(manifest)}) from model ${model.before.id}. The result is model ${model.after.id}.`
  const pad = 10
  const width = page.width - 2 * pad - 4
  page.style(SANS, 11)
  const h = page.height(text, width, 3) + 2 * pad
  const top = page.y
  page.artifact(() => {
    doc.rect(page.left, top, page.width, h).fill(TINT)
    doc.rect(page.left, top, 3, h).fill(ACCENT)
  })
  page.tag('P', () =>
    page.style(SANS, 11).doc.text(text, page.left + pad + 4, top + pad, { width, lineGap: 3 }),
  )
  page.y = top + h + 4
}

function method(page: Page, manifest: CertificateManifest) {
  const { name, guarantee } = manifest.method
  page.heading('How the records were removed')
  const label = METHOD_LABELS[name]
  page.keyValues([
    { label: 'Method', value: label ? `${label} (${name})` : name },
    { label: 'Guarantee', value: guaranteeText(guarantee) },
    { label: "In the method's words", value: `“${guarantee.meaning}”` },
  ])
}

function verification(page: Page, manifest: CertificateManifest) {
  const { doc } = page
  const v = manifest.verification
  page.heading('Verification')
  page.paragraph(
    'Measured on the removed records (forget), the records kept (retain) and records the model never ' +
      'trained on (test), before and after the removal' +
      (v.retrained ? ', and for a reference model retrained without the removed records.' : '.'),
    9,
    MUTED,
    8,
  )
  const rows: [string, SetScores][] = [
    [`Before (${manifest.model.before.id})`, v.before],
    [`After (${manifest.model.after.id})`, v.after],
  ]
  if (v.retrained) rows.push(['Retrained reference', v.retrained])
  scoreTable(page, rows)

  // The chart on the left, how to read it on the right.
  const chartHeight = 134
  page.ensure(chartHeight + 10)
  const top = page.y + 6
  const chartWidth = 250
  barChart(page, rows, page.left, top, chartWidth, chartHeight)
  const x = page.left + chartWidth + 24
  const width = page.width - chartWidth - 24
  const notes = [
    'How to read this: after a good removal the model does no better on the removed records than on ' +
      `records it never saw (forget accuracy falls to about test accuracy${v.retrained ? ', as for the retrained model' : ''}), ` +
      'while retain and test accuracy hold. A membership-inference AUC near 0.5 means an attack cannot ' +
      'tell the removed records from unseen ones.',
  ]
  if (v.distanceToRetrained) {
    const d = v.distanceToRetrained
    notes.push(
      `Parameter distance to the retrained model, ‖θ\u00a0−\u00a0θ_retrained‖₂: ${formatNumber(d.after)} after the ` +
        `removal, ${formatNumber(d.before)} before it. The smaller the first next to the second, the closer ` +
        'the new model is to one that never saw the records.',
    )
  } else if (!v.retrained) {
    notes.push('No retrained reference was computed for this removal, so there is nothing to compare with.')
  }
  let y = top
  for (const note of notes) {
    page.style(SANS, 8, INK)
    const h = page.height(note, width, 1.5)
    const at = y
    page.tag('P', () => page.style(SANS, 8, INK).doc.text(note, x, at, { width, lineGap: 1.5 }))
    y += h + 6
  }
  page.y = Math.max(top + chartHeight, y) + 4
  doc.x = page.left
}

function scoreTable(page: Page, rows: [string, SetScores][]) {
  const { doc } = page
  const columns = ['Forget accuracy', 'Retain accuracy', 'Test accuracy', 'Membership-inference AUC']
  const first = 147
  const cell = (page.width - first) / columns.length
  const rowHeight = 16
  page.ensure(rowHeight * (rows.length + 1) + 10)
  const top = page.y
  const table = doc.struct('Table')
  page.root.add(table)
  table.add(
    doc.struct(
      'TR',
      {},
      ['', ...columns].map((title, i) =>
        doc.struct('TH', {}, () =>
          page
            .style(BOLD, 8, MUTED)
            .doc.text(title, i === 0 ? page.left : page.left + first + (i - 1) * cell, top, {
              width: i === 0 ? first : cell,
              align: i === 0 ? 'left' : 'right',
            }),
        ),
      ),
    ),
  )
  const headerBottom = top + 23
  page.artifact(() =>
    doc
      .moveTo(page.left, headerBottom - 4)
      .lineTo(page.left + page.width, headerBottom - 4)
      .lineWidth(0.6)
      .strokeColor(RULE)
      .stroke(),
  )
  rows.forEach(([label, scores], r) => {
    const y = headerBottom + r * rowHeight
    if (r % 2 === 1) page.artifact(() => doc.rect(page.left, y - 3, page.width, rowHeight).fill(TINT))
    const values = [
      percent(scores.forgetAccuracy),
      percent(scores.retainAccuracy),
      percent(scores.testAccuracy),
      auc(scores),
    ]
    table.add(
      doc.struct('TR', {}, [
        doc.struct('TH', {}, () =>
          page
            .style(BOLD, 9)
            .doc.text(label, page.left + 4, y, { width: first - 8, lineBreak: false, ellipsis: true }),
        ),
        ...values.map((value, i) =>
          doc.struct('TD', {}, () =>
            page
              .style(SANS, 9)
              .doc.text(value, page.left + first + i * cell, y, { width: cell, align: 'right' }),
          ),
        ),
      ]),
    )
  })
  table.end()
  page.y = headerBottom + rows.length * rowHeight + 2
}

function barChart(
  page: Page,
  rows: [string, SetScores][],
  x: number,
  y: number,
  width: number,
  height: number,
) {
  const { doc } = page
  const axis = 30
  const legend = 18
  const labels = 16
  const plot = { x: x + axis, y: y + legend, w: width - axis, h: height - legend - labels }
  const groups = rows.map(([label, scores]) => ({ label: label.replace(/ \(.*\)$| reference$/, ''), scores }))
  const alt =
    'Bar chart of forget and test accuracy: ' +
    groups
      .map(
        (g) =>
          `${g.label.toLowerCase()}: forget ${percent(g.scores.forgetAccuracy)}, test ${percent(g.scores.testAccuracy)}`,
      )
      .join('; ') +
    '.'
  page.tag(
    'Figure',
    () => {
      // Legend.
      let lx = plot.x
      for (const [color, name] of [
        [FORGET_BAR, 'Forget accuracy'],
        [TEST_BAR, 'Test accuracy'],
      ] as const) {
        doc.rect(lx, y + 1, 8, 8).fill(color)
        page.style(SANS, 8, INK).doc.text(name, lx + 12, y, { lineBreak: false })
        lx += 12 + doc.widthOfString(name) + 16
      }
      // Grid and axis labels.
      for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
        const ty = plot.y + plot.h * (1 - tick)
        doc
          .moveTo(plot.x, ty)
          .lineTo(plot.x + plot.w, ty)
          .lineWidth(tick === 0 ? 0.8 : 0.4)
          .strokeColor(tick === 0 ? MUTED : RULE)
          .stroke()
        page.style(SANS, 7, MUTED).doc.text(`${tick * 100}%`, x, ty - 3.5, {
          width: axis - 5,
          align: 'right',
          lineBreak: false,
        })
      }
      // Bars, two per group, each with its value on top.
      const slot = plot.w / groups.length
      const bar = Math.min(26, slot / 3.2)
      groups.forEach((group, i) => {
        const centre = plot.x + slot * (i + 0.5)
        const bars: [number, string][] = [
          [group.scores.forgetAccuracy, FORGET_BAR],
          [group.scores.testAccuracy, TEST_BAR],
        ]
        bars.forEach(([value, color], j) => {
          const bx = centre - bar - 1 + j * (bar + 2)
          const bh = Math.max(0.5, plot.h * clamp01(value))
          doc.rect(bx, plot.y + plot.h - bh, bar, bh).fill(color)
          page.style(SANS, 6.5, INK).doc.text(percent(value, 0), bx - 6, plot.y + plot.h - bh - 9, {
            width: bar + 12,
            align: 'center',
            lineBreak: false,
          })
        })
        page.style(SANS, 8, INK).doc.text(group.label, centre - slot / 2, plot.y + plot.h + 4, {
          width: slot,
          align: 'center',
          lineBreak: false,
        })
      })
    },
    { alt },
  )
}

function scope(page: Page, manifest: CertificateManifest) {
  const { scope, versions } = manifest
  const many = (items: string[]) => items.join('; ')
  // One row each, not lists, so that the certificate stays within two pages.
  const rows: Row[] = [
    { label: 'Datasets', value: listOrNone(scope.datasets) },
    { label: 'Models and versions', value: listOrNone(scope.models) },
    ...(manifest.models && manifest.models.length > 1
      ? [
          {
            label: 'Versions covered',
            value: many(manifest.models.map((m) => `${m.after.id} (from ${m.before.id}, ${m.method})`)),
          },
        ]
      : []),
    ...(versions
      ? [
          {
            // Those trained on the same records, not covered: a deletion is a tombstone, a version kept says why.
            label: 'Other versions',
            value:
              many([
                ...versions.deleted.map((v) => `${v.id} deleted`),
                ...versions.kept.map((v) => `${v.id} kept (${v.reason})`),
              ]) || 'none',
          },
        ]
      : []),
    {
      label: `Recipients to notify${recipientsRule(manifest.request.jurisdiction)}`,
      value: many(scope.recipientsToNotify) || 'None recorded.',
    },
  ]
  // What is not covered follows what is at once: the rows stay with the heading, and at least the
  // first line of what is not covered with them (a whole-section keep would push it to a third page).
  page.heading('Scope', 80 + 16 * rows.length)
  page.keyValues(rows)
  subheading(page, 'Not covered by this certificate')
  if (scope.notCovered.length > 0) page.bullets(scope.notCovered)
  else page.paragraph('Nothing was recorded as outside the scope.')
}

function subheading(page: Page, text: string) {
  page.style(BOLD, 10, ACCENT)
  page.ensure(40)
  const y = page.y + 2
  page.tag('H3', () => page.style(BOLD, 10, ACCENT).doc.text(text, page.left, y, { width: page.width }))
  page.y += 3
}

function record(page: Page, manifest: CertificateManifest) {
  const { request, records, model, compute, issuer } = manifest
  page.heading('The record')
  page.keyValues([
    {
      label: 'Request',
      value: `${request.id}, received ${longDate(request.received)}, completed ${longDate(request.completed)}`,
    },
    {
      label: 'Legal basis',
      value: `${basisLabel(manifest)}; jurisdiction ${JURISDICTIONS[request.jurisdiction] ?? request.jurisdiction}`,
    },
    {
      label: 'Data subject',
      value: 'A salted reference, which identifies no one by itself:',
      detail: groups(request.subjectReference),
    },
    {
      label: 'Records removed',
      value: `${plural(records.count, 'row')} of dataset ${records.datasetId}; SHA-256 of the row ids, then of the dataset:`,
      detail: `${groups(records.rowsSha256)}\n${groups(records.datasetSha256)}`,
    },
    { label: 'Model before', value: `${model.before.id}, SHA-256:`, detail: groups(model.before.sha256) },
    { label: 'Model after', value: `${model.after.id}, SHA-256:`, detail: groups(model.after.sha256) },
    {
      label: 'Performed with',
      value: `${issuer.software}, ${compute.backend} backend, ${formatDuration(compute.unlearningMs)}`,
    },
    ...deployedFileRows(manifest),
  ])
}

export const NO_DEPLOYED_FILES =
  'No file of this model was exported before the certificate was issued; lethe verify --model cannot bind a file to it.'

const FORMAT_LABELS: Record<string, string> = { onnx: 'ONNX', tfjs: 'TF.js' }

/**
 * The files the result model was exported as, a row each (the hash whole, in monospace): what
 * `lethe verify --model FILE` binds a deployed file to. None for a manifest from before exports
 * were listed (version 3 or older).
 */
function deployedFileRows({ artifacts }: CertificateManifest): Row[] {
  if (!artifacts) return []
  if (artifacts.length === 0)
    // Broken before the command, which pdfkit would otherwise split at its hyphens.
    return [{ label: 'Deployed files', value: NO_DEPLOYED_FILES.replace('; ', ';\n'), size: 8.5 }]
  return artifacts.map((a, i) => ({
    label: i === 0 ? 'Deployed files' : '',
    value: `${a.fileName} (${FORMAT_LABELS[a.format] ?? a.format}), ${plural(a.bytes, 'byte')}, exported ${longDate(a.exportedAt)}; SHA-256:`,
    size: 8.5,
    detail: a.sha256,
    mono: true,
  }))
}

function howToVerify(page: Page, input: PreviewPdfInput & { manifestSignature?: Buffer }) {
  const { doc } = page
  const { manifest, organisation } = input
  page.heading('How to verify', 260)
  page.paragraph(
    'Anyone can check this certificate without Lethe. The PDF is signed by the organisation; the manifest it ' +
      'summarises is attached (manifest.json), with its Ed25519 signature (manifest.sig), the public key that ' +
      'made it (organisation-manifest-key.pem) and the certificate that signed the PDF (organisation-certificate.pem).',
    8.5,
    MUTED,
    6,
  )
  const qrSide = 104
  const gap = 16
  page.ensure(150) // the QR code and the values beside it stay together
  const top = page.y
  qrCode(page, `sha256:${input.manifestSha256}`, page.left + page.width - qrSide, top + 2, qrSide)
  page.y = top
  page.keyValues(
    [
      { label: 'Manifest SHA-256', value: groups(input.manifestSha256, 8), size: 9.5 },
      {
        label: 'Manifest signature (Ed25519, base64)',
        value: '',
        detail: input.manifestSignature
          ? halves(input.manifestSignature.toString('base64'))
          : 'none: a preview is not signed',
      },
      {
        label: 'Manifest key fingerprint',
        value: '',
        detail: halves(organisation.manifestKeyFingerprint, ':'),
      },
      {
        label: 'PDF certificate fingerprint',
        value: '',
        detail: halves(organisation.certificateFingerprint, ':'),
      },
      {
        label: 'Ledger head',
        value: '',
        detail: `${manifest.ledger.ledgerId}, entry ${manifest.ledger.seq}\n${groups(manifest.ledger.hash, 8)}`,
      },
      {
        label: 'Ledger key fingerprint',
        value: '',
        detail: halves(manifest.ledger.keyFingerprint, ':'),
      },
    ],
    page.width - qrSide - gap,
    118,
  )
  page.y = Math.max(page.y, top + qrSide + 14)
  const commands: [string, string][] = [
    [
      'Check the PDF signature; expect “Signature is Valid” and “Total document signed”:',
      'pdfsig certificate.pdf',
    ],
    [
      'Extract the attached files and check the manifest signature; expect “Signature Verified Successfully”:',
      'pdfdetach -saveall certificate.pdf; openssl pkeyutl -verify -pubin -inkey organisation-manifest-key.pem -rawin -in manifest.json -sigfile manifest.sig',
    ],
    ['Compare the manifest’s hash with the one above and in the QR code:', 'sha256sum manifest.json'],
    [
      'Signed with the attached certificate, not a look-alike? Expect “Verification successful”:',
      "pdfsig -dump certificate.pdf; set -- $(grep -a -o '/ByteRange *\\[[0-9 ]*\\]' certificate.pdf | grep -o '[0-9][0-9]*'); " +
        '{ head -c "$2" certificate.pdf; tail -c +"$(($3 + 1))" certificate.pdf; } > signed-bytes; ' +
        'openssl cms -verify -binary -inform DER -in certificate.pdf.sig0 -content signed-bytes ' +
        '-certfile organisation-certificate.pem -nointern -noverify -out /dev/null',
    ],
  ]
  const pad = 8
  const width = page.width - 2 * pad
  const blocks = commands.map(([label, command]) => {
    page.style(SANS, 8)
    const lh = page.height(label, width, 1)
    page.style(BOLD, 8)
    return { label, command, lh, ch: page.height(command, width - 10, 1) }
  })
  const total = blocks.reduce((sum, b) => sum + b.lh + b.ch + 5, 0) + 2 * pad - 5
  page.ensure(total + 6)
  const boxTop = page.y
  page.artifact(() => doc.rect(page.left, boxTop, page.width, total).fill(TINT))
  let y = boxTop + pad
  for (const block of blocks) {
    const at = y
    page.tag('P', () => page.style(SANS, 8, MUTED).doc.text(block.label, page.left + pad, at, { width }))
    const codeAt = at + block.lh
    page.tag('Code', () =>
      page
        .style(BOLD, 8, ACCENT)
        .doc.text(block.command, page.left + pad + 10, codeAt, { width: width - 10 }),
    )
    y = codeAt + block.ch + 5
  }
  page.y = boxTop + total + 6
  page.paragraph(
    'A self-signed PDF certificate shows as not trusted until you compare its fingerprint with the one above, ' +
      'or with the one the organisation publishes.',
    8,
    MUTED,
    2,
  )
}

function closing(page: Page, organisation: string) {
  page.y += 6
  page.paragraph(
    `${organisation} keeps a minimal record of this request in its signed ledger, so that the ` +
      'removal can be shown later; the record holds no raw identifier of the person. Questions or complaints ' +
      'about how the request was handled may go to the organisation or to the data protection authority.',
    8.5,
    MUTED,
    0,
  )
}

function qrCode(page: Page, text: string, x: number, y: number, side: number) {
  const { doc } = page
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' })
  const size = qr.modules.size
  const quiet = 2
  const unit = side / (size + 2 * quiet)
  page.tag(
    'Figure',
    () => {
      doc.rect(x, y, side, side).fill('#ffffff')
      // One rectangle per run of dark modules in a row: fewer seams between squares when rendered.
      for (let row = 0; row < size; row++) {
        let start = -1
        for (let col = 0; col <= size; col++) {
          const dark = col < size && qr.modules.get(row, col)
          if (dark && start < 0) start = col
          if (!dark && start >= 0) {
            doc.rect(x + (quiet + start) * unit, y + (quiet + row) * unit, (col - start) * unit, unit)
            start = -1
          }
        }
      }
      doc.fill(ACCENT)
      page.style(SANS, 6.5, MUTED).doc.text('QR: manifest SHA-256', x, y + side + 1, {
        width: side,
        align: 'center',
        lineBreak: false,
      })
    },
    { alt: `QR code of ${text}` },
  )
}

/** Across every page, so that no one takes a preview for the certificate. */
function previewMarks(doc: Doc) {
  const range = doc.bufferedPageRange()
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i)
    const { width, height } = doc.page
    const bottom = doc.page.margins.bottom
    doc.page.margins.bottom = 0
    doc.markContent('Artifact', { type: 'Pagination' })
    doc.save()
    doc.rotate(-35, { origin: [width / 2, height / 2] })
    doc
      .font(BOLD)
      .fontSize(46)
      .fillColor('#c0392b')
      .fillOpacity(0.22)
      .text(PREVIEW_MARK, 0, height / 2 - 28, { width, align: 'center', lineBreak: false })
    doc.restore()
    doc
      .font(BOLD)
      .fontSize(9)
      .fillColor('#c0392b')
      .fillOpacity(1)
      // Under the first page's band, above the others' top margin: clear of the text.
      .text(`${PREVIEW_MARK}: not a certificate`, MARGIN, i === range.start ? BAND + 3 : MARGIN - 24, {
        lineBreak: false,
      })
    doc.endMarkedContent()
    doc.page.margins.bottom = bottom
  }
}

/** Printed across every page of a preview. */
export const PREVIEW_MARK = 'PREVIEW — NOT SIGNED'

function footers(doc: Doc, manifest: CertificateManifest, organisation: string) {
  const range = doc.bufferedPageRange()
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i)
    const y = doc.page.height - MARGIN + 4
    const width = doc.page.width - 2 * MARGIN
    // Below the bottom margin, so text must not start a new page.
    const bottom = doc.page.margins.bottom
    doc.page.margins.bottom = 0
    doc.markContent('Artifact', { type: 'Pagination' })
    doc
      .moveTo(MARGIN, y - 6)
      .lineTo(MARGIN + width, y - 6)
      .lineWidth(0.4)
      .strokeColor(RULE)
      .stroke()
    doc
      .font(SANS)
      .fontSize(7.5)
      .fillColor(MUTED)
      .text(`Certificate of removal ${manifest.certificateId} · ${organisation}`, MARGIN, y, {
        width: width - 80,
        lineBreak: false,
        ellipsis: true,
      })
      .text(`Page ${i - range.start + 1} of ${range.count}`, MARGIN + width - 80, y, {
        width: 80,
        align: 'right',
        lineBreak: false,
      })
    doc.endMarkedContent()
    doc.page.margins.bottom = bottom
  }
}

function attach(doc: Doc, input: PreviewPdfInput & { manifestSignature?: Buffer }, date: Date) {
  const file = (data: Buffer, options: Omit<AttachmentOptions, 'creationDate' | 'modifiedDate'>) =>
    doc.file(data, { ...options, creationDate: date, modifiedDate: date } satisfies AttachmentOptions)
  file(input.manifestBytes, {
    name: CERTIFICATE_ATTACHMENTS.manifest,
    type: 'application/json',
    description: 'The certificate manifest (canonical JSON, RFC 8785), exactly the bytes that were signed',
    relationship: 'Data',
  })
  if (input.manifestSignature)
    file(input.manifestSignature, {
      name: CERTIFICATE_ATTACHMENTS.signature,
      type: 'application/octet-stream',
      description: 'Detached Ed25519 signature of manifest.json (64 bytes)',
      relationship: 'Supplement',
    })
  file(Buffer.from(input.organisation.manifestPublicKeyPem), {
    name: CERTIFICATE_ATTACHMENTS.manifestKey,
    type: 'application/x-pem-file',
    description: `${input.organisation.name}: the public key that signs manifests (Ed25519)`,
    relationship: 'Supplement',
  })
  file(Buffer.from(input.organisation.certificatePem), {
    name: CERTIFICATE_ATTACHMENTS.certificate,
    type: 'application/x-pem-file',
    description: `${input.organisation.name}: the X.509 certificate that signs this PDF`,
    relationship: 'Supplement',
  })
}

/**
 * PDF/A wants every annotation printable (/F with the print flag); @signpdf's widget has no /F,
 * and pdfkit writes an object as soon as it is ended, so the flag goes in as the widget is made.
 */
function printableWidgets(doc: Doc, add: () => void) {
  const ref = doc.ref
  doc.ref = function (this: Doc, data: Record<string, unknown>) {
    if (data.Subtype === 'Widget' && data.F === undefined) data.F = 4
    return ref.call(this, data)
  }
  try {
    add()
  } finally {
    doc.ref = ref
  }
}

/** pdfkit's own XMP leaves the info strings unescaped (an "&" in a name breaks it) and has no ModifyDate,
 * which PDF/A wants equal to the info dictionary's. */
function xmpInfo(info: {
  Title: string
  Author: string
  Subject: string
  Keywords: string
  Creator: string
  Producer: string
  CreationDate: Date
  ModDate: Date
}): string {
  // Escaped, and without the control characters XML 1.0 does not allow.
  const xml = (text: string) =>
    [...text]
      .filter((c) => c >= ' ' || c === '\t' || c === '\n' || c === '\r')
      .join('')
      .replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
  const date = (d: Date) => `${d.toISOString().slice(0, 19)}Z`
  return `
        <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
            <xmp:CreateDate>${date(info.CreationDate)}</xmp:CreateDate>
            <xmp:ModifyDate>${date(info.ModDate)}</xmp:ModifyDate>
            <xmp:MetadataDate>${date(info.ModDate)}</xmp:MetadataDate>
            <xmp:CreatorTool>${xml(info.Creator)}</xmp:CreatorTool>
        </rdf:Description>
        <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:format>application/pdf</dc:format>
            <dc:title><rdf:Alt><rdf:li xml:lang="x-default">${xml(info.Title)}</rdf:li></rdf:Alt></dc:title>
            <dc:creator><rdf:Seq><rdf:li>${xml(info.Author)}</rdf:li></rdf:Seq></dc:creator>
            <dc:description><rdf:Alt><rdf:li xml:lang="x-default">${xml(info.Subject)}</rdf:li></rdf:Alt></dc:description>
        </rdf:Description>
        <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
            <pdf:Producer>${xml(info.Producer)}</pdf:Producer>
            <pdf:Keywords>${xml(info.Keywords)}</pdf:Keywords>
        </rdf:Description>`
}

const METHOD_LABELS: Record<string, string> = {
  retrain: 'Exact retraining',
  finetune: 'Fine-tuning on the retained data',
  neggrad: 'Gradient ascent (NegGrad / NegGrad+)',
}

const JURISDICTIONS: Record<string, string> = {
  gdpr: 'GDPR (EU)',
  'uk-gdpr': 'UK GDPR',
  ccpa: 'CCPA (California)',
  lgpd: 'LGPD (Brazil)',
  other: 'other',
}

const BASES: Record<string, string> = {
  'gdpr-art-17': 'GDPR Art. 17',
  'uk-gdpr-art-17': 'UK GDPR Art. 17',
  'ccpa-1798-105': 'CCPA § 1798.105',
  'lgpd-art-18': 'LGPD Art. 18',
}

/** "GDPR Art. 17, ground Art. 17(1)(b)"; an unknown basis is named as recorded. */
function basisLabel({ request }: CertificateManifest): string {
  const basis =
    BASES[request.legalBasis] ??
    `${JURISDICTIONS[request.jurisdiction] ?? request.jurisdiction}: ${request.legalBasis === 'other' ? 'other legal basis' : request.legalBasis}`
  return request.ground ? `${basis}, ground ${request.ground}` : basis
}

function recipientsRule(jurisdiction: string): string {
  if (jurisdiction === 'gdpr' || jurisdiction === 'uk-gdpr') return ' (GDPR Art. 19)'
  if (jurisdiction === 'ccpa') return ' (CCPA Regulations § 7022(b))'
  return ''
}

/** The guarantee with its grade in plain words: a weak (ε > 10) one is never called indistinguishable. */
function guaranteeText(guarantee: CertificateManifest['method']['guarantee']): string {
  switch (guarantee.kind) {
    case 'exact':
      return 'Exact: the new model is what training without these records gives: nothing learned from them remains.'
    case 'certified':
      return (
        `Certified, ${strengthOf(guarantee)} (ε = ${guarantee.epsilon ?? 'n/a'}, δ = ${formatNumber(guarantee.delta ?? NaN)}). ` +
        `${strengthSentence(guarantee)} δ is the chance that even this bound fails; smaller ε and δ are stronger.`
      )
    case 'empirical':
      return 'Empirical: no formal guarantee; the removal was measured, not proven.'
  }
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
]

/** "22 November 2026", from an ISO date or timestamp, in UTC (a date alone is read as UTC). */
export function longDate(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`
}

/** Hex in groups of four, `perLine` groups a line (all on one line by default). */
function groups(hex: string, perLine = 16): string {
  const parts = hex.match(/.{1,4}/g) ?? []
  const lines: string[] = []
  for (let i = 0; i < parts.length; i += perLine) lines.push(parts.slice(i, i + perLine).join(' '))
  return lines.join('\n')
}

/** A long token on two lines; a fingerprint splits between bytes. */
function halves(text: string, separator = ''): string {
  if (separator) {
    const parts = text.split(separator)
    const half = Math.ceil(parts.length / 2)
    return `${parts.slice(0, half).join(separator)}${separator}\n${parts.slice(half).join(separator)}`
  }
  const half = Math.ceil(text.length / 2)
  return `${text.slice(0, half)}\n${text.slice(half)}`
}

function plural(count: number, noun: string) {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

function listOrNone(items: string[]) {
  return items.length > 0 ? items.join(', ') : 'none recorded'
}

function percent(value: number, digits = 1) {
  return `${(value * 100).toFixed(digits)}%`
}

function auc(scores: SetScores) {
  if (scores.miaAuc === null) return 'n/a'
  const interval = scores.miaInterval
  return interval
    ? `${scores.miaAuc.toFixed(2)} (${interval[0].toFixed(2)}–${interval[1].toFixed(2)})`
    : scores.miaAuc.toFixed(2)
}

function formatNumber(value: number) {
  if (!Number.isFinite(value)) return 'n/a'
  if (value === 0) return '0'
  return Math.abs(value) >= 100 ? value.toFixed(1) : String(Number(value.toPrecision(3)))
}

function formatDuration(ms: number) {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`
  return `${(ms / 60_000).toFixed(1)} min`
}

function clamp01(value: number) {
  return Math.min(1, Math.max(0, Number.isFinite(value) ? value : 0))
}
