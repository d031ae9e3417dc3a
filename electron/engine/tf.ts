/**
 * The engine's one TF.js import. The union package, because tfjs-core's Node build registers
 * no gradients; the WASM and WebGPU backends register into the same global engine. Production
 * mode: no debug checks and no "install tfjs-node" banner.
 */
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'

tf.env().set('PROD', true)

export { tf }
