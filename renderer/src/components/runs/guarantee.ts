/**
 * A guarantee's badge: its label with the grade (contract/guarantee.ts) and a colour that never
 * shows a weak certificate in the blue of a strong one.
 */
import { guaranteeLabel, strengthOf, type GuaranteeStrength } from '@contract/guarantee'
import type { RunRecord } from '../../stores/runs'

const tones: Record<GuaranteeStrength, 'success' | 'primary' | 'warning'> = {
  exact: 'success',
  strong: 'primary',
  moderate: 'primary',
  weak: 'warning',
  none: 'warning',
}

export function guaranteeBadge(guarantee: RunRecord['guarantee']) {
  return { text: guaranteeLabel(guarantee), type: tones[strengthOf(guarantee)] }
}
