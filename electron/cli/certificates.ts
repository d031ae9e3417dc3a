/** `lethe organisation …`, `lethe certificate …` and `lethe verify`: certificates from the command line. */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import type { Output } from '../contract'
import { withModelCheck } from '../certificates/verify'
import { common, exit, run, type CommonOptions } from './run'

const mark = (pass: boolean | null) => (pass === null ? '  –  ' : pass ? ' ok  ' : 'FAIL ')

type Issued = Output<'certificates.issue'>
type Preview = Output<'certificates.preview'>

interface ChoiceOptions extends CommonOptions {
  model?: string[]
  recipient?: string[]
  supersede?: boolean
}

const repeatable = (value: string, previous: string[] = []) => [...previous, value]

/** With --out, the PDF is also copied there and the result names the copy. */
const copyTo =
  (out: string | undefined) =>
  (issued: Issued): Issued & { out?: string } => {
    if (!out) return issued
    const target = path.resolve(out)
    copyFileSync(issued.path, target)
    return { ...issued, out: target }
  }

/** The preview PDF goes to --out; the result names the file instead of carrying its bytes. */
const writePreview =
  (out: string) =>
  ({ pdfBase64, ...preview }: Preview): Omit<Preview, 'pdfBase64'> & { out: string } => {
    const target = path.resolve(out)
    writeFileSync(target, Buffer.from(pdfBase64, 'base64'))
    return { ...preview, out: target }
  }

export function registerCertificateCommands(program: Command): void {
  const organisation = program
    .command('organisation')
    .description('the organisation’s signing keys (LETHE_KEY_PASSPHRASE seals them)')
  common(organisation.command('create <name>'))
    .description('create the keys once: Ed25519 for manifests, RSA X.509 for PDF signatures')
    .action((name: string, o: CommonOptions) =>
      exit(
        run(
          'organisation.create',
          { name },
          { ...o, writes: true },
          (v) =>
            `Created keys for ${v.name}.\n  manifest key ${v.manifestKeyFingerprint}\n  PDF certificate ${v.certificateFingerprint}`,
        ),
      ),
    )
  common(organisation.command('import-p12 <file>'))
    .description('sign PDFs with the organisation’s own certificate (PKCS#12 with an RSA key)')
    .requiredOption('--passphrase <text>', 'the PKCS#12 passphrase')
    .action((file: string, o: CommonOptions & { passphrase: string }) =>
      exit(
        run(
          'organisation.importPkcs12',
          { path: path.resolve(file), passphrase: o.passphrase },
          { ...o, writes: true },
          (v) => `PDFs are now signed with ${v.certificateFingerprint}.`,
        ),
      ),
    )
  common(organisation.command('show'))
    .description('the public key and certificate, for auditors')
    .action((o: CommonOptions) =>
      exit(
        run('organisation.get', {}, o, (v) =>
          v
            ? [
                v.name,
                `  manifest key     ${v.manifestKeyFingerprint}`,
                `  PDF certificate  ${v.certificateFingerprint}`,
                `  ledger key       ${v.ledgerKeyFingerprint ?? 'not pinned yet (pinned with the next certificate issued)'}`,
                '',
                v.manifestPublicKeyPem.trim(),
                '',
                v.certificatePem.trim(),
              ].join('\n')
            : 'No organisation keys yet: lethe organisation create NAME',
        ),
      ),
    )

  const certificate = program.command('certificate').description('signed certificates of removal')
  const choice = (command: Command) =>
    common(command)
      .option(
        '--model <id>',
        'a model version the certificate covers; repeatable (default: the request’s linked result)',
        repeatable,
      )
      .option(
        '--recipient <organisation>',
        'an organisation the erasure is passed on to (GDPR Art. 19), printed on the certificate; repeatable',
        repeatable,
      )
      .option('--supersede', 'replace the certificate the request already has (both stay in the ledger)')
  const input = (requestId: string, o: ChoiceOptions) => ({
    requestId,
    ...(o.model ? { modelIds: o.model } : {}),
    recipients: o.recipient ?? [],
    supersede: Boolean(o.supersede),
  })
  choice(certificate.command('issue <request>'))
    .description('sign and issue the certificate for a completed request (a ledger entry)')
    .option('--out <file>', 'also copy the PDF here')
    .action((requestId: string, o: ChoiceOptions & { out?: string }) =>
      exit(
        run(
          'certificates.issue',
          input(requestId, o),
          { ...o, writes: true },
          (v) =>
            `Issued ${v.certificateId} for ${v.requestId}${v.supersedes ? `, superseding ${v.supersedes}` : ''}: ${v.out ?? v.path}\n  models ${v.modelIds.join(', ')}\n  manifest sha256 ${v.manifestSha256}`,
          { save: copyTo(o.out) },
        ),
      ),
    )
  choice(certificate.command('preview <request>'))
    .description(
      'write the certificate as it would be issued, unsigned and marked as a preview; nothing is recorded',
    )
    .requiredOption('--out <file>', 'where to write the preview PDF')
    .action((requestId: string, o: ChoiceOptions & { out: string }) =>
      exit(
        run(
          'certificates.preview',
          input(requestId, o),
          o,
          (v) =>
            `Preview of ${v.certificateId} for ${v.requestId}${v.supersedes ? `, superseding ${v.supersedes}` : ''} (not signed, not recorded): ${v.out}\n  models ${v.modelIds.join(', ')}`,
          { save: writePreview(o.out) },
        ),
      ),
    )
  common(certificate.command('list'))
    .description('issued certificates')
    .action((o: CommonOptions) =>
      exit(
        run(
          'certificates.list',
          {},
          o,
          (list) =>
            list
              .map(
                (c) =>
                  `${c.certificateId}  ${c.requestId}  ${c.issuedAt}  ${c.path}${c.supersededBy ? `  superseded by ${c.supersededBy}` : ''}`,
              )
              .join('\n') || 'No certificates yet.',
        ),
      ),
    )

  common(program.command('verify <file>'))
    .description('check a certificate PDF: its signature, its manifest and, with a ledger here, its record')
    .option(
      '--model <file>',
      'also check that this deployed model file (ONNX, or a TF.js model.json with its weight files beside it) is one the certificate lists',
    )
    .action((file: string, o: CommonOptions & { model?: string }) =>
      exit(
        run(
          'certificates.verify',
          { path: path.resolve(file) },
          o,
          (v) =>
            [
              `${v.certificateId ?? 'Unknown certificate'}${v.requestId ? ` for ${v.requestId}` : ''}: ${v.ok ? 'VERIFIED' : 'NOT VERIFIED'}`,
              ...v.items.map((i) => `  ${mark(i.pass)} ${i.label}: ${i.detail}`),
            ].join('\n'),
          {
            // After the certificate's own checks, the file is checked against the manifest it carries.
            save: (v) =>
              o.model ? withModelCheck(v, readFileSync(path.resolve(file)), path.resolve(o.model)) : v,
            status: (v) => (v.ok ? 0 : 3),
          },
        ),
      ),
    )
}
