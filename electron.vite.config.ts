import { resolve } from 'node:path'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'electron-vite'

const root = (path: string) => resolve(import.meta.dirname, path)

export default defineConfig({
  // Every Node-side entry lands flat in out/main, so each can find its siblings at run time.
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: root('electron/main/index.ts'),
          browser: root('electron/host/browser.ts'),
          cli: root('electron/cli/index.ts'),
          'engine-worker': root('electron/engine/worker.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  // A sandboxed preload can be neither ESM nor require packages: one CommonJS file.
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: root('electron/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs', codeSplitting: false },
      },
    },
  },
  renderer: {
    root: root('renderer'),
    base: './',
    resolve: { alias: { '@contract': root('electron/contract') } },
    plugins: [vue()],
    build: {
      outDir: root('out/renderer'),
      rollupOptions: { input: { index: root('renderer/index.html') } },
      minify: true,
      chunkSizeWarningLimit: 2048,
    },
  },
})
