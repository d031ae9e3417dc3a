/**
 * Finding the compute backends: each is loaded, initialised and timed on a small matmul,
 * in the order WebGPU, native TensorFlow, WASM, CPU. A backend that fails to load is
 * reported with the reason and never takes the engine down. Runs inside the engine
 * process, where TF.js lives.
 */
import { tf } from './tf'
import { backendNames, type BackendName, type BackendReport, type BackendStatus } from '../contract/system'

const LABELS: Record<BackendName, string> = {
  webgpu: 'WebGPU (Dawn)',
  tensorflow: 'TensorFlow native',
  wasm: 'WebAssembly (XNNPACK)',
  cpu: 'Plain JavaScript CPU',
}

type Loader = () => Promise<string>

/** Each loader registers its TF.js backend and returns a description of the device. */
const LOADERS: Record<BackendName, Loader> = {
  async webgpu() {
    const { create, globals } = await import('webgpu')
    Object.assign(globalThis, globals)
    const gpu = create([])
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' })
    if (!adapter) throw new Error('no GPU adapter found (Dawn saw no Vulkan, Metal or D3D12 device)')
    const info = adapter.info
    if (info.isFallbackAdapter) throw new Error(`only a software adapter (${info.description})`)
    // TF.js asks navigator.gpu for its own adapter; Node has no navigator of its own before v21.
    const existing = (globalThis as { navigator?: object }).navigator
    Object.defineProperty(globalThis, 'navigator', {
      value: { ...existing, gpu },
      configurable: true,
    })
    await import('@tensorflow/tfjs-backend-webgpu')
    return [info.vendor, info.architecture, info.description || info.device].filter(Boolean).join(' · ')
  },
  async tensorflow() {
    // Optional dependency: absent on air-gapped installs, where its download fails.
    const name = '@tensorflow/tfjs-node'
    await import(/* @vite-ignore */ name)
    return `libtensorflow ${tf.version_core}`
  },
  async wasm() {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')
    return `tfjs-backend-wasm ${tf.version_core}, ${simd ? 'SIMD' : 'no SIMD'}`
  },
  async cpu() {
    return `tfjs-backend-cpu ${tf.version_core}`
  },
}

/** Float32 matmul throughput: median of a few timed runs after a warm-up. */
export async function measureGflops(size = 256, runs = 5): Promise<number> {
  const a = tf.randomUniform([size, size], -1, 1, 'float32', 1)
  const b = tf.randomUniform([size, size], -1, 1, 'float32', 2)
  try {
    await tf.matMul(a, b).data()
    const times: number[] = []
    for (let i = 0; i < runs; i++) {
      const start = performance.now()
      const c = tf.matMul(a, b)
      await c.data()
      c.dispose()
      times.push(performance.now() - start)
    }
    times.sort((x, y) => x - y)
    const medianMs = times[Math.floor(runs / 2)] ?? Number.NaN
    return (2 * size ** 3) / (medianMs * 1e6)
  } finally {
    a.dispose()
    b.dispose()
  }
}

async function probeOne(name: BackendName): Promise<BackendStatus> {
  const start = performance.now()
  const finish = (available: boolean, detail: string, gflops: number | null): BackendStatus => ({
    name,
    label: LABELS[name],
    available,
    detail,
    gflops: gflops === null ? null : Math.round(gflops * 100) / 100,
    probeMs: Math.round(performance.now() - start),
  })
  try {
    const detail = await LOADERS[name]()
    if (!(await tf.setBackend(name))) throw new Error('TF.js could not initialise it')
    return finish(true, detail, await measureGflops())
  } catch (error) {
    return finish(false, describeFailure(error), null)
  }
}

function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  if (/Cannot find (package|module)/.test(message)) return 'not installed'
  return message.split('\n')[0] ?? message
}

/** Loads, initialises and times every backend, in probe order. */
export async function probeBackends(
  onProgress: (fraction: number, message: string) => void = () => {},
): Promise<BackendStatus[]> {
  const backends: BackendStatus[] = []
  for (const [i, name] of backendNames.entries()) {
    onProgress(i / backendNames.length, `Probing ${LABELS[name]}…`)
    backends.push(await probeOne(name))
  }
  onProgress(1, 'Backends probed')
  return backends
}

/** Who asked for a backend: LETHE_BACKEND (operators, tests) wins over the app's setting. */
export interface BackendChoice {
  name: string
  by: Exclude<BackendReport['selectedBy'], 'probe'>
}

/**
 * Makes `choice` TF.js's backend when it is usable, else the first usable one in probe
 * order, with a warning that says why the choice was not honoured.
 */
export async function selectBackend(
  backends: BackendStatus[],
  choice: BackendChoice | null,
): Promise<BackendReport> {
  let selected = backends.find((b) => b.available)?.name ?? null
  let selectedBy: BackendReport['selectedBy'] = 'probe'
  let warning: string | null = null
  const wanted = choice?.name.trim().toLowerCase()
  if (choice && wanted && wanted !== 'auto') {
    const source =
      choice.by === 'LETHE_BACKEND'
        ? `LETHE_BACKEND="${choice.name}"`
        : `The backend setting "${choice.name}"`
    const match = backends.find((b) => b.name === wanted)
    if (!match) warning = `${source} is not a backend (choose ${backendNames.join(', ')}).`
    else if (!match.available) warning = `${source} is not usable here (${match.detail}).`
    else {
      selected = match.name
      selectedBy = choice.by
    }
    if (warning && selected) warning += ` Using ${selected}.`
  }
  if (selected) await tf.setBackend(selected)
  return { backends, selected, selectedBy, warning }
}
