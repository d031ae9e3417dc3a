/**
 * Rows of a dataset as a person reads them: tabular features decoded back to the values of the
 * source columns (numeric ones un-standardised, one-hot blocks back to their category), image
 * rows as 0–255 pixels. Used to show what a request matched before anything is unlearned.
 */
import type { Dataset } from './dataset'

export interface PreviewRow {
  /** The row's id: its 0-based index in the source file. */
  row: number
  split: 'train' | 'test'
  label: string
  /** One value per column (tabular), or height × width × channels pixels (images). */
  values: (string | number)[]
}

export interface DatasetPreview {
  /** Column names for tabular rows; empty for images (their `shape` says how to draw them). */
  columns: string[]
  shape: number[] | null
  /** The first `limit` of the rows asked about. */
  rows: PreviewRow[]
  /** All the rows asked about that are in the test split (never learned from). */
  inTest: number[]
}

/** Significant digits kept when a standardised feature is turned back into its value. */
const DIGITS = 6

export function previewRows(dataset: Dataset, rows: readonly number[], limit: number): DatasetPreview {
  const { manifest, features, labels } = dataset
  const dim = manifest.featureDim
  const test = new Set(dataset.test)
  const encoding = manifest.encoding
  const columns = encoding
    ? [...encoding.numeric.map((c) => c.name), ...encoding.categorical.map((c) => c.name)]
    : []
  const decode = (row: number): (string | number)[] => {
    const x = features.subarray(row * dim, (row + 1) * dim)
    if (!encoding) return Array.from(x, (v) => Math.round(v * 255))
    const values: (string | number)[] = encoding.numeric.map((c, i) =>
      Number(((x[i] as number) * c.std + c.mean).toPrecision(DIGITS)),
    )
    let offset = encoding.numeric.length
    for (const c of encoding.categorical) {
      let best = 0
      for (let k = 1; k < c.categories.length; k++) {
        if ((x[offset + k] as number) > (x[offset + best] as number)) best = k
      }
      values.push(c.categories[best] ?? '')
      offset += c.categories.length
    }
    return values
  }
  return {
    columns,
    shape: manifest.shape,
    inTest: rows.filter((row) => test.has(row)),
    rows: rows.slice(0, limit).map((row) => ({
      row,
      split: test.has(row) ? 'test' : 'train',
      label: manifest.classes[labels[row] as number] ?? String(labels[row]),
      values: decode(row),
    })),
  }
}
