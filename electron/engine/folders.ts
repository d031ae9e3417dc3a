import path from 'node:path'

/** Where the engine keeps its datasets and models inside the data folder. */
export const folders = (dataDir: string) => ({
  datasets: path.join(dataDir, 'datasets'),
  models: path.join(dataDir, 'models'),
})
