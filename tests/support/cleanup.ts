/** Every test file leaves the temporary folders it made behind it removed, whatever its own hooks did. */
import { afterAll } from 'vitest'
import { removeTempDirs } from './fixtures'

afterAll(removeTempDirs)
