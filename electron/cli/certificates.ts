/** `lethe organisation …`, `lethe certificate …` and `lethe verify`: certificates from the command line. */
import { copyFileSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import type { Output } from '../contract'
import { common, exit, run, type CommonOptions } from './run'

const mark = (pass: boolean | null) => (pass === null ? '  –  ' : pass ? ' ok  ' : 'FAIL ')

type Issued = Output<'certificates.issue'>

/** With --out, the PDF is also copied there and the result names the copy. */
const copyTo =
  (out: string | undefined) =>
  (issued: Issued): Issued & { out?: string } => {
    if (!out) return issued
    const target = path.resolve(out)
    copyFileSync(issued.path, target)
    return { ...issued, out: target }
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
  common(certificate.command('issue <request>'))
    .description('issue the certificate for a completed request (a ledger entry)')
    .option('--out <file>', 'also copy the PDF here')
    .option(
      '--recipient <name>',
      'a recipient to notify under GDPR Art. 19; repeatable',
      (v: string, p: string[] = []) => [...p, v],
    )
    .action((requestId: string, o: CommonOptions & { out?: string; recipient?: string[] }) =>
      exit(
        run(
          'certificates.issue',
          { requestId, recipients: o.recipient ?? [] },
          { ...o, writes: true },
          (v) =>
            `Issued ${v.certificateId} for ${v.requestId}: ${v.out ?? v.path}\n  manifest sha256 ${v.manifestSha256}`,
          { save: copyTo(o.out) },
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
            list.map((c) => `${c.certificateId}  ${c.requestId}  ${c.issuedAt}  ${c.path}`).join('\n') ||
            'No certificates yet.',
        ),
      ),
    )

  common(program.command('verify <file>'))
    .description('check a certificate PDF: its signature, its manifest and, with a ledger here, its record')
    .action((file: string, o: CommonOptions) =>
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
          { status: (v) => (v.ok ? 0 : 3) },
        ),
      ),
    )
}
