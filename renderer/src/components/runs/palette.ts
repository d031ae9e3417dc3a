/**
 * One colour per model across every chart: the original grey, the unlearned version in the
 * primary colour, the exactly retrained reference green. Read from Element Plus's CSS
 * variables, so both themes (and a changed primary colour) stay consistent.
 */
export interface Palette {
  original: string
  unlearned: string
  reference: string
  /** Lines that are guides, not data (chance, the diagonal). */
  guide: string
}

const cssVar = (name: string, fallback: string) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback

/** Call inside a computed that also reads the theme, so charts recolour when it changes. */
export function palette(): Palette {
  return {
    original: cssVar('--el-color-info', '#909399'),
    unlearned: cssVar('--el-color-primary', '#409eff'),
    reference: cssVar('--el-color-success', '#67c23a'),
    guide: cssVar('--el-text-color-placeholder', '#a8abb2'),
  }
}

/** The colour of a loss-curve phase: the reference retraining green, noise-floor retrains grey. */
export function phaseColour(phase: string, colours: Palette): string {
  if (phase === 'Reference retraining') return colours.reference
  if (phase.startsWith('Noise floor')) return colours.original
  return colours.unlearned
}
