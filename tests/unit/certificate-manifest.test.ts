import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  checkManifest,
  manifestSha256,
  rowsDigest,
  signManifest,
  type CertificateManifest,
} from '../../electron/certificates/manifest'
import {
  createOrganisation,
  loadOrganisation,
  organisationFile,
  publicIdentity,
} from '../../electron/certificates/organisation'
import { passphraseProtector } from '../../electron/lib/key-protector'
import { buildManifest } from '../../electron/certificates/build'
import { keyFingerprint } from '../../electron/lib/digest'
import { workerThreadChannel } from '../../electron/engine/host'
import { unlearningOf } from '../../electron/engine/models/runs'
import { createServices } from '../../electron/host/services'
import type { RequestRecord } from '../../electron/ledger/state'
import { completedErasure } from '../support/engine'
import { tempDir } from '../support/fixtures'

const scores = {
  forgetAccuracy: 1,
  retainAccuracy: 0.99,
  testAccuracy: 0.97,
  miaAuc: 0.51,
  miaInterval: [0.4, 0.6] as [number, number],
}

function sampleManifest(): CertificateManifest {
  return {
    format: 'lethe-certificate',
    version: 2,
    certificateId: 'CERT-2026-0001',
    issuedAt: '2026-11-22T12:00:00.000Z',
    issuer: {
      organisation: 'Ørsted Clinic',
      software: 'Lethe 0.1.0',
      manifestKeyFingerprint: 'AA',
      certificateFingerprint: 'BB',
    },
    request: {
      id: 'RTBF-2026-0001',
      jurisdiction: 'gdpr',
      legalBasis: 'gdpr-art-17',
      ground: 'Art. 17(1)(b)',
      received: '2026-11-02',
      completed: '2026-11-20',
      subjectReference: 'f'.repeat(64),
    },
    records: {
      count: 3,
      rowsSha256: rowsDigest([9, 2, 5]),
      datasetId: 'ds-138421fef161',
      datasetSha256: 'a'.repeat(64),
    },
    model: { before: { id: 'm-1', sha256: 'b'.repeat(64) }, after: { id: 'm-2', sha256: 'c'.repeat(64) } },
    method: { name: 'retrain', guarantee: { kind: 'exact', meaning: 'trained without the rows' } },
    verification: {
      before: scores,
      after: scores,
      retrained: scores,
      distanceToRetrained: { after: 0, before: 0.59 },
    },
    compute: { backend: 'wasm', unlearningMs: 366 },
    ledger: { ledgerId: 'L', seq: 42, hash: 'd'.repeat(64), keyFingerprint: 'AB:CD' },
    scope: {
      datasets: ['ds-138421fef161'],
      models: ['m-1', 'm-2'],
      notCovered: ['backups'],
      recipientsToNotify: [],
    },
  }
}

/** The ledger an organisation pins, where none is needed. */
const LEDGER = { ledgerId: 'L', keyFingerprint: 'AB:CD' }

describe('organisation keys', () => {
  it('are created once, sealed with the passphrase, and reopened only with it', async () => {
    const folder = tempDir('lethe-org-')
    const protector = passphraseProtector('correct horse battery')
    const org = await createOrganisation(folder, 'Ørsted Clinic', protector, LEDGER)
    const stored = readFileSync(organisationFile(folder), 'utf8')
    expect(stored).toContain('ENCRYPTED PRIVATE KEY')
    expect(stored).not.toContain('BEGIN PRIVATE KEY')
    await expect(createOrganisation(folder, 'Other', protector, LEDGER)).rejects.toMatchObject({
      code: 'CONFLICT',
    })
    await expect(loadOrganisation(folder, passphraseProtector('wrong passphrase'))).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/passphrase is wrong/),
    })
    const again = await loadOrganisation(folder, protector)
    expect(again.manifestPublicKeyPem).toBe(org.manifestPublicKeyPem)
    const pub = await publicIdentity(folder)
    expect(pub.name).toBe('Ørsted Clinic')
    expect(pub.manifestKeyFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(pub.certificatePem).toContain('BEGIN CERTIFICATE')
  })
})

describe('the manifest', () => {
  it('is canonical JSON whose hash does not depend on key order, and the rows hash ignores order', () => {
    const a = sampleManifest()
    const reversed = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reversed)
        : value && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .reverse()
                .map(([k, v]) => [k, reversed(v)]),
            )
          : value
    const b = reversed(a) as CertificateManifest
    expect(JSON.stringify(b)).not.toBe(JSON.stringify(a))
    expect(manifestSha256(a)).toBe(manifestSha256(b))
    expect(rowsDigest([5, 2, 9])).toBe(rowsDigest([9, 5, 2]))
    expect(rowsDigest([5, 2, 9])).not.toBe(rowsDigest([5, 2, 8]))
  })

  it('is signed with Ed25519 so that openssl alone can check it, and any change breaks it', async () => {
    const folder = tempDir('lethe-org-')
    const org = await createOrganisation(
      folder,
      'Clinic',
      passphraseProtector('correct horse battery'),
      LEDGER,
    )
    const { bytes, signature } = signManifest(sampleManifest(), org)
    expect(checkManifest(bytes, signature, org.manifestPublicKeyPem)).toMatchObject({
      canonical: true,
      signatureValid: true,
    })

    const dir = tempDir('lethe-openssl-')
    const files = {
      manifest: path.join(dir, 'manifest.json'),
      sig: path.join(dir, 'manifest.sig'),
      pub: path.join(dir, 'pub.pem'),
    }
    writeFileSync(files.manifest, bytes)
    writeFileSync(files.sig, signature)
    writeFileSync(files.pub, org.manifestPublicKeyPem)
    const openssl = (manifest: string) =>
      spawnSync(
        'openssl',
        [
          'pkeyutl',
          '-verify',
          '-pubin',
          '-inkey',
          files.pub,
          '-rawin',
          '-in',
          manifest,
          '-sigfile',
          files.sig,
        ],
        {
          encoding: 'utf8',
        },
      )
    expect(openssl(files.manifest).stdout).toContain('Signature Verified Successfully')

    const changed = Buffer.from(bytes.toString().replace('"count":3', '"count":2'))
    writeFileSync(path.join(dir, 'changed.json'), changed)
    expect(openssl(path.join(dir, 'changed.json')).status).not.toBe(0)
    expect(checkManifest(changed, signature, org.manifestPublicKeyPem).signatureValid).toBe(false)

    const other = await createOrganisation(
      tempDir('lethe-org-'),
      'Someone else',
      passphraseProtector('another passphrase'),
      LEDGER,
    )
    expect(checkManifest(bytes, signature, other.manifestPublicKeyPem).signatureValid).toBe(false)
    const spaced = Buffer.from(JSON.stringify(JSON.parse(bytes.toString()), null, 2))
    expect(checkManifest(spaced, signature, org.manifestPublicKeyPem)).toMatchObject({
      canonical: false,
      signatureValid: false,
    })
  })
})

describe('a manifest built from a real request and unlearning run', () => {
  it('names the request by its salted hash only, and the records by a count and a hash', async () => {
    const dataDir = tempDir('lethe-cert-')
    const services = createServices({
      dataDir,
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      keyProtector: async () => passphraseProtector('correct horse battery'),
    })
    try {
      const { dataset, model, request, run: result } = await completedErasure(services)
      const ledger = await services.ledger.ledger()
      const org = await createOrganisation(
        path.join(dataDir, 'organisation'),
        'Clinic',
        passphraseProtector('correct horse battery'),
        {
          ledgerId: ledger.storage.ledgerId,
          keyFingerprint: keyFingerprint(ledger.storage.keyMaterial.publicKeyPem),
        },
      )
      const manifest = buildManifest({
        certificateId: 'CERT-2026-0001',
        issuedAt: '2026-11-22T12:00:00.000Z',
        software: 'Lethe test',
        organisation: await publicIdentity(path.join(dataDir, 'organisation')),
        request: { ...(ledger.state.requests.get(request.id) as RequestRecord), ground: null },
        run: await unlearningOf(dataDir, result.model.id),
        alsoCovered: [],
        datasetSha256: dataset.contentHash,
        head: ledger.head(),
        recipientsToNotify: [],
        supersedes: null,
        versions: { deleted: [], kept: [] },
        artifacts: [],
      })
      const { bytes, signature } = signManifest(manifest, org)
      expect(checkManifest(bytes, signature, org.manifestPublicKeyPem).signatureValid).toBe(true)
      const text = bytes.toString()
      for (const raw of ['Jane', 'jane@example.com', 'P-0007', 'P-0100']) expect(text).not.toContain(raw)
      expect(manifest.request.subjectReference).toMatch(/^[0-9a-f]{64}$/)
      expect(manifest.records).toMatchObject({
        count: result.forgotten,
        rowsSha256: rowsDigest(result.forgottenRows),
        datasetId: dataset.id,
      })
      expect(manifest.model).toEqual({
        before: { id: model.id, sha256: model.paramsSha256 },
        after: { id: result.model.id, sha256: result.model.paramsSha256 },
      })
      expect(manifest).toMatchObject({
        version: 4,
        supersedes: null,
        versions: { deleted: [], kept: [] },
        artifacts: [],
      })
      expect(manifest.models).toEqual([{ ...manifest.model, method: result.method }])
      expect(manifest.method.guarantee.kind).toBe('exact')
      expect(manifest.verification.distanceToRetrained?.after).toBe(0)
      expect(manifest.request.completed).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    } finally {
      await services.close()
    }
  })
})
