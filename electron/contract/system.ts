import { z } from 'zod'
import { defineMethod } from './define'

export const backendNames = ['webgpu', 'tensorflow', 'wasm', 'cpu'] as const
export const BackendName = z.enum(backendNames)
export type BackendName = z.infer<typeof BackendName>

export const BackendStatus = z.object({
  name: BackendName,
  label: z.string(),
  available: z.boolean(),
  /** Adapter or library description when available; why not, when unavailable. */
  detail: z.string(),
  /** Measured on a small float32 matmul during the probe; null when unavailable. */
  gflops: z.number().nullable(),
  probeMs: z.number(),
})
export type BackendStatus = z.infer<typeof BackendStatus>

export const BackendReport = z.object({
  backends: z.array(BackendStatus),
  selected: BackendName.nullable(),
  /** Where the choice came from: the probe order, or an override. */
  selectedBy: z.enum(['probe', 'LETHE_BACKEND', 'setting']),
  /** Set when an override could not be honoured. */
  warning: z.string().nullable(),
})
export type BackendReport = z.infer<typeof BackendReport>

export const SystemInfo = z.object({
  name: z.literal('Lethe'),
  version: z.string(),
  dataDir: z.string(),
  host: z.enum(['electron', 'browser', 'cli']),
  platform: z.string(),
  versions: z.object({ node: z.string(), electron: z.string().nullable() }),
  engine: BackendReport,
})
export type SystemInfo = z.infer<typeof SystemInfo>

export const BackendSetting = z.enum(['auto', ...backendNames])

/** 'auto' (the system's language) or a BCP 47 tag this runtime can format dates in. */
export const DateLocale = z
  .string()
  .trim()
  .min(1)
  .max(35)
  .refine((tag) => {
    if (tag === 'auto') return true
    try {
      return Intl.DateTimeFormat.supportedLocalesOf(tag).length > 0
    } catch {
      return false // not a well-formed language tag
    }
  }, 'give auto or a language tag this system can format dates in, such as en-GB or de')

export const Settings = z.object({
  /** The compute backend to use; 'auto' takes the first usable one in probe order. */
  backend: BackendSetting,
  /** The language dates are shown in. */
  dateLocale: DateLocale,
  /** Default (ε, δ) of certified unlearning; a run can ask for others. */
  certification: z.object({
    epsilon: z.number().positive().max(100),
    delta: z.number().gt(0).lt(0.1),
  }),
})
export type Settings = z.infer<typeof Settings>

/** What a native file dialog asks for: files to open, or where to save one. */
export const FileChoice = z
  .object({
    mode: z.enum(['open', 'save']),
    title: z.string().max(200),
    /** e.g. { name: 'ONNX model', extensions: ['onnx'] }. */
    filters: z
      .array(z.object({ name: z.string().max(100), extensions: z.array(z.string().max(20)).max(20) }))
      .max(10),
    /** open only: several files (a TF.js model.json with its weight shards). */
    multiple: z.boolean().default(false),
    /** save only: the file name offered. */
    defaultName: z.string().max(255).optional(),
  })
  .strict()

export const systemMethods = {
  'system.info': defineMethod({
    summary: 'Version, data folder and the compute backends the engine can see.',
    input: z.object({}).strict(),
    output: SystemInfo,
  }),
  'system.chooseFile': defineMethod({
    summary:
      'The desktop app’s native file dialog: the paths chosen (none when cancelled). A browser has none: it uploads with a file input and types paths.',
    input: FileChoice,
    output: z.object({ paths: z.array(z.string()) }),
  }),
  'settings.get': defineMethod({
    summary: 'The app’s settings.',
    input: z.object({}).strict(),
    output: Settings,
  }),
  'settings.update': defineMethod({
    summary: 'Change settings; a new compute backend or date language takes effect at once.',
    input: Settings.partial().strict(),
    output: SystemInfo,
  }),
}
