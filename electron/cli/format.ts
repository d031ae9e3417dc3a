import type { SystemInfo } from '../contract/system'

/** `lethe info` for people: what the first screen shows. */
export function formatInfo(info: SystemInfo): string {
  const { engine } = info
  const width = Math.max(...engine.backends.map((b) => b.name.length))
  const rows = engine.backends.map((b) => {
    const mark = b.name === engine.selected ? '*' : b.available ? '+' : '-'
    const speed = b.gflops === null ? '' : `${b.gflops.toFixed(1)} GFLOP/s  `
    return `  ${mark} ${b.name.padEnd(width)}  ${b.label}: ${speed}${b.detail}`
  })
  return [
    `Lethe ${info.version} (${info.host}, ${info.platform}, Node ${info.versions.node})`,
    `Data folder: ${info.dataDir}`,
    `Compute backends (* selected by ${engine.selectedBy}, + usable, - unavailable):`,
    ...rows,
    ...(engine.warning ? [`Warning: ${engine.warning}`] : []),
    ...(engine.selected ? [] : ['No usable compute backend: the engine cannot train or unlearn here.']),
  ].join('\n')
}
