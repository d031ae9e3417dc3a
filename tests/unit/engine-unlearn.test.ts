import { beforeAll, describe, expect, it } from 'vitest'
import { finetuneMethod, negGradMethod, retrain } from '../../electron/engine/methods/baselines'
import type { UnlearnContext } from '../../electron/engine/methods/method'
import { evaluateRows, l2Distance } from '../../electron/engine/metrics'
import { tf } from '../../electron/engine/tf'
import { uploadData } from '../../electron/engine/train'
import { verificationReport } from '../../electron/engine/verify'
import { demoDataset, trainedContext } from '../support/engine'

let context: UnlearnContext

beforeAll(async () => {
  await tf.setBackend('wasm')
  context = await trainedContext(demoDataset('breast-cancer'), {
    kind: 'mlp',
    inputs: 30,
    hidden: [16],
    classes: 2,
  })
})

describe('exact retraining', () => {
  it('replayed with nothing to forget, reproduces the original bit for bit', async () => {
    const none = { ...context, forgetRows: new Int32Array(0), retainRows: context.trainRows }
    const again = await retrain(none, 'replay')
    expect(l2Distance(again.params, context.original.params)).toBe(0)
  })

  it('replayed without the forget rows, owes nothing to them: changing their content changes nothing', async () => {
    const reference = await retrain(context, 'replay')
    expect(l2Distance(reference.params, context.original.params)).toBeGreaterThan(1e-3)
    // Scramble the forget rows' features and labels: a true retrain cannot notice.
    const features = context.dataset.features.slice()
    const labels = context.dataset.labels.slice()
    const d = context.dataset.manifest.featureDim
    for (const row of context.forgetRows) {
      for (let j = 0; j < d; j++) features[row * d + j] = 1000 * Math.sin(row + j)
      labels[row] = 1 - (labels[row] as number)
    }
    const scrambled = { ...context, data: uploadData(features, labels, d) }
    const again = await retrain(scrambled, 'replay')
    expect(l2Distance(again.params, reference.params)).toBe(0)
  })

  it('independent retrains differ from each other: that distance is the noise floor', async () => {
    const a = await retrain(context, 'independent', 1)
    const b = await retrain(context, 'independent', 2)
    expect(l2Distance(a.params, b.params)).toBeGreaterThan(0.1)
  })
})

describe('empirical baselines', () => {
  it('fine-tuning keeps the model useful and moves it', async () => {
    const outcome = await finetuneMethod.unlearn(context, { epochs: 3 })
    const before = await evaluateRows(
      context.spec,
      context.original.params,
      context.data,
      context.dataset.test,
    )
    const after = await evaluateRows(context.spec, outcome.params, context.data, context.dataset.test)
    expect(l2Distance(outcome.params, context.original.params)).toBeGreaterThan(0)
    expect(after.accuracy).toBeGreaterThan(before.accuracy - 0.05)
  })

  it('gradient ascent raises the loss on the forget rows and stops on its budget', async () => {
    const outcome = await negGradMethod.unlearn(context, { epochs: 5, learningRate: 0.05 })
    const before = await evaluateRows(context.spec, context.original.params, context.data, context.forgetRows)
    const after = await evaluateRows(context.spec, outcome.params, context.data, context.forgetRows)
    expect(after.loss).toBeGreaterThan(before.loss)
    expect(outcome.details.steps).toBeGreaterThan(0)
  })
})

describe('the verification report', () => {
  it('scores original, unlearned and reference on forget, retain and test rows, with the attack and distances', async () => {
    const reference = await retrain(context, 'replay')
    const first = await retrain(context, 'independent', 1)
    const second = await retrain(context, 'independent', 2)
    const unlearned = await finetuneMethod.unlearn(context, { epochs: 2 })
    const report = await verificationReport(
      context.spec,
      context.data,
      context.dataset,
      { forget: context.forgetRows, retain: context.retainRows },
      {
        original: context.original.params,
        unlearned: unlearned.params,
        reference: reference.params,
        independentRetrains: [first.params, second.params],
      },
    )
    expect(report.original.forget.rows).toBe(context.forgetRows.length)
    expect(report.original.test.rows).toBe(context.dataset.test.length)
    expect(report.reference?.test.accuracy).toBeGreaterThan(0.9)
    expect(report.distance.originalToReference).toBeGreaterThan(0)
    expect(report.distance.noiseFloor).toBeGreaterThan(0)
    expect(report.agreementWithReference?.test).toBeGreaterThan(0.9)
    for (const scores of [report.original, report.unlearned, report.reference]) {
      expect(scores?.mia.auc).toBeGreaterThanOrEqual(0)
      expect(scores?.mia.auc).toBeLessThanOrEqual(1)
    }
  })
})
